//! What every message the daemon mails is made of: the app name, times and
//! places in words, and a template rendered (`crate::mail::templates`). The
//! composed message is queued in the outbox (`mail_queue`).

use time::macros::format_description;

use super::settings::read_settings;
use super::{Actor, IdmError, to_time};
use crate::mail::templates::{self, RenderedMail};
use crate::store::{Access, Tables};

/// Longest user agent a notice quotes.
const BROWSER_MAX: usize = 200;

pub(crate) fn app_name<A: Access>(tx: &Tables<A>) -> Result<String, IdmError> {
    Ok(read_settings(tx)?.app_name)
}

pub(crate) fn rendered(
    result: Result<RenderedMail, templates::RenderError>,
) -> Result<RenderedMail, IdmError> {
    result.map_err(|e| {
        tracing::error!("{e}");
        IdmError::invalid("mail", e.to_string())
    })
}

pub(crate) fn clip(text: &str, max: usize) -> String {
    text.chars().take(max).collect()
}

pub(crate) fn format_when(seconds: i64) -> String {
    to_time(seconds)
        .ok()
        .and_then(|t| {
            t.format(format_description!(
                "[year]-[month]-[day] [hour]:[minute] UTC"
            ))
            .ok()
        })
        .unwrap_or_default()
}

/// Where a sign-in or change came from, as a notice names it: the IP address
/// and the browser (its user agent, cut short), or "unknown".
pub(crate) fn origin(actor: &Actor) -> (String, String) {
    let ip = actor.ip.clone().unwrap_or_else(|| "unknown".to_owned());
    let browser = actor
        .user_agent
        .as_deref()
        .map_or_else(|| "unknown".to_owned(), |ua| clip(ua, BROWSER_MAX));
    (ip, browser)
}
