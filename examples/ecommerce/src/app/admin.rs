//! Operator queries: sagas (list, get, retry), read models (status, lag, rebuild), dead
//! letters, and waiting until everything has caught up.

use std::time::Duration;

use eventcore::projection::{ProjectionStatus, RebuildReport};
use eventcore::saga::{SagaStatus, SagaView};

use super::{Shop, ShopError, ShopStore};
use crate::readmodels::{self, analytics, orders, products};
use crate::saga::OrderSaga;

impl<St: ShopStore> Shop<St> {
    /// Order sagas with `status`, least recently updated first.
    ///
    /// # Errors
    /// [`ShopError::Unavailable`].
    pub async fn sagas(
        &self,
        status: SagaStatus,
        limit: usize,
    ) -> Result<Vec<SagaView<OrderSaga>>, ShopError> {
        Ok(self.order_sagas.manager().list(status, limit).await?)
    }

    /// One order's saga: status, state, steps with timestamps, pending deadlines.
    ///
    /// # Errors
    /// [`ShopError::NotFound`], [`ShopError::Unavailable`].
    pub async fn saga(&self, order_id: &str) -> Result<SagaView<OrderSaga>, ShopError> {
        self.order_sagas
            .manager()
            .get(order_id)
            .await?
            .ok_or_else(|| ShopError::NotFound {
                what: "saga",
                id: order_id.to_owned(),
            })
    }

    /// Sends a parked order saga back to work; `false` if it was not parked.
    ///
    /// # Errors
    /// [`ShopError::Unavailable`].
    pub async fn retry_saga(&self, order_id: &str) -> Result<bool, ShopError> {
        Ok(self.order_sagas.manager().retry(order_id).await?)
    }

    /// Waits until the order's saga is settled (completed, compensated or parked).
    ///
    /// # Errors
    /// [`ShopError::Unavailable`] if it does not settle within `timeout`.
    pub async fn wait_for_order(
        &self,
        order_id: &str,
        timeout: Duration,
    ) -> Result<SagaView<OrderSaga>, ShopError> {
        let settled = self.order_sagas.wait_until_settled(order_id);
        match tokio::time::timeout(timeout, settled).await {
            Ok(view) => Ok(view?),
            Err(elapsed) => Err(ShopError::unavailable(
                "waiting for the order saga",
                elapsed,
            )),
        }
    }

    /// Waits up to `timeout` until the order's saga is settled and the order view has caught
    /// up with what this process appended meanwhile (a long poll's wait); whether it got there
    /// in time. An order without a saga (a mistyped id) simply waits out `timeout`.
    ///
    /// # Errors
    /// [`ShopError::Unavailable`].
    pub async fn wait_for_settled_view(
        &self,
        order_id: &str,
        timeout: Duration,
    ) -> Result<bool, ShopError> {
        let until = tokio::time::Instant::now() + timeout;
        let settled = self.order_sagas.wait_until_settled_status(order_id);
        match tokio::time::timeout_at(until, settled).await {
            Ok(status) => drop(status?),
            Err(_) => return Ok(false),
        }
        // What this process appended so far (the order's last event, for an order its saga
        // runs here): no query.
        let head = *self.store.head_watch().borrow();
        let caught_up = self.projections.wait_until(readmodels::ORDER_VIEW, head);
        match tokio::time::timeout_at(until, caught_up).await {
            Ok(caught_up) => caught_up.map(|_| true).map_err(ShopError::from),
            Err(_) => Ok(false),
        }
    }

    /// Status and lag of every read model kept here.
    pub fn read_models(&self) -> Vec<ProjectionStatus> {
        let mut statuses = self.projections.statuses();
        statuses.retain(|status| readmodels::ALL.contains(&status.name.as_str()));
        statuses
    }

    /// Events not yet published to the services elsewhere, over every relay (0 when every
    /// context runs in this process).
    pub fn relay_lag(&self) -> u64 {
        let relays = super::RELAYS
            .iter()
            .filter_map(|r| self.projections.status(r));
        relays.map(|status| status.lag()).sum()
    }

    /// Rebuilds the read model `name` while the shop runs; progress meanwhile in
    /// [`read_models`](Self::read_models) (`rebuild`).
    ///
    /// # Errors
    /// [`ShopError::NotFound`] for an unknown name, [`ShopError::Unavailable`].
    pub async fn rebuild_read_model(&self, name: &str) -> Result<RebuildReport, ShopError> {
        St::rebuild_read_model(&self.projections, name)
            .await
            .map_err(|error| match error {
                readmodels::ReadModelError::Unknown(id) => ShopError::NotFound {
                    what: "read model",
                    id,
                },
                other => ShopError::unavailable("rebuilding a read model", other),
            })
    }

    /// Waits until every read model kept here and every saga/policy intake has applied the log up to
    /// its current head (steps they planned may still be running: see
    /// [`settle`](Self::settle)).
    ///
    /// # Errors
    /// [`ShopError::Unavailable`].
    pub async fn catch_up(&self) -> Result<(), ShopError> {
        let head = self.store.head_position().await?;
        for model in self.read_models() {
            self.projections.wait_until(&model.name, head).await?;
        }
        let mut intakes = vec![self.order_sagas.events(), self.undoer.events()];
        intakes.extend(self.expiry.as_ref().map(|e| e.events()));
        intakes.extend(self.notifier.as_ref().map(|n| n.events()));
        for intake in intakes {
            for status in intake.statuses() {
                intake.wait_until(&status.name, head).await?;
            }
        }
        Ok(())
    }

