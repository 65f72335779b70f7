//! The whole log folded in memory for a replay, then loaded into the rebuild tables with
//! `COPY` (entities) and one bulk insert each (locations, failures).
//!
//! It folds with the projector's own steps (`batch::decode`, `batch::fold_into`, the same
//! failures), so its rows equal a batch-by-batch projection whenever the database accepts
//! every entity's final state. It does not handle a refusal: a load the database refuses
//! fails whole, and `replay` projects again batch by batch, which stores each entity's last
//! state that can be stored and records why (see `batch`).

use super::batch::{
    copy_entities, copy_rows, decode_taken, fold_owned, is_location_event, Working,
};
use super::failures::{self, Failure, Stage};
use super::fingerprint::{self, Fingerprint};
use super::tables::{Tables, LOCATION_COLUMNS};
use super::ProjectionError;
use crate::entity_row::{EntityRow, LoggedEntity};
use crate::log::StoredEvent;
use almanac_domain::CatalogEvent;
use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};
use tokio::task::JoinHandle;

/// Events read per statement while folding.
const PAGE: i64 = 10_000;

/// A row of `locations` while folding.
struct LocationRow {
    location_type: String,
    target: String,
    added_by: String,
    added_at: DateTime<Utc>,
}

/// Everything the log up to a position projects to.
#[derive(Default)]
pub(super) struct Folded {
    pub(super) events: u64,
    entities: HashMap<String, Working>,
    locations: BTreeMap<String, LocationRow>,
    failures: Vec<Failure>,
}

/// Folds every event up to `up_to` (inclusive) in position order; `progress` gets the
/// number of events folded after each page. A page is folded on a blocking thread while
/// the next one is read (the database sends it and its rows are decoded on this task
/// meanwhile), so reading and folding share both cores; pages are still folded one after
/// the other, in order.
pub(super) async fn fold_log(
    conn: &mut PgConnection,
    up_to: i64,
    mut progress: impl FnMut(u64),
) -> Result<Folded, ProjectionError> {
    let mut folded = Folded::default();
    let mut folding: Option<JoinHandle<Folded>> = None;
    let mut after = 0;
    let (mut reading, mut waiting) = (Duration::ZERO, Duration::ZERO);
    loop {
        let started = Instant::now();
        let page = super::batch::events_page(conn, after, Some(up_to), PAGE).await;
        let read = Instant::now();
        reading += read - started;
        if let Some(task) = folding.take() {
            folded = joined(task).await;
            progress(folded.events);
        }
        waiting += read.elapsed();
        let events = page?;
        let Some(last) = events.last().map(|e| e.position) else {
            break;
        };
        after = last;
        let mut state = std::mem::take(&mut folded);
        folding = Some(tokio::task::spawn_blocking(move || {
            state.add(events);
            state
        }));
    }
    tracing::debug!(
        reading = reading.as_secs_f64(),
        waiting = waiting.as_secs_f64(),
        "replay fold: seconds reading events, seconds waiting for their fold after"
    );
    Ok(folded)
}

/// The folded state back from its blocking thread; a panic there goes on here.
async fn joined(task: JoinHandle<Folded>) -> Folded {
    match task.await {
        Ok(folded) => folded,
        Err(err) => std::panic::resume_unwind(err.into_panic()),
    }
}

impl Folded {
    /// One page of events, in position order, as `batch::project_in_bulk` folds a batch.
    fn add(&mut self, mut events: Vec<StoredEvent>) {
        self.events += events.len() as u64;
        let (decoded, failed) = decode_taken(&mut events);
        self.failures.extend(failed);
        for (stored, event) in decoded {
            if is_location_event(&event) {
                self.locate(stored, &event);
                continue;
            }
            let entry = match self.entities.get_mut(&stored.stream) {
                Some(entry) => entry,
                None => self
                    .entities
                    .entry(stored.stream.clone())
                    .or_insert(Working::NEW),
            };
            if let Err(err) = fold_owned(entry, stored, event) {
                self.failures
                    .push(Failure::new(Stage::Fold, stored, &err.to_string()));
            }
        }
    }

    /// What `batch::project_location` writes, in memory.
    fn locate(&mut self, stored: &StoredEvent, event: &CatalogEvent) {
        match event {
            CatalogEvent::LocationAdded {
                id,
                location_type,
                target,
            } => {
                self.locations.insert(
                    id.clone(),
                    LocationRow {
                        location_type: location_type.clone(),
                        target: target.clone(),
                        added_by: stored.actor.clone(),
                        added_at: stored.recorded_at,
                    },
                );
            }
            CatalogEvent::LocationRemoved { id } => {
                self.locations.remove(id);
            }
            _ => {}
        }
    }

