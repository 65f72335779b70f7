//! Liveness (`/healthz`: the process answers) and readiness (`/readyz`: the
//! database answers, carries every migration this binary expects, and the
//! projection is not stuck far behind the log).

use super::server::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde_json::{json, Value};

pub async fn healthz() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

/// A projection further behind than this is not serving the catalog's present.
const MAX_READY_LAG_SECONDS: f64 = 120.0;

pub async fn readyz(State(state): State<AppState>) -> (StatusCode, Json<Value>) {
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
    match almanac_store::projection::lag(&state.database.pool).await {
        Ok(lag) => {
            let projection = json!({
                "checkpoint": lag.checkpoint,
                "head": lag.head,
                "lag_events": lag.events,
                "lag_seconds": lag.seconds,
            });
            if lag.seconds > MAX_READY_LAG_SECONDS {
                (
                    StatusCode::SERVICE_UNAVAILABLE,
                    Json(
                        json!({ "status": "not ready", "reason": "projection lagging", "projection": projection }),
                    ),
                )
            } else {
                (
                    StatusCode::OK,
                    Json(json!({ "status": "ready", "projection": projection })),
                )
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
