//! Every message of the protocol survives a trip through the codec unchanged.
//! The exhaustive `match`es make adding a variant without a sample here a
//! compile error.

use latchkey_protocol::*;
use time::macros::datetime;

fn user() -> UserView {
    UserView {
        id: "0b0c6f2e-6c43-4a55-9a43-2b7a4e9c1d01".into(),
        username: "alice".into(),
        email: Some("alice@example.com".into()),
        email_verified: true,
        first_name: "Alice".into(),
        last_name: "Liddell".into(),
        display_name: "Alice Liddell".into(),
        is_admin: true,
        disabled: false,
        source: Source::Local,
        passkey_count: 2,
        groups: vec!["staff".into()],
        created_at: datetime!(2026-11-23 07:00:00 UTC),
        updated_at: datetime!(2026-11-23 08:00:00 UTC),
    }
}

fn group() -> GroupView {
    GroupView {
        id: "6d4c1b2a-0000-4000-8000-000000000001".into(),
        name: "staff".into(),
        friendly_name: "Staff".into(),
        source: Source::Ldap,
        members: vec![GroupMember {
            id: user().id,
            username: "alice".into(),
        }],
        created_at: datetime!(2026-11-23 07:00:00 UTC),
    }
}

fn requests() -> Vec<Request> {
    vec![
        Request::Status,
        Request::ListUsers {
            query: UserQuery {
                filter: "ali".into(),
                offset: 100,
                limit: 50,
            },
        },
        Request::GetUser {
            user: "alice".into(),
        },
        Request::CreateUser {
            user: NewUser {
                username: "alice".into(),
                email: Some("alice@example.com".into()),
                first_name: "Alice".into(),
                last_name: "Liddell".into(),
                display_name: None,
                is_admin: true,
            },
        },
        Request::UpdateUser {
            user: "alice".into(),
            patch: UserPatch {
                email: Some(None),
                is_admin: Some(false),
                ..UserPatch::default()
            },
        },
        Request::SetUserDisabled {
            user: "alice".into(),
            disabled: true,
        },
        Request::DeleteUser {
            user: "alice".into(),
        },
        Request::ListGroups,
        Request::GetGroup {
            name: "staff".into(),
        },
        Request::CreateGroup {
            group: NewGroup {
                name: "staff".into(),
                friendly_name: Some("Staff".into()),
            },
        },
        Request::DeleteGroup {
            name: "staff".into(),
        },
        Request::AddGroupMember {
            group: "staff".into(),
            user: "alice".into(),
        },
        Request::RemoveGroupMember {
            group: "staff".into(),
            user: "alice".into(),
        },
        Request::ListAudit {
            query: AuditQuery {
                user: Some("alice".into()),
                limit: 10,
                before: Some(99),
            },
        },
        Request::Subscribe,
        Request::GetSettings,
        Request::SetSetting {
            key: "session.minutes".into(),
            value: "120".into(),
        },
        Request::CreateLoginCode {
            code: NewLoginCode {
                user: "alice".into(),
                expires_in_secs: 3600,
                send_email: true,
            },
        },
        Request::ListLoginCodes {
            user: "alice".into(),
        },
        Request::RevokeLoginCode {
            user: "alice".into(),
            id: "c0de".into(),
        },
        Request::ListPasskeys {
            user: "alice".into(),
        },
        Request::RevokePasskey {
            user: "alice".into(),
            id: "AAEC".into(),
        },
        Request::ListSessions {
            user: "alice".into(),
        },
        Request::RevokeSession {
            user: "alice".into(),
            id: "5e55".into(),
        },
    ]
}

fn client_view() -> ClientView {
    ClientView {
        client_id: "grafana".into(),
        name: "Grafana".into(),
        redirect_uris: vec!["https://grafana.example.com/login/generic_oauth".into()],
        logout_redirect_uris: vec![],
        public: false,
        require_pkce: true,
        require_par: false,
        skip_consent: false,
        allow_wildcard_redirects: false,
        allowed_groups: vec!["staff".into()],
        lifetimes: TokenLifetimes {
            access_token_secs: Some(900),
            ..TokenLifetimes::default()
        },
        created_at: datetime!(2026-11-23 07:00:00 UTC),
    }
}

