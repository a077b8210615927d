//! `Tables`: the tables of one transaction, opened lazily on first use, so
//! reads are written once for both read snapshots and write transactions and
//! a transaction pays only for the tables it touches.

use std::cell::OnceCell;
use std::marker::PhantomData;

use redb::{TableDefinition, TableHandle, Value};

use super::StoreError;
use super::bundle::JsonForm;
use super::error::db;
use super::kv::{KvError, KvTable, OrderedKey, ReadTxn, ReadableTable, WriteTxn};
use super::records::AuditRecord;
use super::schema::{self, IdBytes, TokenHash};

/// Read-only or read-write access to a transaction's tables.
pub trait Access {
    type Table<K: OrderedKey, V: Value + 'static>: ReadableTable<K, V>;
    /// The transaction the tables are opened from.
    type Txn;

    fn open<K: OrderedKey, V: Value + 'static>(
        txn: &Self::Txn,
        table: TableDefinition<'static, K, V>,
    ) -> Result<Self::Table<K, V>, KvError>;
}

/// Tables of a read snapshot.
#[derive(Debug)]
pub enum Read {}

impl Access for Read {
    type Table<K: OrderedKey, V: Value + 'static> = KvTable<'static, K, V>;
    type Txn = ReadTxn;

    fn open<K: OrderedKey, V: Value + 'static>(
        txn: &ReadTxn,
        table: TableDefinition<'static, K, V>,
    ) -> Result<Self::Table<K, V>, KvError> {
        txn.open(table)
    }
}

/// Tables of a write transaction.
#[derive(Debug)]
pub struct Write<'t>(PhantomData<&'t ()>);

impl<'t> Access for Write<'t> {
    type Table<K: OrderedKey, V: Value + 'static> = KvTable<'t, K, V>;
    type Txn = &'t WriteTxn;

    fn open<K: OrderedKey, V: Value + 'static>(
        txn: &&'t WriteTxn,
        table: TableDefinition<'static, K, V>,
    ) -> Result<Self::Table<K, V>, KvError> {
        let txn: &'t WriteTxn = txn;
        txn.open(table)
    }
}

/// A consistent read snapshot.
pub type ReadTx = Tables<Read>;
/// The tables of one write transaction (see `Store::write`).
pub type WriteTx<'t> = Tables<Write<'t>>;

type PairKey = (IdBytes, IdBytes);

/// One transaction: its tables (`t`), plus what the store announces after
/// a write commits.
pub struct Tables<A: Access> {
    pub(super) t: Open<A>,
    /// Audit events appended in this transaction, announced after commit.
    pub(super) appended_audit: Vec<(u64, AuditRecord)>,
    /// Whether this transaction queued mail (the delivery worker is woken after commit).
    pub(super) mail_queued: bool,
    /// Whether this transaction wrote or removed a signing key (the other replicas are
    /// told, in the transaction).
    pub(super) keys_changed: bool,
}

impl<A: Access> Tables<A> {
    pub(super) fn new(txn: A::Txn) -> Self {
        Tables {
            t: Open::new(txn),
            appended_audit: Vec::new(),
            mail_queued: false,
            keys_changed: false,
        }
    }
}

impl<A: Access> std::fmt::Debug for Tables<A> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tables").finish_non_exhaustive()
    }
}

/// The first use opens a table; later uses reuse it.
fn lazy<'a, T>(
    cell: &'a OnceCell<T>,
    open: impl FnOnce() -> Result<T, KvError>,
    what: &'static str,
) -> Result<&'a T, StoreError> {
    match cell.get() {
        Some(table) => Ok(table),
        None => {
            let table = open().map_err(db(what))?;
            Ok(cell.get_or_init(|| table))
        }
    }
}

fn lazy_mut<'a, T>(
    cell: &'a mut OnceCell<T>,
    open: impl FnOnce() -> Result<T, KvError>,
    what: &'static str,
) -> Result<&'a mut T, StoreError> {
    if cell.get().is_none() {
        let table = open().map_err(db(what))?;
        let _ = cell.set(table);
    }
    cell.get_mut().ok_or(StoreError::Corrupt(format!(
        "{what}: the table did not stay open"
    )))
}

/// Something done to every table in turn (`Open::each_table`). A trait with a generic
/// method rather than a closure, since every table has its own key and value types.
pub(super) trait TableVisitor {
    fn visit<K: OrderedKey, V: Value + 'static>(
        &mut self,
        name: &'static str,
        table: &impl ReadableTable<K, V>,
    ) -> Result<(), StoreError>;
}

