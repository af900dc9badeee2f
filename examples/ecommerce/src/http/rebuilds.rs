//! Rebuilds of read models started through the API: each runs in the background, and the
//! outcome of the last one per read model is kept for `GET /api/v1/read-models/{name}`.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Mutex;

use axum::http::StatusCode;
use axum::response::Response;
use eventcore::projection::RebuildReport;

use crate::http::errors::ApiError;
use crate::http::ops_views::{RebuildAccepted, RebuildOutcomeView};

/// The outcome of the last rebuild started through the API, per read model.
#[derive(Debug, Default)]
pub struct Rebuilds(Mutex<BTreeMap<String, RebuildOutcomeView>>);

impl Rebuilds {
    /// The last rebuild of `name` started through the API.
    pub(crate) fn get(&self, name: &str) -> Option<RebuildOutcomeView> {
        self.0.lock().ok().and_then(|map| map.get(name).cloned())
    }

    /// Records `outcome`; `false` (nothing recorded) if one is running and `outcome` is a
    /// new start.
    fn set(&self, name: &str, outcome: RebuildOutcomeView) -> bool {
        let Ok(mut map) = self.0.lock() else {
            return false;
        };
        let running = map.get(name).is_some_and(|o| o.status == "running");
        if running && outcome.status == "running" {
            return false;
        }
        map.insert(name.to_owned(), outcome);
        true
    }

    /// Runs `rebuild` of the read model `name` in the background and records how it ends: the
    /// 202 naming where to watch it, or a 409 while a rebuild of `name` is running.
    ///
    /// # Errors
    /// The 409.
    pub(crate) fn start<E: std::fmt::Display>(
        self: &std::sync::Arc<Self>,
        name: String,
        rebuild: impl Future<Output = Result<RebuildReport, E>> + Send + 'static,
    ) -> Result<Response, ApiError> {
        if !self.set(&name, RebuildOutcomeView::running()) {
            return Err(ApiError::conflict(
                "rebuild_running",
                format!("a rebuild of {name} is running"),
            ));
        }
        let (rebuilds, task_name) = (self.clone(), name.clone());
        tokio::spawn(async move {
            let started = rebuilds
                .get(&task_name)
                .map(|o| o.started_at)
                .unwrap_or_default();
            let outcome = match rebuild.await {
                Ok(report) => RebuildOutcomeView {
                    status: "completed".into(),
                    started_at: started,
                    events: Some(report.events),
                    elapsed_ms: Some(u64::try_from(report.elapsed.as_millis()).unwrap_or(u64::MAX)),
                    error: None,
                },
                Err(error) => {
                    tracing::warn!(read_model = %task_name, %error, "rebuild failed");
                    RebuildOutcomeView {
                        status: "failed".into(),
                        started_at: started,
                        events: None,
                        elapsed_ms: None,
                        error: Some(error.to_string()),
                    }
                }
            };
            rebuilds.set(&task_name, outcome);
        });
        let location = format!("/api/v1/read-models/{name}");
        let body = RebuildAccepted {
            name,
            location: location.clone(),
        };
        Ok(crate::http::routes::located(
            StatusCode::ACCEPTED,
            location,
            body,
        ))
    }
}
