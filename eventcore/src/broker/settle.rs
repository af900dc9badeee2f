//! [`Inbox::settle`]: a batch of deliveries applied until each is applied, skipped or given up
//! on — the retry loop every broker consumer shares.

use crate::RetryPolicy;
use crate::broker::{BrokerMetrics, Handled, HandlerError, Inbox, Message, MessageHandler};
use crate::error::StoreError;
use crate::transaction::TransactionalStore;

/// A message [`Inbox::settle`] gave up on: dead-letter it, then acknowledge it with the rest.
#[derive(Debug)]
#[non_exhaustive]
pub struct GivenUp {
    /// Its index in the batch.
    pub index: usize,
    /// The last failure.
    pub error: HandlerError,
    /// How many times it was tried.
    pub attempts: u32,
}

impl<S: TransactionalStore> Inbox<S> {
    /// Applies `messages` (a batch of deliveries, in delivery order) until every one is
    /// applied, a duplicate, or given up on, and returns the ones given up on. A message that
    /// fails transiently is tried again in place after a pause, together with the later
    /// messages of its stream (held back so that none overtakes it); after
    /// `policy.max_attempts` ([`RetryPolicy`], the repository's too), or at once when it fails
    /// permanently, it is given up on. A store
    /// that fails transiently (a restart, a lost connection) is waited for: the batch is tried
    /// again after a pause. Counts go to `metrics`. When this returns `Ok`, the whole batch may
    /// be acknowledged once the returned messages are dead-lettered.
    ///
    /// # Errors
    /// A [`StoreError`] no retry can fix (a corrupt record, say): acknowledge nothing.
    pub async fn settle<H: MessageHandler<S::Transaction>>(
        &self,
        handler: &H,
        messages: &[Message],
        policy: RetryPolicy,
        metrics: &dyn BrokerMetrics,
    ) -> Result<Vec<GivenUp>, StoreError> {
        let mut pending: Vec<(usize, u32)> = (0..messages.len()).map(|i| (i, 0)).collect();
        let mut given_up = Vec::new();
        let mut failures = 0;
        while !pending.is_empty() {
            let batch: Vec<Message> = pending.iter().map(|(i, _)| messages[*i].clone()).collect();
            let outcomes = match self.apply(handler, &batch).await {
                Ok(outcomes) => outcomes,
                Err(error) if error.is_transient() => {
                    failures += 1;
                    tracing::warn!(%error, "the consumer's store failed; retrying the batch");
                    tokio::time::sleep(policy.backoff.delay(failures)).await;
                    continue;
                }
                Err(error) => return Err(error),
            };
            let mut again = Vec::new();
            for ((index, attempts), outcome) in pending.into_iter().zip(outcomes) {
                let attempts = attempts + u32::from(!matches!(outcome, Handled::Held));
                match outcome {
                    Handled::Failed(error)
                        if !error.is_transient() || attempts >= policy.max_attempts.max(1) =>
                    {
                        metrics.dead_lettered(1);
                        given_up.push(GivenUp {
                            index,
                            error,
                            attempts,
                        });
                    }
                    Handled::Failed(_) | Handled::Held => {
                        // Once per message: it waits in place (and holds back the later
                        // messages of its stream) until it succeeds or is given up on.
                        if let (Handled::Failed(error), 1) = (&outcome, attempts) {
                            let message = &messages[index];
                            tracing::warn!(
                                stream = %message.stream,
                                version = message.stream_version,
                                %error,
                                "a message failed transiently; retrying it in place"
                            );
                        }
                        metrics.retried(1);
                        again.push((index, attempts));
                    }
                    Handled::Duplicate => metrics.duplicates(1),
                    Handled::Applied => metrics.handled(1),
                }
            }
            pending = again;
            if !pending.is_empty() {
                failures += 1;
                tokio::time::sleep(policy.backoff.delay(failures)).await;
            }
        }
        Ok(given_up)
    }
}
