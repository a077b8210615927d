//! What the authorization endpoint does next for a validated request: sign the user in, refuse
//! them (the client is restricted to groups they are not in), ask for consent, or issue a code.

use super::super::Oidc;
use super::super::clients::Client;
use super::super::error::{OAuthError, OAuthErrorCode};
use super::request::AuthorizeRequest;
use crate::idm::audit::{self, Subject, detail};
use crate::idm::users::group_names;
use crate::idm::{Actor, IdmError, Snapshot, User, UserId};
use crate::store::{Access, Tables};

/// What the authorization endpoint does next.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Send the user to sign in (again), then back.
    SignIn,
    /// The client is restricted to groups the user is in none of.
    Denied,
    /// Ask the user to allow the client these scopes.
    Consent,
    /// Issue a code.
    Issue,
}

/// The next step for `request`, given the browser's sign-in time (`None`: not signed in),
/// whether the user may use the client, and the scopes they consented to. With
/// `prompt=none` every step that needs the user is an error for the client instead.
pub fn decide(
    request: &AuthorizeRequest,
    now: i64,
    auth_time: Option<i64>,
    allowed: bool,
    consented: Option<&[String]>,
) -> Result<Decision, OAuthError> {
    let prompt = request.prompt;
    let too_old = match (auth_time, request.max_age) {
        (Some(at), Some(max_age)) => now.saturating_sub(at) > max_age,
        _ => false,
    };
    // A sign-in made after the request was pushed was made for it.
    let signed_in_for_it = match (&request.pushed, auth_time) {
        (Some(pushed), Some(at)) => at >= pushed.pushed_at(),
        _ => false,
    };
    let asks_sign_in = (prompt.login || prompt.select_account) && !signed_in_for_it;
    if auth_time.is_none() || asks_sign_in || too_old {
        if prompt.none {
            return Err(OAuthError::new(
                OAuthErrorCode::LoginRequired,
                "the user must sign in",
            ));
        }
        return Ok(Decision::SignIn);
    }
    if !allowed {
        if prompt.none {
            return Err(OAuthError::new(
                OAuthErrorCode::AccessDenied,
                "the user may not use this application",
            ));
        }
        return Ok(Decision::Denied);
    }
    let covered = consented.is_some_and(|granted| {
        request
            .scopes
            .iter()
            .all(|s| granted.iter().any(|g| g == s))
    });
    let needs_consent = !request.client.skip_consent && (prompt.consent || !covered);
    if needs_consent {
        if prompt.none {
            return Err(OAuthError::new(
                OAuthErrorCode::ConsentRequired,
                "the user must allow this application",
            ));
        }
        return Ok(Decision::Consent);
    }
    Ok(Decision::Issue)
}

/// The request's parameters to come back to after signing in: `prompt=login` /
/// `select_account` and `max_age` are dropped (they were just satisfied), so the user does
/// not loop. `auth_time` in the ID token still tells the client when they signed in.
pub fn params_after_sign_in(params: &[(String, String)]) -> Vec<(String, String)> {
    params
        .iter()
        .filter(|(k, _)| k != "max_age")
        .filter_map(|(k, v)| {
            if k != "prompt" {
                return Some((k.clone(), v.clone()));
            }
            let kept: Vec<&str> = v
                .split(' ')
                .filter(|w| !w.is_empty() && *w != "login" && *w != "select_account")
                .collect();
            (!kept.is_empty()).then(|| (k.clone(), kept.join(" ")))
        })
        .collect()
}

/// Where a signed-in user stands with a client, read in one snapshot (one read transaction
/// per authorization request).
#[derive(Clone, Debug)]
pub struct Standing {
    /// Whether they may use it (see [`Oidc::user_allowed`]).
    pub allowed: bool,
    /// The scopes of their consent record, if any.
    recorded: Option<Vec<String>>,
    /// Whether that record was implied (a skip-consent client) rather than asked.
    implied: bool,
    /// The (user, client) revocation epoch a new grant carries.
    pub epoch: u64,
}

impl Standing {
    /// The scopes they granted when asked (an implied record is not an answer).
    pub fn consented(&self) -> Option<&[String]> {
        self.recorded.as_deref().filter(|_| !self.implied)
    }

    /// Whether signing in to a skip-consent client with `scopes` must first record an implied
    /// consent: no record covers them yet.
    pub fn implied_consent_due(&self, scopes: &[String]) -> bool {
        !self
            .recorded
            .as_ref()
            .is_some_and(|recorded| scopes.iter().all(|s| recorded.contains(s)))
    }
}

/// Whether `user` may use `client`: always, unless the client is restricted to groups, and
/// then only a member of one of them.
fn allowed_in<A: Access>(tx: &Tables<A>, client: &Client, user: UserId) -> Result<bool, IdmError> {
    if client.allowed_groups.is_empty() {
        return Ok(true);
    }
    let groups = group_names(tx, user)?;
    Ok(client
        .allowed_groups
        .iter()
        .any(|allowed| groups.iter().any(|g| g.eq_ignore_ascii_case(allowed))))
}

impl Oidc {
    /// Whether `user` may use `client`: always, unless the client is restricted to groups.
    pub fn user_allowed(&self, client: &Client, user: &User) -> Result<bool, IdmError> {
        allowed_in(&self.idm.store().read()?, client, user.id)
    }

    /// Where `user` stands with `client` (see [`Standing`]), in `snapshot`.
    pub fn standing_in(
        &self,
        snapshot: &Snapshot,
        client: &Client,
        user: &User,
    ) -> Result<Standing, IdmError> {
        let tx = snapshot.tx();
        tx.read_ahead_standing(user.id, &client.client_id)?;
        let allowed = allowed_in(tx, client, user.id)?;
        let record = tx.consent(user.id, &client.client_id)?;
        let epoch = tx.grant_epoch(user.id, &client.client_id)?;
        Ok(Standing {
            allowed,
            implied: record.as_ref().is_some_and(|c| c.implied),
            recorded: record.map(|c| c.scopes),
            epoch,
        })
    }

    /// The (user, client) revocation epoch a new grant carries.
    pub fn grant_epoch(&self, user: &User, client: &Client) -> Result<u64, IdmError> {
        Ok(self
            .idm
            .store()
            .read()?
            .grant_epoch(user.id, &client.client_id)?)
    }

    /// Records a refused sign-in to a group-restricted client (`oidc_access_denied`).
    pub fn record_access_denied(
        &self,
        actor: &Actor,
        client: &Client,
        user: &User,
    ) -> Result<(), IdmError> {
        let now = self.idm.now();
        self.idm.store().write(|tx| {
            let details = vec![
                detail("client_id", client.client_id.as_str()),
                detail("client", client.name.as_str()),
            ];
            let subject = Subject::linked(&user.username, user.id);
            audit::append(tx, now, actor, "oidc_access_denied", Some(subject), details)?;
            Ok(())
        })
    }
}
