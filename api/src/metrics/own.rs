//! The figures of this server and of the locations, read at scrape time: the
//! in-memory catalog's position, how far the log is past it and an estimate of
//! the bytes its entities hold, the database
//! pools, each location's freshness, and the process's resident memory.

use super::{escape, write_gauge};
use crate::server::AppState;
use almanac_store::{PgPool, StoreError};

pub(super) async fn render(state: &AppState, out: &mut String) -> Result<(), StoreError> {
    if let Some(followed) = &state.followed {
        let snapshot = followed.pin();
        let position = snapshot.position();
        let (events, seconds) =
            almanac_store::metrics::lag_after(&state.database.pool, position).await?;
        let one = |value: String| vec![(String::new(), value)];
        write_gauge(
            out,
            "almanac_readmodel_position",
            "The log position this server's in-memory catalog reflects.",
            &one(position.to_string()),
        );
        write_gauge(
            out,
            "almanac_readmodel_lag_events",
            "Events in the log not yet in this server's in-memory catalog.",
            &one(events.to_string()),
        );
        write_gauge(
            out,
            "almanac_readmodel_lag_seconds",
            "Age of the oldest event not yet in this server's in-memory catalog (0 when caught up).",
            &one(format!("{seconds:.3}")),
        );
        write_gauge(
            out,
            "almanac_readmodel_entities",
            "Entities in this server's in-memory catalog.",
            &one(snapshot.len().to_string()),
        );
        write_gauge(
            out,
            "almanac_readmodel_entity_bytes",
            "Estimated bytes this server's in-memory catalog's entities hold (structs, held descriptor text, names, tags, labels, relation rows; indexes not included).",
            &one(super::held::entity_bytes(&snapshot).to_string()),
        );
    }
    pools(state, out);
    locations(&state.database.pool, out).await;
    if let Some(bytes) = resident_bytes() {
        write_gauge(
            out,
            "almanac_process_resident_memory_bytes",
            "Resident memory of this server's process.",
            &[(String::new(), bytes.to_string())],
        );
    }
    Ok(())
}

fn pools(state: &AppState, out: &mut String) {
    let mut pools: Vec<(&str, &PgPool)> = vec![("write", &state.database.pool)];
    if let Some(reads) = &state.read_pool {
        pools.push(("read", reads));
    }
    let mut connections = Vec::new();
    let mut max = Vec::new();
    for (name, pool) in pools {
        let size = pool.size();
        let idle = u32::try_from(pool.num_idle()).unwrap_or(u32::MAX).min(size);
        connections.push((
            format!("{{pool=\"{name}\",state=\"idle\"}}"),
            idle.to_string(),
        ));
        connections.push((
            format!("{{pool=\"{name}\",state=\"in_use\"}}"),
            (size - idle).to_string(),
        ));
        max.push((
            format!("{{pool=\"{name}\"}}"),
            pool.options().get_max_connections().to_string(),
        ));
    }
    write_gauge(
        out,
        "almanac_db_pool_connections",
        "Open connections of this server's database pools, idle or in use.",
        &connections,
    );
    write_gauge(
        out,
        "almanac_db_pool_max_connections",
        "The most connections each pool may open (a pool at its maximum makes requests wait).",
        &max,
    );
}

/// Per registered location (by its origin, credentials never shown): when it
/// was last read and last read well, failures in a row, entities it holds. A
/// database that cannot answer leaves them out (the figures above said so).
async fn locations(pool: &PgPool, out: &mut String) {
    let figures = match almanac_ingest::metrics::location_freshness(pool).await {
        Ok(figures) => figures,
        Err(err) => {
            tracing::warn!(error = %err, "cannot read the locations' freshness");
            return;
        }
    };
    let seconds = |time: Option<chrono::DateTime<chrono::Utc>>| {
        time.map_or("0".to_string(), |t| {
            format!("{:.3}", t.timestamp_millis() as f64 / 1000.0)
        })
    };
    let mut attempted = Vec::new();
    let mut succeeded = Vec::new();
    let mut failures = Vec::new();
    let mut entities = Vec::new();
    for location in &figures {
        let label = format!("{{location=\"{}\"}}", escape(&location.origin));
        attempted.push((label.clone(), seconds(location.attempted_at)));
        succeeded.push((label.clone(), seconds(location.succeeded_at)));
        failures.push((label.clone(), location.failures_in_a_row.to_string()));
        entities.push((label, location.entities.to_string()));
    }
    write_gauge(
        out,
        "almanac_location_last_attempt_timestamp_seconds",
        "When each location was last read (Unix time; 0: never).",
        &attempted,
    );
    write_gauge(
        out,
        "almanac_location_last_success_timestamp_seconds",
        "When a read of each location last succeeded (Unix time; 0: never).",
        &succeeded,
    );
    write_gauge(
        out,
        "almanac_location_consecutive_failures",
        "Reads of each location that failed since its last success.",
        &failures,
    );
    write_gauge(
        out,
        "almanac_location_entities",
        "Live entities read through each location.",
        &entities,
    );
}

/// Resident bytes from `/proc/self/statm` (Linux; elsewhere none).
fn resident_bytes() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * 4096)
}
