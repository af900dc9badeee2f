//! The shop's saga and policy steps, run inside the transaction that records each step's
//! outcome ([`LocalBus`]): one commit per step, so a step takes effect exactly once.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use eventcore::saga::{DispatchError, LocalCommands};
use eventcore::{CommandId, Metadata, Repository, StoreTransaction};

use super::cancellation::UndoSale;
use crate::inventory::requests::StockRequest;
use crate::inventory::{
    Expirer, ExpiryCommand, Inventory, InventoryAction, InventoryCommand, WAREHOUSE,
};
use crate::messaging::outbox;
use crate::notification::{Message, Notification, Notifier};
use crate::order::{Order, OrderAction, OrderCommand};
use crate::payment::requests::PaymentRequest;
use crate::payment::{
    Payment, PaymentAction, PaymentCommand, PaymentProvider, PaymentStatus, charge_outcome,
};
use crate::saga::OrderSagaCommand;

/// The repositories (and the payment provider) the steps write through.
#[derive(Clone)]
pub struct Steps {
    /// The warehouse.
    pub inventory: Repository<Inventory>,
    /// Orders.
    pub orders: Repository<Order>,
    /// Payments.
    pub payments: Repository<Payment>,
    /// Sent messages.
    pub notifications: Repository<Notification>,
    /// Who charges cards.
    pub provider: Arc<dyn PaymentProvider>,
    /// A simulated outage of the payment provider: charges fail transiently (retried, and
    /// the order saga's reply deadline runs meanwhile).
    pub payments_down: Arc<AtomicBool>,
    /// Payments are the payment service's (distributed mode): payment steps send a
    /// [`PaymentRequest`] through the outbox instead of writing through `payments`, whose
    /// streams here are the service's events, mirrored.
    pub payments_elsewhere: bool,
    /// The warehouse is the inventory service's (distributed mode): stock steps send a
    /// [`StockRequest`] through the outbox instead of writing through `inventory`, whose
    /// stream here is the service's events, mirrored.
    pub stock_elsewhere: bool,
}

impl Steps {
    async fn stock<Tx: StoreTransaction>(
        &self,
        tx: &mut Tx,
        action: InventoryAction,
        id: CommandId,
        metadata: Metadata,
    ) -> Result<(), DispatchError> {
        if self.stock_elsewhere {
            let request = StockRequest::of(action, id).ok_or_else(|| {
                DispatchError::rejected("the inventory service decides this itself")
            })?;
            return outbox::send_in(tx, &request, &metadata).await;
        }
        let command = InventoryCommand::new(WAREHOUSE, action).with_id(id);
        self.inventory.execute_in(tx, command, metadata).await?;
        Ok(())
    }

    async fn order<Tx: StoreTransaction>(
        &self,
        tx: &mut Tx,
        order_id: &str,
        action: OrderAction,
        id: CommandId,
        metadata: Metadata,
    ) -> Result<(), DispatchError> {
        let command = OrderCommand::new(order_id, action).with_id(id);
        self.orders.execute_in(tx, command, metadata).await?;
        Ok(())
    }

    async fn payment<Tx: StoreTransaction>(
        &self,
        tx: &mut Tx,
        order_id: &str,
        action: PaymentAction,
        id: CommandId,
        metadata: Metadata,
    ) -> Result<usize, DispatchError> {
        let command = PaymentCommand::new(order_id, action).with_id(id);
        let events = self.payments.execute_in(tx, command, metadata).await?;
        Ok(events.len())
    }
}

