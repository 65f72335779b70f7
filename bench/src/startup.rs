//! Start-up: `almanac serve` started again on the already ingested catalog
//! (the first server stopped), timed from spawn to listening, to `/readyz`
//! answering 200 and to the first answered GraphQL query; then the new
//! server's resident memory, which is what it holds before any load: mostly
//! the in-memory read model of the catalog.
//!
//! It does not sample memory over time (`memory.rs` does that for the main
//! server) and puts no load on the restarted server. With the embedded
//! database the time includes starting PostgreSQL, as a user restarting
//! `almanac serve --data-dir` sees it; with `DATABASE_URL` it does not.

use crate::almanac::Almanac;
use crate::memory::status_mib;
use crate::scenarios;
use serde::Serialize;
use serde_json::Value;
use std::time::{Duration, Instant};

/// How long the restarted server may take to answer before we give up.
const PATIENCE: Duration = Duration::from_secs(300);

#[derive(Clone, Debug, Default, Serialize)]
pub struct Startup {
    /// Spawn until the server logged its listening address.
    pub listening_seconds: Option<f64>,
    /// Spawn until `/readyz` first answered 200.
    pub ready_seconds: Option<f64>,
    /// Spawn until a first `entity(ref:)` query was answered without errors.
    pub first_query_seconds: Option<f64>,
    /// `VmRSS` of the server right after that first query: the read model's
    /// cost plus the process's baseline.
    pub rss_after_start_mib: Option<f64>,
    /// True when the times include starting the embedded PostgreSQL.
    pub includes_embedded_postgres: bool,
    /// Why the measurement stopped short.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Starts `serve` (log `serve-restart.log`), times it, reads its memory and
/// stops it again. Failures are recorded in `error`, not returned.
pub async fn measure(almanac: &Almanac, query: &str, variables: Value) -> Startup {
    let mut startup = Startup {
        includes_embedded_postgres: matches!(almanac.target, crate::almanac::Target::DataDir(_)),
        ..Startup::default()
    };
    let start = Instant::now();
    let server = match almanac.serve("serve-restart") {
        Ok(server) => server,
        Err(err) => {
            startup.error = Some(format!("{err:#}"));
            return startup;
        }
    };
    startup.listening_seconds = Some(start.elapsed().as_secs_f64());
    let client = reqwest::Client::new();
    let readyz = server.url("/readyz");
    let graphql = server.url("/graphql");
    let mut last_error = String::new();
    while start.elapsed() < PATIENCE {
        if startup.ready_seconds.is_none() {
            match client.get(&readyz).send().await {
                Ok(response) if response.status().is_success() => {
                    startup.ready_seconds = Some(start.elapsed().as_secs_f64());
                }
                Ok(response) => last_error = format!("/readyz answered {}", response.status()),
                Err(err) => last_error = format!("/readyz: {err}"),
            }
        }
        if startup.first_query_seconds.is_none() {
            match scenarios::post(&client, &graphql, query, variables.clone()).await {
                Ok(()) => startup.first_query_seconds = Some(start.elapsed().as_secs_f64()),
                Err(err) => last_error = err,
            }
        }
        if startup.ready_seconds.is_some() && startup.first_query_seconds.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    if startup.first_query_seconds.is_some() {
        startup.rss_after_start_mib = status_mib(server.pid(), "VmRSS:");
    }
    if startup.ready_seconds.is_none() || startup.first_query_seconds.is_none() {
        startup.error = Some(format!(
            "not ready and answering within {} s: {last_error}",
            PATIENCE.as_secs()
        ));
    }
    if let Err(err) = server.terminate() {
        startup.error.get_or_insert(format!("{err:#}"));
    }
    startup
}
