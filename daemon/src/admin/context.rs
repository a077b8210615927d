//! The state every admin connection shares; its own module so that the server, which owns the
//! connections, and the handlers, which use it, need not import each other.

use std::sync::Arc;

use latchkey_protocol::Event;
use tokio::sync::broadcast;

use crate::idm::{Idm, Oidc};
use crate::info::DaemonInfo;

/// What every connection needs: the domain, facts about the daemon, and the
/// channel on which changes are announced to subscribed consoles.
#[derive(Debug, Clone)]
pub struct ConnectionContext {
    pub idm: Idm,
    pub oidc: Oidc,
    pub info: Arc<DaemonInfo>,
    pub events: broadcast::Sender<Event>,
    /// Runs LDAP syncs and keeps the last result.
    pub ldap: crate::jobs::LdapSync,
    /// Sends the test message, wakes the delivery worker.
    pub mail: crate::mail::MailService,
}
