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
