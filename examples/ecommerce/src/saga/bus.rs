//! Sends the order saga's commands to the aggregates' repositories, in this process.

use std::sync::Arc;

use eventcore::saga::InProcessBus;
use eventcore::{Metadata, Repository};

use super::OrderSagaCommand;
use crate::inventory::{Inventory, InventoryAction, InventoryCommand, WAREHOUSE};
use crate::order::{Order, OrderAction, OrderCommand};
use crate::payment::{self, Payment, PaymentAction, PaymentCommand, PaymentProvider};

/// A bus routing each command to its context's repository with the step's command id (a step
/// sent twice has one effect) and the flow's metadata (its correlation id). Domain rejections
/// are permanent (the saga decides), store failures transient (retried with backoff).
pub fn bus(
    inventory: Repository<Inventory>,
    orders: Repository<Order>,
    payments: Repository<Payment>,
    provider: Arc<dyn PaymentProvider>,
) -> InProcessBus<OrderSagaCommand> {
    InProcessBus::with_metadata(move |command, id, metadata: Metadata| {
        let (inventory, orders, payments) = (inventory.clone(), orders.clone(), payments.clone());
        let provider = Arc::clone(&provider);
        async move {
            let stock = |action| InventoryCommand::new(WAREHOUSE, action).with_id(id);
            let order = |order_id: String, action| OrderCommand::new(order_id, action).with_id(id);
            use OrderSagaCommand as C;
            match command {
                C::ReserveStock { order_id, items } => {
                    let action = InventoryAction::ReserveStock { order_id, items };
                    inventory.execute_with(stock(action), metadata).await?;
                }
                C::ReleaseStock { order_id } => {
                    let action = InventoryAction::ReleaseStock { order_id };
                    inventory.execute_with(stock(action), metadata).await?;
                }
                C::ConfirmReservation { order_id } => {
                    let action = InventoryAction::ConfirmReservation { order_id };
                    inventory.execute_with(stock(action), metadata).await?;
                }
                C::ReturnSoldStock { order_id } => {
                    let action = InventoryAction::ReturnSoldStock { order_id };
                    inventory.execute_with(stock(action), metadata).await?;
                }
                C::ProcessPayment {
                    order_id,
                    customer_id,
                    amount,
                } => {
                    let provider = provider.as_ref();
                    payment::process_payment(
                        &payments,
                        provider,
                        &order_id,
                        &customer_id,
                        amount,
                        id,
                        metadata,
                    )
                    .await?;
                }
                C::RefundPayment { order_id } => {
                    let command = PaymentCommand::new(&order_id, PaymentAction::Reverse);
                    payments.execute_with(command.with_id(id), metadata).await?;
                }
                C::ConfirmOrder { order_id } => {
                    let command = order(order_id, OrderAction::Confirm);
                    orders.execute_with(command, metadata).await?;
                }
                C::CancelOrder { order_id, reason } => {
                    let action = OrderAction::Cancel { reason };
                    orders
                        .execute_with(order(order_id, action), metadata)
                        .await?;
                }
            }
            Ok(())
        }
    })
}
