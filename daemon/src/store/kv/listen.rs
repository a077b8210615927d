//! Replicas telling each other what changed: PostgreSQL's LISTEN/NOTIFY on one channel.
//!
//! Decisions:
//! - **One channel** ([`CHANNEL`]) for every kind of notice; the payload says what it is
//!   (`store::notices` encodes it). A replica hears its own notices too and drops them there.
//! - **Hearing** uses a connection of its own, outside the pool: a pooled connection goes back
//!   to the pool between transactions, and LISTEN holds only while its session lives. It runs
//!   on the store's runtime, like every query.
//! - **Losing it** (PostgreSQL restarted, the backend terminated, the network gone) is logged
//!   once per outage, and the listener reconnects by itself with a backoff (0.1 s doubling to
//!   10 s). A quiet connection is pinged every 30 s, so a half-open one is noticed too.
//! - **Catching up**: what is notified while nobody listens is lost, so after every connect,
//!   the first included, the listener delivers [`Heard::Connected`] once LISTEN is in effect;
//!   receivers then re-read what they may have missed. Anything committed after that read
//!   arrives as a notice.
//! - **Telling** inside a write transaction is `pg_notify` in that transaction
//!   (`PgTxn::notify`): PostgreSQL delivers it on commit and never on rollback. Outside one
//!   (`Notifier`), notices go through a small queue to one task that sends them in order on a
//!   pooled connection; the caller never waits. When PostgreSQL is away the queue fills and
//!   further notices are dropped: they are hints (progress, "refresh your views"), and what
//!   they point at is re-read on the next catch-up.

use std::sync::Arc;
use std::time::{Duration, Instant};

use deadpool_postgres::Pool;
use tokio::sync::mpsc;
use tokio_postgres::AsyncMessage;

use super::postgres::PgError;

/// The channel every replica listens on and notifies.
pub const CHANNEL: &str = "latchkey";

/// PostgreSQL refuses a NOTIFY payload of 8000 bytes or more.
pub const MAX_PAYLOAD: usize = 7999;

/// The first wait before reconnecting; doubled after each failure up to [`LAST_RETRY`].
const FIRST_RETRY: Duration = Duration::from_millis(100);
const LAST_RETRY: Duration = Duration::from_secs(10);
/// A session that lived this long was not a flapping one: the next outage starts the backoff
/// afresh.
const STABLE: Duration = Duration::from_secs(30);
/// How often a quiet listening connection is checked, and how long the check may take.
const PING_EVERY: Duration = Duration::from_secs(30);
const PING_TIMEOUT: Duration = Duration::from_secs(10);

/// Notices waiting to be sent outside a transaction, at most.
const QUEUE: usize = 256;
/// Notices sent in one statement, at most.
const BATCH: usize = 64;

/// What the listener hears.
#[derive(Debug)]
pub enum Heard {
    /// LISTEN is in effect on a new connection: anything notified before may have been missed.
    Connected,
    /// A notice's payload, from any replica (this one included).
    Payload(String),
    /// The listening connection was lost: until the next `Connected`, nothing is heard.
    Lost,
}

/// Called on the store's runtime for everything heard: keep it quick (send on a channel).
pub type Deliver = Arc<dyn Fn(Heard) + Send + Sync>;

/// Listens on [`CHANNEL`] for as long as the runtime runs.
pub(super) fn spawn_listener(
    handle: &tokio::runtime::Handle,
    config: tokio_postgres::Config,
    deliver: Deliver,
) {
    handle.spawn(listen(config, deliver));
}

