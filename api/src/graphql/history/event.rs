//! One event of the log as GraphQL sees it: where it sits (position, stream,
//! version), who recorded it and from where, and what it changed, field by
//! field and relation by relation.
//!
//! What an event changed needs the entity's state before it. A page of an
//! entity's history folds the stream once ([`details_for_versions`]) and hands
//! every event its detail; an event met on its own (the audit feed, a
//! subscription) folds its stream up to itself, and only when a client asks.

use super::event_log;
use crate::error::Result;
use crate::graphql::entity::Entity;
use crate::graphql::loaders::Loaders;
use crate::graphql::long::Long;
use almanac_domain::{apply, CatalogEvent, EntityState};
use almanac_store::history::{decode, HistoryError};
use almanac_store::StoredEvent;
use async_graphql::{ComplexObject, Context, Enum, Json, Object, SimpleObject};
use chrono::{DateTime, Utc};
use serde_json::Value;
use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::Arc;
use tokio::sync::OnceCell;

/// How a field changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Enum)]
pub enum ChangeOp {
    Add,
    Remove,
    Replace,
}

/// One changed field. `path` is a JSON pointer into the descriptor (RFC 6901);
/// `""` is the whole descriptor: a registration is one `ADD` at `""` with the
/// whole new descriptor, a removal one `REMOVE` at `""` with the last one.
#[derive(Clone, Debug, SimpleObject)]
pub struct Change {
    pub path: String,
    pub op: ChangeOp,
    /// Absent for an `ADD`.
    pub old_value: Option<Json<Value>>,
    /// Absent for a `REMOVE`.
    pub new_value: Option<Json<Value>>,
}

impl From<&almanac_domain::Change> for Change {
    fn from(change: &almanac_domain::Change) -> Self {
        Change {
            path: change.path.clone(),
            op: match change.op {
                almanac_domain::ChangeOp::Add => ChangeOp::Add,
                almanac_domain::ChangeOp::Remove => ChangeOp::Remove,
                almanac_domain::ChangeOp::Replace => ChangeOp::Replace,
            },
            old_value: change.old_value.clone().map(Json),
            new_value: change.new_value.clone().map(Json),
        }
    }
}

/// A relation the entity's own descriptor started or stopped declaring.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, SimpleObject)]
#[graphql(complex)]
pub struct RelationChange {
    /// Backstage's spelling: `ownedBy`, `dependsOn`, ...
    #[graphql(name = "type")]
    pub relation_type: String,
    pub target_ref: String,
    /// The spec field that declares it, e.g. `spec.owner`.
    pub field: String,
}

#[ComplexObject]
impl RelationChange {
    /// The target as it is now; null when no such entity exists today.
    async fn target(&self, ctx: &Context<'_>) -> Result<Option<Entity>> {
        Ok(Loaders::of(ctx)?
            .entity(&self.target_ref)
            .await?
            .map(Entity::from_record))
    }
}

/// What one event changed.
#[derive(Clone, Debug, Default)]
pub struct Detail {
    pub changes: Vec<Change>,
    pub relations_added: Vec<RelationChange>,
    pub relations_removed: Vec<RelationChange>,
}

/// The relations a descriptor declares (none when absent or no longer valid).
pub fn declared(descriptor: Option<&Value>) -> BTreeSet<RelationChange> {
    descriptor
        .and_then(|d| almanac_domain::Entity::from_value(d.clone()).ok())
        .map(|entity| entity.relations())
        .unwrap_or_default()
        .into_iter()
        .map(|r| RelationChange {
            relation_type: r.relation.as_str().to_string(),
            target_ref: r.target.canonical(),
            field: r.field.to_string(),
        })
        .collect()
}

fn detail(before: Option<&Value>, event: &CatalogEvent, after: Option<&Value>) -> Detail {
    let changes = match event {
        CatalogEvent::EntityRegistered { descriptor } => vec![Change {
            path: String::new(),
            op: ChangeOp::Add,
            old_value: None,
            new_value: Some(Json(descriptor.clone())),
        }],
        CatalogEvent::EntityUpdated { changes } => changes.iter().map(Change::from).collect(),
        CatalogEvent::EntityRemoved { .. } => before
            .map(|old| Change {
                path: String::new(),
                op: ChangeOp::Remove,
                old_value: Some(Json(old.clone())),
                new_value: None,
            })
            .into_iter()
            .collect(),
        _ => Vec::new(),
    };
    let (old, new) = (declared(before), declared(after));
    Detail {
        changes,
        relations_added: new.difference(&old).cloned().collect(),
        relations_removed: old.difference(&new).cloned().collect(),
    }
}

