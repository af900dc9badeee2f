//! Aggregates (consistency boundaries) and the commands addressed to them.

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::InputError;
use crate::event::Event;
use crate::id::{CommandId, StreamId};

/// A consistency boundary: state folded from its own events, deciding on commands.
///
/// `apply` and `handle` are pure and deterministic: no I/O, no clock, no randomness (pass those
/// in through the command). The state is `Default` (the state before any event) and
/// serializable (for snapshots).
///
/// # Contract
/// - `apply` never fails: events are facts that already happened.
/// - `handle` either returns the events the command causes (possibly none) or a typed domain
///   error, and never changes state itself.
pub trait Aggregate: Default + Serialize + DeserializeOwned + Send + Sync + 'static {
    /// The aggregate type name, the prefix of its stream ids (`order` gives `order-<id>`) and
    /// so their [category](StreamId::category). It must not contain `-`.
    const TYPE: &'static str;
    /// The schema version of the serialized state; bump it whenever the state's shape changes
    /// and older snapshots will be ignored.
    const SNAPSHOT_VERSION: u32 = 1;

    /// The events this aggregate emits and folds.
    type Event: Event;
    /// The commands it handles.
    type Command: Command;
    /// Its domain error (a rule the command broke).
    type Error: std::error::Error + Send + Sync + 'static;

    /// Folds one event into the state.
    fn apply(&mut self, event: &Self::Event);

    /// Decides on a command against the current state.
    ///
    /// # Errors
    /// The domain error when the command breaks a rule.
    fn handle(&self, command: &Self::Command) -> Result<Vec<Self::Event>, Self::Error>;

    /// Whether `stream` is a stream of this aggregate type (`<TYPE>-<id>`).
    fn owns(stream: &StreamId) -> bool {
        const { assert_type_name(Self::TYPE) };
        stream.category() == Self::TYPE && stream.entity_id().is_some()
    }

    /// The stream id of the instance with this id: `<TYPE>-<id>`.
    ///
    /// # Errors
    /// [`InputError`] for an empty id, one too long for a stream id, or one containing NUL.
    fn stream_id(id: &str) -> Result<StreamId, InputError> {
        const { assert_type_name(Self::TYPE) };
        if id.is_empty() {
            return Err(InputError::EmptyId {
                what: "aggregate id",
            });
        }
        StreamId::new(format!("{}-{}", Self::TYPE, id))
    }
}

/// Fails the build of a program whose aggregate `TYPE` is empty or contains `-` (the
/// separator of a stream id's category: `order-line` would read as category `order`, and its
/// typed consumers would silently see none of its events).
const fn assert_type_name(name: &str) {
    let bytes = name.as_bytes();
    assert!(!bytes.is_empty(), "Aggregate::TYPE must not be empty");
    let mut i = 0;
    while i < bytes.len() {
        assert!(
            bytes[i] != b'-',
            "Aggregate::TYPE must not contain '-': it separates a stream id's category from the id"
        );
        i += 1;
    }
}

/// An intention addressed to one aggregate instance.
pub trait Command: Send + Sync + 'static {
    /// The id of the aggregate instance it targets.
    fn aggregate_id(&self) -> &str;

    /// The id that makes handling idempotent: a command id that was already handled appends
    /// nothing a second time.
    fn command_id(&self) -> CommandId;
}
