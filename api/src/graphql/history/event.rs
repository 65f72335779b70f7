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
use almanac_domain::{DeclaredRelation, EventChanges};
use almanac_store::history::{changes_by_version, HistoryError};
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
        Loaders::current(ctx, &self.target_ref).await
    }
}

/// What one event changed.
#[derive(Clone, Debug, Default)]
pub struct Detail {
    pub changes: Vec<Change>,
    pub relations_added: Vec<RelationChange>,
    pub relations_removed: Vec<RelationChange>,
}

impl From<&EventChanges> for Detail {
    fn from(found: &EventChanges) -> Self {
        // Each list sorted by type, target and field, as clients have always seen it.
        let sorted = |relations: &[DeclaredRelation]| -> Vec<RelationChange> {
            relations
                .iter()
                .map(|r| RelationChange {
                    relation_type: r.relation.as_str().to_string(),
                    target_ref: r.target.canonical(),
                    field: r.field.to_string(),
                })
                .collect::<BTreeSet<_>>()
                .into_iter()
                .collect()
        };
        Detail {
            changes: found.changes.iter().map(Change::from).collect(),
            relations_added: sorted(&found.relations_added),
            relations_removed: sorted(&found.relations_removed),
        }
    }
}

/// What the events of `events` (one entity stream from version 1, in order)
/// whose versions are in `wanted` changed; `domain::history` folds the stream once.
pub fn details_for_versions(
    events: &[StoredEvent],
    wanted: &HashSet<i64>,
) -> std::result::Result<HashMap<i64, Arc<Detail>>, HistoryError> {
    Ok(changes_by_version(events, wanted)?
        .iter()
        .map(|(version, found)| (*version, Arc::new(Detail::from(found))))
        .collect())
}

/// An event of the log.
#[derive(Clone, Debug)]
pub struct HistoryEvent {
    event: Arc<StoredEvent>,
    detail: Arc<OnceCell<Arc<Detail>>>,
}

impl HistoryEvent {
    /// The ref of the entity the event is about; None for a location's event.
    fn about(&self) -> Option<&str> {
        (!self.event.stream.starts_with("location/")).then_some(self.event.stream.as_str())
    }

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
                    .await?;
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
    #[graphql(
        name = "ref",
        deprecation = "a ref of another entity (or of the one a record is about) is named `entityRef` / `<role>Ref`; use entityRef"
    )]
    async fn entity_ref(&self) -> Option<&str> {
        self.about()
    }

    /// The canonical ref of the entity the event is about; null for a location's event.
    #[graphql(name = "entityRef")]
    async fn about_ref(&self) -> Option<&str> {
        self.about()
    }

    /// The global id of the entity the event is about (for `EntityRemoved`,
    /// the id the removed entity had, to drop it from a client cache); null
    /// for a location's event.
    async fn entity_id(&self) -> Option<async_graphql::ID> {
        (!self.event.stream.starts_with("location/"))
            .then(|| crate::graphql::nodes::entity_id(&self.event.stream))
    }

    /// The entity as it is now; null when it no longer exists.
    async fn entity(&self, ctx: &Context<'_>) -> Result<Option<Entity>> {
        if self.event.stream.starts_with("location/") {
            return Ok(None);
        }
        Loaders::current(ctx, &self.event.stream).await
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
