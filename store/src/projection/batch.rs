//! Folding one batch of the log into projection tables, inside the caller's
//! transaction: load the touched entities, apply the events in order in memory,
//! then write each touched entity once: one bulk upsert for the entities the table
//! already holds, one `COPY` for the new ones.
//!
//! The batch runs under a savepoint. When the database refuses its data (an index row
//! or a tsvector too large, say, from a descriptor stored before today's limits), the
//! batch is rolled back to the savepoint and projected again one location event and one
//! entity at a time, each under its own savepoint: an entity whose state cannot be stored
//! keeps its last state that could be (tried from the newest), and the event is recorded
//! in `projection_failures` (see `failures`). Events that do not decode or fold are
//! recorded there too. So one bad event never stops the catalog, and the outcome does not
//! depend on where batches begin and end: a replay writes the same rows.

use super::failures::{self, is_data_error, Failure, Stage};
use super::rows::entity_uid;
use super::tables::Tables;
use super::ProjectionError;
use crate::entity_row::{EntityRow, LoggedEntity};
use crate::log::StoredEvent;
use almanac_domain::{evolve, CatalogEvent, EntityState, FoldError};
use serde_json::Value;
use sqlx::PgConnection;
use std::collections::BTreeMap;

/// Events read after `after`, at most `limit`; returns how many and the last position.
pub async fn project_batch(
    conn: &mut PgConnection,
    tables: &Tables,
    after: i64,
    up_to: Option<i64>,
    limit: i64,
) -> Result<Option<(usize, i64)>, ProjectionError> {
    let mut events = events_page(conn, after, up_to, limit).await?;
    let (Some(last), count) = (events.last().map(|e| e.position), events.len()) else {
        return Ok(None);
    };
    execute(conn, "SAVEPOINT projection_batch").await?;
    match project_in_bulk(conn, tables, after, &mut events).await {
        Ok(()) => execute(conn, "RELEASE SAVEPOINT projection_batch").await?,
        Err(ProjectionError::Database(err)) if is_data_error(&err) => {
            execute(conn, "ROLLBACK TO SAVEPOINT projection_batch").await?;
            tracing::warn!(after, last, error = %err, "the database refused a projection batch; projecting it one entity at a time");
            // The bulk path took the payloads; the same events again (up to `last`:
            // position order is commit order, so this page is exactly the first).
            let events = events_page(conn, after, Some(last), limit).await?;
            project_one_at_a_time(conn, tables, after, &events).await?;
            execute(conn, "RELEASE SAVEPOINT projection_batch").await?;
        }
        Err(err) => return Err(err),
    }
    Ok(Some((count, last)))
}

/// The next `limit` events after `after` (up to `up_to` when given), in
/// position order: the one page read of the projector and the replay's fold.
pub(super) async fn events_page(
    conn: &mut PgConnection,
    after: i64,
    up_to: Option<i64>,
    limit: i64,
) -> Result<Vec<StoredEvent>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {} FROM events WHERE position > $1 AND ($3::int8 IS NULL OR position <= $3) \
         ORDER BY position LIMIT $2",
        crate::log::EVENT_COLUMNS
    ))
    .bind(after)
    .bind(limit)
    .bind(up_to)
    .fetch_all(conn)
    .await
}

pub(super) async fn execute(conn: &mut PgConnection, sql: &str) -> Result<(), sqlx::Error> {
    sqlx::query(sql).execute(&mut *conn).await.map(|_| ())
}

/// An entity while its batch is folded: `None` once removed.
#[derive(Clone)]
pub(super) struct Working {
    pub(super) row: Option<LoggedEntity>,
    /// Whether the table holds a row for the entity when the batch begins: written with
    /// an upsert if so, with `COPY` if not (nobody else writes the table meanwhile: the
    /// batch holds the projector lock).
    pub(super) stored: bool,
}

impl Working {
    pub(super) const NEW: Working = Working {
        row: None,
        stored: false,
    };
}

pub(super) type Decoded<'a> = (&'a StoredEvent, CatalogEvent);

/// Decodes the batch; an event this build cannot decode is a failure, not a silent skip.
pub(super) fn decode(events: &[StoredEvent]) -> (Vec<Decoded<'_>>, Vec<Failure>) {
    decode_payloads(events, events.iter().map(|e| e.payload.clone()))
}

/// As [`decode`], the payloads moved out of the events instead of copied: for a page
/// decoded once (the replay's fold), whose events keep every other field.
pub(super) fn decode_taken(events: &mut [StoredEvent]) -> (Vec<Decoded<'_>>, Vec<Failure>) {
    let payloads: Vec<Value> = events
        .iter_mut()
        .map(|e| std::mem::take(&mut e.payload))
        .collect();
    decode_payloads(events, payloads.into_iter())
}

