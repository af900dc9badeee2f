//! A read model a service keeps (the analytics, the product view): its running projections,
//! its status and the rebuilds started through the API, served at `/api/v1/read-models`.

use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::extract::{Path, State};
use axum::response::Response;
use axum::routing::{get, post};
use eventcore::projection::RunningProjections;
use eventcore_postgres::PgEventStore;
use tokio::sync::RwLock;

use super::app::Served;
use crate::app::ShopError;
use crate::http::auth::AdminCaller;
use crate::http::errors::ApiError;
use crate::http::ops_views::ReadModelView;
use crate::http::rebuilds::Rebuilds;
use crate::readmodels::pg;

/// The read model `name` of a service, kept by `projections` (which may also run the
/// service's relay).
#[derive(Debug)]
pub(crate) struct HostedModel {
    name: &'static str,
    /// Read-held by a rebuild, taken by the shutdown.
    projections: RwLock<Option<RunningProjections<PgEventStore>>>,
    rebuilds: Arc<Rebuilds>,
}

impl HostedModel {
    /// The read model `name`, kept by `projections`.
    pub(crate) fn new(name: &'static str, projections: RunningProjections<PgEventStore>) -> Self {
        Self {
            name,
            projections: RwLock::new(Some(projections)),
            rebuilds: Arc::default(),
        }
    }

    /// Its status, with the last rebuild started through the API; `None` once shut down.
    pub(crate) async fn view(&self) -> Option<ReadModelView> {
        let projections = self.projections.read().await;
        let status = projections.as_ref()?.status(self.name)?;
        Some(ReadModelView::new(&status, self.rebuilds.get(self.name)))
    }

    /// The lag of `projection` (the read model, or a relay beside it); 0 once shut down.
    pub(crate) async fn lag_of(&self, projection: &str) -> u64 {
        let projections = self.projections.read().await;
        let status = projections.as_ref().and_then(|p| p.status(projection));
        status.map_or(0, |status| status.lag())
    }

    /// Waits until the read model has applied the log up to `head`.
    ///
    /// # Errors
    /// [`ShopError::Unavailable`] once shut down, or if its projection stopped.
    pub(crate) async fn wait_until(&self, head: u64) -> Result<(), ShopError> {
        let projections = self.projections.read().await;
        let running = projections
            .as_ref()
            .ok_or_else(|| ShopError::unavailable(self.name, "shutting down"))?;
        running.wait_until(self.name, head).await?;
        Ok(())
    }

    /// Stops the projections (after a rebuild in progress); stopping again does nothing.
    ///
    /// # Errors
    /// Why they had failed.
    pub(crate) async fn shutdown(&self) -> Result<(), String> {
        match self.projections.write().await.take() {
            Some(running) => running.shutdown().await.map_err(|e| e.to_string()),
            None => Ok(()),
        }
    }

    /// Starts rebuilding it from the log in the background: 202, or 409 while a rebuild runs.
    fn rebuild(self: &Arc<Self>) -> Result<Response, ApiError> {
        let model = self.clone();
        let rebuild = async move {
            let projections = model.projections.read().await;
            let running = projections
                .as_ref()
                .ok_or_else(|| "the service is shutting down".to_owned())?;
            pg::rebuild(running, model.name)
                .await
                .map_err(|e| e.to_string())
        };
        self.rebuilds.start(self.name.to_owned(), rebuild)
    }
}

/// A service that keeps a [`HostedModel`].
pub(crate) trait HostsModel: Send + Sync + 'static {
    /// Its read model.
    fn model(&self) -> &Arc<HostedModel>;
}

/// `/api/v1/read-models` (its one read model), `/api/v1/read-models/{name}` and its
/// `/rebuild`, all for the admin.
pub(crate) fn routes<T: HostsModel>() -> Router<Served<T>> {
    Router::new()
        .route("/api/v1/read-models", get(list::<T>))
        .route("/api/v1/read-models/{name}", get(one::<T>))
        .route("/api/v1/read-models/{name}/rebuild", post(rebuild::<T>))
}

/// The model named `name`, or the 404.
fn named<'a, T: HostsModel>(
    served: &'a Served<T>,
    name: &str,
) -> Result<&'a Arc<HostedModel>, ApiError> {
    let model = served.service.model();
    if model.name == name {
        Ok(model)
    } else {
        Err(ApiError::not_found("read model", name))
    }
}

async fn list<T: HostsModel>(
    State(served): State<Served<T>>,
    _admin: AdminCaller,
) -> Json<Vec<ReadModelView>> {
    Json(served.service.model().view().await.into_iter().collect())
}

async fn one<T: HostsModel>(
    State(served): State<Served<T>>,
    _admin: AdminCaller,
    Path(name): Path<String>,
) -> Result<Json<ReadModelView>, ApiError> {
    let model = named(&served, &name)?;
    model
        .view()
        .await
        .map(Json)
        .ok_or_else(|| ApiError::not_found("read model", &name))
}

async fn rebuild<T: HostsModel>(
    State(served): State<Served<T>>,
    _admin: AdminCaller,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    named(&served, &name)?.rebuild()
}
