//! Folding one batch of the log into projection tables, inside the caller's
//! transaction: load the touched entities, apply the events in order in memory,
//! then write each touched entity and its relations once (bulk statements).
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
use super::rows::{self, columns, entity_uid, EntityRow, RelationRow};
use super::tables::Tables;
use super::ProjectionError;
use crate::log::StoredEvent;
use almanac_domain::{evolve, CatalogEvent, EntityState, FoldError};
use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::PgConnection;
use std::collections::BTreeMap;
use uuid::Uuid;

/// Events read after `after`, at most `limit`; returns how many and the last position.
pub async fn project_batch(
    conn: &mut PgConnection,
    tables: &Tables,
    after: i64,
    up_to: Option<i64>,
    limit: i64,
) -> Result<Option<(usize, i64)>, ProjectionError> {
    let events: Vec<StoredEvent> = sqlx::query_as(&format!(
        "SELECT {} FROM events WHERE position > $1 AND ($3::int8 IS NULL OR position <= $3) \
         ORDER BY position LIMIT $2",
        crate::log::EVENT_COLUMNS
    ))
    .bind(after)
    .bind(limit)
    .bind(up_to)
    .fetch_all(&mut *conn)
    .await?;
    let Some(last) = events.last().map(|e| e.position) else {
        return Ok(None);
    };
    execute(conn, "SAVEPOINT projection_batch").await?;
    match apply_events(conn, tables, after, &events).await {
        Ok(()) => execute(conn, "RELEASE SAVEPOINT projection_batch").await?,
        Err(ProjectionError::Database(err)) if is_data_error(&err) => {
            execute(conn, "ROLLBACK TO SAVEPOINT projection_batch").await?;
            tracing::warn!(after, last, error = %err, "the database refused a projection batch; projecting it one entity at a time");
            apply_one_by_one(conn, tables, after, &events).await?;
            execute(conn, "RELEASE SAVEPOINT projection_batch").await?;
        }
        Err(err) => return Err(err),
    }
    Ok(Some((events.len(), last)))
}

async fn execute(conn: &mut PgConnection, sql: &str) -> Result<(), sqlx::Error> {
    sqlx::query(sql).execute(&mut *conn).await.map(|_| ())
}

/// An entity while its batch is folded: `None` once removed.
#[derive(Clone)]
struct Working {
    row: Option<EntityRow>,
}

type Decoded<'a> = (&'a StoredEvent, CatalogEvent);

/// Decodes the batch; an event this build cannot decode is a failure, not a silent skip.
fn decode(events: &[StoredEvent]) -> (Vec<Decoded<'_>>, Vec<Failure>) {
    let mut decoded = Vec::with_capacity(events.len());
    let mut failed = Vec::new();
    for stored in events {
        match CatalogEvent::decode(
            &stored.event_type,
            stored.schema_version,
            stored.payload.clone(),
        ) {
            Ok(event) => decoded.push((stored, event)),
            Err(err) => failed.push(Failure::new(Stage::Decode, stored, &err.to_string())),
        }
    }
    (decoded, failed)
}

