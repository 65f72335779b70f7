//! `ownership(ref:)`: a bot's "who owns this and how do I reach them" in one
//! query: the owner, the owner's chain of parent groups, and contacts (profile
//! emails of the owner, its members, then the groups above it).

use super::entity::{Entity, EntityData, Group, Profile};
use super::loaders::Loaders;
use crate::error::Result;
use async_graphql::{ComplexObject, Context, Enum, Object, SimpleObject};

/// An entity and its owner, both from the operation's snapshot (the chain and the
/// members are read from the owner's).
pub struct Ownership {
    pub entity: EntityData,
    pub owner: Option<EntityData>,
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
#[graphql(complex)]
pub struct Contact {
    #[graphql(
        name = "ref",
        deprecation = "a ref of another entity (or of the one a record is about) is named `entityRef` / `<role>Ref`; use entityRef"
    )]
    pub entity_ref: String,
    /// The profile's display name, else the entity's name.
    pub name: String,
    pub email: String,
    pub role: ContactRole,
}

#[ComplexObject]
impl Contact {
    /// The canonical ref of the contact's Group or User.
    #[graphql(name = "entityRef")]
    async fn contact_ref(&self) -> &str {
        &self.entity_ref
    }
}

impl Ownership {
    fn owner_is_group(&self) -> bool {
        self.owner.as_ref().is_some_and(|o| o.kind() == "Group")
    }

    /// The owning group's ancestors, nearest first; empty for a User.
    async fn chain_data(&self, ctx: &Context<'_>) -> Result<Vec<EntityData>> {
        let Some(owner) = self.owner.as_ref().filter(|_| self.owner_is_group()) else {
            return Ok(Vec::new());
        };
        let snapshot = owner.snapshot(ctx)?;
        let found = snapshot
            .ancestors(owner.entity_ref())
            .into_iter()
            .map(|a| a.entity)
            .collect();
        Loaders::of(ctx)?.all(&snapshot, found).await
    }
}

fn contact(data: &EntityData, role: ContactRole) -> Option<Contact> {
    let profile = Profile::of(data)?;
    Some(Contact {
        entity_ref: data.entity_ref().to_string(),
        name: profile
            .display_name
            .unwrap_or_else(|| data.name().to_string()),
        email: profile.email?,
        role,
    })
}

#[Object]
impl Ownership {
    /// The entity asked about.
    async fn entity(&self) -> Entity {
        Entity::from_data(self.entity.clone())
    }

    /// `spec.owner` as a canonical ref, even when no such entity exists.
    async fn owner_ref(&self) -> Option<&str> {
        self.entity.owner_ref()
    }

    /// The owning Group or User; null when the entity has no owner or it is dangling.
    async fn owner(&self) -> Option<Entity> {
        self.owner.clone().map(Entity::from_data)
    }

    /// The owning group's parent, its parent and so on, nearest first
    /// (empty when the owner is a User).
    async fn chain(&self, ctx: &Context<'_>) -> Result<Vec<Group>> {
        Ok(self.chain_data(ctx).await?.into_iter().map(Group).collect())
    }

    /// Who to write to, in order: the owner, the owning group's members, then
    /// the groups above it. Only entries with a profile email.
    async fn contacts(&self, ctx: &Context<'_>) -> Result<Vec<Contact>> {
        let Some(owner) = &self.owner else {
            return Ok(Vec::new());
        };
        let mut contacts: Vec<Contact> = contact(owner, ContactRole::Owner).into_iter().collect();
        if self.owner_is_group() {
            let snapshot = owner.snapshot(ctx)?;
            let page = snapshot.members(owner.entity_ref(), false, usize::MAX, None);
            let members = Loaders::of(ctx)?.all(&snapshot, page.rows).await?;
            contacts.extend(
                members
                    .iter()
                    .filter_map(|m| contact(m, ContactRole::Member)),
            );
            let chain = self.chain_data(ctx).await?;
            contacts.extend(
                chain
                    .iter()
                    .filter_map(|g| contact(g, ContactRole::Escalation)),
            );
        }
        Ok(contacts)
    }
}
