//! One entity and the reads every kind shares: spec values, relation hops and typed
//! views of related entities.
//!
//! An entity is held either as an entity of a snapshot of the in-memory catalog (every
//! current-state read) or as a row (an entity as it was, from time travel; a row a
//! caller read from SQL). Hops from a snapshot entity read that same snapshot, so one
//! answer never mixes two log positions, in a subscription too (which pins no snapshot
//! for its whole life). Hops from a row read the operation's snapshot
//! ([`Loaders::snapshot`]). A snapshot entity's row — needed only for the descriptor
//! (`spec`, `labels`, `annotations`, `profile`) — is derived on first use, once per
//! object (deriving it costs some 25 hops); the other fields read the snapshot entity
//! directly. It does no SQL itself: an entity held elided comes whole through
//! [`Loaders::full_record`], and then every field reads that row.

use super::Entity;
use crate::error::Result;
use crate::graphql::loaders::Loaders;
use almanac_domain::RelationType;
use almanac_readmodel::{Entity as HeldEntity, Snapshot};
use almanac_store::catalog::{kind_of_ref, EntityRecord, RelationRecord};
use almanac_store::follow::{followed_uid, held_record};
use async_graphql::Context;
use chrono::{DateTime, Utc};
use serde_json::Value;
use std::sync::{Arc, OnceLock};

/// An entity, and for an entity as it was (time travel) the relations it declared
/// then: relation fields of such a past state answer from those, not from today's
/// relations.
#[derive(Clone, Debug)]
pub struct EntityData {
    held: Held,
    /// `Some` for a state of the past: the relations it declared then.
    pub relations_then: Option<Arc<Vec<RelationRecord>>>,
}

#[derive(Clone, Debug)]
enum Held {
    Row(Arc<EntityRecord>),
    Followed(Arc<Followed>),
}

/// An entity of one snapshot, with its row once a field asked for it.
struct Followed {
    snapshot: Snapshot,
    entity: Arc<HeldEntity>,
    row: OnceLock<Arc<EntityRecord>>,
}

impl std::fmt::Debug for Followed {
    /// The ref and position only: a snapshot's own form would print the catalog.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Followed")
            .field("ref", &self.entity.entity_ref)
            .field("position", &self.snapshot.position())
            .finish()
    }
}

/// A GraphQL object type that stands for exactly one kind.
pub trait KindType: Sized {
    /// The kind as written in descriptors.
    const KIND: &'static str;
    fn wrap(data: EntityData) -> Self;
}

/// One field of either form: the snapshot entity's, else the row's.
macro_rules! field {
    ($self:ident, $entity:ident => $from_entity:expr, $row:ident => $from_row:expr) => {
        match &$self.held {
            // An entity held elided has its whole row: every field from that one.
            Held::Followed(followed) if !followed.entity.elided => {
                let $entity = &followed.entity;
                $from_entity
            }
            _ => {
                let $row = $self.record();
                $from_row
            }
        }
    };
}

impl EntityData {
    /// An entity of `snapshot`; `full` is its whole row when the snapshot holds it
    /// elided ([`Loaders::full_record`]), else None.
    pub fn followed(
        snapshot: Snapshot,
        entity: Arc<HeldEntity>,
        full: Option<Arc<EntityRecord>>,
    ) -> Self {
        let row = OnceLock::new();
        if let Some(full) = full {
            let _ = row.set(full);
        }
        EntityData {
            held: Held::Followed(Arc::new(Followed {
                snapshot,
                entity,
                row,
            })),
            relations_then: None,
        }
    }

    /// The entity as it was, with the relations it declared then.
    pub fn past(record: EntityRecord, relations_then: Vec<RelationRecord>) -> Self {
        EntityData {
            held: Held::Row(Arc::new(record)),
            relations_then: Some(Arc::new(relations_then)),
        }
    }

    /// The whole row (derived from a snapshot entity on first use).
    pub fn record(&self) -> &EntityRecord {
        match &self.held {
            Held::Row(record) => record,
            // An entity held elided got its full row at construction
            // (`Loaders::data`); for the others the held descriptor is the whole one.
            Held::Followed(followed) => followed
                .row
                .get_or_init(|| Arc::new(held_record(&followed.entity))),
        }
    }

