//! Every redb table, in one place. Keys and values are documented here; the
//! bytes of `&[u8]` values are postcard-encoded versioned records (`records`).
//!
//! Ids are stored as their 16 raw bytes. Index keys that must be unique
//! case-insensitively are stored lowercased (`index::fold`).

use redb::TableDefinition;

/// Raw bytes of a `UserId` or `GroupId`.
pub type IdBytes = [u8; 16];

/// SHA-256 of a secret (session id, login code): secrets are never stored.
pub type TokenHash = [u8; 32];

/// `META`: setting name → bytes. Holds `schema_version` (u64, little endian) and
/// `encryption_key_id` (8 bytes: which key sealed the secrets, `meta.rs`).
pub const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");

/// `USERS`: user id → `StoredUser`.
pub const USERS: TableDefinition<IdBytes, &[u8]> = TableDefinition::new("users_v1");

/// `USERNAME_TO_USER_ID`: lowercased username → user id. Also the user list
/// order: the console pages through this table.
pub const USERNAME_TO_USER_ID: TableDefinition<&str, IdBytes> =
    TableDefinition::new("username_to_user_id_v1");

/// `EMAIL_TO_USER_ID`: lowercased email → user id.
pub const EMAIL_TO_USER_ID: TableDefinition<&str, IdBytes> =
    TableDefinition::new("email_to_user_id_v1");

/// `WEBAUTHN_HANDLE_TO_USER_ID`: WebAuthn user handle (16 random bytes) →
/// user id, for usernameless sign-in (the authenticator returns only the
/// handle).
pub const WEBAUTHN_HANDLE_TO_USER_ID: TableDefinition<[u8; 16], IdBytes> =
    TableDefinition::new("webauthn_handle_to_user_id_v1");

/// `USER_SEARCH_TEXT`: lowercased username → the user's searchable fields,
/// lowercased and joined by `\n`. Same order as `USERNAME_TO_USER_ID`, so a
/// filtered list is one sequential scan of short strings, without decoding
/// any record.
pub const USER_SEARCH_TEXT: TableDefinition<&str, &str> =
    TableDefinition::new("user_search_text_v1");

/// `ADMIN_USER_IDS`: user id → () for every admin, so counting admins is O(1).
pub const ADMIN_USER_IDS: TableDefinition<IdBytes, ()> = TableDefinition::new("admin_user_ids_v1");

/// `USER_PASSKEYS`: (user id, credential id) → `StoredPasskey`. A user's
/// passkeys are one range scan.
pub const USER_PASSKEYS: TableDefinition<(IdBytes, &[u8]), &[u8]> =
    TableDefinition::new("user_passkeys_v1");

/// `CREDENTIAL_ID_TO_USER_ID`: WebAuthn credential id → user id. Makes a
/// credential id unique across all users and finds its owner at sign-in.
pub const CREDENTIAL_ID_TO_USER_ID: TableDefinition<&[u8], IdBytes> =
    TableDefinition::new("credential_id_to_user_id_v1");

/// `SESSIONS`: SHA-256 of the session cookie value → `StoredSession`.
pub const SESSIONS: TableDefinition<TokenHash, &[u8]> = TableDefinition::new("sessions_v1");

/// `USER_SESSIONS`: (user id, SHA-256 of the cookie value) → (), to list and
/// end one user's sessions.
pub const USER_SESSIONS: TableDefinition<(IdBytes, TokenHash), ()> =
    TableDefinition::new("user_sessions_v1");

/// `LOGIN_CODES`: SHA-256 of the normalised login code → `StoredLoginCode`.
pub const LOGIN_CODES: TableDefinition<TokenHash, &[u8]> = TableDefinition::new("login_codes_v1");

/// `USER_LOGIN_CODES`: (user id, SHA-256 of the code) → (), to list and
/// revoke one user's outstanding codes.
pub const USER_LOGIN_CODES: TableDefinition<(IdBytes, TokenHash), ()> =
    TableDefinition::new("user_login_codes_v1");

/// `SETTINGS`: dotted setting key (e.g. `session.minutes`) → `StoredSetting`.
/// Only settings an admin has set are present; the rest take their defaults.
pub const SETTINGS: TableDefinition<&str, &[u8]> = TableDefinition::new("settings_v1");

/// `GROUPS`: group id → `StoredGroup`.
pub const GROUPS: TableDefinition<IdBytes, &[u8]> = TableDefinition::new("groups_v1");

/// `GROUP_NAME_TO_GROUP_ID`: group name (already lowercase) → group id.
pub const GROUP_NAME_TO_GROUP_ID: TableDefinition<&str, IdBytes> =
    TableDefinition::new("group_name_to_group_id_v1");

