//! The runtime's figures for `/metrics`, counted by the store when scraped
//! ([`eventcore::RuntimeStore::counts`]: grouped counts of its tables, exact at the moment of
//! the scrape).

use super::metrics::RuntimeFigures;
use crate::app::{Shop, ShopError, ShopStore};

/// Sagas per status, events per type, projection lag and dead letters, now.
///
/// # Errors
/// [`ShopError::Unavailable`] if the store cannot be queried.
pub(crate) async fn figures<St: ShopStore>(shop: &Shop<St>) -> Result<RuntimeFigures, ShopError> {
    let counts = shop.store().counts().await?;
    Ok(RuntimeFigures {
        sagas: counts.sagas_per_status().into_iter().collect(),
        dead_letters: counts.dead_letter_total(),
        events: counts.events.into_iter().collect(),
        projection_lag: shop
            .read_models()
            .iter()
            .map(|status| (status.name.clone(), status.lag()))
            .collect(),
        // Embedded mode dispatches in-process: nothing is relayed unless payments are a
        // service of their own.
        relay_lag: shop.relay_lag(),
        consumers: shop.replies().map(consumer_figures).collect(),
    })
}

/// A consumer's figures as `/metrics` reports them: name, lag in seconds, messages applied.
pub(crate) fn consumer_figures(consumer: &crate::messaging::Consumer) -> (String, f64, u64) {
    let figures = consumer.figures();
    (
        consumer.name().to_owned(),
        figures.lag_seconds(),
        figures.handled(),
    )
}
