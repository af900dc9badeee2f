//! A given/when/then harness for aggregates: no store, just the pure decision logic.

use std::fmt::Debug;

use crate::{Aggregate, Event};

/// Sets up an aggregate from past events and runs one command against it.
///
/// ```
/// use eventcore::testing::AggregateFixture;
/// use eventcore::testing::counter::{Counter, CounterCommand, CounterError, CounterEvent};
///
/// AggregateFixture::<Counter>::given([CounterEvent::Added { amount: 3 }])
///     .when(CounterCommand::subtract("c", 2))
///     .then_expect_events([CounterEvent::Subtracted { amount: 2 }]);
///
/// let error = AggregateFixture::<Counter>::new()
///     .when(CounterCommand::subtract("c", 1))
///     .then_expect_error();
/// assert_eq!(error, CounterError::WouldGoNegative { total: 0, amount: 1 });
/// ```
#[derive(Debug)]
pub struct AggregateFixture<A> {
    state: A,
}

impl<A: Aggregate> Default for AggregateFixture<A> {
    fn default() -> Self {
        Self::new()
    }
}

impl<A: Aggregate> AggregateFixture<A> {
    /// An aggregate with no history.
    pub fn new() -> Self {
        Self {
            state: A::default(),
        }
    }

    /// An aggregate that has applied `events`.
    pub fn given(events: impl IntoIterator<Item = A::Event>) -> Self {
        let mut state = A::default();
        for event in events {
            state.apply(&event);
        }
        Self { state }
    }

    /// Runs `command` against the state.
    pub fn when(self, command: A::Command) -> Then<A> {
        let result = self.state.handle(&command);
        Then {
            state: self.state,
            result,
        }
    }
}

/// The outcome of [`AggregateFixture::when`], to assert on.
#[derive(Debug)]
pub struct Then<A: Aggregate> {
    state: A,
    result: Result<Vec<A::Event>, A::Error>,
}

impl<A: Aggregate> Then<A>
where
    A::Event: PartialEq + Debug,
    A::Error: Debug,
{
    /// Asserts the command produced exactly `expected`, and that each event survives its
    /// stored form unchanged. Returns the state after applying them.
    #[track_caller]
    pub fn then_expect_events(self, expected: impl IntoIterator<Item = A::Event>) -> A {
        let expected: Vec<A::Event> = expected.into_iter().collect();
        let events = match self.result {
            Ok(events) => events,
            Err(error) => panic!("expected events {expected:?}, got error {error:?}"),
        };
        assert_eq!(events, expected, "the command produced other events");
        let mut state = self.state;
        for event in &events {
            let stored = event
                .encode()
                .unwrap_or_else(|e| panic!("event {event:?} cannot be encoded: {e}"));
            let back = A::Event::decode(&stored.event_type, stored.payload.get())
                .unwrap_or_else(|e| panic!("event {event:?} cannot be decoded: {e}"));
            assert_eq!(&back, event, "event changed on its way through storage");
            state.apply(event);
        }
        state
    }

    /// Asserts the command produced no events.
    #[track_caller]
    pub fn then_expect_no_events(self) -> A {
        self.then_expect_events([])
    }

    /// Asserts the command was rejected and returns the error.
    #[track_caller]
    pub fn then_expect_error(self) -> A::Error {
        match self.result {
            Ok(events) => panic!("expected an error, got events {events:?}"),
            Err(error) => error,
        }
    }
}
