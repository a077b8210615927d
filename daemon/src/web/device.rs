//! The browser's device cookie, for known devices and new-device notices.
//! Every sign-in (passkey, login code, email link, signup, first-admin
//! setup) hands idm the cookie the browser sent, or a new one, and idm
//! records it in the transaction that opens the session. A new cookie is set
//! on the response only once the sign-in succeeded.

use axum::http::HeaderMap;
use axum::http::header::SET_COOKIE;
use axum::response::Response;

use super::{WebState, cookies};
use crate::idm::DeviceToken;

/// The device a sign-in comes from.
#[derive(Clone, Debug)]
pub struct BrowserDevice {
    token: Option<DeviceToken>,
    /// The browser sent none: the cookie is to be set.
    new: bool,
}

impl BrowserDevice {
    /// The device cookie `headers` carry, or a fresh one. Should randomness
    /// fail there is none: the sign-in still works, its browser unrecorded.
    pub fn of(state: &WebState, headers: &HeaderMap) -> BrowserDevice {
        let sent = cookies::get(headers, state.cookies.device).and_then(DeviceToken::from_cookie);
        if let Some(token) = sent {
            return BrowserDevice {
                token: Some(token),
                new: false,
            };
        }
        match DeviceToken::generate() {
            Ok(token) => BrowserDevice {
                token: Some(token),
                new: true,
            },
            Err(e) => {
                tracing::warn!("no device cookie for this sign-in: {e}");
                BrowserDevice {
                    token: None,
                    new: false,
                }
            }
        }
    }

    /// What idm records for the sign-in.
    pub fn token(&self) -> Option<DeviceToken> {
        self.token.clone()
    }

    /// Gives a browser that had no device cookie the one idm recorded; call
    /// it on the response of a sign-in that succeeded.
    pub fn set_cookie(&self, state: &WebState, response: &mut Response) {
        if let (true, Some(token)) = (self.new, &self.token)
            && let Some(cookie) = state.cookies.set_device(token.as_str())
        {
            response.headers_mut().append(SET_COOKIE, cookie);
        }
    }
}
