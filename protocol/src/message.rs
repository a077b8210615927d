//! The messages of a connection: handshake, requests, responses and events.

use serde::{Deserialize, Serialize};

use crate::access::{LoginCodeCreated, LoginCodeView, NewLoginCode, PasskeyView, SessionView};
use crate::directory::{
    LdapStatusView, LdapSyncProgress, LdapSyncReport, MailStatusView, NewSignupToken,
    SignupTokenCreated, SignupTokenView,
};
use crate::error::ApiError;
use crate::oidc::{
    AuthorizationView, ClaimOwner, ClientPatch, ClientView, ClientWithSecret, NewClient,
    SigningKeyView,
};
use crate::settings::SettingsView;
use crate::view::{
    AuditEventView, AuditPage, AuditQuery, DaemonStatus, GroupList, GroupView, NewGroup, NewUser,
    UserPage, UserPatch, UserQuery, UserView,
};

/// Bumped whenever a message changes shape incompatibly.
pub const PROTOCOL_VERSION: u32 = 1;

/// What the client sends first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientHello {
    pub protocol: u32,
    /// The client's own name and version, for the daemon's log.
    pub client: String,
}

/// The daemon's answer to a compatible [`ClientHello`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerHello {
    pub protocol: u32,
    pub daemon_version: String,
    pub public_url: String,
}

/// Frames a client sends.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ClientMessage {
    Hello(ClientHello),
    Request { id: u64, request: Request },
}

/// Frames the daemon sends.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerMessage {
    Hello(ServerHello),
    /// The handshake failed; the daemon closes the connection after this.
    Rejected {
        error: ApiError,
    },
    Response {
        id: u64,
        outcome: Outcome,
    },
    /// Pushed without a request: changes, and complaints about frames that
    /// could not be read (which have no id to answer to).
    Event {
        event: Event,
    },
}

/// The result of one request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Outcome {
    Ok { response: Response },
    Err { error: ApiError },
}

impl From<Result<Response, ApiError>> for Outcome {
    fn from(result: Result<Response, ApiError>) -> Self {
        match result {
            Ok(response) => Outcome::Ok { response },
            Err(error) => Outcome::Err { error },
        }
    }
}

impl From<Outcome> for Result<Response, ApiError> {
    fn from(outcome: Outcome) -> Self {
        match outcome {
            Outcome::Ok { response } => Ok(response),
            Outcome::Err { error } => Err(error),
        }
    }
}

