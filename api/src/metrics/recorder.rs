//! The process's figures recorder: counters, gauges and histograms that store,
//! ingest and the API record through the `metrics` facade where the work happens,
//! kept here in Prometheus form and rendered by `/metrics` after the database's
//! gauges. Installed once per process (the first router installs it); a process
//! without it (the `ingest` command) records into nothing.
//!
//! Every metric name the server exports from the process is declared in [`NAMES`]
//! with its help text, and set to zero at install, so a dashboard or an alert
//! never waits for a first event to see a series. It bounds no label values
//! itself: each recorder of a labelled figure does (see `operations.rs`).

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use std::sync::OnceLock;

/// Seconds: from a fast in-memory read (0.5 ms) to a slow read-your-writes wait.
const SECONDS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];
/// Bytes: a small answer to the response limit's order.
const BYTES: &[f64] = &[
    256.0, 1024.0, 4096.0, 16384.0, 65536.0, 262144.0, 1048576.0, 4194304.0, 16777216.0,
];
/// Counts of things in one batch (events appended or projected at once).
const COUNTS: &[f64] = &[
    1.0, 2.0, 5.0, 10.0, 50.0, 100.0, 500.0, 1000.0, 5000.0, 20000.0,
];

pub const HTTP_REQUESTS: &str = "almanac_http_requests_total";
pub const HTTP_DURATION: &str = "almanac_http_request_duration_seconds";
pub const HTTP_RESPONSE_BYTES: &str = "almanac_http_response_bytes";
pub const GRAPHQL_OPERATIONS: &str = "almanac_graphql_operations_total";
pub const GRAPHQL_DURATION: &str = "almanac_graphql_operation_duration_seconds";
pub const REJECTED: &str = "almanac_requests_rejected_total";
pub const WEBSOCKETS: &str = "almanac_websocket_connections";
pub const SUBSCRIPTIONS: &str = "almanac_subscriptions_active";
pub const CLIENT_REQUESTS: &str = "almanac_client_requests_total";

/// (name, kind, help) of every figure recorded in the process, by any crate.
pub const NAMES: &[(&str, Kind, &str)] = &[
    (
        HTTP_REQUESTS,
        Kind::Counter,
        "HTTP requests answered, by route, method and status.",
    ),
    (
        HTTP_DURATION,
        Kind::Histogram,
        "Time to answer an HTTP request (to its headers; a WebSocket until its upgrade), by route and method.",
    ),
    (
        HTTP_RESPONSE_BYTES,
        Kind::Histogram,
        "Bytes of HTTP response bodies, by route.",
    ),
    (
        GRAPHQL_OPERATIONS,
        Kind::Counter,
        "GraphQL operations run, by operation name (the first names seen, then `other`; `unnamed`), type and outcome (`ok` or the first error's code).",
    ),
    (
        GRAPHQL_DURATION,
        Kind::Histogram,
        "Time to run a GraphQL query or mutation, by operation name and type.",
    ),
    (
        REJECTED,
        Kind::Counter,
        "Requests refused by a limit before or while they ran, by limit.",
    ),
    (
        CLIENT_REQUESTS,
        Kind::Counter,
        "HTTP requests by client (a token's subject, `anonymous`, `unknown_token`) and status class (scrapes and probes not counted).",
    ),
    (WEBSOCKETS, Kind::Gauge, "Open GraphQL WebSocket connections."),
    (SUBSCRIPTIONS, Kind::Gauge, "Live GraphQL subscriptions."),
    (
        almanac_store::metrics::APPEND_DURATION,
        Kind::Histogram,
        "Time of one append to the event log (lock, chain, insert, checkpoint), by outcome.",
    ),
    (
        almanac_store::metrics::APPEND_EVENTS,
        Kind::Histogram,
        "Events written by one append.",
    ),
    (
        almanac_store::metrics::PROJECTOR_BATCH_DURATION,
        Kind::Histogram,
        "Time of one projector batch (read, fold, write, checkpoint).",
    ),
    (
        almanac_store::metrics::PROJECTOR_BATCH_EVENTS,
        Kind::Histogram,
        "Events folded by one projector batch.",
    ),
    (
        almanac_store::metrics::STATEMENT_TIMEOUTS,
        Kind::Counter,
        "Statements PostgreSQL cancelled for running past statement_timeout.",
    ),
    (
        almanac_store::metrics::POOL_WAITING,
        Kind::Gauge,
        "Requests waiting for a connection of this server's pool, by pool (GraphQL and REST reads of the catalog).",
    ),
    (
        almanac_store::metrics::POOL_ACQUIRE,
        Kind::Histogram,
        "Time a catalog read waited for a pooled connection, by pool.",
    ),
    (
        almanac_ingest::metrics::LOCATION_READS,
        Kind::Counter,
        "Reads of registered locations, by outcome (ok, failed).",
    ),
];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Counter,
    Gauge,
    Histogram,
}

