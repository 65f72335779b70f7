//! Liveness (`/healthz`: the process answers, and the embedded database has
//! not been given up on) and readiness (`/readyz`: the database is up and
//! answers, carries every migration this binary expects, and the projection is
//! not stuck far behind the log).
//!
//! While the embedded database's supervisor restarts PostgreSQL the process is
//! alive but not ready: restarting the process would not help, waiting does.
//!
//! Events the projector could not project are reported in the body
//! (`projection.failures`, and a `warnings` line) but keep the server ready: the
//! projector has moved past them and the catalog serves and updates everything
//! else, so taking this server out of rotation would turn one bad entity back
//! into an outage of the whole catalog.

use super::server::AppState;
use almanac_store::embedded::DatabaseState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde_json::{json, Value};

pub async fn healthz(State(state): State<AppState>) -> (StatusCode, Json<Value>) {
    match state.database.state() {
        DatabaseState::Failed { reason } => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({
                "status": "failing",
                "reason": "embedded database could not be restarted",
                "detail": reason,
            })),
        ),
        DatabaseState::Up | DatabaseState::Restarting { .. } => {
            (StatusCode::OK, Json(json!({ "status": "ok" })))
        }
    }
}

/// Answered from the supervisor's state, without waiting on a dead database.
fn supervisor_unready(state: &DatabaseState) -> Option<(StatusCode, Json<Value>)> {
    let body = match state {
        DatabaseState::Up => return None,
        DatabaseState::Restarting {
            attempts,
            last_error,
        } => json!({
            "status": "not ready",
            "reason": "embedded database restarting",
            "attempts": attempts,
            "last_error": last_error,
        }),
        DatabaseState::Failed { reason } => json!({
            "status": "not ready",
            "reason": "embedded database could not be restarted",
            "detail": reason,
        }),
    };
    Some((StatusCode::SERVICE_UNAVAILABLE, Json(body)))
}

/// A projection further behind than this is not serving the catalog's present.
const MAX_READY_LAG_SECONDS: f64 = 120.0;

pub async fn readyz(State(state): State<AppState>) -> (StatusCode, Json<Value>) {
    if let Some(unready) = supervisor_unready(&state.database.state()) {
        return unready;
    }
    match state.database.readiness().await {
        Ok(readiness) if readiness.is_ready() => projection_readiness(&state).await,
        Ok(readiness) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({
                "status": "not ready",
                "reason": "migrations pending",
                "pending": readiness.pending,
            })),
        ),
        Err(err) => {
            tracing::warn!(error = %err, "readiness check failed");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(json!({ "status": "not ready", "reason": "database unavailable" })),
            )
        }
    }
}

async fn projection_readiness(state: &AppState) -> (StatusCode, Json<Value>) {
    match almanac_store::metrics::projection_health(&state.database.pool).await {
        Ok((lag, failures)) => {
            let projection = json!({
                "checkpoint": lag.checkpoint,
                "head": lag.head,
                "lag_events": lag.events,
                "lag_seconds": lag.seconds,
                "failures": failures,
            });
            if lag.seconds > MAX_READY_LAG_SECONDS {
                (
                    StatusCode::SERVICE_UNAVAILABLE,
                    Json(
                        json!({ "status": "not ready", "reason": "projection lagging", "projection": projection }),
                    ),
                )
            } else {
                let mut body = json!({ "status": "ready", "projection": projection });
                if failures > 0 {
                    body["warnings"] = json!([format!(
                        "{failures} events could not be projected; see processingErrors \
                         (source \"projector\") and almanac_projection_failures"
                    )]);
                }
                (StatusCode::OK, Json(body))
            }
        }
        Err(err) => {
            tracing::warn!(error = %err, "projection lag unavailable");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(json!({ "status": "not ready", "reason": "database unavailable" })),
            )
        }
    }
}
