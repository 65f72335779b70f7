//! Given a log, when a source is re-read, then these events (no database involved).

#![allow(clippy::unwrap_used)]

use std::collections::HashMap;

use serde_json::{json, Value};

use super::*;
use crate::entity::{MANAGED_BY_LOCATION, ORPHAN};
use crate::history::{evolve, fold};

const SOURCE: &str = "url:https://example.com/catalog-info.yaml";
const OTHER: &str = "url:https://example.com/other.yaml";
const UPSERT: DecideOptions = DecideOptions {
    remove_missing: false,
    orphans: OrphanStrategy::Delete,
};
const SYNC: DecideOptions = DecideOptions {
    remove_missing: true,
    orphans: OrphanStrategy::Delete,
};

fn component(name: &str, owner: &str, source: &str) -> Entity {
    let mut entity = Entity::from_value(json!({
        "apiVersion": "backstage.io/v1alpha1",
        "kind": "Component",
        "metadata": {"name": name},
        "spec": {"type": "service", "lifecycle": "production", "owner": owner}
    }))
    .unwrap();
    entity.set_annotation(MANAGED_BY_LOCATION, source);
    entity
}

fn valid(name: &str, owner: &str) -> Candidate {
    Candidate::Valid(component(name, owner, SOURCE))
}

/// The event log, by stream.
#[derive(Default)]
struct Log(HashMap<String, Vec<CatalogEvent>>);

impl Log {
    fn given(entities: &[Entity]) -> Log {
        let mut log = Log::default();
        for entity in entities {
            log.0
                .entry(entity_stream(&entity.entity_ref()))
                .or_default()
                .push(CatalogEvent::EntityRegistered {
                    descriptor: entity.descriptor().clone(),
                });
        }
        log
    }

    fn current(&self) -> HashMap<String, EntityState> {
        self.0
            .iter()
            .map(|(stream, events)| (stream.clone(), fold(events).unwrap().unwrap()))
            .collect()
    }

    /// Appends as the store would: each event at its expected version, or a panic.
    fn append(&mut self, decision: &Decision) {
        for pending in &decision.appends {
            let events = self.0.entry(pending.stream.clone()).or_default();
            assert_eq!(
                events.len() as i64,
                pending.expected_version,
                "{}",
                pending.stream
            );
            events.push(pending.event.clone());
        }
    }

    fn descriptor(&self, stream: &str) -> Option<Value> {
        fold(&self.0[stream]).unwrap().unwrap().descriptor
    }
}

fn streams(decision: &Decision) -> Vec<(&str, &'static str, i64)> {
    decision
        .appends
        .iter()
        .map(|p| (p.stream.as_str(), p.event.event_type(), p.expected_version))
        .collect()
}

#[test]
fn a_new_source_registers_every_entity_in_ref_order() {
    let log = Log::default();
    let decision = decide(
        SOURCE,
        &[valid("b", "t"), valid("a", "t")],
        &log.current(),
        SYNC,
    );
    assert_eq!(
        streams(&decision),
        [
            ("component:default/a", "EntityRegistered", 0),
            ("component:default/b", "EntityRegistered", 0)
        ]
    );
    assert_eq!(decision.unchanged, 0);
    assert!(decision.conflicts.is_empty() && decision.errors.is_empty());
}

#[test]
fn editing_one_field_is_exactly_one_update_with_that_change() {
    let mut log = Log::given(&[
        component("a", "team-a", SOURCE),
        component("b", "t", SOURCE),
    ]);
    let decision = decide(
        SOURCE,
        &[valid("a", "team-b"), valid("b", "t")],
        &log.current(),
        SYNC,
    );
    assert_eq!(
        streams(&decision),
        [("component:default/a", "EntityUpdated", 1)]
    );
    let CatalogEvent::EntityUpdated { changes } = &decision.appends[0].event else {
        panic!("not an update");
    };
    assert_eq!(
        changes,
        &[crate::diff::Change {
            path: "/spec/owner".into(),
            op: crate::diff::ChangeOp::Replace,
            old_value: Some(json!("team-a")),
            new_value: Some(json!("team-b")),
        }]
    );
    assert_eq!(decision.unchanged, 1);
    log.append(&decision);
    assert_eq!(
        log.descriptor("component:default/a"),
        Some(component("a", "team-b", SOURCE).into_descriptor())
    );
}

