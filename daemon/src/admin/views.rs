//! Domain types to the protocol's view models.

use latchkey_protocol::{
    AuditEventView, AuthorizationView, ClientView, ClientWithSecret, GroupMember, GroupSummary,
    GroupView, LoginCodeCreated, LoginCodeView, PasskeyView, SessionView, SettingView,
    SettingsView, SigningKeyView, UserView,
};

use crate::idm::oidc::{Authorization, Client, SigningKeyInfo};
use crate::idm::{
    AuditEvent, GroupEntry, GroupSummaryEntry, LoginCodeInfo, LoginCodeIssued, PasskeyInfo,
    Session, SettingEntry, UserEntry,
};

pub(super) fn user(entry: UserEntry) -> UserView {
    let UserEntry {
        user,
        passkey_count,
        groups,
    } = entry;
    UserView {
        id: user.id.to_string(),
        username: user.username,
        email: user.email,
        email_verified: user.email_verified,
        first_name: user.first_name,
        last_name: user.last_name,
        display_name: user.display_name,
        is_admin: user.is_admin,
        disabled: user.disabled,
        source: user.source,
        passkey_count,
        groups,
        created_at: user.created_at,
        updated_at: user.updated_at,
    }
}

pub(super) fn group(entry: GroupEntry) -> GroupView {
    let GroupEntry { group, members } = entry;
    GroupView {
        id: group.id.to_string(),
        name: group.name,
        friendly_name: group.friendly_name,
        source: group.source,
        members: members
            .into_iter()
            .map(|(id, username)| GroupMember {
                id: id.to_string(),
                username,
            })
            .collect(),
        created_at: group.created_at,
    }
}

pub(super) fn group_summary(entry: GroupSummaryEntry) -> GroupSummary {
    let GroupSummaryEntry {
        group,
        member_count,
    } = entry;
    GroupSummary {
        id: group.id.to_string(),
        name: group.name,
        friendly_name: group.friendly_name,
        source: group.source,
        member_count,
    }
}

pub fn audit_event(event: AuditEvent) -> AuditEventView {
    AuditEventView {
        id: event.id,
        at: event.at,
        event: event.event,
        actor: event.actor,
        subject: event.subject,
        ip: event.ip,
        user_agent: event.user_agent,
        details: event.details,
    }
}

pub(super) fn settings(entries: Vec<SettingEntry>) -> SettingsView {
    SettingsView {
        settings: entries
            .into_iter()
            .map(|entry| SettingView {
                key: entry.key.to_owned(),
                value: entry.value,
                default: entry.default,
                kind: entry.kind,
                description: entry.description.to_owned(),
                write_only: entry.write_only,
                warning: entry.warning.map(str::to_owned),
            })
            .collect(),
    }
}

/// `url` is `<public_url>/lc/<code>`.
pub(super) fn login_code_created(issued: LoginCodeIssued, public_url: &str) -> LoginCodeCreated {
    LoginCodeCreated {
        url: format!("{}/lc/{}", public_url.trim_end_matches('/'), issued.code),
        id: issued.id,
        code: issued.code,
        expires_at: issued.expires_at,
        emailed: false,
    }
}

pub(super) fn login_code(info: LoginCodeInfo) -> LoginCodeView {
    LoginCodeView {
        id: info.id,
        created_at: info.created_at,
        expires_at: info.expires_at,
        created_by: info.created_by,
    }
}

pub(super) fn session(session: Session) -> SessionView {
    SessionView {
        id: session.public_id,
        method: session.method,
        ip: session.ip,
        user_agent: session.user_agent,
        created_at: session.created_at,
        last_seen_at: session.last_seen_at,
        expires_at: session.expires_at,
    }
}

pub(super) fn passkey(info: PasskeyInfo) -> PasskeyView {
    PasskeyView {
        id: info.id,
        name: info.name,
        aaguid: info.aaguid,
        synced: info.synced,
        created_at: info.created_at,
        last_used_at: info.last_used_at,
    }
}

pub(super) fn client(client: Client) -> ClientView {
    ClientView {
        client_id: client.client_id,
        name: client.name,
        redirect_uris: client.redirect_uris,
        logout_redirect_uris: client.logout_redirect_uris,
        public: client.public,
        require_pkce: client.require_pkce,
        require_par: client.require_par,
        skip_consent: client.skip_consent,
        allow_wildcard_redirects: client.allow_wildcard_redirects,
        allowed_groups: client.allowed_groups,
        lifetimes: client.lifetimes,
        created_at: client.created_at,
    }
}

/// The only views that carry a client secret: creation and rotation.
pub(super) fn client_with_secret(client: Client, secret: Option<String>) -> ClientWithSecret {
    ClientWithSecret {
        client: self::client(client),
        client_secret: secret,
    }
}

pub(super) fn signing_keys(keys: Vec<SigningKeyInfo>) -> Vec<SigningKeyView> {
    keys.into_iter()
        .map(|key| SigningKeyView {
            kid: key.kid,
            alg: key.alg.as_str().to_owned(),
            state: if key.active { "active" } else { "previous" }.to_owned(),
            created_at: key.created_at,
            retire_at: key.retire_at,
        })
        .collect()
}

pub(super) fn authorization(authorization: Authorization) -> AuthorizationView {
    AuthorizationView {
        client_id: authorization.client_id,
        client_name: authorization.client_name,
        scopes: authorization.scopes,
        granted_at: authorization.granted_at,
        implied: authorization.implied,
    }
}

// ---- Signup tokens ----

pub(super) fn signup_token_created(
    issued: crate::idm::SignupTokenIssued,
    public_url: &str,
) -> latchkey_protocol::SignupTokenCreated {
    latchkey_protocol::SignupTokenCreated {
        url: format!("{}/st/{}", public_url.trim_end_matches('/'), issued.token),
        id: issued.id,
        expires_at: issued.expires_at,
        usage_limit: issued.usage_limit,
        groups: issued.groups,
    }
}

pub(super) fn signup_token(
    info: crate::idm::SignupTokenInfo,
) -> latchkey_protocol::SignupTokenView {
    latchkey_protocol::SignupTokenView {
        id: info.id,
        prefix: info.prefix,
        uses: info.uses,
        usage_limit: info.usage_limit,
        groups: info.groups,
        created_at: info.created_at,
        expires_at: info.expires_at,
    }
}
