//! The outbox's records: queued messages and the delivery state.

use serde::{Deserialize, Serialize};

use super::records::{UserId, versioned, versioned_from};

/// A message in the outbox, current version. Rendered when queued, so a
/// restart or a settings change does not alter what was promised.
pub type OutboxRecord = OutboxV2;

/// Version 1: before replicas claimed messages.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct OutboxV1 {
    pub kind: String,
    pub to: String,
    pub user_id: Option<UserId>,
    pub subject: String,
    pub text: String,
    pub html: String,
    pub created_at: i64,
    pub attempts: u32,
    pub next_attempt_at: i64,
    pub last_error: Option<String>,
    pub gave_up: bool,
}

#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutboxV2 {
    /// What it is (`email_link`, `login_code`, `new_device`), for the audit log.
    pub kind: String,
    pub to: String,
    /// The recipient's account, when the mail is for one (audit subject).
    pub user_id: Option<UserId>,
    pub subject: String,
    pub text: String,
    pub html: String,
    pub created_at: i64,
    /// Failed delivery attempts so far.
    pub attempts: u32,
    pub next_attempt_at: i64,
    pub last_error: Option<String>,
    /// Given up on: kept for the status screen, never sent.
    pub gave_up: bool,
    /// Being sent right now by one replica: no other sends it until the
    /// claim ends (it is cleared after the attempt, or expires with a
    /// replica that died mid-send).
    pub claim: Option<MailClaim>,
}

/// "Being sent by replica `holder` until `until`" (UTC seconds).
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct MailClaim {
    pub holder: String,
    pub until: i64,
}

impl From<OutboxV1> for OutboxV2 {
    fn from(old: OutboxV1) -> OutboxV2 {
        OutboxV2 {
            kind: old.kind,
            to: old.to,
            user_id: old.user_id,
            subject: old.subject,
            text: old.text,
            html: old.html,
            created_at: old.created_at,
            attempts: old.attempts,
            next_attempt_at: old.next_attempt_at,
            last_error: old.last_error,
            gave_up: old.gave_up,
            claim: None,
        }
    }
}

/// The body holds sign-in links and codes: `Debug` shows only the envelope.
impl std::fmt::Debug for OutboxV2 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OutboxV2")
            .field("kind", &self.kind)
            .field("attempts", &self.attempts)
            .field("next_attempt_at", &self.next_attempt_at)
            .field("gave_up", &self.gave_up)
            .field("claim", &self.claim)
            .finish_non_exhaustive()
    }
}

#[derive(Serialize, Deserialize)]
pub(crate) enum StoredOutboxMessage {
    V1(OutboxV1),
    V2(OutboxV2),
}

versioned_from!(OutboxV2, StoredOutboxMessage, "queued mail message", V2 = 1, {
    V1(old) => old.into(),
});

/// How delivery has been going, current version.
pub type MailStateRecord = MailStateV1;

#[derive(Clone, PartialEq, Eq, Debug, Default, Serialize, Deserialize)]
pub struct MailStateV1 {
    pub last_sent_at: Option<i64>,
    pub last_error: Option<String>,
    pub last_error_at: Option<i64>,
}

#[derive(Serialize, Deserialize)]
pub(crate) enum StoredMailState {
    V1(MailStateV1),
}

versioned!(MailStateV1, StoredMailState, "mail state");

#[cfg(test)]
mod tests {
    use super::super::records::{decode, encode};
    use super::*;

    #[test]
    fn a_message_queued_before_claims_reads_back_unclaimed() {
        let v1 = OutboxV1 {
            kind: "login_code".into(),
            to: "a@example.com".into(),
            user_id: None,
            subject: "s".into(),
            text: "t".into(),
            html: "h".into(),
            created_at: 5,
            attempts: 2,
            next_attempt_at: 9,
            last_error: Some("451".into()),
            gave_up: false,
        };
        let bytes = postcard::to_stdvec(&StoredOutboxMessage::V1(v1.clone())).unwrap();
        let read: OutboxRecord = decode(&bytes).unwrap();
        assert_eq!(read, OutboxV2::from(v1));
        assert_eq!(read.claim, None);
        let claimed = OutboxRecord {
            claim: Some(MailClaim {
                holder: "r1".into(),
                until: 99,
            }),
            ..read
        };
        assert_eq!(
            decode::<OutboxRecord>(&encode(&claimed).unwrap()).unwrap(),
            claimed
        );
    }
}
