//! Deciding a user's delete of one entity: its removal, nothing when no entity is live,
//! or a refusal when the stream moved past the version the caller judged it at.
//!
//! Pure: the caller loads the stream's state and appends what is decided. Who may delete
//! (scopes, source ownership) is authorisation, the API's, not decided here.

use super::{removal, PendingEvent};
use crate::entity_ref::EntityRef;
use crate::event::{entity_stream, RemovalReason};
use crate::history::EntityState;

/// The stream is not at the version the caller judged the entity at (e.g. who may delete
/// it): another writer changed it in between.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{stream} changed (version {actual}, not {expected})")]
pub struct StaleVersion {
    pub stream: String,
    pub expected: i64,
    pub actual: i64,
}

/// The removal of `entity_ref` for a user, given its stream's `state` (`None`: no such
/// stream). `Ok(None)` when no entity is live. With `expected_version`, a live entity at
/// another version is refused.
pub fn delete_entity(
    entity_ref: &EntityRef,
    state: Option<&EntityState>,
    expected_version: Option<i64>,
) -> Result<Option<PendingEvent>, StaleVersion> {
    let Some(state) = state.filter(|s| s.descriptor.is_some()) else {
        return Ok(None);
    };
    if let Some(expected) = expected_version.filter(|v| *v != state.version) {
        return Err(StaleVersion {
            stream: entity_stream(entity_ref),
            expected,
            actual: state.version,
        });
    }
    Ok(removal(entity_ref, state, RemovalReason::DeletedByUser))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::event::CatalogEvent;
    use serde_json::json;

    fn payments() -> EntityRef {
        EntityRef::parse("Component:default/Payments", None, "default").unwrap()
    }

    fn live(version: i64) -> EntityState {
        EntityState {
            version,
            descriptor: Some(json!({"kind": "Component"})),
        }
    }

    #[test]
    fn a_live_entity_is_removed_at_its_version() {
        let decided = delete_entity(&payments(), Some(&live(3)), Some(3)).unwrap();
        assert_eq!(
            decided,
            Some(PendingEvent {
                stream: "component:default/payments".into(),
                expected_version: 3,
                event: CatalogEvent::EntityRemoved {
                    reason: RemovalReason::DeletedByUser
                },
            })
        );
        // Without a version to hold it to, the version it is at.
        let unpinned = delete_entity(&payments(), Some(&live(5)), None).unwrap();
        assert_eq!(unpinned.map(|p| p.expected_version), Some(5));
    }

    #[test]
    fn nothing_live_decides_nothing() {
        assert_eq!(delete_entity(&payments(), None, Some(1)), Ok(None));
        let removed = EntityState {
            version: 4,
            descriptor: None,
        };
        // Not a refusal even at another version: there is nothing to delete.
        assert_eq!(
            delete_entity(&payments(), Some(&removed), Some(2)),
            Ok(None)
        );
    }

    #[test]
    fn a_stream_that_moved_is_refused() {
        let refused = delete_entity(&payments(), Some(&live(4)), Some(3)).unwrap_err();
        assert_eq!(
            refused,
            StaleVersion {
                stream: "component:default/payments".into(),
                expected: 3,
                actual: 4,
            }
        );
        assert_eq!(
            refused.to_string(),
            "component:default/payments changed (version 4, not 3)"
        );
    }
}
