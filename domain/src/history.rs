//! The past of one entity stream, and the one fold of its events.
//!
//! [`evolve`] takes one event, [`fold`] a whole stream; the projector, ingest's state and
//! every history read build on them. On top: the state at a version or at a time
//! ([`state_at`], [`state_at_time`]), the registration that began the entity's current
//! life ([`registered_version`]), and what each event changed ([`changes_by_version`]):
//! its field changes and the relations its entity started and stopped declaring, derived
//! by `relations` (never here).
//!
//! Everything is pure and strict: an event that does not fit the state (an update of a
//! missing entity, a patch whose old values do not match) is an error naming its version,
//! never silently skipped, because it means the log and the rules disagree. Streams are
//! given from version 1, in order. Reading them, and placing an error at a log position,
//! is the store's job. Location streams are not folded: their events change no entity.

use std::collections::HashMap;

use serde_json::Value;

use crate::diff::{apply_changes, Change, ChangeOp, PatchError};
use crate::event::CatalogEvent;
use crate::relations::{self, DeclaredRelation};

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

impl FoldError {
    /// The version of the event that did not fit.
    pub fn version(&self) -> i64 {
        match self {
            FoldError::NotLive { version, .. }
            | FoldError::AlreadyLive { version }
            | FoldError::Patch { version, .. }
            | FoldError::NotAnEntityEvent { version, .. } => *version,
        }
    }
}

/// The state after one more event; its version is the previous version plus one (the
/// first event of a stream is version 1).
pub fn evolve(state: Option<EntityState>, event: &CatalogEvent) -> Result<EntityState, FoldError> {
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
        // Orphaning marks the entity as Backstage does (`backstage.io/orphan: "true"`),
        // so every reader sees it and a re-read knows it is orphaned already; adoption
        // takes the mark away.
        (CatalogEvent::EntityOrphaned { .. }, Some(mut descriptor)) => {
            mark_orphan(&mut descriptor, true);
            Some(descriptor)
        }
        (CatalogEvent::EntityAdopted { .. }, Some(mut descriptor)) => {
            mark_orphan(&mut descriptor, false);
            Some(descriptor)
        }
    };
    Ok(EntityState {
        version,
        descriptor,
    })
}

/// Sets (or removes) the orphan annotation; a descriptor without a metadata mapping is
/// left as it is.
fn mark_orphan(descriptor: &mut serde_json::Value, orphaned: bool) {
    let Some(metadata) = descriptor
        .get_mut("metadata")
        .and_then(serde_json::Value::as_object_mut)
    else {
        return;
    };
    if orphaned {
        let annotations = metadata
            .entry("annotations")
            .or_insert_with(|| serde_json::Value::Object(Default::default()));
        if let Some(annotations) = annotations.as_object_mut() {
            annotations.insert(
                crate::entity::ORPHAN.to_string(),
                serde_json::Value::String("true".into()),
            );
        }
    } else if let Some(annotations) = metadata
        .get_mut("annotations")
        .and_then(serde_json::Value::as_object_mut)
    {
        annotations.remove(crate::entity::ORPHAN);
    }
}

/// True when `descriptor` carries the orphan mark.
pub fn is_orphan(descriptor: &serde_json::Value) -> bool {
    descriptor
        .get("metadata")
        .and_then(|m| m.get("annotations"))
        .and_then(|a| a.get(crate::entity::ORPHAN))
        .and_then(serde_json::Value::as_str)
        == Some("true")
}

/// Folds a whole stream from its first event; `None` for an empty stream.
pub fn fold<'a, I>(events: I) -> Result<Option<EntityState>, FoldError>
where
    I: IntoIterator<Item = &'a CatalogEvent>,
{
    events
        .into_iter()
        .try_fold(None, |state, event| evolve(state, event).map(Some))
}

/// The stream as it was after `version` (its events up to and including that one); a
/// version past the end gives the newest state, `None` before the first event.
pub fn state_at<'a, I>(events: I, version: i64) -> Result<Option<EntityState>, FoldError>
where
    I: IntoIterator<Item = &'a CatalogEvent>,
{
    fold(
        events
            .into_iter()
            .take(usize::try_from(version).unwrap_or(0)),
    )
}

