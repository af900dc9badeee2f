//! Wake-ups across processes: a notifier that sends (coalesced) NOTIFYs after appends commit,
//! and a listener that turns NOTIFYs from any process into wake-ups of local subscribers.

use std::sync::Weak;
use std::time::Duration;

use eventcore::StoreError;
use eventcore::backoff::Backoff;
use sqlx::PgPool;
use sqlx::postgres::{PgListener, PgPoolOptions};
use tokio::sync::{mpsc, oneshot, watch};

/// The shortest gap between two NOTIFYs of one store handle. Every NOTIFY is a transaction
/// that takes PostgreSQL's notification-queue lock at commit, so under load commits share one;
/// a subscriber elsewhere waits at most this much longer.
const NOTIFY_GAP: Duration = Duration::from_millis(2);

/// Starts the notifier; appends signal it with `try_send`, so a burst of commits costs one
/// NOTIFY in flight plus one queued. It ends when every sender is dropped.
pub(crate) fn spawn_notifier(pool: PgPool, channel: String) -> mpsc::Sender<()> {
    let (tx, mut rx) = mpsc::channel::<()>(1);
    tokio::spawn(async move {
        while rx.recv().await.is_some() {
            tokio::time::sleep(NOTIFY_GAP).await;
            // Everything signalled during the gap is covered by this one NOTIFY.
            while rx.try_recv().is_ok() {}
            if let Err(error) = sqlx::query("SELECT pg_notify($1, '')")
                .bind(&channel)
                .execute(&pool)
                .await
            {
                tracing::warn!(%error, "NOTIFY after append failed; subscribers fall back to polling");
            }
        }
    });
    tx
}

/// Starts the listener on a connection of its own (a one-connection pool with the same
/// options, so it never takes a slot of the caller's pool); it ends when `shutdown`'s sender is
/// dropped or `head` is gone.
pub(crate) async fn spawn_listener(
    pool: &PgPool,
    channel: &str,
    head: Weak<watch::Sender<u64>>,
    mut shutdown: oneshot::Receiver<()>,
) -> Result<(), StoreError> {
    let own = PgPoolOptions::new()
        .max_connections(1)
        .connect_with(pool.connect_options().as_ref().clone())
        .await
        .map_err(StoreError::backend)?;
    let mut listener = PgListener::connect_with(&own)
        .await
        .map_err(StoreError::backend)?;
    listener
        .listen(channel)
        .await
        .map_err(StoreError::backend)?;
    tokio::spawn(async move {
        let backoff = Backoff::new(Duration::from_millis(50), Duration::from_secs(5));
        let mut failures = 0;
        loop {
            // `try_recv` reports a lost connection as `Ok(None)` (it reconnects on the next
            // call): notifications may have been missed then, so that wakes subscribers too.
            let received = tokio::select! {
                received = listener.try_recv() => received,
                _ = &mut shutdown => return,
            };
            let Some(head) = head.upgrade() else { return };
            head.send_modify(|_| {});
            drop(head);
            match received {
                Ok(_) => failures = 0,
                Err(sqlx::Error::PoolClosed) => return,
                Err(error) => {
                    tracing::warn!(%error, "LISTEN connection failed; retrying");
                    failures += 1;
                    tokio::select! {
                        () = tokio::time::sleep(backoff.delay(failures)) => {}
                        _ = &mut shutdown => return,
                    }
                }
            }
        }
    });
    Ok(())
}
