//! Deciding the changes to the set of registered locations: adding one (once: adding it
//! again decides nothing) and removing one together with every entity read through it.
//!
//! Pure: the caller loads the location stream's head and, for a removal, the live
//! entities read through the location, then appends what is decided in one append. What
//! a location holds is read and reconciled by [`super::decide`], not here; whether a
//! type and target may be added (and who may) is checked before, by the caller.

use super::PendingEvent;
use crate::event::{location_stream, CatalogEvent, RemovalReason};

/// A location stream as these decisions need it: the version of its last event, and
/// whether the location is registered (its last event is `LocationAdded`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LocationState {
    pub version: i64,
    pub registered: bool,
}

impl LocationState {
    /// From the stream's last event as the log gives it: its version and event type.
    pub fn from_head(version: i64, last_event_type: &str) -> LocationState {
        LocationState {
            version,
            registered: last_event_type == "LocationAdded",
        }
    }
}

/// `LocationAdded` for location `id`, unless it is registered already (`None`). `state`
/// is its stream's (`None`: a new stream).
pub fn add_location(
    id: &str,
    location_type: &str,
    target: &str,
    state: Option<&LocationState>,
) -> Option<PendingEvent> {
    if state.is_some_and(|s| s.registered) {
        return None;
    }
    Some(PendingEvent {
        stream: location_stream(id),
        expected_version: state.map_or(0, |s| s.version),
        event: CatalogEvent::LocationAdded {
            id: id.to_string(),
            location_type: location_type.to_string(),
            target: target.to_string(),
        },
    })
}

/// The removal of every entity in `live` (stream and version of each live entity read
/// through the location), then `LocationRemoved`: to be appended at once. `None` when
/// the location is not registered.
pub fn remove_location(
    id: &str,
    state: Option<&LocationState>,
    live: &[(String, i64)],
) -> Option<Vec<PendingEvent>> {
    let state = state.filter(|s| s.registered)?;
    let mut appends: Vec<PendingEvent> = live
        .iter()
        .map(|(stream, version)| PendingEvent {
            stream: stream.clone(),
            expected_version: *version,
            event: CatalogEvent::EntityRemoved {
                reason: RemovalReason::SourceDeleted,
            },
        })
        .collect();
    appends.push(PendingEvent {
        stream: location_stream(id),
        expected_version: state.version,
        event: CatalogEvent::LocationRemoved { id: id.to_string() },
    });
    Some(appends)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    const ID: &str = "5f1c";

    fn added(version: i64) -> LocationState {
        LocationState::from_head(version, "LocationAdded")
    }

    #[test]
    fn the_head_says_whether_it_is_registered() {
        assert_eq!(
            added(3),
            LocationState {
                version: 3,
                registered: true
            }
        );
        assert!(!LocationState::from_head(4, "LocationRemoved").registered);
    }

    #[test]
    fn a_new_location_is_added_once() {
        let decided = add_location(ID, "url", "https://example.com/c.yaml", None);
        assert_eq!(
            decided,
            Some(PendingEvent {
                stream: "location/5f1c".into(),
                expected_version: 0,
                event: CatalogEvent::LocationAdded {
                    id: ID.into(),
                    location_type: "url".into(),
                    target: "https://example.com/c.yaml".into(),
                },
            })
        );
        assert_eq!(add_location(ID, "url", "https://x", Some(&added(1))), None);
    }

    #[test]
    fn a_removed_location_is_added_again_on_its_stream() {
        let removed = LocationState::from_head(2, "LocationRemoved");
        let decided = add_location(ID, "file", "/srv/catalog", Some(&removed)).unwrap();
        assert_eq!(decided.stream, "location/5f1c");
        assert_eq!(decided.expected_version, 2);
    }

    #[test]
    fn removing_removes_its_entities_then_the_location() {
        let live = vec![
            ("component:default/a".to_string(), 2),
            ("group:default/team".to_string(), 1),
        ];
        let decided = remove_location(ID, Some(&added(1)), &live).unwrap();
        let removed = CatalogEvent::EntityRemoved {
            reason: RemovalReason::SourceDeleted,
        };
        assert_eq!(
            decided,
            vec![
                PendingEvent {
                    stream: "component:default/a".into(),
                    expected_version: 2,
                    event: removed.clone(),
                },
                PendingEvent {
                    stream: "group:default/team".into(),
                    expected_version: 1,
                    event: removed,
                },
                PendingEvent {
                    stream: "location/5f1c".into(),
                    expected_version: 1,
                    event: CatalogEvent::LocationRemoved { id: ID.into() },
                },
            ]
        );
    }

    #[test]
    fn a_location_not_registered_is_not_removed() {
        assert_eq!(remove_location(ID, None, &[]), None);
        let removed = LocationState::from_head(2, "LocationRemoved");
        let live = [("component:default/a".to_string(), 2)];
        assert_eq!(remove_location(ID, Some(&removed), &live), None);
    }
}
