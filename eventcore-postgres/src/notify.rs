//! Wake-ups across processes: a notifier that sends (coalesced) NOTIFYs after appends commit,
//! and a listener that turns NOTIFYs from any process into wake-ups of local subscribers.

use std::sync::Weak;
use std::time::Duration;

use eventcore::StoreError;
use sqlx::PgPool;
use sqlx::postgres::PgListener;
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

/// Starts the listener; it ends when `shutdown`'s sender is dropped or `head` is gone.
pub(crate) async fn spawn_listener(
    pool: &PgPool,
    channel: &str,
    head: Weak<watch::Sender<u64>>,
    mut shutdown: oneshot::Receiver<()>,
) -> Result<(), StoreError> {
    let mut listener = PgListener::connect_with(pool)
        .await
        .map_err(StoreError::backend)?;
    listener
        .listen(channel)
        .await
        .map_err(StoreError::backend)?;
    tokio::spawn(async move {
        loop {
            let received = tokio::select! {
                received = listener.recv() => received,
                _ = &mut shutdown => return,
            };
            let Some(head) = head.upgrade() else { return };
            if let Err(error) = received {
                // The listener reconnects by itself; notifications may have been missed.
                tracing::warn!(%error, "LISTEN connection interrupted");
            }
            head.send_modify(|_| {});
        }
    });
    Ok(())
}
