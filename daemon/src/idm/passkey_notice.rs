//! What follows a passkey being added to an account, in the transaction that
//! stores it: the `passkey_added` audit event, naming how the session that
//! added it was signed in, and — when SMTP is configured and the account has
//! an address — a notice mailed to the user (queued in the outbox).
//!
//! A new passkey is a new way into the account for good, so its owner hears
//! about it even when the session was opened by a login code or an emailed
//! link that someone else may have got hold of. There is no switch: the
//! notice goes whenever mail can.

use latchkey_protocol::SignInMethod;

use super::audit::{self, Subject, detail};
use super::mail_compose::{app_name, format_when, origin, rendered};
use super::mail_queue::queue;
use super::mail_settings::smtp_configured;
use super::sessions::method_name;
use super::{Actor, IdmError, secrets};
use crate::mail::templates::{self, PasskeyAddedMail};
use crate::store::{PasskeyRecord, UserRecord, WriteTx};

/// How the session was signed in, in words for the notice.
fn method_words(method: SignInMethod) -> &'static str {
    match method {
        SignInMethod::Passkey => "another passkey",
        SignInMethod::LoginCode => "a login code from an administrator",
        SignInMethod::EmailLink => "a sign-in link sent by email",
        SignInMethod::Signup => "signing up",
        SignInMethod::Setup => "the first-administrator setup link",
    }
}

/// Records `passkey_added` (with `method`, and `mail` when a notice was
/// queued) for `passkey`, just stored for `user` by a session signed in with
/// `method`.
pub(crate) fn passkey_added(
    tx: &mut WriteTx<'_>,
    now: i64,
    actor: &Actor,
    user: &UserRecord,
    passkey: &PasskeyRecord,
    method: SignInMethod,
) -> Result<(), IdmError> {
    let mut details = vec![
        detail("id", secrets::b64url(&passkey.credential_id)),
        detail("name", passkey.name.clone()),
        detail("synced", passkey.backup_eligible.to_string()),
        detail("method", method_name(method)),
    ];
    if let Some(to) = user.email.as_deref()
        && smtp_configured(tx)?
    {
        let app = app_name(tx)?;
        let when = format_when(now);
        let (ip, browser) = origin(actor);
        let mail = rendered(templates::passkey_added(PasskeyAddedMail {
            app_name: &app,
            name: &user.display_name,
            username: &user.username,
            passkey: &passkey.name,
            when: &when,
            method: method_words(method),
            ip: &ip,
            browser: &browser,
        }))?;
        let id = queue(tx, now, "passkey_added", to, Some(user.id), mail)?;
        details.push(detail("mail", id.to_string()));
    }
    let subject = Subject::linked(&user.username, user.id);
    audit::append(tx, now, actor, "passkey_added", Some(subject), details)?;
    Ok(())
}