    /// Waits (up to `timeout`) until the log is quiet: every intake caught up, no saga or
    /// policy unfinished, and nothing appended meanwhile. Returns whether it got there.
    ///
    /// # Errors
    /// [`ShopError::Unavailable`].
    pub async fn settle(&self, timeout: Duration) -> Result<bool, ShopError> {
        let until = std::time::Instant::now() + timeout;
        loop {
            let head = self.store.head_position().await?;
            self.catch_up().await?;
            let quiet = self.unfinished_sagas().await?.is_empty()
                && self.store.head_position().await? == head;
            if quiet {
                return Ok(true);
            }
            if std::time::Instant::now() >= until {
                return Ok(false);
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Hands `event` to the notification and undo-sale policies again, as a broker that
    /// redelivers would (operators and tests): a duplicate has no second effect.
    ///
    /// # Errors
    /// [`ShopError::Unavailable`].
    pub async fn redeliver_to_policies(
        &self,
        event: &eventcore::RecordedEvent,
    ) -> Result<(), ShopError> {
        if let Some(notifier) = &self.notifier {
            notifier.manager().deliver(event).await?;
        }
        self.undoer.manager().deliver(event).await?;
        Ok(())
    }

    /// Dead letters of every projection and saga consumer.
    ///
    /// # Errors
    /// [`ShopError::Unavailable`].
    pub async fn dead_letters(&self) -> Result<Vec<eventcore::DeadLetter>, ShopError> {
        let mut consumers: Vec<String> = self.read_models().into_iter().map(|m| m.name).collect();
        consumers.push(self.order_sagas.manager().consumer());
        consumers.extend(self.expiry.as_ref().map(|e| e.manager().consumer()));
        consumers.extend(self.notifier.as_ref().map(|n| n.manager().consumer()));
        consumers.push(self.undoer.manager().consumer());
        let mut letters = Vec::new();
        for consumer in consumers {
            letters.extend(self.store.dead_letters(&consumer, 1_000).await?);
        }
        Ok(letters)
    }

    /// Counts of sagas of every type that are not terminal (active, dispatching,
    /// compensating, parked): `(saga type, status, count)`, only non-zero ones.
    ///
    /// # Errors
    /// [`ShopError::Unavailable`].
    pub async fn unfinished_sagas(&self) -> Result<Vec<(String, String, usize)>, ShopError> {
        let types = [
            <OrderSaga as eventcore::saga::Saga>::TYPE,
            <crate::inventory::ReservationExpiry as eventcore::saga::Saga>::TYPE,
            <crate::notification::NotificationPolicy as eventcore::saga::Policy>::NAME,
            <super::CancellationPolicy as eventcore::saga::Policy>::NAME,
        ];
        let statuses = [
            SagaStatus::Active,
            SagaStatus::Dispatching,
            SagaStatus::Compensating,
            SagaStatus::Parked,
        ];
        let mut found = Vec::new();
        for saga_type in types {
            for status in statuses {
                let n = self
                    .store
                    .sagas_with_status(saga_type, status.as_str(), 100_000)
                    .await?
                    .len();
                if n > 0 {
                    found.push((saga_type.to_owned(), status.to_string(), n));
                }
            }
        }
        Ok(found)
    }

    /// One order from the order view.
    ///
    /// # Errors
    /// [`ShopError::NotFound`], [`ShopError::Unavailable`].
    pub async fn order_view(&self, order_id: &str) -> Result<orders::OrderRow, ShopError> {
        self.store
            .order_row(order_id)
            .await?
            .ok_or_else(|| ShopError::NotFound {
                what: "order",
                id: order_id.to_owned(),
            })
    }

    /// Orders from the order view, filtered and paged, newest first.
    ///
    /// # Errors
    /// [`ShopError::Unavailable`].
    pub async fn orders(
        &self,
        filter: &orders::OrderFilter,
    ) -> Result<Vec<orders::OrderRow>, ShopError> {
        Ok(self.store.order_rows(filter).await?)
    }

    /// Products from the product view, by id.
    ///
    /// # Errors
    /// [`ShopError::Unavailable`].
    pub async fn products(
        &self,
        limit: u32,
        offset: u32,
    ) -> Result<Vec<products::ProductRow>, ShopError> {
        Ok(self.store.product_rows(limit, offset).await?)
    }

    /// One product from the product view.
    ///
    /// # Errors
    /// [`ShopError::NotFound`], [`ShopError::Unavailable`].
    pub async fn product(&self, product_id: &str) -> Result<products::ProductRow, ShopError> {
        self.store
            .product_row(product_id)
            .await?
            .ok_or_else(|| ShopError::NotFound {
                what: "product",
                id: product_id.to_owned(),
            })
    }

    /// The analytics report with the `top` best-selling products.
    ///
    /// # Errors
    /// [`ShopError::Unavailable`].
    pub async fn analytics(&self, top: u32) -> Result<analytics::AnalyticsReport, ShopError> {
        Ok(self.store.analytics_report(top).await?)
    }

    /// An order's events and its state as of `version` (the latest without one).
    ///
    /// # Errors
    /// [`ShopError::NotFound`] for an unknown order, [`ShopError::Unavailable`].
    pub async fn order_history(
        &self,
        order_id: &str,
        version: Option<u64>,
    ) -> Result<(Vec<readmodels::history::HistoryEntry>, crate::order::Order), ShopError> {
        let events = readmodels::history::events(&self.store, order_id)
            .await
            .map_err(|e| ShopError::unavailable("reading the order's history", e))?;
        if events.is_empty() {
            return Err(ShopError::NotFound {
                what: "order",
                id: order_id.to_owned(),
            });
        }
        let state = readmodels::history::state_at(&events, version.unwrap_or(u64::MAX));
        Ok((events, state))
    }
}