#[test]
fn an_unchanged_re_read_appends_nothing() {
    let log = Log::given(&[component("a", "t", SOURCE), component("b", "t", SOURCE)]);
    let decision = decide(
        SOURCE,
        &[valid("a", "t"), valid("b", "t")],
        &log.current(),
        SYNC,
    );
    assert!(decision.appends.is_empty());
    assert_eq!(decision.unchanged, 2);
}

#[test]
fn an_entity_gone_from_its_source_is_removed() {
    let mut log = Log::given(&[component("a", "t", SOURCE), component("b", "t", SOURCE)]);
    let decision = decide(SOURCE, &[valid("a", "t")], &log.current(), SYNC);
    assert_eq!(
        streams(&decision),
        [("component:default/b", "EntityRemoved", 1)]
    );
    assert_eq!(
        decision.appends[0].event,
        CatalogEvent::EntityRemoved {
            reason: RemovalReason::GoneFromSource
        }
    );
    log.append(&decision);
    assert_eq!(log.descriptor("component:default/b"), None);
}

#[test]
fn an_upserting_source_removes_nothing() {
    let log = Log::given(&[component("a", "t", SOURCE), component("b", "t", SOURCE)]);
    let decision = decide(SOURCE, &[valid("a", "t")], &log.current(), UPSERT);
    assert!(decision.appends.is_empty());
}

#[test]
fn entities_of_other_sources_are_never_removed() {
    let log = Log::given(&[component("a", "t", SOURCE), component("x", "t", OTHER)]);
    let decision = decide(SOURCE, &[], &log.current(), SYNC);
    assert_eq!(
        streams(&decision),
        [("component:default/a", "EntityRemoved", 1)]
    );
}

#[test]
fn an_invalid_entity_keeps_its_last_good_version_and_the_rest_lands() {
    let log = Log::given(&[component("a", "t", SOURCE), component("b", "t", SOURCE)]);
    let broken = Candidate::from_value(json!({
        "apiVersion": "backstage.io/v1alpha1",
        "kind": "Component",
        "metadata": {"name": "b"},
        "spec": {"type": "service"}
    }));
    let decision = decide(
        SOURCE,
        &[valid("a", "new-owner"), broken, valid("c", "t")],
        &log.current(),
        SYNC,
    );
    assert_eq!(
        streams(&decision),
        [
            ("component:default/a", "EntityUpdated", 1),
            ("component:default/c", "EntityRegistered", 0)
        ]
    );
    assert_eq!(decision.errors.len(), 1);
    let error = &decision.errors[0];
    assert_eq!(
        error.entity_ref.as_ref().unwrap().canonical(),
        "component:default/b"
    );
    assert!(
        error.message.contains("spec.lifecycle is required"),
        "{}",
        error.message
    );
}

#[test]
fn an_invalid_document_without_a_ref_is_reported() {
    let log = Log::default();
    let decision = decide(
        SOURCE,
        &[Candidate::from_value(json!(["not", "an", "entity"]))],
        &log.current(),
        SYNC,
    );
    assert!(decision.appends.is_empty());
    assert_eq!(decision.errors.len(), 1);
    assert_eq!(decision.errors[0].entity_ref, None);
}

#[test]
fn an_entity_claimed_by_another_source_is_a_conflict_and_stays() {
    let log = Log::given(&[component("a", "t", OTHER)]);
    let decision = decide(SOURCE, &[valid("a", "someone-else")], &log.current(), SYNC);
    assert!(decision.appends.is_empty());
    assert_eq!(
        decision.conflicts,
        [Conflict {
            entity_ref: EntityRef::new("Component", "default", "a"),
            existing_source: Some(OTHER.into()),
            new_source: SOURCE.into(),
        }]
    );
}

#[test]
fn a_removed_entity_is_registered_again_on_the_same_stream() {
    let mut log = Log::given(&[component("a", "t", SOURCE)]);
    let removed = decide(SOURCE, &[], &log.current(), SYNC);
    log.append(&removed);
    let back = decide(SOURCE, &[valid("a", "t")], &log.current(), SYNC);
    assert_eq!(
        streams(&back),
        [("component:default/a", "EntityRegistered", 2)]
    );
    log.append(&back);
    let state = fold(&log.0["component:default/a"]).unwrap().unwrap();
    assert_eq!(state.version, 3);
    assert!(state.descriptor.is_some());
    // A removed entity once claimed by another source is free to take.
    let elsewhere = decide(
        OTHER,
        &[Candidate::Valid(component("z", "t", OTHER))],
        &HashMap::from([(
            "component:default/z".to_string(),
            EntityState {
                version: 4,
                descriptor: None,
            },
        )]),
        SYNC,
    );
    assert_eq!(
        streams(&elsewhere),
        [("component:default/z", "EntityRegistered", 4)]
    );
}

