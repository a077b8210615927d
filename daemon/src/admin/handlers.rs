//! One function per request: parse nothing, decide nothing — call `idm` and
//! map the result to a view.

use latchkey_protocol::{
    ApiError, AuditPage, DaemonStatus, GroupList, Request, Response, UserPage,
};

use super::errors::api_error;
use super::server::ConnectionContext;
use super::views;
use crate::idm::Actor;

/// Whether a successful `request` changed users or groups, so that
/// subscribed consoles are told to refresh.
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
        // Passkeys, sessions, login codes and settings arrive with the
        // passkeys issue (#3).
        Request::GetSettings
        | Request::SetSetting { .. }
        | Request::CreateLoginCode { .. }
        | Request::ListLoginCodes { .. }
        | Request::RevokeLoginCode { .. }
        | Request::ListPasskeys { .. }
        | Request::RevokePasskey { .. }
        | Request::ListSessions { .. }
        | Request::RevokeSession { .. } => {
            return Err(ApiError::new(
                latchkey_protocol::ErrorCode::Internal,
                "this daemon does not support that request yet",
            ));
        }
    };
    Ok(response)
}
