//! One function per request: parse nothing, decide nothing — call `idm` and
//! map the result to a view.

use std::time::Duration;

use latchkey_protocol::{
    ApiError, AuditPage, DaemonStatus, ErrorCode, GroupList, Request, Response, UserPage,
};

use super::context::ConnectionContext;
use super::errors::api_error;
use super::views;
use crate::idm::Actor;
use crate::idm::oidc::Alg;

/// Whether a successful `request` changed what consoles show (users,
/// groups, passkeys, sessions, login codes, settings), so that subscribed
/// consoles are told to refresh.
pub(super) fn mutates(request: &Request) -> bool {
    !matches!(
        request,
        Request::Status
            | Request::ListUsers { .. }
            | Request::GetUser { .. }
            | Request::ListGroups
            | Request::GetGroup { .. }
            | Request::ListAudit { .. }
            | Request::Subscribe
            | Request::GetSettings
            | Request::ListLoginCodes { .. }
            | Request::ListPasskeys { .. }
            | Request::ListSessions { .. }
            | Request::ListClients
            | Request::GetClient { .. }
            | Request::ListSigningKeys
            | Request::GetClaims { .. }
            | Request::ListAuthorizations { .. }
            | Request::ListSignupTokens
            | Request::LdapStatus
            | Request::MailStatus
            | Request::SendTestEmail { .. }
    )
}