/// The stream as it was at `time`: its events recorded at or before it, each given with
/// its time. The time is the caller's type; this module reads no clock.
pub fn state_at_time<'a, T, I>(events: I, time: &T) -> Result<Option<EntityState>, FoldError>
where
    T: PartialOrd + 'a,
    I: IntoIterator<Item = (&'a T, &'a CatalogEvent)>,
{
    fold(
        events
            .into_iter()
            .filter(|(recorded_at, _)| *recorded_at <= time)
            .map(|(_, event)| event),
    )
}

/// The version of the registration that began the entity's life as of `version` (the
/// latest registration up to it); `None` if there was none.
pub fn registered_version<'a, I>(events: I, version: i64) -> Option<i64>
where
    I: IntoIterator<Item = &'a CatalogEvent>,
{
    (1..=version.max(0))
        .zip(events)
        .filter(|(_, event)| matches!(event, CatalogEvent::EntityRegistered { .. }))
        .map(|(version, _)| version)
        .last()
}

/// What one event changed: the descriptor's fields, and the relations the entity's own
/// descriptor started and stopped declaring (each list in declaration order).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct EventChanges {
    /// A registration is one `Add` at `""` with the whole descriptor, a removal one
    /// `Remove` at `""` with the last one; orphaning and adoption change no field.
    pub changes: Vec<Change>,
    pub relations_added: Vec<DeclaredRelation>,
    pub relations_removed: Vec<DeclaredRelation>,
}

/// Folds a stream once, from version 1, and keeps what each event whose version is
/// `wanted` changed. A location stream's events change no entity: each is empty.
pub fn changes_by_version<'a, I>(
    events: I,
    wanted: impl Fn(i64) -> bool,
) -> Result<HashMap<i64, EventChanges>, FoldError>
where
    I: IntoIterator<Item = &'a CatalogEvent>,
{
    let mut found = HashMap::new();
    let mut state: Option<EntityState> = None;
    for (version, event) in (1..).zip(events) {
        if matches!(
            event,
            CatalogEvent::LocationAdded { .. } | CatalogEvent::LocationRemoved { .. }
        ) {
            if wanted(version) {
                found.insert(version, EventChanges::default());
            }
            continue;
        }
        let before = state.as_ref().and_then(|s| s.descriptor.clone());
        let next = evolve(state, event)?;
        if wanted(version) {
            let changes = changes_of(before.as_ref(), event, next.descriptor.as_ref());
            found.insert(version, changes);
        }
        state = Some(next);
    }
    Ok(found)
}

/// What `event` changed, given the descriptor before and after it.
fn changes_of(before: Option<&Value>, event: &CatalogEvent, after: Option<&Value>) -> EventChanges {
    let changes = match event {
        CatalogEvent::EntityRegistered { descriptor } => vec![Change {
            path: String::new(),
            op: ChangeOp::Add,
            old_value: None,
            new_value: Some(descriptor.clone()),
        }],
        CatalogEvent::EntityUpdated { changes } => changes.clone(),
        CatalogEvent::EntityRemoved { .. } => before
            .map(|old| Change {
                path: String::new(),
                op: ChangeOp::Remove,
                old_value: Some(old.clone()),
                new_value: None,
            })
            .into_iter()
            .collect(),
        _ => Vec::new(),
    };
    let (old, new) = (declared(before), declared(after));
    EventChanges {
        changes,
        relations_added: new.iter().filter(|r| !old.contains(r)).cloned().collect(),
        relations_removed: old.iter().filter(|r| !new.contains(r)).cloned().collect(),
    }
}

/// The relations a descriptor declares; none when absent or no longer valid.
fn declared(descriptor: Option<&Value>) -> Vec<DeclaredRelation> {
    descriptor
        .and_then(|d| relations::of_descriptor(d).ok())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests;
