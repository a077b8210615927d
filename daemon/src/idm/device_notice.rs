//! Known browsers and the new-device notice (`email.new_device_notice`).
//! Each browser carries a long-lived random cookie; idm keeps its SHA-256
//! per user (`KNOWN_DEVICES`). Every sign-in records its browser in the
//! transaction that opens the session (`sessions::open_session`), whatever
//! the method, signup and first-admin setup included. A sign-in from a
//! browser new for a user who had signed in from another one before queues
//! a notice; the very first browser is the baseline, so it sends none.

use super::mail_compose::{app_name, format_when, origin, rendered};
use super::mail_queue::queue;
use super::mail_settings::read_email_settings;
use super::users::User;
use super::{Actor, IdmError, secrets};
use crate::mail::templates;
use crate::store::WriteTx;

secrets::cookie_secret!(
    /// The long-lived random cookie that identifies a browser for new-device
    /// notices. `Debug` hides it.
    DeviceToken
);

/// Remembers, inside the caller's transaction, that `user` signed in with
/// `method` (as audit events name it) from the browser holding `device`.
/// When that browser is new for them, they had signed in from another one
/// before, and `email.new_device_notice` is on, a notice is queued. Returns
/// whether it was.
pub(crate) fn note_device(
    tx: &mut WriteTx<'_>,
    now: i64,
    actor: &Actor,
    user: &User,
    method: &str,
    device: &DeviceToken,
) -> Result<bool, IdmError> {
    let hash = device.hash();
    if tx.known_device(user.id, &hash)? {
        return Ok(false);
    }
    let had_devices = tx.has_known_devices(user.id)?;
    tx.put_known_device(user.id, &hash, now)?;
    let Some(to) = user.email.clone() else {
        return Ok(false);
    };
    if !had_devices || !read_email_settings(tx)?.new_device_notice {
        return Ok(false);
    }
    let app = app_name(tx)?;
    let when = format_when(now);
    let (ip, browser) = origin(actor);
    let mail = rendered(templates::new_device(templates::NewDeviceMail {
        app_name: &app,
        name: &user.display_name,
        username: &user.username,
        when: &when,
        method,
        ip: &ip,
        browser: &browser,
    }))?;
    queue(tx, now, "new_device", &to, Some(user.id), mail)?;
    Ok(true)
}