pub(super) fn handle(
    ctx: &ConnectionContext,
    actor: &Actor,
    request: Request,
) -> Result<Response, ApiError> {
    let idm = &ctx.idm;
    let user = |entry| Response::User {
        user: views::user(entry),
    };
    let group = |entry| Response::Group {
        group: views::group(entry),
    };
    let response = match request {
        // The connection answers these itself (`backup.rs`): they keep state per connection.
        Request::BackupBegin
        | Request::ExportBegin
        | Request::BackupChunk { .. }
        | Request::BackupEnd { .. } => {
            return Err(ApiError::new(
                ErrorCode::Internal,
                "a backup request reached the wrong handler",
            ));
        }
        Request::Status => {
            let counts = idm.counts().map_err(api_error)?;
            Response::Status {
                status: DaemonStatus {
                    daemon_version: ctx.info.version.to_owned(),
                    public_url: ctx.info.public_url.clone(),
                    data_dir: ctx.info.data_dir.display().to_string(),
                    database: ctx.info.database.clone(),
                    user_count: counts.users,
                    admin_count: counts.admins,
                    group_count: counts.groups,
                    started_at: ctx.info.started_at,
                },
            }
        }
        Request::ListUsers { query } => {
            let page = idm.list_users(&query).map_err(api_error)?;
            Response::Users {
                page: UserPage {
                    users: page.users.into_iter().map(views::user).collect(),
                    total: page.total,
                    offset: page.offset,
                },
            }
        }
        Request::GetUser { user: user_ref } => user(idm.get_user(&user_ref).map_err(api_error)?),
        Request::CreateUser { user: input } => {
            user(idm.create_user(actor, input).map_err(api_error)?)
        }
        Request::UpdateUser {
            user: user_ref,
            patch,
        } => user(
            idm.update_user(actor, &user_ref, patch)
                .map_err(api_error)?,
        ),
        Request::SetUserDisabled {
            user: user_ref,
            disabled,
        } => user(
            idm.set_user_disabled(actor, &user_ref, disabled)
                .map_err(api_error)?,
        ),
        Request::DeleteUser { user: user_ref } => {
            idm.delete_user(actor, &user_ref).map_err(api_error)?;
            Response::Done
        }
        Request::ListGroups => Response::Groups {
            list: GroupList {
                groups: idm
                    .list_groups()
                    .map_err(api_error)?
                    .into_iter()
                    .map(views::group_summary)
                    .collect(),
            },
        },
        Request::GetGroup { name } => group(idm.get_group(&name).map_err(api_error)?),
        Request::CreateGroup { group: input } => {
            group(idm.create_group(actor, input).map_err(api_error)?)
        }
        Request::DeleteGroup { name } => {
            idm.delete_group(actor, &name).map_err(api_error)?;
            Response::Done
        }
        Request::AddGroupMember {
            group: name,
            user: user_ref,
        } => group(
            idm.add_group_member(actor, &name, &user_ref)
                .map_err(api_error)?,
        ),
        Request::RemoveGroupMember {
            group: name,
            user: user_ref,
        } => group(
            idm.remove_group_member(actor, &name, &user_ref)
                .map_err(api_error)?,
        ),
        Request::ListAudit { query } => Response::Audit {
            page: AuditPage {
                events: idm
                    .list_audit(&query)
                    .map_err(api_error)?
                    .into_iter()
                    .map(views::audit_event)
                    .collect(),
            },
        },
        Request::Subscribe => Response::Done,
        Request::GetSettings => Response::Settings {
            settings: views::settings(idm.setting_entries().map_err(api_error)?),
        },
        Request::SetSetting { key, value } => {
            let settings = idm.set_setting(actor, &key, &value).map_err(api_error)?;
            // New SMTP settings may unblock queued mail.
            if key.trim().starts_with("smtp.") {
                ctx.mail.wake();
            }
            Response::Settings {
                settings: views::settings(settings),
            }
        }
        Request::CreateLoginCode { code: input } => {
            if input.send_email {
                return super::mail::login_code_emailed(ctx, actor, &input);
            }
            let (_, issued) = idm
                .create_login_code(
                    actor,
                    &input.user,
                    Duration::from_secs(input.expires_in_secs),
                )
                .map_err(api_error)?;
            Response::LoginCode {
                code: views::login_code_created(issued, &ctx.info.public_url),
            }
        }
        Request::ListLoginCodes { user: user_ref } => Response::LoginCodes {
            codes: idm
                .list_login_codes(&user_ref)
                .map_err(api_error)?
                .into_iter()
                .map(views::login_code)
                .collect(),
        },
        Request::RevokeLoginCode { user: user_ref, id } => {
            idm.revoke_login_code(actor, &user_ref, &id)
                .map_err(api_error)?;
            Response::Done
        }
        Request::ListPasskeys { user: user_ref } => Response::Passkeys {
            passkeys: idm
                .list_passkeys(&user_ref)
                .map_err(api_error)?
                .into_iter()
                .map(views::passkey)
                .collect(),
        },
        Request::RevokePasskey { user: user_ref, id } => {
            idm.remove_passkey(actor, &user_ref, &id)
                .map_err(api_error)?;
            Response::Done
        }
        Request::ListSessions { user: user_ref } => Response::Sessions {
            sessions: idm
                .list_sessions(&user_ref)
                .map_err(api_error)?
                .into_iter()
                .map(views::session)
                .collect(),
        },
        Request::RevokeSession { user: user_ref, id } => {
            idm.revoke_session(actor, &user_ref, &id)
                .map_err(api_error)?;
            Response::Done
        }
        // Signup tokens.
        Request::CreateSignupToken { token } => Response::SignupToken {
            token: views::signup_token_created(
                idm.create_signup_token(actor, &token).map_err(api_error)?,
                &ctx.info.public_url,
            ),
        },
        Request::ListSignupTokens => Response::SignupTokens {
            tokens: idm
                .list_signup_tokens()
                .map_err(api_error)?
                .into_iter()
                .map(views::signup_token)
                .collect(),
        },
        Request::RevokeSignupToken { id } => {
            idm.revoke_signup_token(actor, &id).map_err(api_error)?;
            Response::Done
        }
        // `ldap_sync` below, awaited by the server instead of running on the
        // blocking pool: a sync takes long and pushes progress events.
        Request::LdapSync => {
            return Err(ApiError::new(
                ErrorCode::Internal,
                "an LDAP sync request reached the blocking handler",
            ));
        }
        Request::LdapStatus => Response::LdapStatus {
            status: ctx.ldap.status().map_err(api_error)?,
        },
        // Email.
        Request::SendTestEmail { to } => return super::mail::send_test(ctx, actor, &to),
        Request::MailStatus => return super::mail::status(ctx),
        request @ (Request::CreateClient { .. }
        | Request::ListClients
        | Request::GetClient { .. }
        | Request::UpdateClient { .. }
        | Request::RotateClientSecret { .. }
        | Request::DeleteClient { .. }
        | Request::ListSigningKeys
        | Request::RotateSigningKey { .. }
        | Request::GetClaims { .. }
        | Request::SetClaims { .. }
        | Request::ListAuthorizations { .. }
        | Request::RevokeAuthorization { .. }) => return oidc(ctx, actor, request),
    };
    Ok(response)
}

