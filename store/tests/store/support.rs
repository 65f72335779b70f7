//! Small builders shared by the store tests.

use almanac_domain::CatalogEvent;
use almanac_store::{AppendMeta, EventLog, NewEvent, StreamAppend};
use serde_json::{json, Value};

/// Appends one domain event to `stream` at `expected_version` as actor `test`; its position.
pub async fn append_event(
    log: &EventLog,
    stream: &str,
    expected_version: i64,
    event: &CatalogEvent,
) -> i64 {
    let new = NewEvent {
        event_type: event.event_type().into(),
        schema_version: event.schema_version(),
        payload: event.to_payload(),
    };
    append_one(log, stream, expected_version, new).await
}

/// Appends `event` as it is (past the domain's types) as actor `test`; its position.
pub async fn append_one(
    log: &EventLog,
    stream: &str,
    expected_version: i64,
    event: NewEvent,
) -> i64 {
    let outcome = log
        .append(
            &[StreamAppend {
                stream: stream.into(),
                expected_version,
                events: vec![event],
                source: None,
            }],
            &AppendMeta {
                actor: "test".into(),
                ..AppendMeta::default()
            },
        )
        .await
        .unwrap();
    outcome.positions[0]
}

pub fn event(event_type: &str, payload: Value) -> NewEvent {
    NewEvent {
        event_type: event_type.into(),
        schema_version: 1,
        payload,
    }
}

pub fn append(stream: &str, expected_version: i64, payloads: &[Value]) -> StreamAppend {
    StreamAppend {
        stream: stream.into(),
        expected_version,
        events: payloads
            .iter()
            .map(|p| event("EntityUpdated", p.clone()))
            .collect(),
        source: None,
    }
}

pub fn meta(actor: &str) -> AppendMeta {
    AppendMeta {
        actor: actor.into(),
        source: Some("file:/tmp/catalog-info.yaml".into()),
        ..AppendMeta::default()
    }
}

pub fn n(i: i64) -> Value {
    json!({ "n": i })
}

/// Every edge leaving `source` (both directions, one row per type and target: its first
/// declaration by declaring entity and field), ordered by type and target, as the catalog
/// holds it: no table holds relations (migration 0008), the in-memory model folded from
/// the whole log does.
pub async fn relation_edges(
    pool: &sqlx::PgPool,
    source: &str,
) -> Vec<almanac_store::catalog::RelationRecord> {
    let log = almanac_store::EventLog::new(pool.clone());
    let snapshot = almanac_store::follow::fold_whole_log(&log).await.unwrap();
    let mut edges: Vec<almanac_store::catalog::RelationRecord> = Vec::new();
    for row in snapshot.relation_rows(source) {
        let same = |e: &almanac_store::catalog::RelationRecord| {
            e.relation == row.relation && *e.target_ref == **row.target_ref
        };
        if edges.last().is_some_and(same) {
            continue;
        }
        edges.push(almanac_store::catalog::RelationRecord {
            source_ref: row.source_ref.to_string(),
            relation: row.relation,
            target_ref: row.target_ref.to_string(),
            declared_by: row.declared_by.to_string(),
            field: row.field.as_str().to_string(),
        });
    }
    edges
}