async fn listen(config: tokio_postgres::Config, deliver: Deliver) {
    let mut retry = FIRST_RETRY;
    // Whether this outage has been logged (once per outage).
    let mut down = false;
    loop {
        match connect(&config, &deliver).await {
            Ok(session) => {
                if down {
                    tracing::info!("hearing the other replicas through PostgreSQL again");
                }
                deliver(Heard::Connected);
                let since = Instant::now();
                let lost = session.serve().await;
                deliver(Heard::Lost);
                if since.elapsed() >= STABLE {
                    retry = FIRST_RETRY;
                }
                // A new outage: logged once, however long it lasts.
                tracing::warn!(
                    "lost the PostgreSQL connection that hears the other replicas ({lost}); \
                     reconnecting"
                );
                down = true;
            }
            Err(e) if down => {
                tracing::debug!("still cannot listen for the other replicas: {e}");
            }
            Err(e) => {
                tracing::warn!(
                    "cannot listen for the other replicas through PostgreSQL ({e}); retrying"
                );
                down = true;
            }
        }
        tokio::time::sleep(retry).await;
        retry = retry.saturating_mul(2).min(LAST_RETRY);
    }
}

/// A connection with LISTEN in effect.
struct Session {
    client: tokio_postgres::Client,
    /// Drives the connection and delivers its notices; ends when the connection does.
    driver: tokio::task::JoinHandle<PgError>,
}

async fn connect(config: &tokio_postgres::Config, deliver: &Deliver) -> Result<Session, PgError> {
    let (client, mut connection) = config.connect(tokio_postgres::NoTls).await?;
    let deliver = Arc::clone(deliver);
    let driver = tokio::spawn(async move {
        loop {
            match std::future::poll_fn(|cx| connection.poll_message(cx)).await {
                Some(Ok(AsyncMessage::Notification(notice))) => {
                    deliver(Heard::Payload(notice.payload().to_owned()));
                }
                // The server's notices and warnings: nothing to act on.
                Some(Ok(_)) => {}
                Some(Err(e)) => return PgError::Query(e),
                None => return PgError::Stopped,
            }
        }
    });
    let session = Session { client, driver };
    session
        .client
        .batch_execute(&format!("LISTEN {CHANNEL}"))
        .await?;
    Ok(session)
}

impl Session {
    /// Waits until the connection is lost; says why.
    async fn serve(mut self) -> PgError {
        loop {
            tokio::select! {
                ended = &mut self.driver => {
                    return ended.unwrap_or(PgError::Stopped);
                }
                () = tokio::time::sleep(PING_EVERY) => {
                    match tokio::time::timeout(PING_TIMEOUT, self.client.simple_query("")).await {
                        Ok(Ok(_)) => {}
                        Ok(Err(e)) => return PgError::Query(e),
                        Err(_) => return PgError::Start("PostgreSQL did not answer a ping".to_owned()),
                    }
                }
            }
        }
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        self.driver.abort();
    }
}

/// Sends notices outside any transaction, in the order given, without making the caller wait.
#[derive(Debug, Clone)]
pub struct Notifier {
    queue: mpsc::Sender<String>,
}

impl Notifier {
    /// Starts the task that sends queued notices on connections from `pool`.
    pub(super) fn start(handle: &tokio::runtime::Handle, pool: Pool) -> Notifier {
        let (queue, waiting) = mpsc::channel(QUEUE);
        handle.spawn(send_queued(pool, waiting));
        Notifier { queue }
    }

    /// Queues `payload`; `false` when it was dropped (the queue is full: PostgreSQL is away).
    pub fn notify(&self, payload: String) -> bool {
        self.queue.try_send(payload).is_ok()
    }
}

async fn send_queued(pool: Pool, mut waiting: mpsc::Receiver<String>) {
    let mut batch = Vec::with_capacity(BATCH);
    while waiting.recv_many(&mut batch, BATCH).await > 0 {
        let payloads = std::mem::take(&mut batch);
        let sent = async {
            let conn = pool.get().await?;
            conn.execute(NOTIFY_ALL, &[&CHANNEL, &payloads]).await?;
            Ok::<_, PgError>(())
        }
        .await;
        if let Err(e) = sent {
            // The listener logs the outage; these notices were hints.
            tracing::debug!("could not tell the other replicas: {e}");
        }
    }
}

/// Notifies `$1` once with each payload of the text array `$2`.
pub(super) const NOTIFY_ALL: &str = "SELECT pg_notify($1, p) FROM unnest($2::text[]) AS p";
