//! The order aggregate: Pending → Confirmed → Shipped → Delivered, or Cancelled from Pending or
//! Confirmed. Illegal transitions are typed errors.

use eventcore::{Aggregate, Command, CommandId, Event};
use serde::{Deserialize, Serialize};

/// An ISO 4217 currency code: three upper-case ASCII letters, stored as text.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Currency([u8; 3]);

impl Currency {
    /// US dollars.
    pub const USD: Currency = Currency(*b"USD");

    /// The code as text.
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).unwrap_or("???")
    }
}

impl TryFrom<String> for Currency {
    type Error = String;
    fn try_from(code: String) -> Result<Self, String> {
        match *code.as_bytes() {
            [a, b, c] if code.bytes().all(|x| x.is_ascii_uppercase()) => Ok(Self([a, b, c])),
            _ => Err(format!(
                "currency must be three upper-case letters, got {code:?}"
            )),
        }
    }
}

impl From<Currency> for String {
    fn from(currency: Currency) -> String {
        currency.as_str().to_owned()
    }
}

/// Money in minor units (cents) with a currency code.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Money {
    /// Amount in minor units.
    pub cents: i64,
    /// The currency.
    pub currency: Currency,
}

impl Money {
    /// An amount in US dollars.
    pub fn usd(cents: i64) -> Self {
        Self {
            cents,
            currency: Currency::USD,
        }
    }
}

impl std::fmt::Display for Money {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let sign = if self.cents < 0 { "-" } else { "" };
        let abs = self.cents.unsigned_abs();
        write!(
            f,
            "{sign}{}.{:02} {}",
            abs / 100,
            abs % 100,
            self.currency.as_str()
        )
    }
}

/// One line of an order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Line {
    /// The product.
    pub product_id: String,
    /// How many (1–1000).
    pub quantity: u32,
    /// The catalogue price per unit when the order was placed.
    pub unit_price: Money,
}

/// Where an order is in its lifecycle.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Status {
    /// Not placed yet.
    #[default]
    New,
    /// Placed, waiting for stock and payment.
    Pending,
    /// Paid and reserved.
    Confirmed,
    /// Handed to the carrier.
    Shipped,
    /// Arrived.
    Delivered,
    /// Cancelled.
    Cancelled,
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let name = match self {
            Self::New => "new",
            Self::Pending => "pending",
            Self::Confirmed => "confirmed",
            Self::Shipped => "shipped",
            Self::Delivered => "delivered",
            Self::Cancelled => "cancelled",
        };
        f.write_str(name)
    }
}

/// What happens to an order.
#[allow(
    clippy::enum_variant_names,
    reason = "variant names are the stored event type names the shop's contract uses"
)]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum OrderEvent {
    /// The customer placed it.
    OrderPlaced {
        /// Who ordered.
        customer_id: String,
        /// What.
        lines: Vec<Line>,
        /// Σ quantity × unit price.
        total: Money,
    },
    /// Stock is reserved and payment completed.
    OrderConfirmed,
    /// It was cancelled.
    OrderCancelled {
        /// Why.
        reason: String,
    },
    /// It left the warehouse.
    OrderShipped {
        /// The carrier's tracking number.
        tracking_number: String,
    },
    /// It arrived.
    OrderDelivered,
}

impl Event for OrderEvent {}

/// What can be asked of an order.
#[derive(Clone, Debug)]
pub enum OrderAction {
    /// Place it.
    Place {
        /// Who orders.
        customer_id: String,
        /// What.
        lines: Vec<Line>,
    },
    /// Confirm it.
    Confirm,
    /// Cancel it.
    Cancel {
        /// Why.
        reason: String,
    },
    /// Ship it.
    Ship {
        /// The carrier's tracking number.
        tracking_number: String,
    },
    /// Mark it delivered.
    Deliver,
}

/// A command for one order.
#[derive(Clone, Debug)]
pub struct OrderCommand {
    /// The order's id.
    pub order_id: String,
    /// The command's id.
    pub command_id: CommandId,
    /// What to do.
    pub action: OrderAction,
}

impl OrderCommand {
    /// A command with a fresh id.
    pub fn new(order_id: impl Into<String>, action: OrderAction) -> Self {
        Self {
            order_id: order_id.into(),
            command_id: CommandId::new_random(),
            action,
        }
    }
}

impl Command for OrderCommand {
    fn aggregate_id(&self) -> &str {
        &self.order_id
    }

    fn command_id(&self) -> CommandId {
        self.command_id
    }
}

/// Why an order rejects a command.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum OrderError {
    /// The transition is not allowed from the current status.
    #[error("cannot {action} an order in status {status}")]
    IllegalTransition {
        /// What was asked.
        action: &'static str,
        /// The current status.
        status: Status,
    },
    /// An order needs 1–50 distinct lines.
    #[error("an order needs 1 to 50 distinct items, got {0}")]
    LineCount(usize),
    /// Quantities are 1–1000.
    #[error("quantity of {product_id} must be 1 to 1000, got {quantity}")]
    Quantity {
        /// The product.
        product_id: String,
        /// The quantity asked for.
        quantity: u32,
    },
}

/// An order's state.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Order {
    /// Lifecycle status.
    pub status: Status,
    /// Who ordered.
    pub customer_id: String,
    /// What was ordered.
    pub lines: Vec<Line>,
    /// The total.
    pub total: Option<Money>,
}

impl Aggregate for Order {
    const TYPE: &'static str = "order";
    type Event = OrderEvent;
    type Command = OrderCommand;
    type Error = OrderError;