    /// Writes the folded state into `tables` (empty). A refusal of the database fails the
    /// whole load; the caller rolls it back.
    pub(super) async fn load(
        self,
        conn: &mut PgConnection,
        tables: &Tables,
    ) -> Result<(), ProjectionError> {
        let Folded {
            entities,
            locations,
            failures: failed,
            ..
        } = self;
        let rows = entities.into_values().filter_map(|w| w.row);
        copy_entities(conn, tables, rows).await?;
        insert_locations(conn, tables, locations).await?;
        failures::record(conn, tables, &failed).await?;
        Ok(())
    }

    /// For a swap: only the entities whose rows differ from `live` (the live rows'
    /// fingerprints by ref, [`fingerprint::of_table`]) into `tables` (empty), the locations
    /// and failures whole. A refusal of the database fails the whole load.
    pub(super) async fn load_differing(
        self,
        conn: &mut PgConnection,
        tables: &Tables,
        live: HashMap<String, Fingerprint>,
    ) -> Result<Differing, ProjectionError> {
        let Folded {
            entities,
            locations,
            failures: failed,
            ..
        } = self;
        let task = tokio::task::spawn_blocking(move || differing(entities, live));
        let (changed, differing) = match task.await {
            Ok(found) => found,
            Err(err) => std::panic::resume_unwind(err.into_panic()),
        };
        copy_rows(conn, tables, changed.into_iter()).await?;
        insert_locations(conn, tables, locations).await?;
        failures::record(conn, tables, &failed).await?;
        Ok(differing)
    }
}

/// What a swap learnt comparing the rebuild with the live rows.
pub(super) struct Differing {
    /// Rows the log projects to.
    pub(super) entities: i64,
    /// Live rows to delete: those that differ from the rebuild (loaded into the rebuild
    /// table, to be inserted again) and those the log does not hold.
    pub(super) stale: Vec<String>,
    /// Rebuilt rows loaded because the live table lacks them or holds them otherwise.
    pub(super) changed: usize,
}

/// The rebuilt rows that differ from `live`, and the live refs to delete. Rows are derived,
/// hashed and compared on two threads, each dropping the rows it found equal (the
/// derivation, the hash and those drops are most of a replay's own work).
fn differing(
    entities: HashMap<String, Working>,
    live: HashMap<String, Fingerprint>,
) -> (Vec<EntityRow>, Differing) {
    // Live rows the log does not hold (or holds removed), looked up before the rows go.
    let gone: Vec<String> = live
        .keys()
        .filter(|key| entities.get(*key).is_none_or(|w| w.row.is_none()))
        .cloned()
        .collect();
    let mut first: Vec<LoggedEntity> = entities.into_values().filter_map(|w| w.row).collect();
    let entities = i64::try_from(first.len()).unwrap_or(i64::MAX);
    let second = first.split_off(first.len() / 2);
    // (rows to load, live refs of those that differ)
    let compared = |logged: Vec<LoggedEntity>| -> (Vec<EntityRow>, Vec<String>) {
        let (mut scratch, mut text) = (String::new(), String::new());
        let (mut changed, mut stale) = (Vec::new(), Vec::new());
        for logged in logged {
            let row = EntityRow::derive(logged);
            let hash = fingerprint::of_row(&row, &mut scratch, &mut text);
            match live.get(&row.entity_ref) {
                Some(held) if *held == hash => {}
                Some(_) => {
                    stale.push(row.entity_ref.clone());
                    changed.push(row);
                }
                None => changed.push(row),
            }
        }
        (changed, stale)
    };
    let ((mut changed, mut stale), (more, more_stale)) = std::thread::scope(|scope| {
        let other = scope.spawn(|| compared(second));
        let first = compared(first);
        match other.join() {
            Ok(second) => (first, second),
            Err(panic) => std::panic::resume_unwind(panic),
        }
    });
    changed.extend(more);
    stale.extend(more_stale);
    stale.extend(gone);
    let count = changed.len();
    (
        changed,
        Differing {
            entities,
            stale,
            changed: count,
        },
    )
}

async fn insert_locations(
    conn: &mut PgConnection,
    tables: &Tables,
    locations: BTreeMap<String, LocationRow>,
) -> Result<(), ProjectionError> {
    if locations.is_empty() {
        return Ok(());
    }
    let mut ids = Vec::with_capacity(locations.len());
    let mut types = Vec::with_capacity(locations.len());
    let mut targets = Vec::with_capacity(locations.len());
    let mut added_by = Vec::with_capacity(locations.len());
    let mut added_at = Vec::with_capacity(locations.len());
    for (id, row) in locations {
        ids.push(id);
        types.push(row.location_type);
        targets.push(row.target);
        added_by.push(row.added_by);
        added_at.push(row.added_at);
    }
    sqlx::query(&format!(
        "INSERT INTO {} ({LOCATION_COLUMNS}) \
         SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::timestamptz[])",
        tables.locations
    ))
    .bind(&ids)
    .bind(&types)
    .bind(&targets)
    .bind(&added_by)
    .bind(&added_at)
    .execute(&mut *conn)
    .await?;
    Ok(())
}
