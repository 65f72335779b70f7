//! Every decision about a change to the catalog, as pure functions of the current state:
//! here, reconciling one source's freshly read entities (a file or URL read, a refresh, a
//! push) with the catalog: which events to append, which claims conflict, which documents
//! are in error. The submodules decide the rest: [`delete`] (a user's delete of one
//! entity), [`location`] (adding or removing a location) and [`push`] (what refuses a push
//! whole).
//!
//! Pure: the caller loads the current states and appends the returned events (in one
//! transaction, each with its expected version for optimistic concurrency). Re-reading an
//! unchanged source decides nothing. This module does not read sources, validate documents
//! (candidates arrive already validated), set annotations or judge who may write
//! (authorisation is the API's).

use std::collections::{BTreeMap, HashMap};

use serde_json::Value;

use crate::diff::diff;
use crate::entity::{managed_by_location, ref_of_raw, Entity};
use crate::entity_ref::EntityRef;
use crate::event::{entity_stream, CatalogEvent, RemovalReason};
use crate::history::{is_orphan, EntityState};
use crate::validation::ValidationErrors;

pub mod delete;
pub mod location;
pub mod push;

pub use delete::{delete_entity, StaleVersion};
pub use location::{add_location, remove_location, LocationState};
pub use push::{
    check_documents, expected_versions, pushed_refs, version_mismatches, InvalidPush, PushError,
    VersionMismatch,
};

/// One document read from a source.
#[derive(Clone, Debug)]
pub enum Candidate {
    Valid(Entity),
    /// `entity_ref` is the ref the document names, when it can be read: it protects that
    /// entity's last good version from removal.
    Invalid {
        entity_ref: Option<EntityRef>,
        errors: ValidationErrors,
    },
}

impl Candidate {
    /// Validates a raw document; an invalid one keeps the ref it names, if readable.
    pub fn from_value(descriptor: Value) -> Candidate {
        let entity_ref = ref_of_raw(&descriptor);
        match Entity::from_value(descriptor) {
            Ok(entity) => Candidate::Valid(entity),
            Err(errors) => Candidate::Invalid { entity_ref, errors },
        }
    }
}

/// Backstage's `catalog.orphanStrategy`: what becomes of an entity its source no longer
/// holds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OrphanStrategy {
    /// Removed (`EntityRemoved`, reason `gone_from_source`): Almanac's default.
    #[default]
    Delete,
    /// Kept, marked `backstage.io/orphan: "true"` (`EntityOrphaned`): Backstage's default.
    Keep,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DecideOptions {
    /// Remove the source's entities that it no longer holds: true for file and URL sources;
    /// false for a push API that upserts.
    pub remove_missing: bool,
    /// With `remove_missing`: remove such entities, or keep them as orphans.
    pub orphans: OrphanStrategy,
}

/// An event to append to `stream`, which must be at `expected_version` (0 for a new
/// stream); the event becomes version `expected_version + 1`.
#[derive(Clone, Debug, PartialEq)]
pub struct PendingEvent {
    pub stream: String,
    pub expected_version: i64,
    pub event: CatalogEvent,
}

/// Two sources claim one entity; the existing claim keeps it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Conflict {
    pub entity_ref: EntityRef,
    /// The live entity's `backstage.io/managed-by-location`; `None` if it has none.
    pub existing_source: Option<String>,
    pub new_source: String,
}

/// A document of the source that was not applied.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SourceError {
    pub entity_ref: Option<EntityRef>,
    pub message: String,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Decision {
    /// Ordered by stream (the canonical ref).
    pub appends: Vec<PendingEvent>,
    /// Live entities the source holds unchanged.
    pub unchanged: usize,
    pub conflicts: Vec<Conflict>,
    /// Ordered by ref; errors without a ref come first, in source order.
    pub errors: Vec<SourceError>,
}

/// What the source says about one ref (the last of its documents).
enum Claim<'a> {
    Valid(&'a Entity),
    /// Invalid documents only shield their ref from removal.
    Invalid,
}

