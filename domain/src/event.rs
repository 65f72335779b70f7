//! The catalog's events, their stored form (type name, schema version, JSON payload) and
//! the stream each belongs to.
//!
//! Events are facts in the past tense. A payload once written is never rewritten: when a
//! payload's shape changes, the schema version goes up and [`CatalogEvent::decode`] upcasts
//! the older versions on read. This module does not store events or compute them (`decide`
//! does), and it holds no actor, time or correlation data: the store's row carries those.

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::diff::Change;
use crate::entity_ref::EntityRef;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RemovalReason {
    /// The entity's source was re-read and no longer holds it.
    GoneFromSource,
    /// A user deleted it through the API.
    DeletedByUser,
    /// Its whole source (location) was removed.
    SourceDeleted,
}

#[derive(Clone, Debug, PartialEq)]
pub enum CatalogEvent {
    /// The full, normalised descriptor.
    EntityRegistered {
        descriptor: Value,
    },
    /// The field changes from the previous descriptor.
    EntityUpdated {
        changes: Vec<Change>,
    },
    EntityRemoved {
        reason: RemovalReason,
    },
    /// The location that used to provide the entity stopped doing so; the entity is kept.
    EntityOrphaned {
        location: String,
    },
    /// A location provides an orphaned entity again.
    EntityAdopted {
        location: String,
    },
    LocationAdded {
        id: String,
        location_type: String,
        target: String,
    },
    LocationRemoved {
        id: String,
    },
}

#[derive(Debug, thiserror::Error)]
pub enum EventDecodeError {
    #[error("unknown event type {event_type:?}")]
    UnknownType { event_type: String },
    #[error("event type {event_type} has no schema version {schema_version} (this build reads up to {current})")]
    UnknownVersion {
        event_type: String,
        schema_version: i32,
        current: i32,
    },
    #[error("payload of {event_type} v{schema_version} does not decode: {source}")]
    InvalidPayload {
        event_type: String,
        schema_version: i32,
        #[source]
        source: serde_json::Error,
    },
}

/// The schema version every event type is written with today.
const CURRENT_SCHEMA_VERSION: i32 = 1;

/// Every event type the log holds (what `HistoryEvent.type` says).
pub const EVENT_TYPES: [&str; 7] = [
    "EntityRegistered",
    "EntityUpdated",
    "EntityRemoved",
    "EntityOrphaned",
    "EntityAdopted",
    "LocationAdded",
    "LocationRemoved",
];

/// Payload shapes of the current version, for decoding. Writing uses `to_payload`; a test
/// checks that the two agree.
mod payload {
    use serde::Deserialize;
    use serde_json::Value;

    use super::RemovalReason;
    use crate::diff::Change;

    #[derive(Deserialize)]
    pub struct Registered {
        pub descriptor: Value,
    }
    #[derive(Deserialize)]
    pub struct Updated {
        pub changes: Vec<Change>,
    }
    #[derive(Deserialize)]
    pub struct Removed {
        pub reason: RemovalReason,
    }
    #[derive(Deserialize)]
    pub struct ByLocation {
        pub location: String,
    }
    #[derive(Deserialize)]
    pub struct LocationAdded {
        pub id: String,
        pub location_type: String,
        pub target: String,
    }
    #[derive(Deserialize)]
    pub struct LocationRemoved {
        pub id: String,
    }
}

