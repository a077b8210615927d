//! `Tables`: every table of one transaction, opened together, so reads are
//! written once for both read snapshots and write transactions.

use std::marker::PhantomData;

use redb::{Key, ReadTransaction, ReadableTable, Value, WriteTransaction};

use super::StoreError;
use super::error::db;
use super::records::AuditRecord;
use super::schema::{self, IdBytes, TokenHash};

/// Read-only or read-write access to a transaction's tables.
pub trait Access {
    type Table<K: Key + 'static, V: Value + 'static>: ReadableTable<K, V>;
}

/// Tables of a read snapshot.
#[derive(Debug)]
pub enum Read {}

impl Access for Read {
    type Table<K: Key + 'static, V: Value + 'static> = redb::ReadOnlyTable<K, V>;
}

/// Tables of a write transaction.
#[derive(Debug)]
pub struct Write<'t>(PhantomData<&'t ()>);

impl<'t> Access for Write<'t> {
    type Table<K: Key + 'static, V: Value + 'static> = redb::Table<'t, K, V>;
}

/// A consistent read snapshot.
pub type ReadTx = Tables<Read>;
/// The tables of one write transaction (see `Store::write`).
pub type WriteTx<'t> = Tables<Write<'t>>;

type PairKey = (IdBytes, IdBytes);

