//! The one fold of a stream, and the past built on it: states at a version and a time,
//! the registration of the current life, and what each event changed.

#![allow(clippy::unwrap_used)]

use serde_json::{json, Value};

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
        evolve(None, &update).unwrap_err(),
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
        evolve(Some(removed), &update),
        Err(FoldError::NotLive { version: 4, .. })
    ));
}

#[test]
fn registering_a_live_entity_twice_is_an_error() {
    let state = evolve(None, &registered(json!({}))).unwrap();
    assert_eq!(
        evolve(Some(state), &registered(json!({}))).unwrap_err(),
        FoldError::AlreadyLive { version: 2 }
    );
}

#[test]
fn a_patch_that_does_not_match_is_an_error() {
    let state = evolve(None, &registered(json!({"a": 1}))).unwrap();
    let stale = CatalogEvent::EntityUpdated {
        changes: diff(&json!({"a": 2}), &json!({"a": 3})),
    };
    assert!(matches!(
        evolve(Some(state), &stale),
        Err(FoldError::Patch { version: 2, .. })
    ));
}

#[test]
fn orphaning_marks_the_descriptor_adoption_unmarks_it() {
    let state = evolve(None, &registered(json!({"metadata": {"name": "a"}}))).unwrap();
    let orphaned = CatalogEvent::EntityOrphaned {
        location: "url:x".into(),
    };
    let state = evolve(Some(state), &orphaned).unwrap();
    assert_eq!(state.version, 2);
    assert_eq!(
        state.descriptor,
        Some(json!({"metadata": {"name": "a", "annotations": {"backstage.io/orphan": "true"}}}))
    );
    let adopted = CatalogEvent::EntityAdopted {
        location: "url:x".into(),
    };
    let state = evolve(Some(state), &adopted).unwrap();
    assert_eq!(
        state.descriptor,
        Some(json!({"metadata": {"name": "a", "annotations": {}}}))
    );
    // A descriptor without metadata is left as it is.
    let bare = evolve(None, &registered(json!({"a": 1}))).unwrap();
    let bare = evolve(Some(bare), &orphaned).unwrap();
    assert_eq!(bare.descriptor, Some(json!({"a": 1})));
}

#[test]
fn location_events_do_not_fold_into_an_entity() {
    let event = CatalogEvent::LocationRemoved { id: "x".into() };
    assert!(matches!(
        evolve(None, &event),
        Err(FoldError::NotAnEntityEvent { .. })
    ));
}

/// A valid Component owned by `owner`, part of `system` when given.
fn component(owner: &str, system: Option<&str>) -> Value {
    let mut descriptor = json!({
        "apiVersion": "backstage.io/v1alpha1",
        "kind": "Component",
        "metadata": {"name": "pay"},
        "spec": {"type": "service", "lifecycle": "production", "owner": owner}
    });
    if let Some(system) = system {
        descriptor["spec"]["system"] = json!(system);
    }
    descriptor
}

fn updated(from: &Value, to: &Value) -> CatalogEvent {
    CatalogEvent::EntityUpdated {
        changes: diff(from, to),
    }
}

/// Registered (1), moved to team-b in system s (2), removed (3), registered again (4).
fn two_lives() -> (Vec<CatalogEvent>, [Value; 2]) {
    let v1 = component("team-a", None);
    let v2 = component("team-b", Some("s"));
    let events = vec![
        registered(v1.clone()),
        updated(&v1, &v2),
        CatalogEvent::EntityRemoved {
            reason: RemovalReason::GoneFromSource,
        },
        registered(v1.clone()),
    ];
    (events, [v1, v2])
}

/// `(relation, target)` of each relation, in order.
fn named(relations: &[DeclaredRelation]) -> Vec<(String, String)> {
    relations
        .iter()
        .map(|r| (r.relation.to_string(), r.target.canonical()))
        .collect()
}

#[test]
fn the_state_at_a_version_folds_the_events_up_to_it() {
    let (events, [v1, v2]) = two_lives();
    assert_eq!(state_at(&events, 0).unwrap(), None);
    assert_eq!(
        state_at(&events, 2).unwrap(),
        Some(EntityState {
            version: 2,
            descriptor: Some(v2)
        })
    );
    assert_eq!(
        state_at(&events, 3).unwrap(),
        Some(EntityState {
            version: 3,
            descriptor: None
        })
    );
    // Past the end: the newest state, whose version says where the stream ends.
    assert_eq!(
        state_at(&events, 9).unwrap(),
        Some(EntityState {
            version: 4,
            descriptor: Some(v1)
        })
    );
}

