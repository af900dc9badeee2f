//! The application facade: what a customer or an admin can ask of the shop. Every call takes
//! an optional correlation id (a request id) that goes into the events' metadata.

use eventcore::{Metadata, Repository};
use uuid::Uuid;

use super::{Shop, ShopError, ShopStore, derived_id};
use crate::order::{
    Order, OrderAction, OrderCommand, OrderError, PlaceOrder, RequestedItem, Status,
};
use crate::payment::{Payment, PaymentStatus};

/// A customer's order request: products and quantities, never prices.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlaceOrderRequest {
    /// Who orders.
    pub customer_id: String,
    /// What.
    pub items: Vec<RequestedItem>,
    /// A client-chosen key: the same key (for the same customer) is the same order, so a
    /// retried placement places nothing new.
    pub idempotency_key: Option<String>,
}

/// A placed order (202 Accepted: the saga takes it from here).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Placed {
    /// The order's id.
    pub order_id: String,
}

pub(super) fn metadata(correlation: Option<Uuid>) -> Metadata {
    Metadata {
        correlation_id: correlation,
        ..Metadata::default()
    }
}

impl<St: ShopStore> Shop<St> {
    /// Places an order priced from the order context's catalogue (the product read model).
    /// With an idempotency key, the order id and command id derive from it: a retry with the
    /// same items returns the same order; the same key with other items is refused.
    ///
    /// # Errors
    /// [`ShopError::Order`] (unknown product, quantities, item count), [`ShopError::Invalid`],
    /// [`ShopError::IdempotencyKeyReused`] for a key that placed an order with other items.
    pub async fn place_order(
        &self,
        request: PlaceOrderRequest,
        correlation: Option<Uuid>,
    ) -> Result<Placed, ShopError> {
        if request.customer_id.trim().is_empty() {
            return Err(ShopError::Invalid("customer id is empty".into()));
        }
        let (order_id, command_id) = match &request.idempotency_key {
            Some(key) => {
                let name = format!("order/{}/{key}", request.customer_id);
                let id = derived_id(&name);
                (Uuid::from(id).to_string(), Some(id))
            }
            None => (Uuid::new_v4().to_string(), None),
        };
        let asked = request.items.clone();
        let key = request.idempotency_key.clone();
        if let Some(key) = &key {
            match self.order(&order_id).await {
                Ok(first) => return same_items(&first, &asked, key, order_id),
                Err(ShopError::NotFound { .. }) => {}
                Err(other) => return Err(other),
            }
        }
        let ids: Vec<&str> = request
            .items
            .iter()
            .map(|i| i.product_id.as_str())
            .collect();
        let prices = self.store.prices(&ids).await?;
        let place = PlaceOrder {
            order_id: order_id.clone(),
            customer_id: request.customer_id,
            items: request.items,
        };
        let mut command = place.price(&prices).map_err(ShopError::Order)?;
        if let Some(id) = command_id {
            command = command.with_id(id);
        }
        let committed = self
            .steps
            .orders
            .execute_with(command, metadata(correlation))
            .await
            .map_err(|e| ShopError::from_repo(e, ShopError::Order))?;
        tracing::info!(%order_id, correlation_id = ?correlation, "order placed");
        match &key {
            // The key's events: this placement's, or those of a concurrent placement under the
            // same key that won (the repository returns a command id's first outcome).
            Some(key) => {
                let mut placed = Order::default();
                for envelope in &committed {
                    eventcore::Aggregate::apply(&mut placed, &envelope.event);
                }
                same_items(&placed, &asked, key, order_id)
            }
            None => Ok(Placed { order_id }),
        }
    }

    async fn order_command(
        &self,
        command: OrderCommand,
        correlation: Option<Uuid>,
    ) -> Result<(), ShopError> {
        execute(&self.steps.orders, command, correlation)
            .await
            .map_err(|e| ShopError::from_repo(e, ShopError::Order))
    }

    /// An order command for an order that must have been placed: one that never was is
    /// [`ShopError::NotFound`] (the aggregate's refusal to act on a new order), not an illegal
    /// transition. One load of the order, in the command.
    async fn placed_order_command(
        &self,
        command: OrderCommand,
        correlation: Option<Uuid>,
    ) -> Result<(), ShopError> {
        let order_id = command.order_id.clone();
        match execute(&self.steps.orders, command, correlation).await {
            Err(eventcore::RepositoryError::Domain(OrderError::IllegalTransition {
                status: Status::New,
                ..
            })) => Err(not_found("order", &order_id)),
            other => other.map_err(|e| ShopError::from_repo(e, ShopError::Order)),
        }
    }