/// Something done to each table of a snapshot and the same table of a write transaction
/// (`Open::each_table_from`).
pub(super) trait TableCopier {
    fn copy<K: OrderedKey, V: Value + 'static>(
        &mut self,
        name: &'static str,
        from: &KvTable<'static, K, V>,
        to: &mut KvTable<'_, K, V>,
    ) -> Result<(), StoreError>;
}

/// Something done to each table of a snapshot with the tables' bundle forms at hand
/// (`Open::each_table_in_form`, for `latchkey export`).
pub(super) trait FormVisitor {
    type Error: From<StoreError>;
    fn visit<K: OrderedKey + JsonForm, V: Value + JsonForm + 'static>(
        &mut self,
        name: &'static str,
        table: &impl ReadableTable<K, V>,
    ) -> Result<(), Self::Error>;
}

/// Something written into one table named at run time (`Open::table_in_form_mut`, for
/// `latchkeyd import`).
pub(super) trait FormWriter {
    type Error: From<StoreError>;
    fn write<K: OrderedKey + JsonForm, V: Value + JsonForm + 'static>(
        &mut self,
        name: &'static str,
        table: &mut KvTable<'_, K, V>,
    ) -> Result<(), Self::Error>;
}

/// Declares every table once: its field, its read and write accessors, and
/// `open_all` (which migrations use to create tables a file lacks).
macro_rules! tables {
    ($($field:ident, $field_mut:ident: $def:expr, $what:literal => $k:ty, $v:ty;)*) => {
        /// The tables of one transaction, each opened on first use.
        pub struct Open<A: Access> {
            txn: A::Txn,
            $($field: OnceCell<A::Table<$k, $v>>,)*
        }

        impl<A: Access> Open<A> {
            fn new(txn: A::Txn) -> Self {
                Open {
                    txn,
                    $($field: OnceCell::new(),)*
                }
            }

            /// Opens every table (the cost of a snapshot that reads them all).
            #[cfg(test)]
            pub(super) fn open_all(&self) -> Result<(), StoreError> {
                $(self.$field()?;)*
                Ok(())
            }

            /// Hands every table, in the order of the list below, to `visitor`.
            pub(super) fn each_table(&self, visitor: &mut impl TableVisitor) -> Result<(), StoreError> {
                $(visitor.visit(TableHandle::name(&$def), self.$field()?)?;)*
                Ok(())
            }

            /// Hands every table, in the order of the list below, to `visitor`.
            pub(super) fn each_table_in_form<V: FormVisitor>(&self, visitor: &mut V) -> Result<(), V::Error> {
                $(visitor.visit(TableHandle::name(&$def), self.$field()?)?;)*
                Ok(())
            }

            $(
                #[allow(dead_code, reason = "a table that is only written through its pair or its writer")]
                pub(super) fn $field(&self) -> Result<&A::Table<$k, $v>, StoreError> {
                    lazy(&self.$field, || A::open(&self.txn, $def), $what)
                }
            )*

        }

        impl<'t> Open<Write<'t>> {
            /// Hands every table of `from` with the same table of this transaction, in the
            /// order of the list below, to `copier`.
            pub(super) fn each_table_from(
                &mut self,
                from: &Open<Read>,
                copier: &mut impl TableCopier,
            ) -> Result<(), StoreError> {
                $(copier.copy(TableHandle::name(&$def), from.$field()?, self.$field_mut()?)?;)*
                Ok(())
            }

            /// Hands the table called `name` to `writer`; `Ok(false)` when there is none.
            pub(super) fn table_in_form_mut<W: FormWriter>(
                &mut self,
                name: &str,
                writer: &mut W,
            ) -> Result<bool, W::Error> {
                $(
                    if name == TableHandle::name(&$def) {
                        writer.write(TableHandle::name(&$def), self.$field_mut()?)?;
                        return Ok(true);
                    }
                )*
                Ok(false)
            }

            /// Creates every table a database lacks. (redb creates a table by opening it
            /// for writing, through the cell, so that a table this transaction already
            /// opened is not opened twice.)
            pub(super) fn create_all(&mut self) -> Result<(), StoreError> {
                let txn = self.txn;
                $(
                    if txn.creates_on_open() {
                        lazy_mut(&mut self.$field, || txn.open($def), $what)?;
                    } else {
                        txn.create($def).map_err(db("creating tables"))?;
                    }
                )*
                Ok(())
            }

            $(
                #[allow(
                    dead_code,
                    reason = "the membership tables are only written in pairs, through `memberships_mut`"
                )]
                pub(super) fn $field_mut(
                    &mut self,
                ) -> Result<&mut KvTable<'t, $k, $v>, StoreError> {
                    let txn = self.txn;
                    lazy_mut(&mut self.$field, || txn.open($def), $what)
                }
            )*
        }
    };
}

