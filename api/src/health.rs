//! Liveness (`/healthz`: the process answers) and readiness (`/readyz`: the
//! database answers and carries every migration this binary expects).

use super::server::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde_json::{json, Value};

pub async fn healthz() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

pub async fn readyz(State(state): State<AppState>) -> (StatusCode, Json<Value>) {
    match state.database.readiness().await {
        Ok(readiness) if readiness.is_ready() => {
            (StatusCode::OK, Json(json!({ "status": "ready" })))
        }
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