/// Reconciles `candidates`, all read from `source`, with `current`.
///
/// `current` must hold, by canonical ref, every stream whose live descriptor is managed by
/// `source`, plus every stream a candidate names. Valid candidates must already carry
/// `backstage.io/managed-by-location: <source>`. The candidates are borrowed: a registration
/// copies its descriptor once, into its event.
pub fn decide(
    source: &str,
    candidates: &[Candidate],
    current: &HashMap<String, EntityState>,
    options: DecideOptions,
) -> Decision {
    let mut decision = Decision::default();
    // Each ref's claim with the (1-based) document that made it.
    let mut claims: BTreeMap<String, (EntityRef, Claim<'_>, usize)> = BTreeMap::new();
    for (index, candidate) in candidates.iter().enumerate() {
        let document = index + 1;
        let (entity_ref, claim) = match candidate {
            Candidate::Valid(entity) => (entity.entity_ref(), Claim::Valid(entity)),
            Candidate::Invalid {
                entity_ref: None,
                errors,
            } => {
                decision.errors.push(SourceError {
                    entity_ref: None,
                    message: errors.to_string(),
                });
                continue;
            }
            Candidate::Invalid {
                entity_ref: Some(entity_ref),
                errors,
            } => {
                decision.errors.push(SourceError {
                    entity_ref: Some(entity_ref.clone()),
                    message: errors.to_string(),
                });
                (entity_ref.clone(), Claim::Invalid)
            }
        };
        let key = entity_ref.canonical();
        // Backstage keeps the last of a ref's documents in one file; so does Almanac,
        // saying which document replaced which.
        if let Some((_, _, earlier)) = claims.get(&key) {
            decision.errors.push(SourceError {
                message: format!(
                    "duplicate entity {entity_ref} in source {source}: document {document} \
                     replaces document {earlier} (the last one wins, as in Backstage)"
                ),
                entity_ref: Some(entity_ref.clone()),
            });
        }
        claims.insert(key, (entity_ref, claim, document));
    }

    for (key, (entity_ref, claim, _)) in claims.iter() {
        let Claim::Valid(entity) = claim else {
            continue;
        };
        let state = current.get(key);
        match state.and_then(|s| s.descriptor.as_ref()) {
            None => decision.appends.push(PendingEvent {
                stream: entity_stream(entity_ref),
                expected_version: state.map_or(0, |s| s.version),
                event: CatalogEvent::EntityRegistered {
                    descriptor: entity.descriptor().clone(),
                },
            }),
            Some(live) if managed_by_location(live) != Some(source) => {
                decision.conflicts.push(Conflict {
                    entity_ref: entity_ref.clone(),
                    existing_source: managed_by_location(live).map(str::to_string),
                    new_source: source.to_string(),
                });
            }
            Some(live) if live == entity.descriptor() => decision.unchanged += 1,
            // An orphan its source holds again, as it was: adopted, the mark taken away.
            Some(live) if is_orphan(live) && unmarked(live) == *entity.descriptor() => {
                decision.appends.push(PendingEvent {
                    stream: entity_stream(entity_ref),
                    expected_version: state.map_or(0, |s| s.version),
                    event: CatalogEvent::EntityAdopted {
                        location: source.to_string(),
                    },
                })
            }
            Some(live) => decision.appends.push(PendingEvent {
                stream: entity_stream(entity_ref),
                expected_version: state.map_or(0, |s| s.version),
                event: CatalogEvent::EntityUpdated {
                    changes: diff(live, entity.descriptor()),
                },
            }),
        }
    }

    if options.remove_missing {
        for (key, state) in current {
            let claimed_here = state
                .descriptor
                .as_ref()
                .is_some_and(|live| managed_by_location(live) == Some(source));
            if claimed_here && !claims.contains_key(key) {
                let event = vanished(
                    state,
                    source,
                    options.orphans,
                    RemovalReason::GoneFromSource,
                );
                if let Some(event) = event {
                    decision.appends.push(PendingEvent {
                        stream: key.clone(),
                        expected_version: state.version,
                        event,
                    });
                }
            }
        }
    }

    decision.appends.sort_by(|a, b| a.stream.cmp(&b.stream));
    decision
        .conflicts
        .sort_by(|a, b| a.entity_ref.cmp(&b.entity_ref));
    // Stable: errors for one ref (its own, then a duplicate's) keep their source order.
    decision
        .errors
        .sort_by(|a, b| a.entity_ref.cmp(&b.entity_ref));
    decision
}

/// What becomes of a live entity its source no longer holds: removed for `reason`, or
/// orphaned (once: `None` for an orphan already).
pub fn vanished(
    state: &EntityState,
    source: &str,
    orphans: OrphanStrategy,
    reason: RemovalReason,
) -> Option<CatalogEvent> {
    let live = state.descriptor.as_ref()?;
    match orphans {
        OrphanStrategy::Delete => Some(CatalogEvent::EntityRemoved { reason }),
        OrphanStrategy::Keep if is_orphan(live) => None,
        OrphanStrategy::Keep => Some(CatalogEvent::EntityOrphaned {
            location: source.to_string(),
        }),
    }
}

/// `descriptor` without the orphan mark (what adoption leaves).
fn unmarked(descriptor: &Value) -> Value {
    let mut descriptor = descriptor.clone();
    if let Some(annotations) = descriptor
        .get_mut("metadata")
        .and_then(|m| m.get_mut("annotations"))
        .and_then(Value::as_object_mut)
    {
        annotations.remove(crate::entity::ORPHAN);
    }
    descriptor
}

/// The event that removes a live entity, e.g. for a user's delete; `None` when the stream
/// holds no live entity.
pub fn removal(
    entity_ref: &EntityRef,
    state: &EntityState,
    reason: RemovalReason,
) -> Option<PendingEvent> {
    state.descriptor.as_ref()?;
    Some(PendingEvent {
        stream: entity_stream(entity_ref),
        expected_version: state.version,
        event: CatalogEvent::EntityRemoved { reason },
    })
}

#[cfg(test)]
mod tests;
