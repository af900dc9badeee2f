//! The checkout saga: a checked-out cart reserves its items, then charges the order; a declined
//! charge releases the reservation again (compensation).

// guide:start saga
use std::collections::BTreeMap;

use eventcore::saga::{InProcessBus, Reaction, Saga, Step};
use eventcore::{RecordedEvent, Repository};
use serde::{Deserialize, Serialize};

use crate::cart::CartEvent;
use crate::payments::{Charge, Payment};
use crate::warehouse::{Warehouse, WarehouseAction, WarehouseCommand};

/// The one warehouse of the walk-through.
pub const WAREHOUSE: &str = "main";

/// What the saga asks other aggregates to do. Stored until sent, so serializable.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum CheckoutCommand {
    Reserve {
        order: String,
        lines: BTreeMap<String, u32>,
    },
    Release {
        order: String,
    },
    Charge {
        order: String,
        cents: u64,
    },
}

/// The saga's state per checkout (here: nothing beyond what the steps carry).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct CheckoutState {
    pub total_cents: u64,
}

pub struct CheckoutSaga;

impl Saga for CheckoutSaga {
    const TYPE: &'static str = "checkout";
    type State = CheckoutState;
    type Event = CartEvent;
    const CATEGORIES: &'static [&'static str] = &["cart"]; // other streams are skipped unread
    type Command = CheckoutCommand;
    type Error = std::convert::Infallible;

    /// One saga instance per order.
    fn correlate(&self, event: &CartEvent, _: &RecordedEvent) -> Option<String> {
        match event {
            CartEvent::CheckedOut { order, .. } => Some(order.clone()),
            _ => None,
        }
    }

    fn on_event(
        &self,
        _: &CheckoutState,
        event: &CartEvent,
    ) -> Result<Reaction<Self>, Self::Error> {
        let CartEvent::CheckedOut {
            order,
            lines,
            total_cents,
        } = event
        else {
            return Ok(Reaction::new());
        };
        let (order, lines, cents) = (order.clone(), lines.clone(), *total_cents);
        Ok(Reaction::new()
            .state(CheckoutState { total_cents: cents })
            // Steps run in order. If a later one is rejected, the saga compensates: it runs
            // the compensations of the steps that completed, in reverse order.
            .step(
                Step::new(
                    "reserve",
                    CheckoutCommand::Reserve {
                        order: order.clone(),
                        lines,
                    },
                )
                .compensate_with(CheckoutCommand::Release {
                    order: order.clone(),
                }),
            )
            .step(Step::new(
                "charge",
                CheckoutCommand::Charge { order, cents },
            ))
            .complete())
    }
}
// guide:end saga

// guide:start bus
/// Sends the saga's commands to the aggregates' repositories, in this process. The command id
/// is derived from the saga instance and the step name, so a step sent twice (after a crash)
/// has one effect.
pub fn bus(
    warehouses: Repository<Warehouse>,
    payments: Repository<Payment>,
) -> InProcessBus<CheckoutCommand> {
    InProcessBus::new(move |command, id| {
        let (warehouses, payments) = (warehouses.clone(), payments.clone());
        async move {
            let to_warehouse = |action| WarehouseCommand {
                warehouse: WAREHOUSE.into(),
                id,
                action,
            };
            match command {
                CheckoutCommand::Reserve { order, lines } => {
                    warehouses
                        .execute(to_warehouse(WarehouseAction::Reserve { order, lines }))
                        .await?;
                }
                CheckoutCommand::Release { order } => {
                    warehouses
                        .execute(to_warehouse(WarehouseAction::Release { order }))
                        .await?;
                }
                CheckoutCommand::Charge { order, cents } => {
                    payments.execute(Charge { order, id, cents }).await?;
                }
            }
            Ok(())
        }
    })
}
// guide:end bus
