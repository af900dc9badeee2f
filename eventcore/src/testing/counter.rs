//! A small sample aggregate used by the docs, the conformance suite and the benchmarks.
//!
//! `Added` is at schema version 2: version 1 stored the amount under `n`; [`upcasters`] lifts
//! it.

use serde::{Deserialize, Serialize};

use crate::{Aggregate, Command, CommandId, Event, Upcasters};

/// A counter that never goes below zero.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counter {
    /// The current total.
    pub total: u64,
    /// How many events were applied.
    pub applied: u64,
}

/// What happens to a counter.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum CounterEvent {
    /// An amount was added.
    Added {
        /// How much.
        amount: u64,
    },
    /// An amount was taken away.
    Subtracted {
        /// How much.
        amount: u64,
    },
    /// The counter was set back to zero.
    Reset,
}

impl Event for CounterEvent {
    fn schema_version(event_type: &str) -> u32 {
        if event_type == "Added" { 2 } else { 1 }
    }
}

/// The upcasters for [`CounterEvent`]: `Added` v1 `{"n": 5}` becomes v2 `{"amount": 5}`.
pub fn upcasters() -> Upcasters {
    Upcasters::new().register("Added", 1, |mut value| {
        let n = value
            .as_object_mut()
            .and_then(|o| o.remove("n"))
            .ok_or("field n is missing")?;
        Ok(serde_json::json!({ "amount": n }))
    })
}

/// A command for one counter.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CounterCommand {
    /// The counter's id.
    pub id: String,
    /// The command's id.
    pub command_id: CommandId,
    /// What to do.
    pub action: CounterAction,
}

/// What a [`CounterCommand`] asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CounterAction {
    /// Add a positive amount.
    Add(u64),
    /// Subtract a positive amount, not more than the total.
    Subtract(u64),
    /// Set back to zero (no event when already zero).
    Reset,
}

impl CounterCommand {
    /// A command with a fresh id.
    pub fn new(id: impl Into<String>, action: CounterAction) -> Self {
        Self {
            id: id.into(),
            command_id: CommandId::new_random(),
            action,
        }
    }

    /// The same command with the given id (a saga step's derived id, say).
    pub fn with_id(self, command_id: CommandId) -> Self {
        Self { command_id, ..self }
    }

    /// Add `amount` to counter `id`.
    pub fn add(id: impl Into<String>, amount: u64) -> Self {
        Self::new(id, CounterAction::Add(amount))
    }

    /// Subtract `amount` from counter `id`.
    pub fn subtract(id: impl Into<String>, amount: u64) -> Self {
        Self::new(id, CounterAction::Subtract(amount))
    }
}

impl Command for CounterCommand {
    fn aggregate_id(&self) -> &str {
        &self.id
    }

    fn command_id(&self) -> CommandId {
        self.command_id
    }
}

/// Why a counter rejects a command.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CounterError {
    /// Amounts must be positive.
    #[error("amount must be positive")]
    ZeroAmount,
    /// The counter would go below zero.
    #[error("cannot subtract {amount} from {total}")]
    WouldGoNegative {
        /// The current total.
        total: u64,
        /// The amount asked for.
        amount: u64,
    },
}

impl Aggregate for Counter {
    const TYPE: &'static str = "counter";
    type Event = CounterEvent;
    type Command = CounterCommand;
    type Error = CounterError;

    fn apply(&mut self, event: &CounterEvent) {
        self.applied += 1;
        match event {
            CounterEvent::Added { amount } => self.total = self.total.saturating_add(*amount),
            CounterEvent::Subtracted { amount } => self.total = self.total.saturating_sub(*amount),
            CounterEvent::Reset => self.total = 0,
        }
    }

    fn handle(&self, command: &CounterCommand) -> Result<Vec<CounterEvent>, CounterError> {
        match command.action {
            CounterAction::Add(0) | CounterAction::Subtract(0) => Err(CounterError::ZeroAmount),
            CounterAction::Add(amount) => Ok(vec![CounterEvent::Added { amount }]),
            CounterAction::Subtract(amount) if amount > self.total => {
                Err(CounterError::WouldGoNegative {
                    total: self.total,
                    amount,
                })
            }
            CounterAction::Subtract(amount) => Ok(vec![CounterEvent::Subtracted { amount }]),
            CounterAction::Reset if self.total == 0 => Ok(vec![]),
            CounterAction::Reset => Ok(vec![CounterEvent::Reset]),
        }
    }
}
