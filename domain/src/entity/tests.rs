//! Tests of entity normalisation and accessors.

#![allow(clippy::unwrap_used)]

use serde_json::{json, Value};

use super::*;

fn descriptor() -> Value {
    json!({
        "apiVersion": "backstage.io/v1alpha1",
        "kind": "Component",
        "metadata": {
            "name": "Payments",
            "title": "Payments service",
            "description": "Takes the money",
            "tags": ["java", "payments"],
            "labels": {"tier": "one"},
            "annotations": {"github.com/project-slug": "acme/payments"},
            "x-custom": {"kept": [1, 2]}
        },
        "spec": {
            "type": "service",
            "lifecycle": "production",
            "owner": "team-a",
            "x-unknown": "kept"
        }
    })
}

#[test]
fn the_namespace_defaults_to_default_and_is_written_in() {
    let entity = Entity::from_value(descriptor()).unwrap();
    assert_eq!(entity.namespace(), "default");
    assert_eq!(
        entity.descriptor()["metadata"]["namespace"],
        json!("default")
    );
}

#[test]
fn an_explicit_namespace_is_kept() {
    let mut doc = descriptor();
    doc["metadata"]["namespace"] = json!("billing");
    let entity = Entity::from_value(doc).unwrap();
    assert_eq!(entity.namespace(), "billing");
    assert_eq!(
        entity.entity_ref().to_string(),
        "Component:billing/Payments"
    );
}

#[test]
fn unknown_metadata_and_spec_keys_are_kept() {
    let entity = Entity::from_value(descriptor()).unwrap();
    assert_eq!(
        entity.descriptor()["metadata"]["x-custom"],
        json!({"kept": [1, 2]})
    );
    assert_eq!(entity.spec_str("x-unknown"), Some("kept"));
}

#[test]
fn accessors_read_the_document() {
    let entity = Entity::from_value(descriptor()).unwrap();
    assert_eq!(entity.api_version(), "backstage.io/v1alpha1");
    assert_eq!(entity.kind(), &Kind::Component);
    assert_eq!(entity.name(), "Payments");
    assert_eq!(
        entity.entity_ref().canonical(),
        "component:default/payments"
    );
    assert_eq!(entity.title(), Some("Payments service"));
    assert_eq!(entity.description(), Some("Takes the money"));
    assert_eq!(entity.tags(), ["java", "payments"]);
    assert_eq!(entity.labels().get("tier"), Some(&"one"));
    assert_eq!(entity.annotations().len(), 1);
    assert_eq!(
        entity.annotation("github.com/project-slug"),
        Some("acme/payments")
    );
    assert_eq!(entity.spec_str("owner"), Some("team-a"));
    assert_eq!(entity.spec_str("missing"), None);
    assert_eq!(entity.spec()["type"], json!("service"));
}

#[test]
fn optional_parts_may_be_absent() {
    let entity = Entity::from_value(json!({
        "apiVersion": "example.com/v1",
        "kind": "Widget",
        "metadata": {"name": "w"}
    }))
    .unwrap();
    assert_eq!(entity.kind(), &Kind::Custom("Widget".into()));
    assert_eq!(entity.title(), None);
    assert!(entity.tags().is_empty());
    assert!(entity.labels().is_empty());
    assert_eq!(entity.spec(), &Value::Null);
}

#[test]
fn set_annotation_creates_the_map_when_needed() {
    let mut doc = descriptor();
    doc["metadata"]
        .as_object_mut()
        .unwrap()
        .remove("annotations");
    let mut entity = Entity::from_value(doc).unwrap();
    entity.set_annotation(
        MANAGED_BY_LOCATION,
        "url:https://example.com/catalog-info.yaml",
    );
    entity.set_annotation(
        MANAGED_BY_ORIGIN_LOCATION,
        "url:https://example.com/all.yaml",
    );
    assert_eq!(
        managed_by_location(entity.descriptor()),
        Some("url:https://example.com/catalog-info.yaml")
    );
    assert_eq!(
        entity.annotation(MANAGED_BY_ORIGIN_LOCATION),
        Some("url:https://example.com/all.yaml")
    );
    // Still a valid entity after the change.
    assert!(Entity::from_value(entity.into_descriptor()).is_ok());
}

#[test]
fn managed_by_location_of_raw_documents() {
    assert_eq!(managed_by_location(&json!({})), None);
    assert_eq!(
        managed_by_location(&json!({"metadata": {"annotations": {MANAGED_BY_LOCATION: 3}}})),
        None
    );
}

#[test]
fn ref_of_raw_reads_what_it_can() {
    let doc = json!({"kind": "component", "metadata": {"name": "x"}, "spec": "broken"});
    assert_eq!(ref_of_raw(&doc).unwrap().canonical(), "component:default/x");
    assert_eq!(ref_of_raw(&json!({"kind": "Component"})), None);
    assert_eq!(
        ref_of_raw(&json!({"kind": "Component", "metadata": {"name": "x", "namespace": 1}})),
        None
    );
}

#[test]
fn serde_round_trips_through_validation() {
    let entity = Entity::from_value(descriptor()).unwrap();
    let json = serde_json::to_value(&entity).unwrap();
    assert_eq!(&json, entity.descriptor());
    let back: Entity = serde_json::from_value(json).unwrap();
    assert_eq!(back, entity);
    let invalid: Result<Entity, _> = serde_json::from_value(json!({"kind": "Component"}));
    assert!(invalid.is_err());
}