/// The limits [`REJECTED`] counts, each set to zero at install.
pub const LIMITS: &[&str] = &[
    "query_size",
    "depth",
    "complexity",
    "aliases",
    "response_size",
    "timeout",
    "subscriptions",
    "page_size",
    "rate",
];

/// Gauges set to zero per label value below, not as one unlabelled series.
const LABELLED_GAUGES: &[&str] = &[almanac_store::metrics::POOL_WAITING];
/// The pools' names in the `pool` label (as `almanac_db_pool_connections`).
const POOLS: &[&str] = &["read", "write"];

static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// The process's recorder, installed on first use; `None` when another recorder
/// was installed first (then `/metrics` shows only the database's gauges).
pub fn handle() -> Option<&'static PrometheusHandle> {
    HANDLE.get_or_init(install).as_ref()
}

fn install() -> Option<PrometheusHandle> {
    let builder = PrometheusBuilder::new()
        .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), SECONDS)
        .and_then(|b| b.set_buckets_for_metric(Matcher::Suffix("_bytes".into()), BYTES))
        .and_then(|b| b.set_buckets_for_metric(Matcher::Suffix("_events".into()), COUNTS));
    let recorder = match builder {
        Ok(builder) => builder.build_recorder(),
        Err(err) => {
            tracing::error!(error = %err, "cannot set up the metrics recorder");
            return None;
        }
    };
    let handle = recorder.handle();
    if let Err(err) = metrics::set_global_recorder(recorder) {
        tracing::warn!(error = %err, "another metrics recorder is installed; /metrics shows the database's figures only");
        return None;
    }
    for (name, kind, help) in NAMES {
        match kind {
            Kind::Counter => {
                metrics::describe_counter!(*name, *help);
            }
            Kind::Gauge => {
                metrics::describe_gauge!(*name, *help);
                if !LABELLED_GAUGES.contains(name) {
                    metrics::gauge!(*name).set(0.0);
                }
            }
            Kind::Histogram => metrics::describe_histogram!(*name, *help),
        }
    }
    for limit in LIMITS {
        metrics::counter!(REJECTED, "limit" => *limit).absolute(0);
    }
    for outcome in ["ok", "failed"] {
        metrics::counter!(almanac_ingest::metrics::LOCATION_READS, "outcome" => outcome)
            .absolute(0);
    }
    metrics::counter!(almanac_store::metrics::STATEMENT_TIMEOUTS).absolute(0);
    for pool in POOLS {
        metrics::gauge!(almanac_store::metrics::POOL_WAITING, "pool" => *pool).set(0.0);
    }
    Some(handle)
}

/// Increments a gauge while held, decrements it when dropped: an open
/// connection, a live subscription.
#[derive(Debug)]
pub struct Held(&'static str);

impl Held {
    pub fn new(name: &'static str) -> Held {
        metrics::gauge!(name).increment(1.0);
        Held(name)
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        metrics::gauge!(self.0).decrement(1.0);
    }
}