/// The OpenID Connect administration requests.
fn oidc(ctx: &ConnectionContext, actor: &Actor, request: Request) -> Result<Response, ApiError> {
    let oidc = &ctx.oidc;
    let client = |client| Response::Client {
        client: views::client(client),
    };
    let response = match request {
        Request::CreateClient { client: input } => {
            let (created, secret) = oidc.create_client(actor, input).map_err(api_error)?;
            Response::ClientWithSecret {
                client: views::client_with_secret(created, secret),
            }
        }
        Request::ListClients => Response::Clients {
            clients: oidc
                .list_clients()
                .map_err(api_error)?
                .into_iter()
                .map(views::client)
                .collect(),
        },
        Request::GetClient { client_id } => client(oidc.get_client(&client_id).map_err(api_error)?),
        Request::UpdateClient { client_id, patch } => client(
            oidc.update_client(actor, &client_id, patch)
                .map_err(api_error)?,
        ),
        Request::RotateClientSecret { client_id } => {
            let (rotated, secret) = oidc
                .rotate_client_secret(actor, &client_id)
                .map_err(api_error)?;
            Response::ClientWithSecret {
                client: views::client_with_secret(rotated, Some(secret)),
            }
        }
        Request::DeleteClient { client_id } => {
            oidc.delete_client(actor, &client_id).map_err(api_error)?;
            Response::Done
        }
        Request::ListSigningKeys => Response::SigningKeys {
            keys: views::signing_keys(oidc.list_signing_keys().map_err(api_error)?),
        },
        Request::RotateSigningKey { alg } => {
            let alg = alg
                .as_deref()
                .map(str::parse::<Alg>)
                .transpose()
                .map_err(api_error)?;
            Response::SigningKeys {
                keys: views::signing_keys(oidc.rotate_signing_key(actor, alg).map_err(api_error)?),
            }
        }
        Request::GetClaims { owner } => Response::Claims {
            claims: oidc.get_claims(&owner).map_err(api_error)?,
        },
        Request::SetClaims { owner, claims } => Response::Claims {
            claims: oidc.set_claims(actor, &owner, claims).map_err(api_error)?,
        },
        Request::ListAuthorizations { user } => Response::Authorizations {
            authorizations: oidc
                .list_authorizations(&user)
                .map_err(api_error)?
                .into_iter()
                .map(views::authorization)
                .collect(),
        },
        Request::RevokeAuthorization { user, client_id } => {
            oidc.revoke_authorization(actor, &user, &client_id)
                .map_err(api_error)?;
            Response::Done
        }
        // `handle` sends only the requests above here.
        _ => {
            return Err(ApiError::new(
                ErrorCode::Internal,
                "this request has no OpenID Connect handler",
            ));
        }
    };
    Ok(response)
}

/// `LdapSync`: runs a sync (after any running one) and answers with its
/// report. Async: it waits on the network and on the other sync.
pub(super) async fn ldap_sync(
    ctx: &ConnectionContext,
    actor: &Actor,
) -> Result<Response, ApiError> {
    let report = ctx.ldap.run(&actor.to_string()).await.map_err(ldap_error)?;
    Ok(Response::LdapSyncReport { report })
}

/// A sync's failure on the socket: the directory's exact words.
fn ldap_error(err: crate::jobs::SyncError) -> ApiError {
    use crate::jobs::SyncError;
    use crate::ldap::DirectoryError;
    match err {
        SyncError::Disabled => {
            ApiError::new(ErrorCode::InvalidInput, err.to_string()).with_field("ldap.enabled")
        }
        SyncError::Directory(DirectoryError::Config(message)) => {
            ApiError::new(ErrorCode::InvalidInput, message)
        }
        SyncError::Elsewhere { .. } => ApiError::new(ErrorCode::Conflict, err.to_string()),
        SyncError::Idm(e) => api_error(e),
        other => ApiError::new(ErrorCode::Internal, other.to_string()),
    }
}