fn decode_payloads(
    events: &[StoredEvent],
    payloads: impl Iterator<Item = Value>,
) -> (Vec<Decoded<'_>>, Vec<Failure>) {
    let mut decoded = Vec::with_capacity(events.len());
    let mut failed = Vec::new();
    for (stored, payload) in events.iter().zip(payloads) {
        match CatalogEvent::decode(&stored.event_type, stored.schema_version, payload) {
            Ok(event) => decoded.push((stored, event)),
            Err(err) => failed.push(Failure::new(Stage::Decode, stored, &err.to_string())),
        }
    }
    (decoded, failed)
}

pub(super) fn is_location_event(event: &CatalogEvent) -> bool {
    matches!(
        event,
        CatalogEvent::LocationAdded { .. } | CatalogEvent::LocationRemoved { .. }
    )
}

/// Every stream the batch's decoded events touch.
fn streams_of(decoded: &[Decoded<'_>]) -> Vec<String> {
    let mut streams: Vec<String> = decoded.iter().map(|(s, _)| s.stream.clone()).collect();
    streams.sort();
    streams.dedup();
    streams
}

/// The whole batch in bulk statements. The payloads are moved out of `events` (decoded
/// once, never copied: a registration's descriptor goes from the page into its row).
async fn project_in_bulk(
    conn: &mut PgConnection,
    tables: &Tables,
    after: i64,
    events: &mut [StoredEvent],
) -> Result<(), ProjectionError> {
    let (decoded, mut failed) = decode_taken(events);
    let mut working = load(conn, tables, &stored_before(&decoded), after).await?;
    let streams = streams_of(&decoded);

    for (stored, event) in decoded {
        if is_location_event(&event) {
            project_location(conn, tables, stored, &event).await?;
        } else {
            let entry = working.entry(stored.stream.clone()).or_insert(Working::NEW);
            if let Err(err) = fold_owned(entry, stored, event) {
                failed.push(Failure::new(Stage::Fold, stored, &err.to_string()));
            }
        }
    }
    write(conn, tables, working).await?;
    failures::clear_write_failures(conn, tables, &streams).await?;
    failures::record(conn, tables, &failed).await?;
    Ok(())
}

/// The entity streams of the batch that may have a row (or a recorded failure) already:
/// all but those whose first event here is their first ever (version 1), which a cold
/// ingest's batches are made of; those start as [`Working::NEW`] without a look-up.
fn stored_before(decoded: &[Decoded<'_>]) -> Vec<String> {
    let mut first_seen = std::collections::HashSet::new();
    decoded
        .iter()
        .filter(|(_, e)| e.is_entity_event())
        .filter(|(s, _)| first_seen.insert(s.stream.as_str()) && s.version > 1)
        .map(|(s, _)| s.stream.clone())
        .collect()
}

/// The batch again, each location event and each entity under a savepoint of its own.
async fn project_one_at_a_time(
    conn: &mut PgConnection,
    tables: &Tables,
    after: i64,
    events: &[StoredEvent],
) -> Result<(), ProjectionError> {
    let (decoded, mut failed) = decode(events);
    let mut by_entity: BTreeMap<&str, Vec<&Decoded<'_>>> = BTreeMap::new();
    for item in &decoded {
        let (stored, event) = item;
        if !is_location_event(event) {
            by_entity
                .entry(stored.stream.as_str())
                .or_default()
                .push(item);
            continue;
        }
        execute(conn, "SAVEPOINT projection_item").await?;
        match project_location(conn, tables, stored, event).await {
            Ok(()) => {
                execute(conn, "RELEASE SAVEPOINT projection_item").await?;
                let stream = std::slice::from_ref(&stored.stream);
                failures::clear_write_failures(conn, tables, stream).await?;
            }
            Err(ProjectionError::Database(err)) if is_data_error(&err) => {
                execute(conn, "ROLLBACK TO SAVEPOINT projection_item").await?;
                let reason = failures::database_reason(&err);
                failed.push(Failure::new(Stage::Write, stored, &reason));
            }
            Err(err) => return Err(err),
        }
    }
    for (stream, items) in by_entity {
        let mut entry = load(conn, tables, &[stream.to_string()], after)
            .await?
            .remove(stream)
            .unwrap_or(Working::NEW);
        // The entity's state after each of its events, oldest first.
        let mut states = Vec::with_capacity(items.len());
        for (stored, event) in items.iter().copied() {
            if let Err(err) = fold_into(&mut entry, stored, event) {
                failed.push(Failure::new(Stage::Fold, stored, &err.to_string()));
            }
            states.push(entry.clone());
        }
        let mut newest_error = None;
        for state in states.into_iter().rev() {
            execute(conn, "SAVEPOINT projection_item").await?;
            let one = BTreeMap::from([(stream.to_string(), state)]);
            match write(conn, tables, one).await {
                Ok(()) => {
                    execute(conn, "RELEASE SAVEPOINT projection_item").await?;
                    break;
                }
                Err(ProjectionError::Database(err)) if is_data_error(&err) => {
                    execute(conn, "ROLLBACK TO SAVEPOINT projection_item").await?;
                    newest_error.get_or_insert_with(|| failures::database_reason(&err));
                }
                Err(err) => return Err(err),
            }
        }
        match (newest_error, items.last()) {
            (Some(reason), Some((stored, _))) => {
                failed.push(Failure::new(Stage::Write, stored, &reason));
            }
            _ => {
                let stream = [stream.to_string()];
                failures::clear_write_failures(conn, tables, &stream).await?;
            }
        }
    }
    failures::record(conn, tables, &failed).await?;
    Ok(())
}

/// A location event into the `locations` table (other events are not its business).
async fn project_location(
    conn: &mut PgConnection,
    tables: &Tables,
    stored: &StoredEvent,
    event: &CatalogEvent,
) -> Result<(), ProjectionError> {
    match event {
        CatalogEvent::LocationAdded {
            id,
            location_type,
            target,
        } => {
            sqlx::query(&format!(
                "INSERT INTO {} (id, type, target, added_by, added_at) VALUES ($1, $2, $3, $4, $5) \
                 ON CONFLICT (id) DO UPDATE SET type = EXCLUDED.type, target = EXCLUDED.target, \
                 added_by = EXCLUDED.added_by, added_at = EXCLUDED.added_at",
                tables.locations
            ))
            .bind(id)
            .bind(location_type)
            .bind(target)
            .bind(&stored.actor)
            .bind(stored.recorded_at)
            .execute(&mut *conn)
            .await?;
        }
        CatalogEvent::LocationRemoved { id } => {
            sqlx::query(&format!("DELETE FROM {} WHERE id = $1", tables.locations))
                .bind(id)
                .execute(&mut *conn)
                .await?;
        }
        _ => {}
    }
    Ok(())
}

/// [`fold_into`] taking the event: the registration of an entity not live moves its
/// descriptor into the row (what `evolve` gives, without the copy); any other event
/// folds as `fold_into` does.
pub(super) fn fold_owned(
    entry: &mut Working,
    stored: &StoredEvent,
    event: CatalogEvent,
) -> Result<(), FoldError> {
    match event {
        CatalogEvent::EntityRegistered { descriptor } if entry.row.is_none() => {
            set_row(entry, stored, descriptor);
            Ok(())
        }
        other => fold_into(entry, stored, &other),
    }
}

/// Applies one event to the entity. An event that does not fold leaves the state as it
/// was (the caller records why), as every run does, so replays agree.
pub(super) fn fold_into(
    entry: &mut Working,
    stored: &StoredEvent,
    event: &CatalogEvent,
) -> Result<(), FoldError> {
    let state = EntityState {
        version: stored.version - 1,
        descriptor: entry.row.as_ref().map(|row| row.descriptor.clone()),
    };
    match evolve(Some(state), event)? {
        EntityState {
            descriptor: Some(descriptor),
            ..
        } => set_row(entry, stored, descriptor),
        EntityState {
            descriptor: None, ..
        } => entry.row = None,
    }
    Ok(())
}

/// The entity's row after `stored`, holding `descriptor`.
fn set_row(entry: &mut Working, stored: &StoredEvent, descriptor: Value) {
    let (uid, created_at) = match &entry.row {
        Some(row) => (row.uid, row.created_at),
        None => (
            entity_uid(&stored.stream, stored.position),
            stored.recorded_at,
        ),
    };
    entry.row = Some(LoggedEntity {
        entity_ref: stored.stream.clone(),
        uid,
        descriptor,
        version: stored.version,
        last_position: stored.position,
        created_at,
        updated_at: stored.recorded_at,
    });
}

/// The entities' states before the batch: their projected rows, except for an entity
/// whose last event could not be stored: its row is behind its stream, so its state is
/// folded from the log up to `after` (its failures were recorded when first met).
async fn load(
    conn: &mut PgConnection,
    tables: &Tables,
    refs: &[String],
    after: i64,
) -> Result<BTreeMap<String, Working>, ProjectionError> {
    if refs.is_empty() {
        return Ok(BTreeMap::new());
    }
    let behind = failures::write_failed(conn, tables, refs).await?;
    let rows: Vec<LoggedEntity> = sqlx::query_as(&format!(
        "SELECT {} FROM {} WHERE ref = ANY($1)",
        LoggedEntity::COLUMNS.join(", "),
        tables.entities
    ))
    .bind(refs)
    .fetch_all(&mut *conn)
    .await?;
    let mut refolded = fold_from_log(conn, &behind, after).await?;
    let mut working = BTreeMap::new();
    for row in rows {
        let entity_ref = row.entity_ref.clone();
        let entry = if behind.contains(&entity_ref) {
            refolded.remove(&entity_ref).unwrap_or(Working::NEW)
        } else {
            Working {
                row: Some(row),
                stored: true,
            }
        };
        working.insert(
            entity_ref,
            Working {
                stored: true,
                ..entry
            },
        );
    }
    // Behind and never stored: folded from the log alone.
    working.extend(refolded);
    Ok(working)
}

async fn fold_from_log(
    conn: &mut PgConnection,
    streams: &[String],
    after: i64,
) -> Result<BTreeMap<String, Working>, sqlx::Error> {
    if streams.is_empty() {
        return Ok(BTreeMap::new());
    }
    let events: Vec<StoredEvent> = sqlx::query_as(&format!(
        "SELECT {} FROM events WHERE stream = ANY($1) AND position <= $2 ORDER BY position",
        crate::log::EVENT_COLUMNS
    ))
    .bind(streams)
    .bind(after)
    .fetch_all(&mut *conn)
    .await?;
    let (decoded, _) = decode(&events);
    let mut working: BTreeMap<String, Working> = BTreeMap::new();
    for (stored, event) in &decoded {
        let entry = working.entry(stored.stream.clone()).or_insert(Working::NEW);
        // Already recorded when the projector first met it.
        let _ = fold_into(entry, stored, event);
    }
    Ok(working)
}

async fn write(
    conn: &mut PgConnection,
    tables: &Tables,
    working: BTreeMap<String, Working>,
) -> Result<(), ProjectionError> {
    if working.is_empty() {
        return Ok(());
    }
    let removed: Vec<&String> = working
        .iter()
        .filter(|(_, w)| w.row.is_none())
        .map(|(r, _)| r)
        .collect();
    if !removed.is_empty() {
        sqlx::query(&format!(
            "DELETE FROM {} WHERE ref = ANY($1)",
            tables.entities
        ))
        .bind(&removed)
        .execute(&mut *conn)
        .await?;
    }
    let mut stored = Vec::new();
    let mut new = Vec::new();
    for entry in working.into_values() {
        match entry {
            Working {
                row: Some(row),
                stored: true,
            } => stored.push(EntityRow::derive(row)),
            Working {
                row: Some(row),
                stored: false,
            } => new.push(row),
            Working { row: None, .. } => {}
        }
    }
    upsert_entities(conn, tables, &stored).await?;
    copy_entities(conn, tables, new.into_iter()).await
}

/// CSV bytes sent per `COPY` message.
const COPY_CHUNK: usize = 1 << 20;

/// New rows into `tables.entities` with one `COPY`, each derived as it is sent. A row the
/// database refuses fails the whole statement (as the bulk upsert does).
pub(super) async fn copy_entities(
    conn: &mut PgConnection,
    tables: &Tables,
    rows: impl Iterator<Item = LoggedEntity>,
) -> Result<(), ProjectionError> {
    copy_rows(conn, tables, rows.map(EntityRow::derive)).await
}

/// Rows already derived into `tables.entities` with one `COPY`.
pub(super) async fn copy_rows(
    conn: &mut PgConnection,
    tables: &Tables,
    rows: impl Iterator<Item = EntityRow>,
) -> Result<(), ProjectionError> {
    let mut rows = rows.peekable();
    if rows.peek().is_none() {
        return Ok(());
    }
    let mut copy = conn
        .copy_in_raw(&EntityRow::copy_statement(tables.entities))
        .await?;
    let mut chunk = String::with_capacity(COPY_CHUNK + 64 * 1024);
    let mut sent = Ok(());
    for row in rows {
        row.write_csv(&mut chunk);
        if chunk.len() >= COPY_CHUNK {
            if let Err(err) = copy.send(chunk.as_bytes()).await {
                sent = Err(err);
                break;
            }
            chunk.clear();
        }
    }
    if sent.is_ok() && !chunk.is_empty() {
        sent = copy.send(chunk.as_bytes()).await.map(|_| ());
    }
    match sent {
        Ok(()) => {
            copy.finish().await?;
            Ok(())
        }
        Err(err) => {
            // The connection must leave the copy state before it is used again.
            let _ = copy.abort("the projector could not send its rows").await;
            Err(err.into())
        }
    }
}

async fn upsert_entities(
    conn: &mut PgConnection,
    tables: &Tables,
    live: &[EntityRow],
) -> Result<(), ProjectionError> {
    if live.is_empty() {
        return Ok(());
    }
    let sql = EntityRow::upsert_statement(tables.entities);
    EntityRow::bind_all(sqlx::query(&sql), live)
        .execute(&mut *conn)
        .await?;
    Ok(())
}
