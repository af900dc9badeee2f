//! The cart aggregate: items go in and out until the cart is checked out.

// guide:start events
use std::collections::BTreeMap;

use eventcore::{Aggregate, Command, CommandId, Event};
use serde::{Deserialize, Serialize};

/// What happens to a cart. Each variant's name is stored as the event type, its fields as the
/// JSON payload.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum CartEvent {
    ItemAdded {
        sku: String,
        quantity: u32,
        unit_cents: u64,
    },
    ItemRemoved {
        sku: String,
        quantity: u32,
        unit_cents: u64,
    },
    /// The cart became an order (named after the cart).
    CheckedOut {
        order: String,
        lines: BTreeMap<String, u32>,
        total_cents: u64,
    },
}

impl Event for CartEvent {}
// guide:end events

// guide:start commands
/// A command for one cart: which cart, a command id (re-sending the same id has no second
/// effect), and what to do.
#[derive(Debug, Clone)]
pub struct CartCommand {
    pub cart: String,
    pub id: CommandId,
    pub action: CartAction,
}

#[derive(Debug, Clone)]
pub enum CartAction {
    Add {
        sku: String,
        quantity: u32,
        unit_cents: u64,
    },
    Remove {
        sku: String,
    },
    CheckOut,
}

impl CartCommand {
    /// A command with a fresh id.
    pub fn new(cart: &str, action: CartAction) -> Self {
        Self {
            cart: cart.to_owned(),
            id: CommandId::new_random(),
            action,
        }
    }
}

impl Command for CartCommand {
    fn aggregate_id(&self) -> &str {
        &self.cart
    }
    fn command_id(&self) -> CommandId {
        self.id
    }
}
// guide:end commands

// guide:start errors
/// The rules a cart command can break.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CartError {
    AlreadyCheckedOut,
    Empty,
    PriceChanged { sku: String, was: u64 },
    NotInCart(String),
    ZeroQuantity,
}

impl std::fmt::Display for CartError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::AlreadyCheckedOut => f.write_str("the cart is checked out already"),
            Self::Empty => f.write_str("an empty cart cannot be checked out"),
            Self::PriceChanged { sku, was } => {
                write!(f, "{sku} is in the cart at {was} cents; remove it first")
            }
            Self::NotInCart(sku) => write!(f, "{sku} is not in the cart"),
            Self::ZeroQuantity => f.write_str("quantity must be at least 1"),
        }
    }
}

impl std::error::Error for CartError {}
// guide:end errors

// guide:start aggregate
/// The cart's state: folded from its events, stored in snapshots.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
pub struct Cart {
    /// Per SKU: quantity and unit price.
    pub lines: BTreeMap<String, (u32, u64)>,
    pub checked_out: bool,
}

impl Cart {
    pub fn total_cents(&self) -> u64 {
        self.lines
            .values()
            .map(|(q, unit)| u64::from(*q) * unit)
            .sum()
    }
}

impl Aggregate for Cart {
    const TYPE: &'static str = "cart"; // streams are `cart-<id>`
    type Event = CartEvent;
    type Command = CartCommand;
    type Error = CartError;

    fn apply(&mut self, event: &CartEvent) {
        match event {
            CartEvent::ItemAdded {
                sku,
                quantity,
                unit_cents,
            } => {
                let line = self.lines.entry(sku.clone()).or_insert((0, *unit_cents));
                line.0 += quantity;
            }
            CartEvent::ItemRemoved { sku, .. } => {
                self.lines.remove(sku);
            }
            CartEvent::CheckedOut { .. } => self.checked_out = true,
        }
    }

    fn handle(&self, command: &CartCommand) -> Result<Vec<CartEvent>, CartError> {
        if self.checked_out {
            return Err(CartError::AlreadyCheckedOut);
        }
        match &command.action {
            CartAction::Add { quantity: 0, .. } => Err(CartError::ZeroQuantity),
            CartAction::Add {
                sku, unit_cents, ..
            } if self
                .lines
                .get(sku)
                .is_some_and(|(_, was)| was != unit_cents) =>
            {
                let was = self.lines[sku].1;
                Err(CartError::PriceChanged {
                    sku: sku.clone(),
                    was,
                })
            }
            CartAction::Add {
                sku,
                quantity,
                unit_cents,
            } => Ok(vec![CartEvent::ItemAdded {
                sku: sku.clone(),
                quantity: *quantity,
                unit_cents: *unit_cents,
            }]),
            CartAction::Remove { sku } => match self.lines.get(sku) {
                Some((quantity, unit_cents)) => Ok(vec![CartEvent::ItemRemoved {
                    sku: sku.clone(),
                    quantity: *quantity,
                    unit_cents: *unit_cents,
                }]),
                None => Err(CartError::NotInCart(sku.clone())),
            },
            CartAction::CheckOut if self.lines.is_empty() => Err(CartError::Empty),
            CartAction::CheckOut => Ok(vec![CartEvent::CheckedOut {
                order: command.cart.clone(),
                lines: self
                    .lines
                    .iter()
                    .map(|(sku, (q, _))| (sku.clone(), *q))
                    .collect(),
                total_cents: self.total_cents(),
            }]),
        }
    }
}
// guide:end aggregate