impl CatalogEvent {
    pub fn event_type(&self) -> &'static str {
        match self {
            CatalogEvent::EntityRegistered { .. } => "EntityRegistered",
            CatalogEvent::EntityUpdated { .. } => "EntityUpdated",
            CatalogEvent::EntityRemoved { .. } => "EntityRemoved",
            CatalogEvent::EntityOrphaned { .. } => "EntityOrphaned",
            CatalogEvent::EntityAdopted { .. } => "EntityAdopted",
            CatalogEvent::LocationAdded { .. } => "LocationAdded",
            CatalogEvent::LocationRemoved { .. } => "LocationRemoved",
        }
    }

    /// The version this build writes. Bump it for one type when its payload changes, and
    /// add the upcast from the old version in [`upcast`].
    pub fn schema_version(&self) -> i32 {
        CURRENT_SCHEMA_VERSION
    }

    /// [`Self::to_payload`], moving the descriptor of a registration instead of
    /// copying it (the bulk of what an ingest appends).
    pub fn into_payload(self) -> Value {
        match self {
            CatalogEvent::EntityRegistered { descriptor } => {
                let mut payload = serde_json::Map::new();
                payload.insert("descriptor".to_string(), descriptor);
                Value::Object(payload)
            }
            other => other.to_payload(),
        }
    }

    /// The payload only; the type and version are stored beside it.
    pub fn to_payload(&self) -> Value {
        match self {
            CatalogEvent::EntityRegistered { descriptor } => json!({ "descriptor": descriptor }),
            CatalogEvent::EntityUpdated { changes } => json!({ "changes": changes }),
            CatalogEvent::EntityRemoved { reason } => json!({ "reason": reason }),
            CatalogEvent::EntityOrphaned { location }
            | CatalogEvent::EntityAdopted { location } => {
                json!({ "location": location })
            }
            CatalogEvent::LocationAdded {
                id,
                location_type,
                target,
            } => json!({ "id": id, "location_type": location_type, "target": target }),
            CatalogEvent::LocationRemoved { id } => json!({ "id": id }),
        }
    }

    /// Reads a stored event, upcasting an older schema version first.
    pub fn decode(
        event_type: &str,
        schema_version: i32,
        payload: Value,
    ) -> Result<CatalogEvent, EventDecodeError> {
        if !EVENT_TYPES.contains(&event_type) {
            return Err(EventDecodeError::UnknownType {
                event_type: event_type.to_string(),
            });
        }
        let payload = upcast(event_type, schema_version, payload)?;
        let invalid = |source| EventDecodeError::InvalidPayload {
            event_type: event_type.to_string(),
            schema_version,
            source,
        };
        let event = match event_type {
            "EntityRegistered" => {
                let descriptor = match payload {
                    // Moved out of the payload: what `payload::Registered` gives, without
                    // serde building the whole descriptor again key by key (a fifth of
                    // the server's decode of the log, measured).
                    Value::Object(mut map) if map.contains_key("descriptor") => {
                        map.remove("descriptor").unwrap_or_default()
                    }
                    other => {
                        let p: payload::Registered =
                            serde_json::from_value(other).map_err(invalid)?;
                        p.descriptor
                    }
                };
                CatalogEvent::EntityRegistered { descriptor }
            }
            "EntityUpdated" => {
                let p: payload::Updated = serde_json::from_value(payload).map_err(invalid)?;
                CatalogEvent::EntityUpdated { changes: p.changes }
            }
            "EntityRemoved" => {
                let p: payload::Removed = serde_json::from_value(payload).map_err(invalid)?;
                CatalogEvent::EntityRemoved { reason: p.reason }
            }
            "EntityOrphaned" => {
                let p: payload::ByLocation = serde_json::from_value(payload).map_err(invalid)?;
                CatalogEvent::EntityOrphaned {
                    location: p.location,
                }
            }
            "EntityAdopted" => {
                let p: payload::ByLocation = serde_json::from_value(payload).map_err(invalid)?;
                CatalogEvent::EntityAdopted {
                    location: p.location,
                }
            }
            "LocationAdded" => {
                let p: payload::LocationAdded = serde_json::from_value(payload).map_err(invalid)?;
                CatalogEvent::LocationAdded {
                    id: p.id,
                    location_type: p.location_type,
                    target: p.target,
                }
            }
            _ => {
                let p: payload::LocationRemoved =
                    serde_json::from_value(payload).map_err(invalid)?;
                CatalogEvent::LocationRemoved { id: p.id }
            }
        };
        Ok(event)
    }

    /// True for the events that belong on an entity's stream.
    pub fn is_entity_event(&self) -> bool {
        !matches!(
            self,
            CatalogEvent::LocationAdded { .. } | CatalogEvent::LocationRemoved { .. }
        )
    }
}

/// Brings a stored payload up to the current schema version, one version at a time.
///
/// There are no old versions yet. When a payload changes, bump `CURRENT_SCHEMA_VERSION` (or
/// give that type its own), and add an arm that lifts the old shape one step and recurses:
/// `("EntityUpdated", 1) => upcast(event_type, 2, updated_v1_to_v2(payload))`. Keep such
/// arms forever: the log is never rewritten, so every version ever written stays readable.
fn upcast(
    event_type: &str,
    schema_version: i32,
    payload: Value,
) -> Result<Value, EventDecodeError> {
    match (event_type, schema_version) {
        (_, CURRENT_SCHEMA_VERSION) => Ok(payload),
        _ => Err(EventDecodeError::UnknownVersion {
            event_type: event_type.to_string(),
            schema_version,
            current: CURRENT_SCHEMA_VERSION,
        }),
    }
}

/// The stream of an entity: its canonical ref, e.g. `component:default/payments`.
pub fn entity_stream(entity_ref: &EntityRef) -> String {
    entity_ref.canonical()
}

/// The stream of a location: `location/<id>`.
///
/// This can never equal an entity stream. A canonical ref is `kind:namespace/name` where the
/// kind holds neither `:` nor `/` (the ref grammar ends the kind at the first `:`, and only
/// when no `/` comes before it; validation further limits kinds to `[a-zA-Z0-9]`), so the
/// first separator of an entity stream is always `:`. In `location/<id>` it is `/`.
/// (`location:<id>` would collide: it parses as kind `location`, namespace default.)
pub fn location_stream(id: &str) -> String {
    format!("location/{id}")
}

#[cfg(test)]
mod tests;
