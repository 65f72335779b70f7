//! The refresh loop of `almanac serve`: the configured locations
//! (`catalog.locations`) are registered at start (idempotent), then every
//! registered location is read again each interval
//! (`catalog.refresh_interval_seconds`), with jitter so that several servers do
//! not read in lockstep.
//!
//! It reads and decides nothing itself: `operations` registers and reads.

use crate::operations::{
    list_locations, location_source, read_location, register_location, scheduled_actor,
};
use crate::Ingestor;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::sync::watch;

/// A location from the configuration file (`catalog.locations`).
#[derive(Clone, Debug, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfiguredLocation {
    #[serde(rename = "type")]
    pub location_type: String,
    pub target: String,
    /// Backstage's per-location rules: kinds allowed for what is read from this target
    /// (besides `catalog.rules`). Applied through the ingestor's `KindRules`.
    #[serde(default)]
    pub rules: Vec<almanac_domain::Rule>,
}

/// Registering a configured location is recorded as `config`; the reads that
/// follow as `ingest:<origin>`.
const CONFIG_ACTOR: &str = "config";

/// Registers the configured locations, then re-reads every registered location each
/// interval, with `ingestor`'s limits and reading policy.
pub async fn run_refresh(
    ingestor: Ingestor,
    configured: Vec<ConfiguredLocation>,
    interval: Duration,
    mut shutdown: watch::Receiver<bool>,
) {
    for location in &configured {
        match register_location(
            ingestor.log(),
            &location.location_type,
            &location.target,
            CONFIG_ACTOR,
        )
        .await
        {
            Ok((id, source)) => read_and_log(&ingestor, &id, &source).await,
            Err(err) => {
                let target = crate::read::redact(&location.target);
                tracing::error!(location.target = %target, error = %err, "cannot register location")
            }
        }
    }
    loop {
        tokio::select! {
            _ = tokio::time::sleep(with_jitter(interval)) => {}
            _ = shutdown.changed() => return,
        }
        if *shutdown.borrow() {
            return;
        }
        refresh_all(&ingestor).await;
    }
}

async fn refresh_all(ingestor: &Ingestor) {
    let locations = match list_locations(ingestor.pool()).await {
        Ok(locations) => locations,
        Err(err) => {
            tracing::error!(error = %err, "cannot list locations to refresh");
            return;
        }
    };
    for location in locations {
        match location_source(&location.location_type, &location.target) {
            Ok(source) => read_and_log(ingestor, &location.id, &source).await,
            Err(err) => {
                tracing::error!(location.id = %location.id, error = %err, "location cannot be read")
            }
        }
    }
}

async fn read_and_log(ingestor: &Ingestor, id: &str, source: &crate::Source) {
    match read_location(ingestor, source, &scheduled_actor(source)).await {
        Ok(report) => tracing::info!(
            location.id = %id,
            location.origin = %source.origin(),
            registered = report.registered,
            updated = report.updated,
            removed = report.removed,
            unchanged = report.unchanged,
            errors = report.errors.len(),
            "location read"
        ),
        Err(err) => tracing::error!(location.id = %id, error = %err, "location read failed"),
    }
}

/// The interval plus up to a tenth of it, varying per call.
fn with_jitter(interval: Duration) -> Duration {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let tenth = interval.as_millis() as u64 / 10;
    let extra = if tenth == 0 {
        0
    } else {
        u64::from(nanos) % tenth
    };
    interval + Duration::from_millis(extra)
}