/// `GROUP_MEMBERS`: (group id, user id) → ().
pub const GROUP_MEMBERS: TableDefinition<(IdBytes, IdBytes), ()> =
    TableDefinition::new("group_members_v1");

/// `USER_GROUPS`: (user id, group id) → (); the mirror of `GROUP_MEMBERS`.
pub const USER_GROUPS: TableDefinition<(IdBytes, IdBytes), ()> =
    TableDefinition::new("user_groups_v1");

/// `AUDIT_LOG`: event sequence number (from 1, increasing) → `StoredAuditEvent`.
pub const AUDIT_LOG: TableDefinition<u64, &[u8]> = TableDefinition::new("audit_log_v1");

/// `USER_AUDIT_EVENTS`: (user id, event sequence number) → () for the actor
/// and the subject of each event, so one user's history survives renames
/// and deletion and is read without scanning the whole log.
pub const USER_AUDIT_EVENTS: TableDefinition<(IdBytes, u64), ()> =
    TableDefinition::new("user_audit_events_v1");

// --- OpenID Connect administration (clients, signing keys, consents, claims) ---

/// `CLIENTS`: client id (24 lowercase base32 characters) → `StoredClient`.
/// The client secret is kept only as its SHA-256.
pub const CLIENTS: TableDefinition<&str, &[u8]> = TableDefinition::new("clients_v1");

/// `SIGNING_KEYS`: key id (`kid`, the RFC 7638 JWK thumbprint) →
/// `StoredSigningKey` (algorithm, sealed PKCS#8 DER private key, state, retire time).
pub const SIGNING_KEYS: TableDefinition<&str, &[u8]> = TableDefinition::new("signing_keys_v1");

/// `CONSENTS`: (user id, client id) → `StoredConsent` (granted scopes). A
/// user's authorized apps are one range scan.
pub const CONSENTS: TableDefinition<(IdBytes, &str), &[u8]> = TableDefinition::new("consents_v1");

/// `CLAIMS`: (owner kind: 0 = user, 1 = group, owner id) → `StoredClaims`
/// (custom claim names with their JSON values as text).
pub const CLAIMS: TableDefinition<(u8, IdBytes), &[u8]> = TableDefinition::new("claims_v1");
// ---- OIDC tokens --------------------------------------------------------------------------
// Authorization codes and access tokens are not stored (codes live in memory; access tokens
// are self-contained JWTs). What is stored is what must survive a restart: refresh tokens and
// the revocation lists, each pruned once what it refers to has expired.

/// `REFRESH_TOKENS`: SHA-256 of a refresh token → `StoredRefreshToken`.
pub const REFRESH_TOKENS: TableDefinition<TokenHash, &[u8]> =
    TableDefinition::new("refresh_tokens_v1");

/// `GRANT_REFRESH_TOKENS`: (grant id, token hash) → (): one rotation family, so reuse or
/// revocation ends all of it.
pub const GRANT_REFRESH_TOKENS: TableDefinition<([u8; 16], TokenHash), ()> =
    TableDefinition::new("grant_refresh_tokens_v1");

/// `USER_REFRESH_TOKENS`: (user id, token hash) → (): a user's refresh tokens, to end them
/// per client (revoked consent) or per browser session (RP-initiated logout).
pub const USER_REFRESH_TOKENS: TableDefinition<(IdBytes, TokenHash), ()> =
    TableDefinition::new("user_refresh_tokens_v1");

/// `REVOKED_TOKENS`: access-token `jti` → its `exp` (unix seconds). RFC 7009 revocation of
/// one access token; pruned after `exp`.
pub const REVOKED_TOKENS: TableDefinition<&str, i64> = TableDefinition::new("revoked_tokens_v1");

/// `REVOKED_GRANTS`: revoked grant selector → when the entry may be pruned (unix seconds,
/// the latest expiry of anything it covers). Selectors: `g:<grant id>` (one grant: code
/// replay, refresh-token reuse, revocation of a refresh token), `s:<sid>:<client id>` (that
/// client's grants made in one browser session: RP-initiated logout), `s:<sid>` (every
/// client's grants of that session).
pub const REVOKED_GRANTS: TableDefinition<&str, i64> = TableDefinition::new("revoked_grants_v1");

/// `GRANT_EPOCHS`: (user id, client id) → epoch. Tokens carry the epoch they were issued
/// under; revoking a user's authorization of a client bumps it, which ends every grant made
/// before, stored or not. Absent = 0.
pub const GRANT_EPOCHS: TableDefinition<(IdBytes, &str), u64> =
    TableDefinition::new("grant_epochs_v1");
