//! The per-stream hash chain: each event's hash covers the previous event's hash
//! in the same stream and this event's canonical bytes, so changing or removing
//! any stored event breaks every later link of its stream.

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
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
/// sorted keys (serde_json's default map) and the time in RFC 3339 microseconds,
/// the precision PostgreSQL keeps, so the hash recomputes from the stored row.
pub fn event_hash(previous: Option<&[u8]>, event: &HashInput<'_>) -> [u8; 32] {
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
