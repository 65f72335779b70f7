//! The per-stream hash chain: each event's hash covers the previous event's hash
//! in the same stream and this event's canonical bytes, so changing or removing
//! any stored event breaks every later link of its stream.
//!
//! The canonical bytes are written straight into the hasher, field by field in
//! sorted key order, byte for byte what `serde_json` prints for the object of
//! the fields (the form every stored hash was made with; a test keeps the two
//! equal). No JSON value is built: on a bulk append this was a deep copy of
//! every payload.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::io::Write;
use uuid::Uuid;

/// The fields an event's hash covers, borrowed from wherever they live.
pub struct HashInput<'a> {
    pub stream: &'a str,
    pub version: i64,
    pub event_type: &'a str,
    pub schema_version: i32,
    pub payload: &'a Value,
    pub actor: &'a str,
    pub source: Option<&'a str>,
    pub correlation_id: Option<Uuid>,
    pub causation_id: Option<Uuid>,
    pub recorded_at: DateTime<Utc>,
}

/// sha-256 over `previous || canonical JSON of the event`. The canonical JSON has
/// sorted keys and the time in RFC 3339 microseconds, the precision PostgreSQL
/// keeps, so the hash recomputes from the stored row.
pub fn event_hash(previous: Option<&[u8]>, event: &HashInput<'_>) -> [u8; 32] {
    let payload = serde_json::to_vec(event.payload).unwrap_or_default();
    event_hash_with_payload(previous, event, &payload)
}

/// [`event_hash`], given the payload's compact JSON text (`serde_json`'s, as
/// the append writes it to the database); `event.payload` is not read.
pub(crate) fn event_hash_with_payload(
    previous: Option<&[u8]>,
    event: &HashInput<'_>,
    payload_json: &[u8],
) -> [u8; 32] {
    let mut hasher = Sha256::new();
    if let Some(previous) = previous {
        hasher.update(previous);
    }
    let recorded_at = event
        .recorded_at
        .to_rfc3339_opts(SecondsFormat::Micros, true);
    let mut out = HashWriter(&mut hasher);
    // Keys in byte order, as serde_json's (sorted) map prints them.
    out.raw(b"{\"actor\":");
    out.json(event.actor);
    out.raw(b",\"causation_id\":");
    out.json(&event.causation_id);
    out.raw(b",\"correlation_id\":");
    out.json(&event.correlation_id);
    out.raw(b",\"payload\":");
    out.raw(payload_json);
    out.raw(b",\"recorded_at\":");
    out.json(&recorded_at);
    out.raw(b",\"schema_version\":");
    out.json(&event.schema_version);
    out.raw(b",\"source\":");
    out.json(&event.source);
    out.raw(b",\"stream\":");
    out.json(event.stream);
    out.raw(b",\"type\":");
    out.json(event.event_type);
    out.raw(b",\"version\":");
    out.json(&event.version);
    out.raw(b"}");
    hasher.finalize().into()
}

/// Feeds JSON text to the hasher.
struct HashWriter<'a>(&'a mut Sha256);

impl HashWriter<'_> {
    fn raw(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }

    /// Strings, numbers, uuids and nulls: serialising them cannot fail.
    fn json<T: Serialize + ?Sized>(&mut self, value: &T) {
        let _ = serde_json::to_writer(&mut *self, value);
    }
}

impl Write for HashWriter<'_> {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.update(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use serde_json::json;

    /// How every stored hash was made before: the object built as a value and
    /// printed. The streamed form must give the same bytes.
    fn built(previous: Option<&[u8]>, event: &HashInput<'_>) -> [u8; 32] {
        let canonical = json!({
            "stream": event.stream,
            "version": event.version,
            "type": event.event_type,
            "schema_version": event.schema_version,
            "payload": event.payload,
            "actor": event.actor,
            "source": event.source,
            "correlation_id": event.correlation_id,
            "causation_id": event.causation_id,
            "recorded_at": event.recorded_at.to_rfc3339_opts(SecondsFormat::Micros, true),
        });
        let mut hasher = Sha256::new();
        if let Some(previous) = previous {
            hasher.update(previous);
        }
        hasher.update(canonical.to_string().as_bytes());
        hasher.finalize().into()
    }

    #[test]
    fn streamed_hash_equals_the_hash_of_the_built_object() {
        let payloads = [
            json!({}),
            json!({"descriptor": {"kind": "Component", "metadata": {"name": "a\"b\\c\u{1}é𝄞",
                "tags": ["x", "y"], "n": 1.5, "m": -3, "z": null, "t": true}}}),
            json!({"changes": [{"op": "replace", "path": "/spec/owner", "value": "team-ä"}]}),
            json!({"reason": "GoneFromSource"}),
        ];
        let uuid = Uuid::from_u128(0x0123_4567_89ab_cdef_0123_4567_89ab_cdef);
        let times = [
            Utc.timestamp_opt(0, 0).unwrap(),
            Utc.timestamp_opt(1_764_633_600, 123_456_000).unwrap(),
        ];
        let previous = [None, Some(&[7u8; 32][..])];
        for payload in &payloads {
            for (i, recorded_at) in times.iter().enumerate() {
                for previous in previous {
                    let input = HashInput {
                        stream: "component:default/a\"b",
                        version: 42 + i as i64,
                        event_type: "EntityRegistered",
                        schema_version: 1,
                        payload,
                        actor: "ingest:/tmp/ä b.yaml",
                        source: (i == 0).then_some("file:/x\ny"),
                        correlation_id: (i == 1).then_some(uuid),
                        causation_id: (i == 0).then_some(uuid),
                        recorded_at: *recorded_at,
                    };
                    assert_eq!(event_hash(previous, &input), built(previous, &input));
                }
            }
        }
    }
}
