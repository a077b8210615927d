//! Mail: the outbox, the delivery state, emailed sign-in links
//! and the browsers each user has signed in from.

use super::kv::ReadableTable;

use super::StoreError;
use super::error::db;
use super::records::{EmailLinkRecord, MailStateRecord, OutboxRecord, UserId, decode, encode};
use super::schema::TokenHash;
use super::tx::{Access, Tables, WriteTx};

const MAIL_STATE_KEY: &str = "delivery";

impl<A: Access> Tables<A> {
    /// Every message in the outbox, oldest first. The outbox is small (it
    /// holds only undelivered mail), so a scan is fine.
    pub fn outbox(&self) -> Result<Vec<(u64, OutboxRecord)>, StoreError> {
        let mut out = Vec::new();
        for entry in self.t.outbox()?.iter().map_err(db("reading the outbox"))? {
            let (id, bytes) = entry.map_err(db("reading the outbox"))?;
            out.push((id.value(), decode(bytes.value())?));
        }
        Ok(out)
    }

    pub fn outbox_message(&self, id: u64) -> Result<Option<OutboxRecord>, StoreError> {
        self.t
            .outbox()?
            .get(id)
            .map_err(db("reading the outbox"))?
            .map(|bytes| decode(bytes.value()))
            .transpose()
    }

    pub fn mail_state(&self) -> Result<MailStateRecord, StoreError> {
        Ok(self
            .t
            .mail_state()?
            .get(MAIL_STATE_KEY)
            .map_err(db("reading the mail state"))?
            .map(|bytes| decode(bytes.value()))
            .transpose()?
            .unwrap_or_default())
    }

    pub fn email_link(&self, binding: &TokenHash) -> Result<Option<EmailLinkRecord>, StoreError> {
        self.t
            .email_links()?
            .get(binding)
            .map_err(db("reading an email sign-in link"))?
            .map(|bytes| decode(bytes.value()))
            .transpose()
    }

    /// Whether the user has signed in from this browser before.
    pub fn known_device(&self, user: UserId, device: &TokenHash) -> Result<bool, StoreError> {
        Ok(self
            .t
            .known_devices()?
            .get((user.to_bytes(), *device))
            .map_err(db("reading known devices"))?
            .is_some())
    }

    /// Whether the user has any known browser at all.
    pub fn has_known_devices(&self, user: UserId) -> Result<bool, StoreError> {
        let id = user.to_bytes();
        Ok(self
            .t
            .known_devices()?
            .range((id, [0; 32])..=(id, [0xff; 32]))
            .map_err(db("reading known devices"))?
            .next()
            .is_some())
    }
}

impl WriteTx<'_> {
    /// Adds a message to the outbox and returns its number; the delivery
    /// worker is woken once the transaction commits.
    pub fn queue_mail(&mut self, message: &OutboxRecord) -> Result<u64, StoreError> {
        let last = self
            .t
            .outbox()?
            .last()
            .map_err(db("reading the outbox"))?
            .map_or(0, |(id, _)| id.value());
        let id = last.saturating_add(1);
        self.t
            .outbox_mut()?
            .insert(id, encode(message)?.as_slice())
            .map_err(db("queueing mail"))?;
        self.mail_queued = true;
        Ok(id)
    }

    /// Replaces a queued message (after a failed attempt).
    pub fn put_outbox_message(
        &mut self,
        id: u64,
        message: &OutboxRecord,
    ) -> Result<(), StoreError> {
        self.t
            .outbox_mut()?
            .insert(id, encode(message)?.as_slice())
            .map_err(db("updating queued mail"))?;
        Ok(())
    }

    pub fn remove_outbox_message(&mut self, id: u64) -> Result<bool, StoreError> {
        Ok(self
            .t
            .outbox_mut()?
            .remove(id)
            .map_err(db("removing queued mail"))?
            .is_some())
    }

    pub fn put_mail_state(&mut self, state: &MailStateRecord) -> Result<(), StoreError> {
        self.t
            .mail_state_mut()?
            .insert(MAIL_STATE_KEY, encode(state)?.as_slice())
            .map_err(db("writing the mail state"))?;
        Ok(())
    }

    pub fn put_email_link(
        &mut self,
        binding: &TokenHash,
        link: &EmailLinkRecord,
    ) -> Result<(), StoreError> {
        self.t
            .email_links_mut()?
            .insert(binding, encode(link)?.as_slice())
            .map_err(db("writing an email sign-in link"))?;
        Ok(())
    }

    pub fn remove_email_link(&mut self, binding: &TokenHash) -> Result<bool, StoreError> {
        Ok(self
            .t
            .email_links_mut()?
            .remove(binding)
            .map_err(db("removing an email sign-in link"))?
            .is_some())
    }

    /// Removes links that expired at or before `now`; returns how many.
    pub fn remove_expired_email_links(&mut self, now: i64) -> Result<u64, StoreError> {
        let mut expired = Vec::new();
        for entry in self
            .t
            .email_links()?
            .iter()
            .map_err(db("scanning email sign-in links"))?
        {
            let (key, bytes) = entry.map_err(db("scanning email sign-in links"))?;
            if decode::<EmailLinkRecord>(bytes.value())?.expires_at <= now {
                expired.push(key.value());
            }
        }
        for key in &expired {
            self.remove_email_link(key)?;
        }
        Ok(expired.len() as u64)
    }

    pub fn put_known_device(
        &mut self,
        user: UserId,
        device: &TokenHash,
        now: i64,
    ) -> Result<(), StoreError> {
        self.t
            .known_devices_mut()?
            .insert((user.to_bytes(), *device), now)
            .map_err(db("writing a known device"))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::Store;
    use super::*;

    fn message(n: u32) -> OutboxRecord {
        OutboxRecord {
            kind: "test".into(),
            to: format!("u{n}@example.com"),
            user_id: None,
            subject: "s".into(),
            text: "t".into(),
            html: "h".into(),
            created_at: 0,
            attempts: 0,
            next_attempt_at: 0,
            last_error: None,
            gave_up: false,
            claim: None,
        }
    }

    #[test]
    fn outbox_numbers_increase_and_messages_round_trip() {
        let store = Store::memory().unwrap();
        let ids = store
            .write(|tx| {
                let a = tx.queue_mail(&message(1))?;
                let b = tx.queue_mail(&message(2))?;
                Ok::<_, StoreError>((a, b))
            })
            .unwrap();
        assert_eq!(ids, (1, 2));
        let tx = store.read().unwrap();
        let all = tx.outbox().unwrap();
        assert_eq!(all.len(), 2);
        assert_eq!(all[1].1.to, "u2@example.com");
        assert!(!format!("{:?}", all[0].1).contains("example.com"));
    }

    #[test]
    fn the_mail_observer_hears_only_committed_queueing() {
        use std::sync::Arc;
        use std::sync::atomic::{AtomicU32, Ordering};
        let store = Store::memory().unwrap();
        let count = Arc::new(AtomicU32::new(0));
        let seen = Arc::clone(&count);
        store.set_mail_observer(Arc::new(move || {
            seen.fetch_add(1, Ordering::SeqCst);
        }));
        let _ = store.write(|tx| {
            tx.queue_mail(&message(1))?;
            Err::<(), _>(StoreError::Corrupt("roll back".into()))
        });
        assert_eq!(count.load(Ordering::SeqCst), 0);
        assert!(store.read().unwrap().outbox().unwrap().is_empty());
        store
            .write(|tx| tx.queue_mail(&message(1)).map(|_| ()))
            .unwrap();
        assert_eq!(count.load(Ordering::SeqCst), 1);
    }
}
