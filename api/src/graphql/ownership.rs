//! `ownership(ref:)`: a bot's "who owns this and how do I reach them" in one
//! query: the owner, the owner's chain of parent groups, and contacts (profile
//! emails of the owner, its members, then the groups above it).

use super::entity::{Entity, EntityData, Group, Profile};
use super::loaders::{Loaders, MembersKey};
use crate::error::Result;
use almanac_store::catalog::EntityRecord;
use async_graphql::{Context, Enum, Object, SimpleObject};
use std::sync::Arc;

pub struct Ownership {
    pub entity: Arc<EntityRecord>,
    pub owner: Option<Arc<EntityRecord>>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Enum)]
pub enum ContactRole {
    /// The owner itself (a Group's or User's profile email).
    Owner,
    /// A member of the owning group.
    Member,
    /// A group above the owner, nearest first: whom to escalate to.
    Escalation,
}

#[derive(Clone, Debug, SimpleObject)]
pub struct Contact {
    #[graphql(name = "ref")]
    pub entity_ref: String,
    /// The profile's display name, else the entity's name.
    pub name: String,
    pub email: String,
    pub role: ContactRole,
}

impl Ownership {
    fn owner_is_group(&self) -> bool {
        self.owner.as_ref().is_some_and(|o| o.kind == "Group")
    }

    async fn chain_records(&self, ctx: &Context<'_>) -> Result<Arc<Vec<Arc<EntityRecord>>>> {
        match &self.owner {
            Some(owner) if self.owner_is_group() => {
                Loaders::of(ctx)?.ancestors(&owner.entity_ref).await
            }
            _ => Ok(Arc::default()),
        }
    }
}

fn contact(record: &Arc<EntityRecord>, role: ContactRole) -> Option<Contact> {
    let profile = Profile::of(&EntityData::current(record.clone()))?;
    Some(Contact {
        entity_ref: record.entity_ref.clone(),
        name: profile.display_name.unwrap_or_else(|| record.name.clone()),
        email: profile.email?,
        role,
    })
}

#[Object]
impl Ownership {
    /// The entity asked about.
    async fn entity(&self) -> Entity {
        Entity::from_record(self.entity.clone())
    }

    /// `spec.owner` as a canonical ref, even when no such entity exists.
    async fn owner_ref(&self) -> Option<&str> {
        self.entity.owner_ref.as_deref()
    }

    /// The owning Group or User; null when the entity has no owner or it is dangling.
    async fn owner(&self) -> Option<Entity> {
        self.owner.clone().map(Entity::from_record)
    }

    /// The owning group's parent, its parent and so on, nearest first
    /// (empty when the owner is a User).
    async fn chain(&self, ctx: &Context<'_>) -> Result<Vec<Group>> {
        let chain = self.chain_records(ctx).await?;
        Ok(chain
            .iter()
            .map(|r| Group(EntityData::current(r.clone())))
            .collect())
    }

    /// Who to write to, in order: the owner, the owning group's members, then
    /// the groups above it. Only entries with a profile email.
    async fn contacts(&self, ctx: &Context<'_>) -> Result<Vec<Contact>> {
        let Some(owner) = &self.owner else {
            return Ok(Vec::new());
        };
        let mut contacts: Vec<Contact> = contact(owner, ContactRole::Owner).into_iter().collect();
        if self.owner_is_group() {
            let loaders = Loaders::of(ctx)?;
            let members = loaders
                .members(MembersKey(owner.entity_ref.clone(), false))
                .await?;
            contacts.extend(
                members
                    .iter()
                    .filter_map(|m| contact(m, ContactRole::Member)),
            );
            let chain = self.chain_records(ctx).await?;
            contacts.extend(
                chain
                    .iter()
                    .filter_map(|g| contact(g, ContactRole::Escalation)),
            );
        }
        Ok(contacts)
    }
}
