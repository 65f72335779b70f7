//! One entity row and the reads every kind shares: spec values, relation hops
//! (through the request's loaders) and typed views of related entities.

use super::Entity;
use crate::error::Result;
use crate::graphql::loaders::Loaders;
use almanac_domain::RelationType;
use almanac_store::catalog::{kind_of_ref, EntityRecord, RelationRecord};
use async_graphql::Context;
use serde_json::Value;
use std::sync::Arc;

/// A row, and for an entity as it was (time travel) the relations it declared
/// then: relation fields of such a snapshot answer from those, not from today's
/// `relation_edges`.
#[derive(Clone, Debug)]
pub struct EntityData {
    pub record: Arc<EntityRecord>,
    /// `Some` for a snapshot of the past: the relations it declared then.
    pub relations_then: Option<Arc<Vec<RelationRecord>>>,
}

/// A GraphQL object type that stands for exactly one kind.
pub trait KindType: Sized {
    /// The kind as written in descriptors.
    const KIND: &'static str;
    fn wrap(data: EntityData) -> Self;
}

impl EntityData {
    /// The entity as it is now.
    pub fn current(record: Arc<EntityRecord>) -> Self {
        EntityData {
            record,
            relations_then: None,
        }
    }

    /// The entity as it was, with the relations it declared then.
    pub fn past(record: EntityRecord, relations_then: Vec<RelationRecord>) -> Self {
        EntityData {
            record: Arc::new(record),
            relations_then: Some(Arc::new(relations_then)),
        }
    }

    /// Its relation rows: the snapshot's when it is one, else today's.
    pub async fn edges(&self, ctx: &Context<'_>) -> Result<Arc<Vec<RelationRecord>>> {
        match &self.relations_then {
            Some(past) => Ok(past.clone()),
            None => Loaders::of(ctx)?.relations(self.entity_ref()).await,
        }
    }

    pub fn record(&self) -> &EntityRecord {
        &self.record
    }

    pub fn entity_ref(&self) -> &str {
        &self.record.entity_ref
    }

    pub fn spec(&self) -> &Value {
        &self.record.descriptor["spec"]
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
    /// (lower-case, as in refs), that exist; dangling targets are left out.
    pub async fn targets(
        &self,
        ctx: &Context<'_>,
        relation: RelationType,
        kind: Option<&str>,
    ) -> Result<Vec<Arc<EntityRecord>>> {
        let loaders = Loaders::of(ctx)?;
        let edges = self.edges(ctx).await?;
        let refs: Vec<String> = edges
            .iter()
            .filter(|e| e.relation == relation)
            .filter(|e| kind.is_none_or(|k| kind_of_ref(&e.target_ref) == k))
            .map(|e| e.target_ref.clone())
            .collect();
        loaders.entities(&refs).await
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
            .filter(|r| r.kind == T::KIND)
            .map(|r| T::wrap(EntityData::current(r)))
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
        Ok(super::entities(self.targets(ctx, relation, None).await?))
    }

    /// `spec.owner`, resolved (a Group or a User; null when dangling).
    pub async fn owner(&self, ctx: &Context<'_>) -> Result<Option<Entity>> {
        let Some(owner) = &self.record.owner_ref else {
            return Ok(None);
        };
        Ok(Loaders::of(ctx)?
            .entity(owner)
            .await?
            .map(Entity::from_record))
    }
}
