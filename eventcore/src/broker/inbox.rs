//! [`Inbox`]: messages from a broker applied once in effect, each together with its inbox
//! record in one store transaction.

use std::collections::HashSet;

use async_trait::async_trait;
use tracing::Instrument;

use crate::broker::Message;
use crate::error::{BoxError, StoreError};
use crate::id::StreamId;
use crate::transaction::{StoreTransaction, TransactionalStore};

/// The span a message is handled in: its id, stream, version and correlation id.
fn message_span(message: &Message) -> tracing::Span {
    tracing::info_span!(
        "handle_message",
        message_id = %message.message_id,
        stream = %message.stream,
        version = message.stream_version,
        correlation_id = ?message.correlation_id,
    )
}

/// Applies one message inside the consumer's store transaction: execute commands
/// ([`Repository::execute_in`](crate::Repository::execute_in)), update a read model, anything
/// the transaction covers. It commits together with the message's inbox record.
#[async_trait]
pub trait MessageHandler<Tx: Send>: Send + Sync + 'static {
    /// Handles `message` within `tx`.
    ///
    /// # Errors
    /// A [`HandlerError`]: nothing of the transaction commits.
    async fn handle(&self, tx: &mut Tx, message: &Message) -> Result<(), HandlerError>;

    /// Called after a transaction that applied `messages` committed, before the broker is
    /// told: wake in-process waiters, refresh a cache. Does nothing by default. Not called for
    /// duplicates. Should the process die here, the messages are applied but not
    /// acknowledged: they are delivered again and skipped as duplicates.
    async fn committed(&self, messages: &[&Message]) {
        let _ = messages;
    }
}

/// Why a handler did not apply a message.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HandlerError {
    /// Trying again may succeed (a conflict, a backend hiccup): retry in place.
    #[error("transient: {0}")]
    Transient(#[source] BoxError),
    /// It never will (an unknown or malformed message, a rule it breaks): dead-letter it.
    #[error("permanent: {0}")]
    Permanent(#[source] BoxError),
}

impl HandlerError {
    /// A transient failure.
    pub fn transient(error: impl Into<BoxError>) -> Self {
        Self::Transient(error.into())
    }

    /// A permanent failure.
    pub fn permanent(error: impl Into<BoxError>) -> Self {
        Self::Permanent(error.into())
    }

    /// Whether trying again may succeed.
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::Transient(_))
    }
}

impl From<StoreError> for HandlerError {
    fn from(error: StoreError) -> Self {
        if error.is_transient() {
            Self::Transient(error.into())
        } else {
            Self::Permanent(error.into())
        }
    }
}

/// What became of one message of a batch ([`Inbox::apply`]).
#[derive(Debug)]
#[non_exhaustive]
pub enum Handled {
    /// Applied and committed: acknowledge it.
    Applied,
    /// Applied before (its inbox record exists): acknowledge it, nothing was done again.
    Duplicate,
    /// The handler failed; nothing of it was committed. Retry or dead-letter it.
    Failed(HandlerError),
    /// Not attempted: an earlier message of the same stream in this batch failed, and a
    /// later one must not overtake it. Hand it over again after the failed one.
    Held,
}

impl Handled {
    /// Whether the broker may forget the message (acknowledge it).
    pub fn is_done(&self) -> bool {
        matches!(self, Self::Applied | Self::Duplicate)
    }
}

/// A consumer's inbox in a store: applies messages once in effect, each with its inbox
/// record (`record_processed` under the consumer's name) in the handler's transaction.
#[derive(Clone, Debug)]
pub struct Inbox<S> {
    store: S,
    consumer: String,
}

impl<S: TransactionalStore> Inbox<S> {
    /// The inbox of `consumer` (a stable name: its records live under it) in `store`.
    pub fn new(store: S, consumer: impl Into<String>) -> Self {
        Self {
            store,
            consumer: consumer.into(),
        }
    }

    /// The consumer's name.
    pub fn consumer(&self) -> &str {
        &self.consumer
    }

    /// Applies `messages` in order, each once in effect, and says what became of each (in
    /// the same order). First all of them in one transaction; if a handler fails or the
    /// commit does, that transaction is rolled back and the messages are applied one by one,
    /// each in a transaction of its own, so that a failure affects only its own message (and
    /// holds back the later messages of its stream, [`Handled::Held`]).
    ///
    /// Each transaction declares [`will_append`](StoreTransaction::will_append) before it
    /// writes the inbox record, so handlers may append events after it.
    ///
    /// # Errors
    /// A [`StoreError`] that is not a failure of one message (the store is unreachable, say):
    /// nothing may be acknowledged.
    pub async fn apply<H: MessageHandler<S::Transaction>>(
        &self,
        handler: &H,
        messages: &[Message],
    ) -> Result<Vec<Handled>, StoreError> {
        if messages.is_empty() {
            return Ok(Vec::new());
        }
        if let Ok(outcomes) = self.apply_together(handler, messages).await {
            return Ok(outcomes);
        }
        let mut failed: HashSet<&StreamId> = HashSet::new();
        let mut outcomes = Vec::with_capacity(messages.len());
        for message in messages {
            if failed.contains(&message.stream) {
                outcomes.push(Handled::Held);
                continue;
            }
            let outcome = self.apply_one(handler, message).await?;
            if let Handled::Failed(_) = outcome {
                failed.insert(&message.stream);
            }
            outcomes.push(outcome);
        }
        Ok(outcomes)
    }

    /// The whole batch in one transaction; any failure rolls it all back.
    async fn apply_together<H: MessageHandler<S::Transaction>>(
        &self,
        handler: &H,
        messages: &[Message],
    ) -> Result<Vec<Handled>, HandlerError> {
        let mut tx = self.store.begin_appending().await?;
        let mut outcomes = Vec::with_capacity(messages.len());
        // Every inbox record of the batch in one go (one statement on PostgreSQL and SQLite).
        let ids: Vec<_> = messages.iter().map(|message| message.message_id).collect();
        let new = tx.record_all_processed(&self.consumer, &ids).await?;
        for (message, new) in messages.iter().zip(new) {
            if !new {
                outcomes.push(Handled::Duplicate);
                continue;
            }
            handler
                .handle(&mut tx, message)
                .instrument(message_span(message))
                .await?;
            outcomes.push(Handled::Applied);
        }
        tx.commit().await?;
        let applied: Vec<&Message> = messages
            .iter()
            .zip(&outcomes)
            .filter(|(_, outcome)| matches!(outcome, Handled::Applied))
            .map(|(message, _)| message)
            .collect();
        if !applied.is_empty() {
            handler.committed(&applied).await;
        }
        Ok(outcomes)
    }

    /// One message in a transaction of its own.
    async fn apply_one<H: MessageHandler<S::Transaction>>(
        &self,
        handler: &H,
        message: &Message,
    ) -> Result<Handled, StoreError> {
        let mut tx = self.store.begin_appending().await?;
        if !tx
            .record_processed(&self.consumer, message.message_id)
            .await?
        {
            return Ok(Handled::Duplicate); // dropping the transaction rolls it back
        }
        if let Err(error) = handler
            .handle(&mut tx, message)
            .instrument(message_span(message))
            .await
        {
            return Ok(Handled::Failed(error));
        }
        match tx.commit().await {
            Ok(()) => {
                handler.committed(&[message]).await;
                Ok(Handled::Applied)
            }
            Err(error) if error.is_transient() => Ok(Handled::Failed(error.into())),
            Err(error) => Err(error),
        }
    }
}