fn is_location_event(event: &CatalogEvent) -> bool {
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

/// The whole batch in bulk statements.
async fn apply_events(
    conn: &mut PgConnection,
    tables: &Tables,
    after: i64,
    events: &[StoredEvent],
) -> Result<(), ProjectionError> {
    let (decoded, mut failed) = decode(events);
    let refs: Vec<String> = decoded
        .iter()
        .filter(|(_, e)| e.is_entity_event())
        .map(|(s, _)| s.stream.clone())
        .collect();
    let mut working = load(conn, tables, &refs, after).await?;

    for (stored, event) in &decoded {
        if is_location_event(event) {
            apply_location(conn, tables, stored, event).await?;
        } else {
            let entry = working
                .entry(stored.stream.clone())
                .or_insert(Working { row: None });
            if let Err(err) = fold_into(entry, stored, event) {
                failed.push(Failure::new(Stage::Fold, stored, &err.to_string()));
            }
        }
    }
    write(conn, tables, working).await?;
    failures::clear_write_failures(conn, tables, &streams_of(&decoded)).await?;
    failures::record(conn, tables, &failed).await?;
    Ok(())
}

/// The batch again, each location event and each entity under a savepoint of its own.
async fn apply_one_by_one(
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
        match apply_location(conn, tables, stored, event).await {
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
            .unwrap_or(Working { row: None });
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

async fn apply_location(
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

/// Applies one event to the entity. An event that does not fold leaves the state as it
/// was (the caller records why), as every run does, so replays agree.
fn fold_into(
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
        } => {
            let (uid, created_at) = match &entry.row {
                Some(row) => (row.uid, row.created_at),
                None => (
                    entity_uid(&stored.stream, stored.position),
                    stored.recorded_at,
                ),
            };
            entry.row = Some(EntityRow {
                entity_ref: stored.stream.clone(),
                uid,
                descriptor,
                version: stored.version,
                last_position: stored.position,
                created_at,
                updated_at: stored.recorded_at,
            });
        }
        EntityState {
            descriptor: None, ..
        } => entry.row = None,
    }
    Ok(())
}

type Loaded = (String, Uuid, Value, i64, i64, DateTime<Utc>, DateTime<Utc>);

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
    let rows: Vec<Loaded> = sqlx::query_as(&format!(
        "SELECT ref, uid, descriptor, version, last_position, created_at, updated_at \
         FROM {} WHERE ref = ANY($1)",
        tables.entities
    ))
    .bind(refs)
    .fetch_all(&mut *conn)
    .await?;
    let refolded = fold_from_log(conn, &behind, after).await?;
    Ok(rows
        .into_iter()
        .map(
            |(entity_ref, uid, descriptor, version, last_position, created_at, updated_at)| {
                let row = EntityRow {
                    entity_ref: entity_ref.clone(),
                    uid,
                    descriptor,
                    version,
                    last_position,
                    created_at,
                    updated_at,
                };
                (entity_ref, Working { row: Some(row) })
            },
        )
        .filter(|(entity_ref, _)| !behind.contains(entity_ref))
        .chain(refolded)
        .collect())
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
        let entry = working
            .entry(stored.stream.clone())
            .or_insert(Working { row: None });
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
    let touched: Vec<String> = working.keys().cloned().collect();
    sqlx::query(&format!(
        "DELETE FROM {} WHERE declared_by = ANY($1)",
        tables.relations
    ))
    .bind(&touched)
    .execute(&mut *conn)
    .await?;
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
    let live: Vec<EntityRow> = working.into_values().filter_map(|w| w.row).collect();
    upsert_entities(conn, tables, &live).await?;
    let relations: Vec<RelationRow> = live
        .iter()
        .flat_map(|row| rows::relation_rows(&row.entity_ref, &row.descriptor))
        .collect();
    insert_relations(conn, tables, &relations).await
}

async fn upsert_entities(
    conn: &mut PgConnection,
    tables: &Tables,
    live: &[EntityRow],
) -> Result<(), ProjectionError> {
    if live.is_empty() {
        return Ok(());
    }
    let mut a = EntityArrays::default();
    for row in live {
        let c = columns(&row.descriptor);
        a.entity_ref.push(row.entity_ref.clone());
        a.uid.push(row.uid);
        a.kind.push(c.kind);
        a.namespace.push(c.namespace);
        a.name.push(c.name);
        a.title.push(c.title);
        a.description.push(c.description);
        a.spec_type.push(c.spec_type);
        a.lifecycle.push(c.lifecycle);
        a.owner_ref.push(c.owner_ref);
        a.tags.push(c.tags);
        a.labels.push(c.labels);
        a.annotations.push(c.annotations);
        a.descriptor.push(row.descriptor.clone());
        a.source.push(c.source);
        a.origin.push(c.origin);
        a.version.push(row.version);
        a.last_position.push(row.last_position);
        a.created_at.push(row.created_at);
        a.updated_at.push(row.updated_at);
        a.search_text.push(c.search_text);
    }
    sqlx::query(&format!(
        "INSERT INTO {table} ({columns}) \
         SELECT r, u, k, ns, n, ti, d, st, lc, o, ARRAY(SELECT jsonb_array_elements_text(tg)), \
                lb, an, ds, src, org, v, lp, ca, ua, sx \
         FROM unnest($1::text[], $2::uuid[], $3::text[], $4::text[], $5::text[], $6::text[], \
                     $7::text[], $8::text[], $9::text[], $10::text[], $11::jsonb[], $12::jsonb[], \
                     $13::jsonb[], $14::jsonb[], $15::text[], $16::int8[], $17::int8[], \
                     $18::timestamptz[], $19::timestamptz[], $20::text[], $21::text[]) \
              AS x(r, u, k, ns, n, ti, d, st, lc, o, tg, lb, an, ds, src, v, lp, ca, ua, sx, org) \
         ON CONFLICT (ref) DO UPDATE SET uid = EXCLUDED.uid, kind = EXCLUDED.kind, \
           namespace = EXCLUDED.namespace, name = EXCLUDED.name, title = EXCLUDED.title, \
           description = EXCLUDED.description, spec_type = EXCLUDED.spec_type, \
           lifecycle = EXCLUDED.lifecycle, owner_ref = EXCLUDED.owner_ref, tags = EXCLUDED.tags, \
           labels = EXCLUDED.labels, annotations = EXCLUDED.annotations, \
           descriptor = EXCLUDED.descriptor, source = EXCLUDED.source, origin = EXCLUDED.origin, version = EXCLUDED.version, \
           last_position = EXCLUDED.last_position, created_at = EXCLUDED.created_at, \
           updated_at = EXCLUDED.updated_at, search_text = EXCLUDED.search_text",
        table = tables.entities,
        columns = super::tables::ENTITY_COLUMNS,
    ))
    .bind(&a.entity_ref)
    .bind(&a.uid)
    .bind(&a.kind)
    .bind(&a.namespace)
    .bind(&a.name)
    .bind(&a.title)
    .bind(&a.description)
    .bind(&a.spec_type)
    .bind(&a.lifecycle)
    .bind(&a.owner_ref)
    .bind(&a.tags)
    .bind(&a.labels)
    .bind(&a.annotations)
    .bind(&a.descriptor)
    .bind(&a.source)
    .bind(&a.version)
    .bind(&a.last_position)
    .bind(&a.created_at)
    .bind(&a.updated_at)
    .bind(&a.search_text)
    .bind(&a.origin)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

#[derive(Default)]
struct EntityArrays {
    entity_ref: Vec<String>,
    uid: Vec<Uuid>,
    kind: Vec<String>,
    namespace: Vec<String>,
    name: Vec<String>,
    title: Vec<Option<String>>,
    description: Vec<Option<String>>,
    spec_type: Vec<Option<String>>,
    lifecycle: Vec<Option<String>>,
    owner_ref: Vec<Option<String>>,
    tags: Vec<Value>,
    labels: Vec<Value>,
    annotations: Vec<Value>,
    descriptor: Vec<Value>,
    source: Vec<Option<String>>,
    origin: Vec<Option<String>>,
    version: Vec<i64>,
    last_position: Vec<i64>,
    created_at: Vec<DateTime<Utc>>,
    updated_at: Vec<DateTime<Utc>>,
    search_text: Vec<String>,
}

async fn insert_relations(
    conn: &mut PgConnection,
    tables: &Tables,
    relations: &[RelationRow],
) -> Result<(), ProjectionError> {
    if relations.is_empty() {
        return Ok(());
    }
    let mut cols: [Vec<&str>; 5] = Default::default();
    for r in relations {
        cols[0].push(&r.source_ref);
        cols[1].push(&r.relation);
        cols[2].push(&r.target_ref);
        cols[3].push(&r.declared_by);
        cols[4].push(&r.field);
    }
    sqlx::query(&format!(
        "INSERT INTO {} (source_ref, type, target_ref, declared_by, field) \
         SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[]) \
         ON CONFLICT DO NOTHING",
        tables.relations
    ))
    .bind(&cols[0])
    .bind(&cols[1])
    .bind(&cols[2])
    .bind(&cols[3])
    .bind(&cols[4])
    .execute(&mut *conn)
    .await?;
    Ok(())
}