fn oidc_requests() -> Vec<Request> {
    vec![
        Request::CreateClient {
            client: NewClient {
                name: "Grafana".into(),
                redirect_uris: vec!["https://grafana.example.com/cb".into()],
                public: true,
                ..NewClient::default()
            },
        },
        Request::ListClients,
        Request::GetClient {
            client_id: "grafana".into(),
        },
        Request::UpdateClient {
            client_id: "grafana".into(),
            patch: ClientPatch {
                skip_consent: Some(true),
                ..ClientPatch::default()
            },
        },
        Request::RotateClientSecret {
            client_id: "grafana".into(),
        },
        Request::DeleteClient {
            client_id: "grafana".into(),
        },
        Request::ListSigningKeys,
        Request::RotateSigningKey {
            alg: Some("ES256".into()),
        },
        Request::GetClaims {
            owner: ClaimOwner::Group("staff".into()),
        },
        Request::SetClaims {
            owner: ClaimOwner::User("alice".into()),
            claims: vec![("department".into(), serde_json::json!("R&D"))],
        },
        Request::ListAuthorizations {
            user: "alice".into(),
        },
        Request::RevokeAuthorization {
            user: "alice".into(),
            client_id: "grafana".into(),
        },
    ]
}

fn directory_requests() -> Vec<Request> {
    vec![
        Request::CreateSignupToken {
            token: NewSignupToken {
                expires_in_secs: 86400,
                usage_limit: 5,
                groups: vec!["staff".into()],
            },
        },
        Request::ListSignupTokens,
        Request::RevokeSignupToken { id: "5t".into() },
        Request::LdapSync,
        Request::LdapStatus,
        Request::SendTestEmail {
            to: "ops@example.com".into(),
        },
        Request::MailStatus,
        Request::BackupBegin,
        Request::BackupChunk {
            backup: "0f".repeat(16),
            offset: 1_048_576,
        },
        Request::BackupEnd {
            backup: "0f".repeat(16),
        },
        Request::ExportBegin,
    ]
}

fn request_covered(request: &Request) {
    match request {
        Request::BackupBegin
        | Request::ExportBegin
        | Request::BackupChunk { .. }
        | Request::BackupEnd { .. } => {}
        Request::Status
        | Request::ListUsers { .. }
        | Request::GetUser { .. }
        | Request::CreateUser { .. }
        | Request::UpdateUser { .. }
        | Request::SetUserDisabled { .. }
        | Request::DeleteUser { .. }
        | Request::ListGroups
        | Request::GetGroup { .. }
        | Request::CreateGroup { .. }
        | Request::DeleteGroup { .. }
        | Request::AddGroupMember { .. }
        | Request::RemoveGroupMember { .. }
        | Request::ListAudit { .. }
        | Request::Subscribe
        | Request::GetSettings
        | Request::SetSetting { .. }
        | Request::CreateLoginCode { .. }
        | Request::ListLoginCodes { .. }
        | Request::RevokeLoginCode { .. }
        | Request::ListPasskeys { .. }
        | Request::RevokePasskey { .. }
        | Request::ListSessions { .. }
        | Request::RevokeSession { .. }
        | Request::CreateClient { .. }
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
        | Request::RevokeAuthorization { .. }
        | Request::CreateSignupToken { .. }
        | Request::ListSignupTokens
        | Request::RevokeSignupToken { .. }
        | Request::LdapSync
        | Request::LdapStatus
        | Request::SendTestEmail { .. }
        | Request::MailStatus => {}
    }
}

