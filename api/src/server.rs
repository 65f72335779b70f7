//! The server entry point: `serve(listener, state, shutdown)`, so tests bind
//! `127.0.0.1:0` and run the real server in-process.

use almanac_store::Database;
use axum::routing::get;
use axum::Router;
use std::future::Future;
use tokio::net::TcpListener;

/// What every request handler can reach.
#[derive(Clone, Debug)]
pub struct AppState {
    pub database: Database,
}

pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/healthz", get(super::health::healthz))
        .route("/readyz", get(super::health::readyz))
        .with_state(state)
}

/// Serves until `shutdown` resolves, then finishes the requests in flight.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(state))
        .with_graceful_shutdown(shutdown)
        .await
}
