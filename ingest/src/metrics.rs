//! What ingest tells an operator about its locations: each read of a registered
//! location counted by outcome, and recorded as that location's freshness
//! (`store::location_reads`); and the figures of every registered location for
//! `/metrics`. A read fails when it cannot reach the target or a file it leads
//! to, or cannot be written; invalid documents in a file read are processing
//! errors, not a failed read.

use crate::operations::{list_locations, location_source};
use crate::{IngestError, PgPool};
use almanac_store::location_reads::{self, Freshness};

pub const LOCATION_READS: &str = "almanac_location_reads_total";

/// Records one read of the location `origin`: `failure` is why it failed.
pub(crate) async fn location_read(pool: &PgPool, origin: &str, failure: Option<&str>) {
    let outcome = if failure.is_some() { "failed" } else { "ok" };
    metrics::counter!(LOCATION_READS, "outcome" => outcome).increment(1);
    // Losing a freshness record must not fail the read it describes.
    if let Err(err) = location_reads::record(pool, origin, failure).await {
        tracing::warn!(location.origin = %origin, error = %err, "cannot record the location's freshness");
    }
}

/// The freshness of every registered location, oldest registration first.
pub async fn location_freshness(pool: &PgPool) -> Result<Vec<Freshness>, IngestError> {
    let origins: Vec<String> = list_locations(pool)
        .await?
        .iter()
        .filter_map(|l| location_source(&l.location_type, &l.target).ok())
        .map(|source| source.origin())
        .collect();
    Ok(location_reads::freshness(pool, &origins).await?)
}