fn responses() -> Vec<Response> {
    vec![
        Response::Status {
            status: DaemonStatus {
                daemon_version: "0.1.0".into(),
                public_url: "http://localhost:1411".into(),
                data_dir: "./data".into(),
                database: "PostgreSQL postgres://latchkey:***@db.example:5432/latchkey".into(),
                user_count: 3,
                admin_count: 1,
                group_count: 1,
                started_at: datetime!(2026-11-23 07:00:00 UTC),
            },
        },
        Response::Users {
            page: UserPage {
                users: vec![user()],
                total: 1,
                offset: 0,
            },
        },
        Response::User { user: user() },
        Response::Groups {
            list: GroupList {
                groups: vec![GroupSummary {
                    id: group().id,
                    name: "staff".into(),
                    friendly_name: "Staff".into(),
                    source: Source::Local,
                    member_count: 1,
                }],
            },
        },
        Response::Group { group: group() },
        Response::Audit {
            page: AuditPage {
                events: vec![AuditEventView {
                    id: 7,
                    at: datetime!(2026-11-23 07:00:00 UTC),
                    event: "user_created".into(),
                    actor: "admin-socket (uid 0)".into(),
                    subject: Some("alice".into()),
                    ip: Some("127.0.0.1".into()),
                    user_agent: None,
                    details: vec![("email".into(), "alice@example.com".into())],
                }],
            },
        },
        Response::Settings {
            settings: SettingsView {
                settings: vec![SettingView {
                    key: "smtp.password".into(),
                    value: serde_json::json!("set"),
                    default: serde_json::Value::Null,
                    kind: "secret".into(),
                    description: "SMTP password".into(),
                    write_only: true,
                    warning: Some("careful".into()),
                }],
            },
        },
        Response::LoginCode {
            code: LoginCodeCreated {
                id: "c0de".into(),
                url: "http://localhost:1411/lc/K7QD-M2XH".into(),
                code: "K7QD-M2XH".into(),
                expires_at: datetime!(2026-11-23 09:00:00 UTC),
                emailed: false,
            },
        },
        Response::LoginCodes {
            codes: vec![LoginCodeView {
                id: "c0de".into(),
                created_at: datetime!(2026-11-23 08:00:00 UTC),
                expires_at: datetime!(2026-11-23 09:00:00 UTC),
                created_by: "admin-socket (uid 0)".into(),
            }],
        },
        Response::Passkeys {
            passkeys: vec![PasskeyView {
                id: "AAEC".into(),
                name: "iCloud Keychain".into(),
                aaguid: Some("fbfc3007-154e-4ecc-8c0b-6e020557d7bd".into()),
                synced: true,
                created_at: datetime!(2026-11-23 08:00:00 UTC),
                last_used_at: None,
            }],
        },
        Response::Sessions {
            sessions: vec![SessionView {
                id: "5e55".into(),
                method: SignInMethod::Passkey,
                ip: Some("::1".into()),
                user_agent: Some("Firefox".into()),
                created_at: datetime!(2026-11-23 08:00:00 UTC),
                last_seen_at: datetime!(2026-11-23 08:10:00 UTC),
                expires_at: datetime!(2026-11-23 09:00:00 UTC),
            }],
        },
        Response::Client {
            client: client_view(),
        },
        Response::ClientWithSecret {
            client: ClientWithSecret {
                client: client_view(),
                client_secret: Some("s3cret".into()),
            },
        },
        Response::Clients {
            clients: vec![client_view()],
        },
        Response::SigningKeys {
            keys: vec![SigningKeyView {
                kid: "k1".into(),
                alg: "RS256".into(),
                state: "active".into(),
                created_at: datetime!(2026-11-23 07:00:00 UTC),
                retire_at: None,
            }],
        },
        Response::Claims {
            claims: vec![("level".into(), serde_json::json!(3))],
        },
        Response::Authorizations {
            authorizations: vec![AuthorizationView {
                client_id: "grafana".into(),
                client_name: "Grafana".into(),
                scopes: vec!["openid".into(), "email".into()],
                granted_at: datetime!(2026-11-23 07:00:00 UTC),
                implied: true,
            }],
        },
        Response::SignupToken {
            token: SignupTokenCreated {
                id: "5t".into(),
                url: "http://localhost:1411/st/abc".into(),
                expires_at: datetime!(2026-11-24 07:00:00 UTC),
                usage_limit: 5,
                groups: vec![],
            },
        },
        Response::SignupTokens {
            tokens: vec![SignupTokenView {
                id: "5t".into(),
                prefix: "abc".into(),
                uses: 2,
                usage_limit: 5,
                groups: vec!["staff".into()],
                created_at: datetime!(2026-11-23 07:00:00 UTC),
                expires_at: datetime!(2026-11-24 07:00:00 UTC),
            }],
        },
        Response::LdapSyncReport {
            report: LdapSyncReport {
                created: 3,
                skipped: vec![SkippedEntry {
                    entry: "uid=bob,ou=people,dc=example,dc=com".into(),
                    reason: "username bob belongs to a local user".into(),
                }],
                ..LdapSyncReport::default()
            },
        },
        Response::LdapStatus {
            status: LdapStatusView {
                enabled: true,
                running: false,
                last_sync_at: Some(datetime!(2026-11-23 07:00:00 UTC)),
                last_report: None,
                last_error: Some("bind failed: invalid credentials (49)".into()),
            },
        },
        Response::MailStatus {
            status: MailStatusView {
                configured: true,
                queued: 1,
                retrying: 1,
                failed: 0,
                last_error: Some("connection refused".into()),
                last_sent_at: None,
            },
        },
        Response::BackupReady {
            backup: BackupInfo {
                id: "0f".repeat(16),
                bytes: 5_242_880,
                sha256: "ab".repeat(32),
                schema_version: 6,
                encryption_key_id: Some("4f2a9c01d3e5b7a8".into()),
            },
        },
        Response::BackupChunk {
            data: "cmVkYhoK".into(),
        },
        Response::Done,
    ]
}

