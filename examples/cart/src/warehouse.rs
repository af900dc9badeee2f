//! The warehouse aggregate: stock per SKU, reserved for orders and released again.

// guide:start warehouse
use std::collections::BTreeMap;

use eventcore::{Aggregate, Command, CommandId, Event};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum WarehouseEvent {
    Stocked {
        sku: String,
        quantity: u32,
    },
    Reserved {
        order: String,
        lines: BTreeMap<String, u32>,
    },
    Released {
        order: String,
    },
}

impl Event for WarehouseEvent {}

#[derive(Debug, Clone)]
pub struct WarehouseCommand {
    pub warehouse: String,
    pub id: CommandId,
    pub action: WarehouseAction,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum WarehouseAction {
    Stock {
        sku: String,
        quantity: u32,
    },
    Reserve {
        order: String,
        lines: BTreeMap<String, u32>,
    },
    Release {
        order: String,
    },
}

impl Command for WarehouseCommand {
    fn aggregate_id(&self) -> &str {
        &self.warehouse
    }
    fn command_id(&self) -> CommandId {
        self.id
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WarehouseError {
    OutOfStock {
        sku: String,
        available: u32,
        asked: u32,
    },
}

impl std::fmt::Display for WarehouseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let Self::OutOfStock {
            sku,
            available,
            asked,
        } = self;
        write!(f, "{sku}: {available} available, {asked} asked for")
    }
}

impl std::error::Error for WarehouseError {}

#[derive(Debug, Default, Clone, Serialize, Deserialize)]
pub struct Warehouse {
    pub available: BTreeMap<String, u32>,
    pub reservations: BTreeMap<String, BTreeMap<String, u32>>,
}

impl Aggregate for Warehouse {
    const TYPE: &'static str = "warehouse";
    type Event = WarehouseEvent;
    type Command = WarehouseCommand;
    type Error = WarehouseError;

    fn apply(&mut self, event: &WarehouseEvent) {
        match event {
            WarehouseEvent::Stocked { sku, quantity } => {
                *self.available.entry(sku.clone()).or_default() += quantity;
            }
            WarehouseEvent::Reserved { order, lines } => {
                for (sku, quantity) in lines {
                    *self.available.entry(sku.clone()).or_default() -= quantity;
                }
                self.reservations.insert(order.clone(), lines.clone());
            }
            WarehouseEvent::Released { order } => {
                for (sku, quantity) in self.reservations.remove(order).unwrap_or_default() {
                    *self.available.entry(sku).or_default() += quantity;
                }
            }
        }
    }

    fn handle(&self, command: &WarehouseCommand) -> Result<Vec<WarehouseEvent>, WarehouseError> {
        match &command.action {
            WarehouseAction::Stock { sku, quantity } => Ok(vec![WarehouseEvent::Stocked {
                sku: sku.clone(),
                quantity: *quantity,
            }]),
            WarehouseAction::Reserve { order, lines } => {
                for (sku, asked) in lines {
                    let available = self.available.get(sku).copied().unwrap_or(0);
                    if available < *asked {
                        let (sku, asked) = (sku.clone(), *asked);
                        return Err(WarehouseError::OutOfStock {
                            sku,
                            available,
                            asked,
                        });
                    }
                }
                let (order, lines) = (order.clone(), lines.clone());
                Ok(vec![WarehouseEvent::Reserved { order, lines }])
            }
            // Releasing what is not reserved (twice, or never) changes nothing.
            WarehouseAction::Release { order } if !self.reservations.contains_key(order) => {
                Ok(vec![])
            }
            WarehouseAction::Release { order } => Ok(vec![WarehouseEvent::Released {
                order: order.clone(),
            }]),
        }
    }
}
// guide:end warehouse