/// Everything an admin can ask of the daemon. `user` fields take a username,
/// an email address or a user id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Request {
    Status,
    ListUsers {
        query: UserQuery,
    },
    GetUser {
        user: String,
    },
    CreateUser {
        user: NewUser,
    },
    UpdateUser {
        user: String,
        patch: UserPatch,
    },
    SetUserDisabled {
        user: String,
        disabled: bool,
    },
    DeleteUser {
        user: String,
    },
    ListGroups,
    GetGroup {
        name: String,
    },
    CreateGroup {
        group: NewGroup,
    },
    DeleteGroup {
        name: String,
    },
    AddGroupMember {
        group: String,
        user: String,
    },
    RemoveGroupMember {
        group: String,
        user: String,
    },
    ListAudit {
        query: AuditQuery,
    },
    /// Ask for [`Event`]s to be pushed on this connection from now on.
    Subscribe,
    GetSettings,
    /// `value` is parsed by the daemon according to the setting's type.
    SetSetting {
        key: String,
        value: String,
    },
    CreateLoginCode {
        code: NewLoginCode,
    },
    ListLoginCodes {
        user: String,
    },
    RevokeLoginCode {
        user: String,
        id: String,
    },
    ListPasskeys {
        user: String,
    },
    RevokePasskey {
        user: String,
        id: String,
    },
    ListSessions {
        user: String,
    },
    RevokeSession {
        user: String,
        id: String,
    },
    CreateClient {
        client: NewClient,
    },
    ListClients,
    GetClient {
        client_id: String,
    },
    UpdateClient {
        client_id: String,
        patch: ClientPatch,
    },
    RotateClientSecret {
        client_id: String,
    },
    /// Also revokes every token issued to the client.
    DeleteClient {
        client_id: String,
    },
    ListSigningKeys,
    /// Makes a new key (of `alg`, default the current one's) the active
    /// signer; the old one stays published until its tokens expire.
    RotateSigningKey {
        alg: Option<String>,
    },
    GetClaims {
        owner: ClaimOwner,
    },
    /// Replaces the owner's custom claims (values are JSON).
    SetClaims {
        owner: ClaimOwner,
        claims: Vec<(String, serde_json::Value)>,
    },
    ListAuthorizations {
        user: String,
    },
    RevokeAuthorization {
        user: String,
        client_id: String,
    },
    CreateSignupToken {
        token: NewSignupToken,
    },
    ListSignupTokens,
    RevokeSignupToken {
        id: String,
    },
    /// Runs an LDAP sync now and answers with its report (progress is
    /// pushed as events to subscribed connections meanwhile).
    LdapSync,
    LdapStatus,
    /// Sends a test message synchronously and reports the SMTP server's
    /// exact answer on failure.
    SendTestEmail {
        to: String,
    },
    MailStatus,
    /// Takes a consistent snapshot of the database, while it keeps serving (embedded database
    /// only; PostgreSQL is backed up with its own tools).
    BackupBegin,
    /// Up to [`crate::BACKUP_CHUNK_BYTES`] of the snapshot from `offset`; empty at the end.
    BackupChunk {
        backup: String,
        offset: u64,
    },
    /// The client has the snapshot: the daemon removes its copy.
    BackupEnd {
        backup: String,
    },
    /// Writes an export bundle of the whole database (either backend): a documented JSON
    /// lines file of one snapshot, for `latchkeyd import`. Answered with `BackupReady` and
    /// fetched like a backup, with `BackupChunk` and `BackupEnd`.
    ExportBegin,
}

/// Successful answers; each request has one matching shape.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Response {
    Status {
        status: DaemonStatus,
    },
    Users {
        page: UserPage,
    },
    User {
        user: UserView,
    },
    Groups {
        list: GroupList,
    },
    Group {
        group: GroupView,
    },
    Audit {
        page: AuditPage,
    },
    Settings {
        settings: SettingsView,
    },
    LoginCode {
        code: LoginCodeCreated,
    },
    LoginCodes {
        codes: Vec<LoginCodeView>,
    },
    Passkeys {
        passkeys: Vec<PasskeyView>,
    },
    Sessions {
        sessions: Vec<SessionView>,
    },
    Client {
        client: ClientView,
    },
    ClientWithSecret {
        client: ClientWithSecret,
    },
    Clients {
        clients: Vec<ClientView>,
    },
    SigningKeys {
        keys: Vec<SigningKeyView>,
    },
    Claims {
        claims: Vec<(String, serde_json::Value)>,
    },
    Authorizations {
        authorizations: Vec<AuthorizationView>,
    },
    SignupToken {
        token: SignupTokenCreated,
    },
    SignupTokens {
        tokens: Vec<SignupTokenView>,
    },
    LdapSyncReport {
        report: LdapSyncReport,
    },
    LdapStatus {
        status: LdapStatusView,
    },
    MailStatus {
        status: MailStatusView,
    },
    BackupReady {
        backup: crate::BackupInfo,
    },
    BackupChunk {
        /// Base64 (standard, padded).
        data: String,
    },
    /// The request succeeded and has nothing to say (delete, subscribe).
    Done,
}

/// Pushed to subscribed clients as things happen.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    /// Users or groups changed; views should refresh.
    DirectoryChanged,
    /// A new audit event was written (for live audit views).
    AuditAppended { audit: AuditEventView },
    /// A running LDAP sync moved on.
    LdapSyncProgress { progress: LdapSyncProgress },
    /// A frame from this client could not be read; the connection goes on.
    FrameRejected { error: ApiError },
}