    /// An order as its aggregate is now (the read model may lag behind).
    ///
    /// # Errors
    /// [`ShopError::NotFound`].
    pub async fn order(&self, order_id: &str) -> Result<Order, ShopError> {
        let loaded = self.steps.orders.load(order_id).await;
        let order = loaded
            .map_err(|e| ShopError::from_repo(e, ShopError::Order))?
            .state;
        if order.status == Status::New {
            return Err(not_found("order", order_id));
        }
        Ok(order)
    }

    /// Cancels an order (Pending or Confirmed). With `customer_id`, only that customer's
    /// order. The order saga (mid-flight) or the cancellation policy (after confirmation)
    /// then gives back stock and money.
    ///
    /// # Errors
    /// [`ShopError::NotFound`] (also for another customer's order), [`ShopError::Order`].
    pub async fn cancel_order(
        &self,
        order_id: &str,
        customer_id: Option<&str>,
        reason: &str,
        correlation: Option<Uuid>,
    ) -> Result<(), ShopError> {
        let order = self.order(order_id).await?;
        if customer_id.is_some_and(|c| c != order.customer_id) {
            return Err(not_found("order", order_id));
        }
        let action = OrderAction::Cancel {
            reason: reason.to_owned(),
        };
        self.order_command(OrderCommand::new(order_id, action), correlation)
            .await
    }

    /// Ships a confirmed order (admin).
    ///
    /// # Errors
    /// [`ShopError::Order`] with an illegal transition unless it is confirmed.
    pub async fn ship_order(
        &self,
        order_id: &str,
        tracking_number: &str,
        correlation: Option<Uuid>,
    ) -> Result<(), ShopError> {
        let action = OrderAction::Ship {
            tracking_number: tracking_number.to_owned(),
        };
        self.placed_order_command(OrderCommand::new(order_id, action), correlation)
            .await
    }

    /// Marks a shipped order delivered (admin).
    ///
    /// # Errors
    /// [`ShopError::Order`] with an illegal transition unless it is shipped.
    pub async fn deliver_order(
        &self,
        order_id: &str,
        correlation: Option<Uuid>,
    ) -> Result<(), ShopError> {
        let command = OrderCommand::new(order_id, OrderAction::Deliver);
        self.placed_order_command(command, correlation).await
    }

    /// An order's payment.
    ///
    /// # Errors
    /// [`ShopError::NotFound`] if no charge was attempted.
    pub async fn payment(&self, order_id: &str) -> Result<Payment, ShopError> {
        let loaded = self.steps.payments.load(order_id).await;
        let payment = loaded
            .map_err(|e| ShopError::from_repo(e, ShopError::Payment))?
            .state;
        if payment.status == PaymentStatus::None {
            return Err(not_found("payment of order", order_id));
        }
        Ok(payment)
    }
}

async fn execute<A: eventcore::Aggregate>(
    repository: &Repository<A>,
    command: A::Command,
    correlation: Option<Uuid>,
) -> Result<(), eventcore::RepositoryError<A::Error>> {
    repository
        .execute_with(command, metadata(correlation))
        .await
        .map(drop)
}

/// The key's order if it holds the items asked for (as a set of product and quantity: the
/// order of the lines does not matter), else [`ShopError::IdempotencyKeyReused`].
fn same_items(
    order: &Order,
    asked: &[RequestedItem],
    key: &str,
    order_id: String,
) -> Result<Placed, ShopError> {
    let mut placed: Vec<(&str, u32)> = order
        .lines
        .iter()
        .map(|line| (line.product_id.as_str(), line.quantity))
        .collect();
    let mut asked: Vec<(&str, u32)> = asked
        .iter()
        .map(|item| (item.product_id.as_str(), item.quantity))
        .collect();
    placed.sort_unstable();
    asked.sort_unstable();
    if placed == asked {
        Ok(Placed { order_id })
    } else {
        Err(ShopError::IdempotencyKeyReused {
            key: key.to_owned(),
            order_id,
        })
    }
}

pub(super) fn not_found(what: &'static str, id: &str) -> ShopError {
    ShopError::NotFound {
        what,
        id: id.to_owned(),
    }
}