fn response_covered(response: &Response) {
    match response {
        Response::BackupReady { .. } | Response::BackupChunk { .. } => {}
        Response::Status { .. }
        | Response::Users { .. }
        | Response::User { .. }
        | Response::Groups { .. }
        | Response::Group { .. }
        | Response::Audit { .. }
        | Response::Settings { .. }
        | Response::LoginCode { .. }
        | Response::LoginCodes { .. }
        | Response::Passkeys { .. }
        | Response::Sessions { .. }
        | Response::Client { .. }
        | Response::ClientWithSecret { .. }
        | Response::Clients { .. }
        | Response::SigningKeys { .. }
        | Response::Claims { .. }
        | Response::Authorizations { .. }
        | Response::SignupToken { .. }
        | Response::SignupTokens { .. }
        | Response::LdapSyncReport { .. }
        | Response::LdapStatus { .. }
        | Response::MailStatus { .. }
        | Response::Done => {}
    }
}

fn events() -> Vec<Event> {
    vec![
        Event::DirectoryChanged,
        Event::AuditAppended {
            audit: AuditEventView {
                id: 8,
                at: datetime!(2026-11-23 07:00:00 UTC),
                event: "passkey_added".into(),
                actor: "alice".into(),
                subject: Some("alice".into()),
                ip: None,
                user_agent: None,
                details: vec![],
            },
        },
        Event::LdapSyncProgress {
            progress: LdapSyncProgress {
                phase: "users".into(),
                done: 500,
                total: None,
            },
        },
        Event::FrameRejected {
            error: ApiError::new(ErrorCode::BadFrame, "malformed frame"),
        },
    ]
}

fn event_covered(event: &Event) {
    match event {
        Event::DirectoryChanged
        | Event::AuditAppended { .. }
        | Event::LdapSyncProgress { .. }
        | Event::FrameRejected { .. } => {}
    }
}

