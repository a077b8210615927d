//! Issuing a code in two halves: its grant and its `oidc_authorized` event are prepared, the
//! web layer makes the event durable (together with concurrent authorizations' events), and
//! only then is the code stored and handed out.

use super::super::Oidc;
use super::super::amr::amr_for;
use super::super::grants::{Grant, PendingCode};
use super::request::AuthorizeRequest;
use super::response::AuthorizationResponse;
use crate::idm::audit::{Subject, detail};
use crate::idm::{Actor, IdmError, PendingAuditEvent, Session, User};

/// A code about to be issued: the pending code, and its `oidc_authorized` event to record
/// first.
#[derive(Debug)]
pub struct PreparedCode {
    pub pending: PendingCode,
    pub event: PendingAuditEvent,
}

impl Oidc {
    /// The first half of issuing a code for `request` to the signed-in `user` in `session`:
    /// its grant (carrying the (user, client) revocation `epoch` read with the request's
    /// other reads), and the `oidc_authorized` event that must be durable before the code is
    /// handed out ([`Oidc::hand_out_code`]). The event is the authorization's only write, so
    /// the web layer commits it together with concurrent authorizations' events.
    pub fn prepare_code(
        &self,
        actor: &Actor,
        request: &AuthorizeRequest,
        user: &User,
        session: &Session,
        epoch: u64,
    ) -> Result<PreparedCode, IdmError> {
        let now = self.idm.now();
        let client = &request.client;
        let grant = Grant {
            id: Grant::new_id()?,
            user_id: user.id,
            client_id: client.client_id.clone(),
            sid: Some(session.public_id.clone()),
            scopes: request.scopes.clone(),
            auth_time: session.created_at.unix_timestamp(),
            amr: amr_for(session),
            nonce: request.nonce.clone(),
            epoch,
        };
        let details = vec![
            detail("client_id", client.client_id.as_str()),
            detail("client", client.name.as_str()),
            detail("scopes", request.scopes.join(" ")),
        ];
        let subject = Subject::linked(&user.username, user.id);
        let event = PendingAuditEvent::new(now, actor, "oidc_authorized", Some(subject), details);
        let ttl = i64::try_from(client.code_ttl().as_secs()).unwrap_or(600);
        let pending = PendingCode {
            grant,
            redirect_uri: request.target.redirect_uri.clone(),
            challenge: request.challenge.clone(),
            expires_at: now.saturating_add(ttl),
        };
        Ok(PreparedCode { pending, event })
    }

    /// The second half: stores the code (once its event is recorded) and returns the
    /// response that carries it.
    pub fn hand_out_code(
        &self,
        request: &AuthorizeRequest,
        pending: PendingCode,
    ) -> Result<AuthorizationResponse, IdmError> {
        let code = self.codes().insert(&self.idm, self.idm.now(), pending)?;
        Ok(request.target.respond(self.issuer(), vec![("code", code)]))
    }
}
