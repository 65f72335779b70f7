//! Folding one batch of the log into projection tables, inside the caller's
//! transaction: load the touched entities, apply the events in order in memory,
//! then write each touched entity and its relations once (bulk statements).

use super::rows::{self, columns, entity_uid, EntityRow, RelationRow};
use super::tables::Tables;
use super::ProjectionError;
use crate::log::StoredEvent;
use almanac_domain::{apply, CatalogEvent, EntityState};
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
    apply_events(conn, tables, &events).await?;
    Ok(Some((events.len(), last)))
}

/// An entity while its batch is folded: `None` once removed.
struct Working {
    row: Option<EntityRow>,
}

async fn apply_events(
    conn: &mut PgConnection,
    tables: &Tables,
    events: &[StoredEvent],
) -> Result<(), ProjectionError> {
    let mut decoded = Vec::with_capacity(events.len());
    for stored in events {
        match CatalogEvent::decode(
            &stored.event_type,
            stored.schema_version,
            stored.payload.clone(),
        ) {
            Ok(event) => decoded.push((stored, event)),
            // Skipped the same way by every run, so replays still agree.
            Err(err) => {
                tracing::error!(position = stored.position, error = %err, "undecodable event skipped")
            }
        }
    }
    let refs: Vec<String> = decoded
        .iter()
        .filter(|(_, e)| e.is_entity_event())
        .map(|(s, _)| s.stream.clone())
        .collect();
    let mut working = load(conn, tables, &refs).await?;

    for (stored, event) in &decoded {
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
            entity_event => {
                let entry = working
                    .entry(stored.stream.clone())
                    .or_insert(Working { row: None });
                fold_into(entry, stored, entity_event);
            }
        }
    }
    write(conn, tables, working).await
}

fn fold_into(entry: &mut Working, stored: &StoredEvent, event: &CatalogEvent) {
    let state = EntityState {
        version: stored.version - 1,
        descriptor: entry.row.as_ref().map(|row| row.descriptor.clone()),
    };
    match apply(Some(state), event) {
        Ok(EntityState {
            descriptor: Some(descriptor),
            ..
        }) => {
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
        Ok(EntityState {
            descriptor: None, ..
        }) => entry.row = None,
        Err(err) => tracing::error!(
            position = stored.position,
            stream = %stored.stream,
            error = %err,
            "event does not fold onto the projected entity; skipped"
        ),
    }
}

type Loaded = (String, Uuid, Value, i64, i64, DateTime<Utc>, DateTime<Utc>);

async fn load(
    conn: &mut PgConnection,
    tables: &Tables,
    refs: &[String],
) -> Result<BTreeMap<String, Working>, ProjectionError> {
    if refs.is_empty() {
        return Ok(BTreeMap::new());
    }
    let rows: Vec<Loaded> = sqlx::query_as(&format!(
        "SELECT ref, uid, descriptor, version, last_position, created_at, updated_at \
         FROM {} WHERE ref = ANY($1)",
        tables.entities
    ))
    .bind(refs)
    .fetch_all(&mut *conn)
    .await?;
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
        .collect())
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