fn client_messages() -> Vec<ClientMessage> {
    let mut all = vec![ClientMessage::Hello(ClientHello {
        protocol: PROTOCOL_VERSION,
        client: "latchkey 0.1.0".into(),
    })];
    for (id, request) in requests()
        .into_iter()
        .chain(oidc_requests())
        .chain(directory_requests())
        .enumerate()
    {
        request_covered(&request);
        all.push(ClientMessage::Request {
            id: id as u64 + 1,
            request,
        });
    }
    all
}

fn server_messages() -> Vec<ServerMessage> {
    let mut all = vec![
        ServerMessage::Hello(ServerHello {
            protocol: PROTOCOL_VERSION,
            daemon_version: "0.1.0".into(),
            public_url: "http://localhost:1411".into(),
        }),
        ServerMessage::Rejected {
            error: ApiError::new(ErrorCode::VersionMismatch, "speak version 1"),
        },
    ];
    for (id, response) in responses().into_iter().enumerate() {
        response_covered(&response);
        all.push(ServerMessage::Response {
            id: id as u64 + 1,
            outcome: Outcome::Ok { response },
        });
    }
    all.push(ServerMessage::Response {
        id: 99,
        outcome: Outcome::Err {
            error: ApiError::new(ErrorCode::InvalidInput, "username: too long")
                .with_field("username"),
        },
    });
    for event in events() {
        event_covered(&event);
        all.push(ServerMessage::Event { event });
    }
    all
}

#[tokio::test]
async fn every_client_message_round_trips() {
    for message in client_messages() {
        let mut buf = Vec::new();
        write_frame(&mut buf, &message).await.unwrap();
        let back: ClientMessage = read_frame(&mut buf.as_slice()).await.unwrap().unwrap();
        assert_eq!(back, message);
    }
}

#[tokio::test]
async fn every_server_message_round_trips() {
    for message in server_messages() {
        let mut buf = Vec::new();
        write_frame(&mut buf, &message).await.unwrap();
        let back: ServerMessage = read_frame(&mut buf.as_slice()).await.unwrap().unwrap();
        assert_eq!(back, message);
    }
}

#[test]
fn wire_names_are_stable() {
    // Scripts and older consoles depend on these spellings.
    let json = serde_json::to_value(ClientMessage::Request {
        id: 1,
        request: Request::GetUser {
            user: "alice".into(),
        },
    })
    .unwrap();
    assert_eq!(
        json,
        serde_json::json!({"type": "request", "id": 1, "request": {"op": "get_user", "user": "alice"}})
    );
    let json = serde_json::to_value(ApiError::new(ErrorCode::NotFound, "no such user")).unwrap();
    assert_eq!(
        json,
        serde_json::json!({"code": "not_found", "message": "no such user"})
    );
}

#[test]
fn a_created_client_prints_its_id_and_secret_at_the_top_level() {
    let json = serde_json::to_value(ClientWithSecret {
        client: client_view(),
        client_secret: Some("s3cret".into()),
    })
    .unwrap();
    assert_eq!(json["client_id"], "grafana");
    assert_eq!(json["client_secret"], "s3cret");
}

#[test]
fn user_patch_distinguishes_clear_from_unchanged() {
    let clear: UserPatch = serde_json::from_str(r#"{"email": null}"#).unwrap();
    let keep: UserPatch = serde_json::from_str("{}").unwrap();
    // `Some(None)` must survive: it is how an email address is removed.
    assert_eq!(keep.email, None);
    assert!(keep.is_empty());
    assert_eq!(clear.email, Some(None));
    assert!(!clear.is_empty());
}

#[test]
fn a_user_view_without_email_verified_reads_as_unverified() {
    // A daemon from before the field existed never claims an address verified.
    let mut json = serde_json::to_value(user()).unwrap();
    assert_eq!(json["email_verified"], true);
    json.as_object_mut().unwrap().remove("email_verified");
    let read: UserView = serde_json::from_value(json).unwrap();
    assert!(!read.email_verified);
}
