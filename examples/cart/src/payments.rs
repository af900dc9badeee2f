//! The payments aggregate: one charge per order, declined above a card's limit.

// guide:start payments
use eventcore::{Aggregate, Command, CommandId, Event};
use serde::{Deserialize, Serialize};

/// The demo card's limit: charges above it are declined.
pub const CARD_LIMIT_CENTS: u64 = 50_000;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum PaymentEvent {
    Charged { cents: u64 },
}

impl Event for PaymentEvent {}

#[derive(Debug, Clone)]
pub struct Charge {
    pub order: String,
    pub id: CommandId,
    pub cents: u64,
}

impl Command for Charge {
    fn aggregate_id(&self) -> &str {
        &self.order
    }
    fn command_id(&self) -> CommandId {
        self.id
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PaymentError {
    Declined { cents: u64 },
    AlreadyCharged,
}

impl std::fmt::Display for PaymentError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Declined { cents } => write!(f, "a charge of {cents} cents was declined"),
            Self::AlreadyCharged => f.write_str("the order is paid already"),
        }
    }
}

impl std::error::Error for PaymentError {}

#[derive(Debug, Default, Clone, Serialize, Deserialize)]
pub struct Payment {
    pub charged_cents: Option<u64>,
}

impl Aggregate for Payment {
    const TYPE: &'static str = "payment"; // one stream per order: `payment-<order>`
    type Event = PaymentEvent;
    type Command = Charge;
    type Error = PaymentError;

    fn apply(&mut self, event: &PaymentEvent) {
        let PaymentEvent::Charged { cents } = event;
        self.charged_cents = Some(*cents);
    }

    fn handle(&self, charge: &Charge) -> Result<Vec<PaymentEvent>, PaymentError> {
        if self.charged_cents.is_some() {
            return Err(PaymentError::AlreadyCharged);
        }
        if charge.cents > CARD_LIMIT_CENTS {
            return Err(PaymentError::Declined {
                cents: charge.cents,
            });
        }
        Ok(vec![PaymentEvent::Charged {
            cents: charge.cents,
        }])
    }
}
// guide:end payments
