//! One function per request: parse nothing, decide nothing — call `idm` and
//! map the result to a view.

use std::time::Duration;

use latchkey_protocol::{
    ApiError, AuditPage, DaemonStatus, GroupList, Request, Response, UserPage,
};

use super::errors::api_error;
use super::server::ConnectionContext;
use super::views;
use crate::idm::Actor;

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
        Request::Status => {
            let counts = idm.counts().map_err(api_error)?;
            Response::Status {
                status: DaemonStatus {
                    daemon_version: ctx.info.version.to_owned(),
                    public_url: ctx.info.public_url.clone(),
                    data_dir: ctx.info.data_dir.display().to_string(),
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
            // Email (issue 6): new SMTP settings may unblock queued mail.
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
        // Email (issue 6).
        Request::SendTestEmail { to } => return super::mail::send_test(ctx, actor, &to),
        Request::MailStatus => return super::mail::status(ctx),
        // OpenID Connect administration arrives with issue #4.
        Request::CreateClient { .. }
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
        | Request::RevokeAuthorization { .. } => {
            return Err(ApiError::new(
                latchkey_protocol::ErrorCode::Internal,
                "this daemon does not support that request yet",
            ));
        }
        // Signup tokens (#5), email (#6) and LDAP (#7) arrive with their issues.
        Request::CreateSignupToken { .. }
        | Request::ListSignupTokens
        | Request::RevokeSignupToken { .. }
        | Request::LdapSync
        | Request::LdapStatus => {
            return Err(ApiError::new(
                latchkey_protocol::ErrorCode::Internal,
                "this daemon does not support that request yet",
            ));
        }
    };
    Ok(response)
}
