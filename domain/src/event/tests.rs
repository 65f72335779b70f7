//! Tests of the stored form of events: round trips, typed decode errors, stream names.

#![allow(clippy::unwrap_used)]

use serde_json::json;

use super::*;
use crate::diff::{Change, ChangeOp};

fn every_event() -> Vec<CatalogEvent> {
    vec![
        CatalogEvent::EntityRegistered {
            descriptor: json!({"kind": "Component", "metadata": {"name": "a"}}),
        },
        CatalogEvent::EntityUpdated {
            changes: vec![Change {
                path: "/spec/owner".into(),
                op: ChangeOp::Replace,
                old_value: Some(json!("a")),
                new_value: Some(json!("b")),
            }],
        },
        CatalogEvent::EntityRemoved {
            reason: RemovalReason::GoneFromSource,
        },
        CatalogEvent::EntityRemoved {
            reason: RemovalReason::DeletedByUser,
        },
        CatalogEvent::EntityRemoved {
            reason: RemovalReason::SourceDeleted,
        },
        CatalogEvent::EntityOrphaned {
            location: "url:https://x/catalog-info.yaml".into(),
        },
        CatalogEvent::EntityAdopted {
            location: "file:/x.yaml".into(),
        },
        CatalogEvent::LocationAdded {
            id: "9b1c".into(),
            location_type: "url".into(),
            target: "https://x/catalog-info.yaml".into(),
        },
        CatalogEvent::LocationRemoved { id: "9b1c".into() },
    ]
}

#[test]
fn every_event_round_trips_through_its_stored_form() {
    for event in every_event() {
        let decoded = CatalogEvent::decode(
            event.event_type(),
            event.schema_version(),
            event.to_payload(),
        )
        .unwrap();
        assert_eq!(decoded, event);
        assert_eq!(event.clone().into_payload(), event.to_payload());
    }
}

#[test]
fn payloads_hold_no_type_tag() {
    let removed = CatalogEvent::EntityRemoved {
        reason: RemovalReason::DeletedByUser,
    };
    assert_eq!(removed.to_payload(), json!({"reason": "deleted_by_user"}));
    assert_eq!(removed.event_type(), "EntityRemoved");
    assert_eq!(removed.schema_version(), 1);
    let added = &every_event()[7];
    assert_eq!(
        added.to_payload(),
        json!({"id": "9b1c", "location_type": "url", "target": "https://x/catalog-info.yaml"})
    );
}

#[test]
fn unknown_types_and_versions_are_typed_errors() {
    assert!(matches!(
        CatalogEvent::decode("EntityExploded", 1, json!({})),
        Err(EventDecodeError::UnknownType { .. })
    ));
    assert!(matches!(
        CatalogEvent::decode("EntityRemoved", 2, json!({"reason": "gone_from_source"})),
        Err(EventDecodeError::UnknownVersion {
            schema_version: 2,
            current: 1,
            ..
        })
    ));
    assert!(matches!(
        CatalogEvent::decode("EntityRemoved", 0, json!({"reason": "gone_from_source"})),
        Err(EventDecodeError::UnknownVersion { .. })
    ));
    let err = CatalogEvent::decode("EntityRemoved", 1, json!({"reason": "bored"})).unwrap_err();
    assert!(matches!(err, EventDecodeError::InvalidPayload { .. }));
    assert!(err.to_string().contains("EntityRemoved v1"));
}

#[test]
fn location_events_are_not_entity_events() {
    let kinds: Vec<bool> = every_event()
        .iter()
        .map(CatalogEvent::is_entity_event)
        .collect();
    assert_eq!(
        kinds,
        [true, true, true, true, true, true, true, false, false]
    );
}

#[test]
fn entity_streams_are_canonical_refs() {
    let r = EntityRef::new("Component", "Default", "Payments");
    assert_eq!(entity_stream(&r), "component:default/payments");
}

#[test]
fn a_location_stream_never_parses_as_the_same_entity_stream() {
    for id in ["abc", "x:y", "default/x", "a:b/c", ""] {
        let stream = location_stream(id);
        assert!(stream.starts_with("location/"));
        // Whatever the text, a ref parsed from it has a kind without '/', so its canonical
        // form starts with `<kind>:`, never with `location/`.
        if let Ok(r) = EntityRef::parse(&stream, Some("Location"), "default") {
            assert_ne!(entity_stream(&r), stream, "{id}");
        }
    }
}

#[test]
fn a_registration_decodes_its_descriptor_whatever_else_the_payload_holds() {
    let descriptor = json!({"kind": "Component", "metadata": {"name": "a", "tags": ["x"]}});
    let decoded = CatalogEvent::decode(
        "EntityRegistered",
        1,
        json!({"descriptor": descriptor.clone(), "added_later": 1}),
    )
    .unwrap();
    assert_eq!(
        decoded,
        CatalogEvent::EntityRegistered {
            descriptor: descriptor.clone()
        }
    );
    // The positional form serde accepts for a struct, as before.
    assert_eq!(
        CatalogEvent::decode("EntityRegistered", 1, json!([descriptor.clone()])).unwrap(),
        CatalogEvent::EntityRegistered { descriptor }
    );
    for payload in [json!({"descriptr": {}}), json!("text"), json!(null)] {
        let err = CatalogEvent::decode("EntityRegistered", 1, payload).unwrap_err();
        assert!(
            matches!(err, EventDecodeError::InvalidPayload { .. }),
            "{err}"
        );
    }
}