// ---- end OIDC tokens ----------------------------------------------------------------------
// ---- Signup tokens ----

/// `SIGNUP_TOKENS`: SHA-256 of the signup token → `StoredSignupToken`. Kept
/// after revocation, expiry or its last use (so the page can say which), until
/// the sweeper drops it a while after it expired.
pub const SIGNUP_TOKENS: TableDefinition<TokenHash, &[u8]> =
    TableDefinition::new("signup_tokens_v1");

/// `SIGNUP_TOKEN_IDS`: a signup token's public id → SHA-256 of the token, to
/// revoke by id.
pub const SIGNUP_TOKEN_IDS: TableDefinition<&str, TokenHash> =
    TableDefinition::new("signup_token_ids_v1");
// --- LDAP sync ---------------------------------------------------

/// `LDAP_ID_TO_USER_ID`: the directory's stable unique id of a user (its
/// `ldap.attr.unique_id`, e.g. an entryUUID or objectGUID as text) → user id.
/// How a sync finds the account it made for an entry, across renames.
pub const LDAP_ID_TO_USER_ID: TableDefinition<&str, IdBytes> =
    TableDefinition::new("ldap_id_to_user_id_v1");

/// `LDAP_ID_TO_GROUP_ID`: the directory's stable unique id of a group →
/// group id.
pub const LDAP_ID_TO_GROUP_ID: TableDefinition<&str, IdBytes> =
    TableDefinition::new("ldap_id_to_group_id_v1");
// --- Email ---

/// `OUTBOX`: message number (from 1, increasing) → `StoredOutboxMessage`: mail
/// waiting for delivery or given up on. Delivered messages are removed.
pub const OUTBOX: TableDefinition<u64, &[u8]> = TableDefinition::new("outbox_v1");

/// `MAIL_STATE`: `"delivery"` → `StoredMailState` (when mail last went out,
/// the last delivery error), for the console's status screen.
pub const MAIL_STATE: TableDefinition<&str, &[u8]> = TableDefinition::new("mail_state_v1");

/// `EMAIL_LINKS`: SHA-256 of the browser-binding cookie set when the sign-in
/// link was asked for → `StoredEmailLink` (the link token's and the code's
/// hashes). One outstanding link per browser: a new request replaces it.
pub const EMAIL_LINKS: TableDefinition<TokenHash, &[u8]> = TableDefinition::new("email_links_v1");

/// `EMAIL_VERIFICATIONS`: SHA-256 of an email verification link's token →
/// `StoredEmailVerification` (the user and the exact address it was sent to).
/// Removed when used; swept once expired.
pub const EMAIL_VERIFICATIONS: TableDefinition<TokenHash, &[u8]> =
    TableDefinition::new("email_verifications_v1");

/// `USER_EMAIL_VERIFICATIONS`: (user id, token hash) → (): a user's
/// outstanding verification links, to limit resends and to go with the user.
pub const USER_EMAIL_VERIFICATIONS: TableDefinition<(IdBytes, TokenHash), ()> =
    TableDefinition::new("user_email_verifications_v1");

/// `KNOWN_DEVICES`: (user id, SHA-256 of the device cookie) → first seen
/// (UTC seconds): the browsers a user has signed in from.
pub const KNOWN_DEVICES: TableDefinition<(IdBytes, TokenHash), i64> =
    TableDefinition::new("known_devices_v1");

/// `SPENT_TOKENS`: SHA-256 of a single-use token that carries its own state, sealed
/// (authorization codes and passkey ceremonies when replicas share the database) → until
/// when it could still be presented (unix seconds). Its presence is what makes a second
/// use a replay; swept once past.
pub const SPENT_TOKENS: TableDefinition<TokenHash, i64> = TableDefinition::new("spent_tokens_v1");
// --- Jobs shared by replicas ---

/// `LEASES`: job name (`mail_delivery`, `ldap_sync`, `expiry_sweep`) → `StoredLease`: the
/// replica that runs the job now and until when. One row per job that has a holder.
pub const LEASES: TableDefinition<&str, &[u8]> = TableDefinition::new("leases_v1");

/// `LDAP_SYNC_STATE`: `"last"` → `StoredLdapSyncState`: how the last LDAP sync went, whichever
/// replica ran it, for every console and for the schedule.
pub const LDAP_SYNC_STATE: TableDefinition<&str, &[u8]> =
    TableDefinition::new("ldap_sync_state_v1");