    fn apply(&mut self, event: &OrderEvent) {
        match event {
            OrderEvent::OrderPlaced {
                customer_id,
                lines,
                total,
            } => {
                self.status = Status::Pending;
                self.customer_id.clone_from(customer_id);
                self.lines.clone_from(lines);
                self.total = Some(*total);
            }
            OrderEvent::OrderConfirmed => self.status = Status::Confirmed,
            OrderEvent::OrderCancelled { .. } => self.status = Status::Cancelled,
            OrderEvent::OrderShipped { .. } => self.status = Status::Shipped,
            OrderEvent::OrderDelivered => self.status = Status::Delivered,
        }
    }

    fn handle(&self, command: &OrderCommand) -> Result<Vec<OrderEvent>, OrderError> {
        use Status::{Confirmed, New, Pending, Shipped};
        let illegal = |action| {
            Err(OrderError::IllegalTransition {
                action,
                status: self.status,
            })
        };
        match (&command.action, self.status) {
            (OrderAction::Place { customer_id, lines }, New) => place(customer_id, lines),
            (OrderAction::Place { .. }, _) => illegal("place"),
            (OrderAction::Confirm, Pending) => Ok(vec![OrderEvent::OrderConfirmed]),
            (OrderAction::Confirm, _) => illegal("confirm"),
            (OrderAction::Cancel { reason }, Pending | Confirmed) => {
                Ok(vec![OrderEvent::OrderCancelled {
                    reason: reason.clone(),
                }])
            }
            (OrderAction::Cancel { .. }, _) => illegal("cancel"),
            (OrderAction::Ship { tracking_number }, Confirmed) => {
                Ok(vec![OrderEvent::OrderShipped {
                    tracking_number: tracking_number.clone(),
                }])
            }
            (OrderAction::Ship { .. }, _) => illegal("ship"),
            (OrderAction::Deliver, Shipped) => Ok(vec![OrderEvent::OrderDelivered]),
            (OrderAction::Deliver, _) => illegal("deliver"),
        }
    }
}

fn place(customer_id: &str, lines: &[Line]) -> Result<Vec<OrderEvent>, OrderError> {
    if lines.is_empty() || lines.len() > 50 {
        return Err(OrderError::LineCount(lines.len()));
    }
    if let Some(line) = lines.iter().find(|l| !(1..=1000).contains(&l.quantity)) {
        return Err(OrderError::Quantity {
            product_id: line.product_id.clone(),
            quantity: line.quantity,
        });
    }
    let cents = lines
        .iter()
        .map(|l| i64::from(l.quantity) * l.unit_price.cents)
        .sum();
    Ok(vec![OrderEvent::OrderPlaced {
        customer_id: customer_id.to_owned(),
        lines: lines.to_vec(),
        total: Money {
            cents,
            currency: lines[0].unit_price.currency,
        },
    }])
}

#[cfg(test)]
mod tests {
    use eventcore::testing::AggregateFixture;

    use super::*;

    fn laptop(quantity: u32) -> Line {
        Line {
            product_id: "prod-001".into(),
            quantity,
            unit_price: Money::usd(99_999),
        }
    }

    fn placed() -> OrderEvent {
        OrderEvent::OrderPlaced {
            customer_id: "c1".into(),
            lines: vec![laptop(2)],
            total: Money::usd(199_998),
        }
    }

    #[test]
    fn placing_an_order_totals_its_lines() {
        AggregateFixture::<Order>::new()
            .when(OrderCommand::new(
                "o1",
                OrderAction::Place {
                    customer_id: "c1".into(),
                    lines: vec![laptop(2)],
                },
            ))
            .then_expect_events([placed()]);
    }

    #[test]
    fn shipping_a_pending_order_is_an_illegal_transition() {
        let error = AggregateFixture::<Order>::given([placed()])
            .when(OrderCommand::new(
                "o1",
                OrderAction::Ship {
                    tracking_number: "T".into(),
                },
            ))
            .then_expect_error();
        assert_eq!(error.to_string(), "cannot ship an order in status pending");
    }

    #[test]
    fn a_confirmed_order_can_be_cancelled_but_a_shipped_one_cannot() {
        AggregateFixture::<Order>::given([placed(), OrderEvent::OrderConfirmed])
            .when(OrderCommand::new(
                "o1",
                OrderAction::Cancel {
                    reason: "changed mind".into(),
                },
            ))
            .then_expect_events([OrderEvent::OrderCancelled {
                reason: "changed mind".into(),
            }]);
        let shipped = [
            placed(),
            OrderEvent::OrderConfirmed,
            OrderEvent::OrderShipped {
                tracking_number: "T".into(),
            },
        ];
        AggregateFixture::<Order>::given(shipped)
            .when(OrderCommand::new(
                "o1",
                OrderAction::Cancel {
                    reason: "late".into(),
                },
            ))
            .then_expect_error();
    }

    #[test]
    fn quantities_and_line_counts_are_bounded() {
        let place = |lines| {
            OrderCommand::new(
                "o",
                OrderAction::Place {
                    customer_id: "c".into(),
                    lines,
                },
            )
        };
        let error = AggregateFixture::<Order>::new()
            .when(place(vec![laptop(0)]))
            .then_expect_error();
        assert!(matches!(error, OrderError::Quantity { quantity: 0, .. }));
        let error = AggregateFixture::<Order>::new()
            .when(place(vec![]))
            .then_expect_error();
        assert_eq!(error, OrderError::LineCount(0));
    }
}