#[test]
fn the_state_at_a_time_folds_the_events_recorded_by_then() {
    let (events, [v1, v2]) = two_lives();
    let times = [10, 20, 30, 40];
    let timed = || times.iter().zip(&events);
    assert_eq!(state_at_time(timed(), &5).unwrap(), None);
    assert_eq!(
        state_at_time(timed(), &10).unwrap(),
        Some(EntityState {
            version: 1,
            descriptor: Some(v1.clone())
        })
    );
    assert_eq!(
        state_at_time(timed(), &29).unwrap(),
        Some(EntityState {
            version: 2,
            descriptor: Some(v2)
        })
    );
    assert_eq!(
        state_at_time(timed(), &99).unwrap(),
        Some(EntityState {
            version: 4,
            descriptor: Some(v1)
        })
    );
}

#[test]
fn the_registration_of_the_current_life_is_the_latest_one() {
    let (events, _) = two_lives();
    assert_eq!(registered_version(&events, 0), None);
    assert_eq!(registered_version(&events, 1), Some(1));
    assert_eq!(registered_version(&events, 3), Some(1));
    assert_eq!(registered_version(&events, 4), Some(4));
    assert_eq!(registered_version(&events, 9), Some(4));
}

#[test]
fn a_registration_adds_the_whole_descriptor_and_its_relations() {
    let (events, [v1, _]) = two_lives();
    let found = changes_by_version(&events, |v| v == 1).unwrap();
    assert_eq!(found.len(), 1);
    let first = &found[&1];
    assert_eq!(
        first.changes,
        vec![Change {
            path: String::new(),
            op: ChangeOp::Add,
            old_value: None,
            new_value: Some(v1),
        }]
    );
    assert_eq!(
        named(&first.relations_added),
        [("ownedBy".to_string(), "group:default/team-a".to_string())]
    );
    assert_eq!(first.relations_added[0].field, "spec.owner");
    assert!(first.relations_removed.is_empty());
}

#[test]
fn an_update_changes_fields_and_swaps_relations() {
    let (events, [v1, v2]) = two_lives();
    let found = changes_by_version(&events, |v| v == 2).unwrap();
    let second = &found[&2];
    assert_eq!(second.changes, diff(&v1, &v2));
    assert_eq!(
        named(&second.relations_added),
        [
            ("ownedBy".to_string(), "group:default/team-b".to_string()),
            ("partOf".to_string(), "system:default/s".to_string()),
        ]
    );
    assert_eq!(
        named(&second.relations_removed),
        [("ownedBy".to_string(), "group:default/team-a".to_string())]
    );
}

#[test]
fn a_removal_removes_the_last_descriptor_and_every_relation() {
    let (events, [_, v2]) = two_lives();
    let found = changes_by_version(&events, |v| v >= 3).unwrap();
    let removal = &found[&3];
    assert_eq!(
        removal.changes,
        vec![Change {
            path: String::new(),
            op: ChangeOp::Remove,
            old_value: Some(v2),
            new_value: None,
        }]
    );
    assert!(removal.relations_added.is_empty());
    assert_eq!(
        named(&removal.relations_removed),
        [
            ("ownedBy".to_string(), "group:default/team-b".to_string()),
            ("partOf".to_string(), "system:default/s".to_string()),
        ]
    );
    // The second life starts from nothing again.
    assert_eq!(
        named(&found[&4].relations_added),
        [("ownedBy".to_string(), "group:default/team-a".to_string())]
    );
}

#[test]
fn orphaning_changes_nothing_and_a_descriptor_that_no_longer_validates_declares_nothing() {
    let invalid = json!({"kind": "Component"});
    let events = [
        registered(invalid),
        CatalogEvent::EntityOrphaned {
            location: "url:x".into(),
        },
    ];
    let found = changes_by_version(&events, |_| true).unwrap();
    assert!(found[&1].relations_added.is_empty());
    assert_eq!(found[&2], EventChanges::default());
}

#[test]
fn a_location_stream_changes_no_entity() {
    let events = [
        CatalogEvent::LocationAdded {
            id: "x".into(),
            location_type: "url".into(),
            target: "x".into(),
        },
        CatalogEvent::LocationRemoved { id: "x".into() },
    ];
    let found = changes_by_version(&events, |_| true).unwrap();
    assert_eq!(found.len(), 2);
    assert_eq!(found[&2], EventChanges::default());
}

#[test]
fn a_fold_error_names_the_version_that_did_not_fit() {
    let (mut events, _) = two_lives();
    events.push(registered(json!({})));
    let error = changes_by_version(&events, |_| false).unwrap_err();
    assert_eq!(error, FoldError::AlreadyLive { version: 5 });
    assert_eq!(error.version(), 5);
    assert_eq!(state_at(&events, 5).unwrap_err().version(), 5);
}
