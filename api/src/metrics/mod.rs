//! `/metrics` in Prometheus' text format. Read from the database at scrape
//! time, so every server of a shared database reports the same figures: the log
//! head, the projection's checkpoint and lag (events and seconds), the events it
//! could not project, the catalog's size by kind, each location's freshness.
//! Then this server's own: its in-memory catalog's position and lag, its
//! database pools, its descriptor cache (bytes held, budget, hits, misses), its
//! memory, and what it recorded as it worked (`recorder`: requests, operations,
//! appends, projector batches, ...). With `auth.metrics_token_required` a scrape needs
//! a bearer token with the `metrics` scope (401 without one, 403 without the
//! scope); the figures are harmless but they do describe the catalog.

use super::server::AppState;
use crate::auth::authorization_header;
use crate::http::auth_status;
use almanac_store::metrics::{gauges, Gauges};
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use std::fmt::Write;

mod held;
pub(crate) mod operations;
mod own;
pub(crate) mod recorder;

pub async fn metrics(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if let Err(error) =
        authorization_header(&headers).and_then(|header| state.auth.metrics_access(header))
    {
        let status = auth_status(&error);
        let mut response = (status, format!("{}\n", error.client_message())).into_response();
        if status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        return response;
    }
    let text = match render(&state).await {
        Ok(text) => text,
        Err(err) => {
            // The process's own figures still answer: a dead database must show
            // as `almanac_database_up 0`, not as a server that cannot be scraped.
            tracing::warn!(error = %err, "the database's figures are unavailable");
            let mut out = String::new();
            write_database_up(&mut out, false);
            if let Some(handle) = recorder::handle() {
                out.push_str(&handle.render());
            }
            out
        }
    };
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        text,
    )
        .into_response()
}

fn write_database_up(out: &mut String, up: bool) {
    write_gauge(
        out,
        "almanac_database_up",
        "1 when this scrape could read the database's figures, else 0.",
        &[(String::new(), if up { "1" } else { "0" }.to_string())],
    );
}

async fn render(state: &AppState) -> Result<String, almanac_store::StoreError> {
    let Gauges {
        lag,
        failures_by_stage: failed,
        entities_by_kind: kinds,
    } = gauges(&state.database.pool).await?;
    let mut out = String::new();
    write_database_up(&mut out, true);
    let mut gauge = |name: &str, help: &str, samples: &[(String, String)]| {
        write_gauge(&mut out, name, help, samples)
    };
    let one = |value: String| vec![(String::new(), value)];
    gauge(
        "almanac_build_info",
        "Almanac's version.",
        &[(
            format!("{{version=\"{}\"}}", env!("CARGO_PKG_VERSION")),
            "1".into(),
        )],
    );
    gauge(
        "almanac_log_head_position",
        "The newest position in the event log.",
        &one(lag.head.to_string()),
    );
    gauge(
        "almanac_projection_checkpoint",
        "The last log position folded into the catalog projections.",
        &one(lag.checkpoint.to_string()),
    );
    gauge(
        "almanac_projection_lag_events",
        "Events appended but not yet projected.",
        &one(lag.events.to_string()),
    );
    gauge(
        "almanac_projection_lag_seconds",
        "Age of the oldest event not yet projected (0 when caught up).",
        &one(format!("{:.3}", lag.seconds)),
    );
    // Every stage is listed, zero included, so an alert can compare against 0.
    let by_stage: Vec<(String, String)> = ["decode", "fold", "write"]
        .iter()
        .map(|stage| {
            let count = failed
                .iter()
                .find(|(s, _)| s == stage)
                .map_or(0, |(_, n)| *n);
            (format!("{{stage=\"{stage}\"}}"), count.to_string())
        })
        .collect();
    gauge(
        "almanac_projection_failures",
        "Events the projector could not project (recorded, skipped past), by stage.",
        &by_stage,
    );
    let by_kind: Vec<(String, String)> = kinds
        .iter()
        .map(|(kind, count)| (format!("{{kind=\"{}\"}}", escape(kind)), count.to_string()))
        .collect();
    gauge("almanac_entities", "Live entities by kind.", &by_kind);
    let cache = state.descriptors.stats();
    gauge(
        "almanac_descriptor_cache_bytes",
        "Bytes of full descriptors held for entities the in-memory catalog holds elided.",
        &one(cache.held_bytes.to_string()),
    );
    gauge(
        "almanac_descriptor_cache_budget_bytes",
        "The descriptor cache's budget (graphql.descriptor_cache_bytes).",
        &one(cache.budget_bytes.to_string()),
    );
    for (name, help, value) in [
        (
            "almanac_descriptor_cache_hits_total",
            "Full descriptors answered from the cache.",
            cache.hits,
        ),
        (
            "almanac_descriptor_cache_misses_total",
            "Full descriptors read from PostgreSQL.",
            cache.misses,
        ),
    ] {
        let _ = writeln!(
            out,
            "# HELP {name} {help}\n# TYPE {name} counter\n{name} {value}"
        );
    }
    own::render(state, &mut out).await?;
    if let Some(handle) = recorder::handle() {
        out.push_str(&handle.render());
    }
    Ok(out)
}

/// `# HELP` and `# TYPE` of a gauge, then its samples (labels written whole).
fn write_gauge(out: &mut String, name: &str, help: &str, samples: &[(String, String)]) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge");
    for (labels, value) in samples {
        let _ = writeln!(out, "{name}{labels} {value}");
    }
}

/// Label values escape backslash, quote and newline.
fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}