/// Folds `events` (one entity stream from version 1, in order) once and keeps
/// the detail of the events in `wanted`. Location streams change no entity.
pub fn details_for_versions(
    events: &[StoredEvent],
    wanted: &HashSet<i64>,
) -> std::result::Result<HashMap<i64, Arc<Detail>>, HistoryError> {
    let mut details = HashMap::new();
    let mut state: Option<EntityState> = None;
    for stored in events {
        let event = decode(stored)?;
        if matches!(
            event,
            CatalogEvent::LocationAdded { .. } | CatalogEvent::LocationRemoved { .. }
        ) {
            details.insert(stored.version, Arc::new(Detail::default()));
            continue;
        }
        let before = state.as_ref().and_then(|s| s.descriptor.clone());
        let next = apply(state, &event).map_err(|err| HistoryError::Corrupt {
            position: stored.position,
            message: err.to_string(),
        })?;
        if wanted.contains(&stored.version) {
            let found = detail(before.as_ref(), &event, next.descriptor.as_ref());
            details.insert(stored.version, Arc::new(found));
        }
        state = Some(next);
    }
    Ok(details)
}

/// An event of the log.
#[derive(Clone, Debug)]
pub struct HistoryEvent {
    event: Arc<StoredEvent>,
    detail: Arc<OnceCell<Arc<Detail>>>,
}

impl HistoryEvent {
    /// An event whose changes are worked out when asked for.
    pub fn new(event: StoredEvent) -> Self {
        Self {
            event: Arc::new(event),
            detail: Arc::new(OnceCell::new()),
        }
    }

    /// An event whose changes are already known (a history page folded them).
    pub fn with_detail(event: StoredEvent, detail: Option<Arc<Detail>>) -> Self {
        Self {
            event: Arc::new(event),
            detail: Arc::new(OnceCell::new_with(detail)),
        }
    }

    pub fn log_position(&self) -> i64 {
        self.event.position
    }

    pub fn version_number(&self) -> i64 {
        self.event.version
    }

    async fn detail(&self, ctx: &Context<'_>) -> Result<&Arc<Detail>> {
        self.detail
            .get_or_try_init(|| async {
                let log = event_log(ctx)?;
                let events = log
                    .read_stream_through(&self.event.stream, self.event.version)
                    .await
                    .map_err(almanac_store::StoreError::from)?;
                let wanted = HashSet::from([self.event.version]);
                let mut details = details_for_versions(&events, &wanted)?;
                Ok(details.remove(&self.event.version).unwrap_or_default())
            })
            .await
    }
}

#[Object]
impl HistoryEvent {
    /// Place in the global log; later events have larger positions.
    async fn position(&self) -> Long {
        Long(self.event.position)
    }

    /// The stream: an entity's canonical ref, or `location/<id>`.
    async fn stream(&self) -> &str {
        &self.event.stream
    }

    /// The entity's canonical ref; null for a location's event.
    #[graphql(name = "ref")]
    async fn entity_ref(&self) -> Option<&str> {
        (!self.event.stream.starts_with("location/")).then_some(self.event.stream.as_str())
    }

    /// The entity as it is now; null when it no longer exists.
    async fn entity(&self, ctx: &Context<'_>) -> Result<Option<Entity>> {
        if self.event.stream.starts_with("location/") {
            return Ok(None);
        }
        Ok(Loaders::of(ctx)?
            .entity(&self.event.stream)
            .await?
            .map(Entity::from_record))
    }

    /// The stream's version after this event (the first event is 1).
    async fn version(&self) -> i64 {
        self.event.version
    }

    /// `EntityRegistered`, `EntityUpdated`, `EntityRemoved`, `EntityOrphaned`,
    /// `EntityAdopted`, `LocationAdded`, `LocationRemoved`.
    #[graphql(name = "type")]
    async fn event_type(&self) -> &str {
        &self.event.event_type
    }

    async fn recorded_at(&self) -> DateTime<Utc> {
        self.event.recorded_at
    }

    /// Who: `ingest:<location>` for a read of a source, the token's subject
    /// for a mutation.
    async fn actor(&self) -> &str {
        &self.event.actor
    }

    /// Where from: the location key (`file:...`, `url:...`, `api:<name>`).
    async fn source(&self) -> Option<&str> {
        self.event.source.as_deref()
    }

    /// Events recorded together (one read of a source, one mutation) share it.
    async fn correlation_id(&self) -> Option<String> {
        self.event.correlation_id.map(|id| id.to_string())
    }

    async fn causation_id(&self) -> Option<String> {
        self.event.causation_id.map(|id| id.to_string())
    }

    /// The descriptor's changed fields (see `Change` for registrations and
    /// removals); empty for orphaning, adoption and location events.
    async fn changes(&self, ctx: &Context<'_>) -> Result<Vec<Change>> {
        Ok(self.detail(ctx).await?.changes.clone())
    }

    /// Relations the entity's descriptor declares after this event and did not before.
    async fn relations_added(&self, ctx: &Context<'_>) -> Result<Vec<RelationChange>> {
        Ok(self.detail(ctx).await?.relations_added.clone())
    }

    /// Relations the entity's descriptor declared before this event and no longer does.
    async fn relations_removed(&self, ctx: &Context<'_>) -> Result<Vec<RelationChange>> {
        Ok(self.detail(ctx).await?.relations_removed.clone())
    }
}