#[eventcore::async_trait]
impl<Tx: StoreTransaction> LocalCommands<OrderSagaCommand, Tx> for Steps {
    async fn execute(
        &self,
        tx: &mut Tx,
        command: &OrderSagaCommand,
        id: CommandId,
        metadata: &Metadata,
    ) -> Result<(), DispatchError> {
        use OrderSagaCommand as C;
        let metadata = metadata.clone();
        match command.clone() {
            C::ReserveStock { order_id, items } => {
                let action = InventoryAction::ReserveStock { order_id, items };
                self.stock(tx, action, id, metadata).await
            }
            C::ReleaseStock { order_id } => {
                let action = InventoryAction::ReleaseStock { order_id };
                self.stock(tx, action, id, metadata).await
            }
            C::ConfirmReservation { order_id } => {
                let action = InventoryAction::ConfirmReservation { order_id };
                self.stock(tx, action, id, metadata).await
            }
            C::ReturnSoldStock { order_id } => {
                let action = InventoryAction::ReturnSoldStock { order_id };
                self.stock(tx, action, id, metadata).await
            }
            C::ProcessPayment {
                order_id,
                customer_id,
                amount,
            } => {
                if self.payments_down.load(Ordering::Relaxed) {
                    return Err(DispatchError::transient("payment provider unavailable"));
                }
                if self.payments_elsewhere {
                    let request = PaymentRequest::ProcessPayment {
                        order_id,
                        customer_id,
                        amount,
                        command_id: id,
                    };
                    return outbox::send_in(tx, &request, &metadata).await;
                }
                let outcome =
                    charge_outcome(&self.payments, &*self.provider, &order_id, amount).await?;
                let action = PaymentAction::Charge {
                    customer_id,
                    amount,
                    outcome,
                };
                self.payment(tx, &order_id, action, id, metadata)
                    .await
                    .map(drop)
            }
            C::RefundPayment { order_id } if self.payments_elsewhere => {
                let request = PaymentRequest::RefundPayment {
                    order_id,
                    command_id: id,
                };
                outbox::send_in(tx, &request, &metadata).await
            }
            C::RefundPayment { order_id } => self
                .payment(tx, &order_id, PaymentAction::Reverse, id, metadata)
                .await
                .map(drop),
            C::ConfirmOrder { order_id } => {
                self.order(tx, &order_id, OrderAction::Confirm, id, metadata)
                    .await
            }
            C::CancelOrder { order_id, reason } => {
                let action = OrderAction::Cancel { reason };
                self.order(tx, &order_id, action, id, metadata).await
            }
        }
    }
}

#[eventcore::async_trait]
impl<Tx: StoreTransaction> LocalCommands<ExpiryCommand, Tx> for Steps {
    async fn execute(
        &self,
        tx: &mut Tx,
        command: &ExpiryCommand,
        id: CommandId,
        metadata: &Metadata,
    ) -> Result<(), DispatchError> {
        let expirer = Expirer::new(self.inventory.clone());
        expirer.execute(tx, command, id, metadata).await
    }
}

#[eventcore::async_trait]
impl<Tx: StoreTransaction> LocalCommands<Message, Tx> for Steps {
    async fn execute(
        &self,
        tx: &mut Tx,
        command: &Message,
        id: CommandId,
        metadata: &Metadata,
    ) -> Result<(), DispatchError> {
        let notifier = Notifier::new(self.notifications.clone());
        notifier.execute(tx, command, id, metadata).await
    }
}

#[eventcore::async_trait]
impl<Tx: StoreTransaction> LocalCommands<UndoSale, Tx> for Steps {
    async fn execute(
        &self,
        tx: &mut Tx,
        command: &UndoSale,
        id: CommandId,
        metadata: &Metadata,
    ) -> Result<(), DispatchError> {
        let order_id = &command.order_id;
        // Refund whatever is left of a completed payment: a no-op unless the order was paid
        // and nothing (the order saga's compensation) refunded it yet.
        let refund = CommandId::derived(id.into(), "refund");
        let refunded = if self.payments_elsewhere {
            // The payment service's events come back mirrored, and a confirmed order's
            // payment was mirrored before the order was confirmed: a payment not completed
            // here was never charged, or was refunded already (the saga's compensation), so
            // there is nothing to undo (an order cancelled before it was paid, say).
            let payment = self.payments.load(order_id).await;
            let payment = payment.map_err(DispatchError::from)?;
            if payment.state.status != PaymentStatus::Completed {
                return Ok(());
            }
            let request = PaymentRequest::RefundPayment {
                order_id: order_id.clone(),
                command_id: refund,
            };
            outbox::send_in(tx, &request, metadata).await?;
            // A charge to refund: return the stock too, a no-op unless it is sold (and sold
            // stock of a cancelled order is always to go back).
            1
        } else {
            self.payment(
                tx,
                order_id,
                PaymentAction::Reverse,
                refund,
                metadata.clone(),
            )
            .await?
        };
        if refunded > 0 {
            // Paid and not yet undone: the sold units go back (a no-op unless sold).
            let give_back = CommandId::derived(id.into(), "return-sold-stock");
            let action = InventoryAction::ReturnSoldStock {
                order_id: order_id.clone(),
            };
            self.stock(tx, action, give_back, metadata.clone()).await?;
        }
        Ok(())
    }
}
