//! The [`Order`] aggregate: Pending → Confirmed → Shipped → Delivered, or Cancelled from
//! Pending or Confirmed. Illegal transitions are typed errors.

use std::collections::BTreeSet;

use eventcore::{Aggregate, Command, CommandId, Event};
use serde::{Deserialize, Serialize};

use crate::money::{Money, MoneyError};

/// At most this many distinct items per order.
pub const MAX_ITEMS: usize = 50;
/// At most this many units per item.
pub const MAX_QUANTITY: u32 = 1000;

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
        f.write_str(match self {
            Self::New => "new",
            Self::Pending => "pending",
            Self::Confirmed => "confirmed",
            Self::Shipped => "shipped",
            Self::Delivered => "delivered",
            Self::Cancelled => "cancelled",
        })
    }
}

/// What happens to an order. Every event names its order and customer, so consumers that see
/// only the event (policies, other services) need no lookup.
#[allow(
    clippy::enum_variant_names,
    reason = "variant names are the stored event type names the shop's contract uses"
)]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum OrderEvent {
    /// The customer placed it.
    OrderPlaced {
        /// The order.
        order_id: String,
        /// Who ordered.
        customer_id: String,
        /// What.
        lines: Vec<Line>,
        /// Σ quantity × unit price.
        total: Money,
    },
    /// Stock is reserved and payment completed.
    OrderConfirmed {
        /// The order.
        order_id: String,
        /// Who ordered.
        customer_id: String,
    },
    /// It was cancelled.
    OrderCancelled {
        /// The order.
        order_id: String,
        /// Who ordered.
        customer_id: String,
        /// Why.
        reason: String,
        /// Whether the order was confirmed when it was cancelled: its saga had completed, so
        /// only the undo policy ([`CancellationPolicy`](crate::app::CancellationPolicy))
        /// undoes the sale. Before that the saga compensates itself. Events recorded before
        /// this field existed read `true` (the policy then looks, as it always did).
        #[serde(default = "recorded_before_it_was_known")]
        after_confirmation: bool,
    },
    /// It left the warehouse.
    OrderShipped {
        /// The order.
        order_id: String,
        /// Who ordered.
        customer_id: String,
        /// The carrier's tracking number.
        tracking_number: String,
    },
    /// It arrived.
    OrderDelivered {
        /// The order.
        order_id: String,
        /// Who ordered.
        customer_id: String,
    },
}

/// The `after_confirmation` of an `OrderCancelled` recorded before it was a field: `true`, so
/// the undo policy looks at it, as it did for every cancellation then (a no-op where there is
/// nothing to undo). The policy's own decoding of the event reads it the same way.
pub(crate) fn recorded_before_it_was_known() -> bool {
    true
}

impl Event for OrderEvent {}

/// What can be asked of an order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OrderAction {
    /// Place it, with lines priced from the catalogue (see
    /// [`PlaceOrder::price`](super::PlaceOrder::price)).
    Place {
        /// Who orders.
        customer_id: String,
        /// What, at catalogue prices.
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

    /// The same command with `id` (a saga step's id).
    pub fn with_id(self, id: CommandId) -> Self {
        Self {
            command_id: id,
            ..self
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
    /// A product appears on two lines.
    #[error("product {0} appears more than once")]
    DuplicateItem(String),
    /// Quantities are 1–1000.
    #[error("quantity of {product_id} must be 1 to 1000, got {quantity}")]
    Quantity {
        /// The product.
        product_id: String,
        /// The quantity asked for.
        quantity: u32,
    },
    /// The catalogue does not know the product.
    #[error("unknown product {0}")]
    UnknownProduct(String),
    /// The lines cannot be totalled (mixed currencies, overflow).
    #[error("cannot total the order: {0}")]
    Total(#[from] MoneyError),
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
    /// Why it was cancelled.
    pub cancellation_reason: Option<String>,
    /// The carrier's tracking number, once shipped.
    pub tracking_number: Option<String>,
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
                ..
            } => {
                self.status = Status::Pending;
                self.customer_id.clone_from(customer_id);
                self.lines.clone_from(lines);
                self.total = Some(*total);
            }
            OrderEvent::OrderConfirmed { .. } => self.status = Status::Confirmed,
            OrderEvent::OrderCancelled { reason, .. } => {
                self.status = Status::Cancelled;
                self.cancellation_reason = Some(reason.clone());
            }
            OrderEvent::OrderShipped {
                tracking_number, ..
            } => {
                self.status = Status::Shipped;
                self.tracking_number = Some(tracking_number.clone());
            }
            OrderEvent::OrderDelivered { .. } => self.status = Status::Delivered,
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
        let (order_id, customer_id) = (command.order_id.clone(), self.customer_id.clone());
        match (&command.action, self.status) {
            (OrderAction::Place { customer_id, lines }, New) => {
                place(&command.order_id, customer_id, lines)
            }
            (OrderAction::Place { .. }, _) => illegal("place"),
            (OrderAction::Confirm, Pending) => Ok(vec![OrderEvent::OrderConfirmed {
                order_id,
                customer_id,
            }]),
            (OrderAction::Confirm, _) => illegal("confirm"),
            (OrderAction::Cancel { reason }, status @ (Pending | Confirmed)) => {
                Ok(vec![OrderEvent::OrderCancelled {
                    order_id,
                    customer_id,
                    reason: reason.clone(),
                    after_confirmation: status == Confirmed,
                }])
            }
            (OrderAction::Cancel { .. }, _) => illegal("cancel"),
            (OrderAction::Ship { tracking_number }, Confirmed) => {
                Ok(vec![OrderEvent::OrderShipped {
                    order_id,
                    customer_id,
                    tracking_number: tracking_number.clone(),
                }])
            }
            (OrderAction::Ship { .. }, _) => illegal("ship"),
            (OrderAction::Deliver, Shipped) => Ok(vec![OrderEvent::OrderDelivered {
                order_id,
                customer_id,
            }]),
            (OrderAction::Deliver, _) => illegal("deliver"),
        }
    }
}

fn place(order_id: &str, customer_id: &str, lines: &[Line]) -> Result<Vec<OrderEvent>, OrderError> {
    if lines.is_empty() || lines.len() > MAX_ITEMS {
        return Err(OrderError::LineCount(lines.len()));
    }
    let mut seen = BTreeSet::new();
    for line in lines {
        if !seen.insert(line.product_id.as_str()) {
            return Err(OrderError::DuplicateItem(line.product_id.clone()));
        }
        if !(1..=MAX_QUANTITY).contains(&line.quantity) {
            return Err(OrderError::Quantity {
                product_id: line.product_id.clone(),
                quantity: line.quantity,
            });
        }
    }
    let total = lines
        .iter()
        .try_fold(Money::zero(lines[0].unit_price.currency), |total, line| {
            total.checked_add(line.unit_price.checked_mul(line.quantity)?)
        })?;
    Ok(vec![OrderEvent::OrderPlaced {
        order_id: order_id.to_owned(),
        customer_id: customer_id.to_owned(),
        lines: lines.to_vec(),
        total,
    }])
}