    /// The snapshot hops from this entity read: its own, else the operation's.
    pub fn snapshot(&self, ctx: &Context<'_>) -> Result<Snapshot> {
        match &self.held {
            Held::Followed(followed) => Ok(followed.snapshot.clone()),
            Held::Row(_) => Loaders::snapshot(ctx),
        }
    }

    /// The key of the global id: the ref, or for a state of the past the ref
    /// at its version (another object than the live entity, for client caches).
    pub fn id_key(&self) -> std::borrow::Cow<'_, str> {
        if self.relations_then.is_some() {
            crate::graphql::nodes::snapshot_key(self.entity_ref(), self.version()).into()
        } else {
            self.entity_ref().into()
        }
    }

    pub fn entity_ref(&self) -> &str {
        field!(self, e => &e.entity_ref, r => &r.entity_ref)
    }

    pub fn kind(&self) -> &str {
        field!(self, e => &e.kind, r => &r.kind)
    }

    pub fn namespace(&self) -> &str {
        field!(self, e => &e.namespace, r => &r.namespace)
    }

    pub fn name(&self) -> &str {
        field!(self, e => &e.name, r => &r.name)
    }

    pub fn title(&self) -> Option<&str> {
        field!(self, e => e.title.as_deref(), r => r.title.as_deref())
    }

    pub fn description(&self) -> Option<&str> {
        field!(self, e => e.description.as_deref(), r => r.description.as_deref())
    }

    pub fn tags(&self) -> Vec<String> {
        field!(self, e => e.tags.iter().map(|t| t.to_string()).collect(), r => r.tags.clone())
    }

    /// The canonical ref of `spec.owner`.
    pub fn owner_ref(&self) -> Option<&str> {
        field!(self, e => e.owner_ref.as_deref(), r => r.owner_ref.as_deref())
    }

    /// `backstage.io/managed-by-location`.
    pub fn source(&self) -> Option<&str> {
        field!(self, e => e.source(), r => r.source.as_deref())
    }

    pub fn uid(&self) -> uuid::Uuid {
        field!(self, e => followed_uid(e), r => r.uid)
    }

    pub fn version(&self) -> i64 {
        field!(self, e => e.version, r => r.version)
    }

    pub fn created_at(&self) -> DateTime<Utc> {
        field!(self, e => e.created_at, r => r.created_at)
    }

    pub fn updated_at(&self) -> DateTime<Utc> {
        field!(self, e => e.updated_at, r => r.updated_at)
    }

    /// `spec.type`.
    pub fn spec_type(&self) -> Option<String> {
        field!(self, e => e.spec_type.as_deref().map(str::to_string), r => r.spec_type.clone())
    }

    pub fn lifecycle(&self) -> Option<String> {
        field!(self, e => e.lifecycle.as_deref().map(str::to_string), r => r.lifecycle.clone())
    }

    /// `metadata.links`.
    pub fn links(&self) -> Vec<almanac_domain::summary::Link> {
        field!(self, e => e.links.to_vec(), r => almanac_domain::summary::links(&r.descriptor))
    }

    /// One annotation's value.
    pub fn annotation(&self, key: &str) -> Option<String> {
        field!(self,
            e => e.annotations.get(key).map(str::to_string),
            r => r.annotations.get(key).and_then(Value::as_str).map(str::to_string))
    }

    pub fn spec(&self) -> &Value {
        &self.record().descriptor["spec"]
    }

    pub fn spec_str(&self, key: &str) -> Option<String> {
        self.spec()
            .get(key)
            .and_then(Value::as_str)
            .map(str::to_string)
    }

    /// The string items of a list in the spec (`targets`, say).
    pub fn spec_strings(&self, key: &str) -> Vec<String> {
        self.spec()
            .get(key)
            .and_then(Value::as_array)
            .map(|items| {
                items
                    .iter()
                    .filter_map(|v| v.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Targets of this entity's `relation` edges, optionally of one kind
    /// (lower-case, as in refs), that exist; dangling targets are left out. In
    /// target order (declaration order for a past state), once each.
    pub async fn targets(
        &self,
        ctx: &Context<'_>,
        relation: RelationType,
        kind: Option<&str>,
    ) -> Result<Vec<EntityData>> {
        let snapshot = self.snapshot(ctx)?;
        let wanted = |target: &str| kind.is_none_or(|k| kind_of_ref(target) == k);
        let mut targets: Vec<&str> = match &self.relations_then {
            Some(past) => past
                .iter()
                .filter(|e| e.relation == relation && wanted(&e.target_ref))
                .map(|e| e.target_ref.as_str())
                .collect(),
            None => snapshot
                .relation_rows(self.entity_ref())
                .filter(|row| row.relation == relation && wanted(row.target_ref))
                .map(|row| &**row.target_ref)
                .collect(),
        };
        if self.relations_then.is_some() {
            // Declaration order, first occurrence kept (a handful of rows).
            let mut seen = std::collections::HashSet::new();
            targets.retain(|t| seen.insert(*t));
        } else {
            // Rows are sorted by type, then target: repeats are adjacent.
            targets.dedup();
        }
        let found: Vec<Arc<HeldEntity>> = targets
            .into_iter()
            .filter_map(|t| snapshot.entity(t).cloned())
            .collect();
        Loaders::of(ctx)?.all(&snapshot, found).await
    }

    /// Targets of this entity's `relation` edges whose ref is of `kind` (lower-case)
    /// when given, by ref, once each: the live entities of the snapshot hops read,
    /// and the refs no entity has (dangling), which [`EntityData::targets`] leaves out.
    pub fn split_targets(
        &self,
        ctx: &Context<'_>,
        relation: RelationType,
        kind: Option<&str>,
    ) -> Result<(Snapshot, Vec<Arc<HeldEntity>>, Vec<String>)> {
        let snapshot = self.snapshot(ctx)?;
        let wanted = |target: &str| kind.is_none_or(|k| kind_of_ref(target) == k);
        let mut targets: Vec<String> = match &self.relations_then {
            Some(past) => past
                .iter()
                .filter(|e| e.relation == relation && wanted(&e.target_ref))
                .map(|e| e.target_ref.clone())
                .collect(),
            None => snapshot
                .relation_rows(self.entity_ref())
                .filter(|row| row.relation == relation && wanted(row.target_ref))
                .map(|row| row.target_ref.to_string())
                .collect(),
        };
        targets.sort_unstable();
        targets.dedup();
        let mut live = Vec::new();
        let mut dangling = Vec::new();
        for target in targets {
            match snapshot.entity(&target) {
                Some(entity) => live.push(entity.clone()),
                None => dangling.push(target),
            }
        }
        Ok((snapshot, live, dangling))
    }

    /// Related entities of type `T` only.
    pub async fn typed<T: KindType>(
        &self,
        ctx: &Context<'_>,
        relation: RelationType,
    ) -> Result<Vec<T>> {
        let kind = T::KIND.to_lowercase();
        Ok(self
            .targets(ctx, relation, Some(&kind))
            .await?
            .into_iter()
            .filter(|d| d.kind() == T::KIND)
            .map(T::wrap)
            .collect())
    }

    pub async fn typed_one<T: KindType>(
        &self,
        ctx: &Context<'_>,
        relation: RelationType,
    ) -> Result<Option<T>> {
        Ok(self.typed(ctx, relation).await?.into_iter().next())
    }

    /// Related entities of any kind.
    pub async fn related(&self, ctx: &Context<'_>, relation: RelationType) -> Result<Vec<Entity>> {
        let found = self.targets(ctx, relation, None).await?;
        Ok(found.into_iter().map(Entity::from_data).collect())
    }

    /// `spec.owner`, resolved (a Group or a User; null when dangling).
    pub async fn owner(&self, ctx: &Context<'_>) -> Result<Option<Entity>> {
        let Some(owner) = self.owner_ref() else {
            return Ok(None);
        };
        let snapshot = self.snapshot(ctx)?;
        let found = Loaders::of(ctx)?.entity_in(&snapshot, owner).await?;
        Ok(found.map(Entity::from_data))
    }
}