tables! {
    meta, meta_mut: schema::META, "opening the database metadata" => &'static str, &'static [u8];
    users, users_mut: schema::USERS, "opening users" => IdBytes, &'static [u8];
    username_to_user_id, username_to_user_id_mut: schema::USERNAME_TO_USER_ID, "opening the username index" => &'static str, IdBytes;
    email_to_user_id, email_to_user_id_mut: schema::EMAIL_TO_USER_ID, "opening the email index" => &'static str, IdBytes;
    webauthn_handle_to_user_id, webauthn_handle_to_user_id_mut: schema::WEBAUTHN_HANDLE_TO_USER_ID, "opening the WebAuthn handle index" => [u8; 16], IdBytes;
    user_search_text, user_search_text_mut: schema::USER_SEARCH_TEXT, "opening the user search index" => &'static str, &'static str;
    admin_user_ids, admin_user_ids_mut: schema::ADMIN_USER_IDS, "opening the admin index" => IdBytes, ();
    user_passkeys, user_passkeys_mut: schema::USER_PASSKEYS, "opening passkeys" => (IdBytes, &'static [u8]), &'static [u8];
    credential_id_to_user_id, credential_id_to_user_id_mut: schema::CREDENTIAL_ID_TO_USER_ID, "opening the credential id index" => &'static [u8], IdBytes;
    sessions, sessions_mut: schema::SESSIONS, "opening sessions" => TokenHash, &'static [u8];
    user_sessions, user_sessions_mut: schema::USER_SESSIONS, "opening the user sessions index" => (IdBytes, TokenHash), ();
    login_codes, login_codes_mut: schema::LOGIN_CODES, "opening login codes" => TokenHash, &'static [u8];
    user_login_codes, user_login_codes_mut: schema::USER_LOGIN_CODES, "opening the user login codes index" => (IdBytes, TokenHash), ();
    settings, settings_mut: schema::SETTINGS, "opening settings" => &'static str, &'static [u8];
    groups, groups_mut: schema::GROUPS, "opening groups" => IdBytes, &'static [u8];
    group_name_to_group_id, group_name_to_group_id_mut: schema::GROUP_NAME_TO_GROUP_ID, "opening the group name index" => &'static str, IdBytes;
    group_members, group_members_mut: schema::GROUP_MEMBERS, "opening group members" => PairKey, ();
    user_groups, user_groups_mut: schema::USER_GROUPS, "opening user groups" => PairKey, ();
    audit_log, audit_log_mut: schema::AUDIT_LOG, "opening the audit log" => u64, &'static [u8];
    user_audit_events, user_audit_events_mut: schema::USER_AUDIT_EVENTS, "opening the audit user index" => (IdBytes, u64), ();
    clients, clients_mut: schema::CLIENTS, "opening OIDC clients" => &'static str, &'static [u8];
    signing_keys, signing_keys_mut: schema::SIGNING_KEYS, "opening signing keys" => &'static str, &'static [u8];
    consents, consents_mut: schema::CONSENTS, "opening consents" => (IdBytes, &'static str), &'static [u8];
    claims, claims_mut: schema::CLAIMS, "opening custom claims" => (u8, IdBytes), &'static [u8];
    refresh_tokens, refresh_tokens_mut: schema::REFRESH_TOKENS, "opening refresh tokens" => TokenHash, &'static [u8];
    grant_refresh_tokens, grant_refresh_tokens_mut: schema::GRANT_REFRESH_TOKENS, "opening the grant refresh-token index" => ([u8; 16], TokenHash), ();
    user_refresh_tokens, user_refresh_tokens_mut: schema::USER_REFRESH_TOKENS, "opening the user refresh-token index" => (IdBytes, TokenHash), ();
    revoked_tokens, revoked_tokens_mut: schema::REVOKED_TOKENS, "opening revoked tokens" => &'static str, i64;
    revoked_grants, revoked_grants_mut: schema::REVOKED_GRANTS, "opening revoked grants" => &'static str, i64;
    grant_epochs, grant_epochs_mut: schema::GRANT_EPOCHS, "opening grant epochs" => (IdBytes, &'static str), u64;
    signup_tokens, signup_tokens_mut: schema::SIGNUP_TOKENS, "opening signup tokens" => TokenHash, &'static [u8];
    signup_token_ids, signup_token_ids_mut: schema::SIGNUP_TOKEN_IDS, "opening the signup token id index" => &'static str, TokenHash;
    ldap_id_to_user_id, ldap_id_to_user_id_mut: schema::LDAP_ID_TO_USER_ID, "opening the LDAP user id index" => &'static str, IdBytes;
    ldap_id_to_group_id, ldap_id_to_group_id_mut: schema::LDAP_ID_TO_GROUP_ID, "opening the LDAP group id index" => &'static str, IdBytes;
    outbox, outbox_mut: schema::OUTBOX, "opening the mail outbox" => u64, &'static [u8];
    mail_state, mail_state_mut: schema::MAIL_STATE, "opening the mail state" => &'static str, &'static [u8];
    email_links, email_links_mut: schema::EMAIL_LINKS, "opening email sign-in links" => TokenHash, &'static [u8];
    email_verifications, email_verifications_mut: schema::EMAIL_VERIFICATIONS, "opening email verification links" => TokenHash, &'static [u8];
    user_email_verifications, user_email_verifications_mut: schema::USER_EMAIL_VERIFICATIONS, "opening the user email verification index" => (IdBytes, TokenHash), ();
    known_devices, known_devices_mut: schema::KNOWN_DEVICES, "opening known devices" => (IdBytes, TokenHash), i64;
    spent_tokens, spent_tokens_mut: schema::SPENT_TOKENS, "opening spent tokens" => TokenHash, i64;
    leases, leases_mut: schema::LEASES, "opening job leases" => &'static str, &'static [u8];
    ldap_sync_state, ldap_sync_state_mut: schema::LDAP_SYNC_STATE, "opening the LDAP sync state" => &'static str, &'static [u8];
}

/// A table and its index, both writable at once (they change together).
type Pair<'a, 't, K1, V1, K2, V2> = (&'a mut KvTable<'t, K1, V1>, &'a mut KvTable<'t, K2, V2>);

/// A secret-keyed record table and its per-user index (sessions, login codes).
type HashedPair<'a, 't> = Pair<'a, 't, TokenHash, &'static [u8], (IdBytes, TokenHash), ()>;

impl<'t> Open<Write<'t>> {
    /// Group memberships in both directions.
    pub(super) fn memberships_mut(
        &mut self,
    ) -> Result<Pair<'_, 't, PairKey, (), PairKey, ()>, StoreError> {
        let txn = self.txn;
        let members = lazy_mut(
            &mut self.group_members,
            || txn.open(schema::GROUP_MEMBERS),
            "opening group members",
        )?;
        let user_groups = lazy_mut(
            &mut self.user_groups,
            || txn.open(schema::USER_GROUPS),
            "opening user groups",
        )?;
        Ok((members, user_groups))
    }

    /// Sessions and the per-user session index.
    pub(super) fn sessions_with_index_mut(&mut self) -> Result<HashedPair<'_, 't>, StoreError> {
        let txn = self.txn;
        let sessions = lazy_mut(
            &mut self.sessions,
            || txn.open(schema::SESSIONS),
            "opening sessions",
        )?;
        let index = lazy_mut(
            &mut self.user_sessions,
            || txn.open(schema::USER_SESSIONS),
            "opening the user sessions index",
        )?;
        Ok((sessions, index))
    }

    /// Login codes and the per-user login code index.
    pub(super) fn login_codes_with_index_mut(&mut self) -> Result<HashedPair<'_, 't>, StoreError> {
        let txn = self.txn;
        let codes = lazy_mut(
            &mut self.login_codes,
            || txn.open(schema::LOGIN_CODES),
            "opening login codes",
        )?;
        let index = lazy_mut(
            &mut self.user_login_codes,
            || txn.open(schema::USER_LOGIN_CODES),
            "opening the user login codes index",
        )?;
        Ok((codes, index))
    }
}
