//! Folding an entity stream's events into its current state.
//!
//! `apply` takes one event, `fold` a whole stream; both are pure and strict: an event that
//! does not fit the state (an update of a missing entity, a patch whose old values do not
//! match) is an error, never silently skipped, because it means the log and the rules
//! disagree. Location streams are not folded here.

use serde_json::Value;

use crate::diff::{apply_changes, PatchError};
use crate::event::CatalogEvent;

/// An entity stream after its events: the version of its last event, and the descriptor
/// (`None` once removed; a later registration continues the same stream).
#[derive(Clone, Debug, PartialEq)]
pub struct EntityState {
    pub version: i64,
    pub descriptor: Option<Value>,
}

#[derive(Debug, PartialEq, thiserror::Error)]
pub enum FoldError {
    #[error("event {version} ({event_type}) needs a live entity, but there is none")]
    NotLive {
        version: i64,
        event_type: &'static str,
    },
    #[error("event {version} registers an entity that is already live")]
    AlreadyLive { version: i64 },
    #[error("event {version} does not apply: {source}")]
    Patch {
        version: i64,
        #[source]
        source: PatchError,
    },
    #[error("event {version} ({event_type}) does not belong on an entity stream")]
    NotAnEntityEvent {
        version: i64,
        event_type: &'static str,
    },
}

/// Applies one event; the result's version is the previous version plus one (the first
/// event of a stream is version 1).
pub fn apply(state: Option<EntityState>, event: &CatalogEvent) -> Result<EntityState, FoldError> {
    let (previous, descriptor) = match state {
        Some(state) => (state.version, state.descriptor),
        None => (0, None),
    };
    let version = previous + 1;
    let event_type = event.event_type();
    let descriptor = match (event, descriptor) {
        (CatalogEvent::EntityRegistered { .. }, Some(_)) => {
            return Err(FoldError::AlreadyLive { version })
        }
        (CatalogEvent::EntityRegistered { descriptor }, None) => Some(descriptor.clone()),
        (CatalogEvent::LocationAdded { .. } | CatalogEvent::LocationRemoved { .. }, _) => {
            return Err(FoldError::NotAnEntityEvent {
                version,
                event_type,
            })
        }
        (_, None) => {
            return Err(FoldError::NotLive {
                version,
                event_type,
            })
        }
        (CatalogEvent::EntityUpdated { changes }, Some(mut descriptor)) => {
            apply_changes(&mut descriptor, changes)
                .map_err(|source| FoldError::Patch { version, source })?;
            Some(descriptor)
        }
        (CatalogEvent::EntityRemoved { .. }, Some(_)) => None,
        // Orphaning and adoption mark the entity's standing, not its descriptor.
        (CatalogEvent::EntityOrphaned { .. } | CatalogEvent::EntityAdopted { .. }, live) => live,
    };
    Ok(EntityState {
        version,
        descriptor,
    })
}

/// Folds a whole stream from its first event; `None` for an empty stream.
pub fn fold<'a, I>(events: I) -> Result<Option<EntityState>, FoldError>
where
    I: IntoIterator<Item = &'a CatalogEvent>,
{
    events
        .into_iter()
        .try_fold(None, |state, event| apply(state, event).map(Some))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use serde_json::json;

    use super::*;
    use crate::diff::diff;
    use crate::event::RemovalReason;

    fn registered(descriptor: Value) -> CatalogEvent {
        CatalogEvent::EntityRegistered { descriptor }
    }

    #[test]
    fn register_update_remove_register() {
        let v1 = json!({"spec": {"owner": "a"}});
        let v2 = json!({"spec": {"owner": "b"}});
        let events = [
            registered(v1.clone()),
            CatalogEvent::EntityUpdated {
                changes: diff(&v1, &v2),
            },
            CatalogEvent::EntityRemoved {
                reason: RemovalReason::GoneFromSource,
            },
            registered(v1.clone()),
        ];
        let after_two = fold(&events[..2]).unwrap().unwrap();
        assert_eq!(after_two.version, 2);
        assert_eq!(after_two.descriptor, Some(v2));
        let after_three = fold(&events[..3]).unwrap().unwrap();
        assert_eq!(after_three.version, 3);
        assert_eq!(after_three.descriptor, None);
        let all = fold(&events).unwrap().unwrap();
        assert_eq!(all.version, 4);
        assert_eq!(all.descriptor, Some(v1));
    }

    #[test]
    fn an_empty_stream_has_no_state() {
        assert_eq!(fold(&[]).unwrap(), None);
    }

    #[test]
    fn an_update_of_a_missing_entity_is_an_error() {
        let update = CatalogEvent::EntityUpdated { changes: vec![] };
        assert_eq!(
            apply(None, &update).unwrap_err(),
            FoldError::NotLive {
                version: 1,
                event_type: "EntityUpdated"
            }
        );
        let removed = EntityState {
            version: 3,
            descriptor: None,
        };
        assert!(matches!(
            apply(Some(removed), &update),
            Err(FoldError::NotLive { version: 4, .. })
        ));
    }

    #[test]
    fn registering_a_live_entity_twice_is_an_error() {
        let state = apply(None, &registered(json!({}))).unwrap();
        assert_eq!(
            apply(Some(state), &registered(json!({}))).unwrap_err(),
            FoldError::AlreadyLive { version: 2 }
        );
    }

    #[test]
    fn a_patch_that_does_not_match_is_an_error() {
        let state = apply(None, &registered(json!({"a": 1}))).unwrap();
        let stale = CatalogEvent::EntityUpdated {
            changes: diff(&json!({"a": 2}), &json!({"a": 3})),
        };
        assert!(matches!(
            apply(Some(state), &stale),
            Err(FoldError::Patch { version: 2, .. })
        ));
    }

    #[test]
    fn orphaning_keeps_the_descriptor_and_counts_a_version() {
        let state = apply(None, &registered(json!({"a": 1}))).unwrap();
        let orphaned = CatalogEvent::EntityOrphaned {
            location: "url:x".into(),
        };
        let state = apply(Some(state), &orphaned).unwrap();
        assert_eq!(state.version, 2);
        assert_eq!(state.descriptor, Some(json!({"a": 1})));
    }

    #[test]
    fn location_events_do_not_fold_into_an_entity() {
        let event = CatalogEvent::LocationRemoved { id: "x".into() };
        assert!(matches!(
            apply(None, &event),
            Err(FoldError::NotAnEntityEvent { .. })
        ));
    }
}
