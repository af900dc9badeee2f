//! An in-process [`Publisher`] that records what it is given, for tests of relays and
//! consumers without a broker.

use std::sync::{Arc, Mutex, PoisonError};

use async_trait::async_trait;

use crate::broker::{Message, PublishError, Publisher};

/// Records every batch it is given, in order; can be told to fail the next batches.
/// Clones share the record.
#[derive(Clone, Debug, Default)]
pub struct RecordingPublisher {
    inner: Arc<Mutex<Recorded>>,
}

#[derive(Debug, Default)]
struct Recorded {
    messages: Vec<Message>,
    failures_left: u32,
    attempts: u64,
}

impl RecordingPublisher {
    /// Fails the next `batches` publishes (nothing of them is recorded).
    pub fn fail_next(&self, batches: u32) {
        self.lock().failures_left = batches;
    }

    /// Every message published so far, in order (duplicates included).
    pub fn messages(&self) -> Vec<Message> {
        self.lock().messages.clone()
    }

    /// How many publishes were attempted, failed ones included.
    pub fn attempts(&self) -> u64 {
        self.lock().attempts
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Recorded> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[async_trait]
impl Publisher for RecordingPublisher {
    async fn publish(&self, messages: &[Message]) -> Result<(), PublishError> {
        let mut recorded = self.lock();
        recorded.attempts += 1;
        if recorded.failures_left > 0 {
            recorded.failures_left -= 1;
            return Err(PublishError::Connection("the test broker is down".into()));
        }
        recorded.messages.extend_from_slice(messages);
        Ok(())
    }
}
