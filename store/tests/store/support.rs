//! Small builders shared by the store tests.

use almanac_store::{AppendMeta, NewEvent, StreamAppend};
use serde_json::{json, Value};

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

/// Every edge leaving `source` as `relation_edges` holds it (both directions, one row per
/// type and target), ordered by type and target: what the projector wrote.
pub async fn relation_edges(
    pool: &sqlx::PgPool,
    source: &str,
) -> Vec<almanac_store::catalog::RelationRecord> {
    sqlx::query_as(&format!(
        "SELECT {} FROM relation_edges WHERE source_ref = $1 ORDER BY type, target_ref",
        almanac_store::catalog::RelationRecord::COLUMNS
    ))
    .bind(source)
    .fetch_all(pool)
    .await
    .unwrap()
}