#[test]
fn the_same_ref_twice_in_one_source_keeps_the_last_as_backstage_does() {
    let log = Log::default();
    let second = Candidate::Valid(component("A", "other", SOURCE));
    let decision = decide(SOURCE, &[valid("a", "first"), second], &log.current(), SYNC);
    assert_eq!(decision.appends.len(), 1);
    let CatalogEvent::EntityRegistered { descriptor } = &decision.appends[0].event else {
        panic!("not a registration");
    };
    assert_eq!(descriptor["spec"]["owner"], json!("other"));
    assert_eq!(descriptor["metadata"]["name"], json!("A"));
    assert_eq!(decision.errors.len(), 1);
    assert_eq!(
        decision.errors[0].message,
        "duplicate entity Component:default/A in source \
         url:https://example.com/catalog-info.yaml: document 2 replaces document 1 \
         (the last one wins, as in Backstage)"
    );
}

#[test]
fn a_users_delete_removes_a_live_entity_only() {
    let r = EntityRef::new("Component", "default", "a");
    let live = evolve(
        None,
        &CatalogEvent::EntityRegistered {
            descriptor: json!({}),
        },
    )
    .unwrap();
    let pending = removal(&r, &live, RemovalReason::DeletedByUser).unwrap();
    assert_eq!(pending.stream, "component:default/a");
    assert_eq!(pending.expected_version, 1);
    assert_eq!(
        pending.event,
        CatalogEvent::EntityRemoved {
            reason: RemovalReason::DeletedByUser
        }
    );
    let gone = EntityState {
        version: 2,
        descriptor: None,
    };
    assert_eq!(removal(&r, &gone, RemovalReason::DeletedByUser), None);
}

const KEEP: DecideOptions = DecideOptions {
    remove_missing: true,
    orphans: OrphanStrategy::Keep,
};

#[test]
fn with_orphan_strategy_keep_a_vanished_entity_is_orphaned_once_then_adopted() {
    let mut log = Log::given(&[component("a", "t", SOURCE), component("b", "t", SOURCE)]);
    let decision = decide(SOURCE, &[valid("a", "t")], &log.current(), KEEP);
    assert_eq!(
        streams(&decision),
        [("component:default/b", "EntityOrphaned", 1)]
    );
    assert_eq!(
        decision.appends[0].event,
        CatalogEvent::EntityOrphaned {
            location: SOURCE.into()
        }
    );
    log.append(&decision);
    let orphan = log.current()["component:default/b"].clone();
    let descriptor = orphan.descriptor.unwrap();
    assert_eq!(descriptor["metadata"]["annotations"][ORPHAN], json!("true"));
    // Read again without it: already an orphan, nothing more.
    let again = decide(SOURCE, &[valid("a", "t")], &log.current(), KEEP);
    assert!(again.appends.is_empty(), "{:?}", again.appends);
    // Back in the source as it was: adopted, the mark gone.
    let back = decide(
        SOURCE,
        &[valid("a", "t"), valid("b", "t")],
        &log.current(),
        KEEP,
    );
    assert_eq!(
        streams(&back),
        [("component:default/b", "EntityAdopted", 2)]
    );
    log.append(&back);
    let adopted = log.current()["component:default/b"].clone();
    assert_eq!(
        adopted.descriptor.as_ref(),
        Some(component("b", "t", SOURCE).descriptor())
    );
}

#[test]
fn with_orphan_strategy_delete_a_vanished_entity_and_an_orphan_are_removed() {
    let mut log = Log::given(&[component("a", "t", SOURCE), component("b", "t", SOURCE)]);
    let kept = decide(SOURCE, &[valid("a", "t")], &log.current(), KEEP);
    log.append(&kept);
    // Switched to delete: the orphan goes, with the reason.
    let decision = decide(SOURCE, &[valid("a", "t")], &log.current(), SYNC);
    assert_eq!(
        streams(&decision),
        [("component:default/b", "EntityRemoved", 2)]
    );
    assert_eq!(
        decision.appends[0].event,
        CatalogEvent::EntityRemoved {
            reason: RemovalReason::GoneFromSource
        }
    );
}