/// Every table, open in one transaction.
pub struct Tables<A: Access> {
    pub(super) users: A::Table<IdBytes, &'static [u8]>,
    pub(super) username_to_user_id: A::Table<&'static str, IdBytes>,
    pub(super) email_to_user_id: A::Table<&'static str, IdBytes>,
    pub(super) webauthn_handle_to_user_id: A::Table<[u8; 16], IdBytes>,
    pub(super) user_search_text: A::Table<&'static str, &'static str>,
    pub(super) admin_user_ids: A::Table<IdBytes, ()>,
    pub(super) user_passkeys: A::Table<(IdBytes, &'static [u8]), &'static [u8]>,
    pub(super) credential_id_to_user_id: A::Table<&'static [u8], IdBytes>,
    pub(super) sessions: A::Table<TokenHash, &'static [u8]>,
    pub(super) user_sessions: A::Table<(IdBytes, TokenHash), ()>,
    pub(super) login_codes: A::Table<TokenHash, &'static [u8]>,
    pub(super) user_login_codes: A::Table<(IdBytes, TokenHash), ()>,
    pub(super) settings: A::Table<&'static str, &'static [u8]>,
    pub(super) groups: A::Table<IdBytes, &'static [u8]>,
    pub(super) group_name_to_group_id: A::Table<&'static str, IdBytes>,
    pub(super) group_members: A::Table<PairKey, ()>,
    pub(super) user_groups: A::Table<PairKey, ()>,
    pub(super) audit_log: A::Table<u64, &'static [u8]>,
    pub(super) user_audit_events: A::Table<(IdBytes, u64), ()>,
    // OpenID Connect administration.
    pub(super) clients: A::Table<&'static str, &'static [u8]>,
    pub(super) signing_keys: A::Table<&'static str, &'static [u8]>,
    pub(super) consents: A::Table<(IdBytes, &'static str), &'static [u8]>,
    pub(super) claims: A::Table<(u8, IdBytes), &'static [u8]>,
    // ---- OIDC tokens (oidc-flows) ----
    pub(super) refresh_tokens: A::Table<TokenHash, &'static [u8]>,
    pub(super) grant_refresh_tokens: A::Table<([u8; 16], TokenHash), ()>,
    pub(super) user_refresh_tokens: A::Table<(IdBytes, TokenHash), ()>,
    pub(super) revoked_tokens: A::Table<&'static str, i64>,
    pub(super) revoked_grants: A::Table<&'static str, i64>,
    pub(super) grant_epochs: A::Table<(IdBytes, &'static str), u64>,
    // ---- end OIDC tokens ----
    /// Audit events appended in this transaction, announced after commit.
    pub(super) appended_audit: Vec<(u64, AuditRecord)>,
}

impl<A: Access> std::fmt::Debug for Tables<A> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tables").finish_non_exhaustive()
    }
}

/// Opens every table with `$open` (the transaction's `open_table`).
macro_rules! open_all {
    ($txn:expr) => {
        Tables {
            users: $txn
                .open_table(schema::USERS)
                .map_err(db("opening users"))?,
            username_to_user_id: $txn
                .open_table(schema::USERNAME_TO_USER_ID)
                .map_err(db("opening the username index"))?,
            email_to_user_id: $txn
                .open_table(schema::EMAIL_TO_USER_ID)
                .map_err(db("opening the email index"))?,
            webauthn_handle_to_user_id: $txn
                .open_table(schema::WEBAUTHN_HANDLE_TO_USER_ID)
                .map_err(db("opening the WebAuthn handle index"))?,
            user_search_text: $txn
                .open_table(schema::USER_SEARCH_TEXT)
                .map_err(db("opening the user search index"))?,
            admin_user_ids: $txn
                .open_table(schema::ADMIN_USER_IDS)
                .map_err(db("opening the admin index"))?,
            user_passkeys: $txn
                .open_table(schema::USER_PASSKEYS)
                .map_err(db("opening passkeys"))?,
            credential_id_to_user_id: $txn
                .open_table(schema::CREDENTIAL_ID_TO_USER_ID)
                .map_err(db("opening the credential id index"))?,
            sessions: $txn
                .open_table(schema::SESSIONS)
                .map_err(db("opening sessions"))?,
            user_sessions: $txn
                .open_table(schema::USER_SESSIONS)
                .map_err(db("opening the user sessions index"))?,
            login_codes: $txn
                .open_table(schema::LOGIN_CODES)
                .map_err(db("opening login codes"))?,
            user_login_codes: $txn
                .open_table(schema::USER_LOGIN_CODES)
                .map_err(db("opening the user login codes index"))?,
            settings: $txn
                .open_table(schema::SETTINGS)
                .map_err(db("opening settings"))?,
            groups: $txn
                .open_table(schema::GROUPS)
                .map_err(db("opening groups"))?,
            group_name_to_group_id: $txn
                .open_table(schema::GROUP_NAME_TO_GROUP_ID)
                .map_err(db("opening the group name index"))?,
            group_members: $txn
                .open_table(schema::GROUP_MEMBERS)
                .map_err(db("opening group members"))?,
            user_groups: $txn
                .open_table(schema::USER_GROUPS)
                .map_err(db("opening user groups"))?,
            audit_log: $txn
                .open_table(schema::AUDIT_LOG)
                .map_err(db("opening the audit log"))?,
            user_audit_events: $txn
                .open_table(schema::USER_AUDIT_EVENTS)
                .map_err(db("opening the audit user index"))?,
            // OpenID Connect administration.
            clients: $txn
                .open_table(schema::CLIENTS)
                .map_err(db("opening OIDC clients"))?,
            signing_keys: $txn
                .open_table(schema::SIGNING_KEYS)
                .map_err(db("opening signing keys"))?,
            consents: $txn
                .open_table(schema::CONSENTS)
                .map_err(db("opening consents"))?,
            claims: $txn
                .open_table(schema::CLAIMS)
                .map_err(db("opening custom claims"))?,
            // ---- OIDC tokens (oidc-flows) ----
            refresh_tokens: $txn
                .open_table(schema::REFRESH_TOKENS)
                .map_err(db("opening refresh tokens"))?,
            grant_refresh_tokens: $txn
                .open_table(schema::GRANT_REFRESH_TOKENS)
                .map_err(db("opening the grant refresh-token index"))?,
            user_refresh_tokens: $txn
                .open_table(schema::USER_REFRESH_TOKENS)
                .map_err(db("opening the user refresh-token index"))?,
            revoked_tokens: $txn
                .open_table(schema::REVOKED_TOKENS)
                .map_err(db("opening revoked tokens"))?,
            revoked_grants: $txn
                .open_table(schema::REVOKED_GRANTS)
                .map_err(db("opening revoked grants"))?,
            grant_epochs: $txn
                .open_table(schema::GRANT_EPOCHS)
                .map_err(db("opening grant epochs"))?,
            // ---- end OIDC tokens ----
            appended_audit: Vec::new(),
        }
    };
}

impl Tables<Read> {
    pub(super) fn open(txn: &ReadTransaction) -> Result<Self, StoreError> {
        Ok(open_all!(txn))
    }
}

impl<'t> Tables<Write<'t>> {
    pub(super) fn open(txn: &'t WriteTransaction) -> Result<Self, StoreError> {
        Ok(open_all!(txn))
    }
}
