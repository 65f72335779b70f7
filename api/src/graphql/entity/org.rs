//! The organisation: Groups (a tree through parent/children) and Users, with
//! ownership through the tree and through memberships.

use super::common::Profile;
use super::{entities, Entity, EntityData};
use crate::error::Result;
use crate::graphql::loaders::{Loaders, MembersKey, OwnedKey};
use almanac_domain::RelationType;
use almanac_store::catalog::OwnedScope;
use async_graphql::Context;

entity_type!(
    /// A team or organisational unit.
    Group, kind = "Group", {
    /// `spec.type` (team, department, organization, ...).
    #[graphql(name = "type")]
    async fn group_type(&self) -> Option<String> {
        self.0.spec_str("type")
    }
    async fn profile(&self) -> Option<Profile> {
        Profile::of(&self.0)
    }
    async fn parent(&self, ctx: &Context<'_>) -> Result<Option<Group>> {
        self.0.typed_one(ctx, RelationType::ChildOf).await
    }
    async fn children(&self, ctx: &Context<'_>) -> Result<Vec<Group>> {
        self.0.typed(ctx, RelationType::ParentOf).await
    }
    /// The parent, its parent and so on up to the root, nearest first.
    async fn ancestors(&self, ctx: &Context<'_>) -> Result<Vec<Group>> {
        let rows = Loaders::of(ctx)?.ancestors(self.0.entity_ref()).await?;
        Ok(rows.iter().map(|r| Group(EntityData::current(r.clone()))).collect())
    }
    /// Users in this group; `transitive` adds those of every subgroup.
    async fn members(&self, ctx: &Context<'_>, transitive: Option<bool>) -> Result<Vec<User>> {
        let key = MembersKey(self.0.entity_ref().to_string(), transitive.unwrap_or(false));
        let rows = Loaders::of(ctx)?.members(key).await?;
        Ok(rows.iter().map(|r| User(EntityData::current(r.clone()))).collect())
    }
    /// What this group owns; `transitive` adds what its subgroups own.
    async fn owned_entities(&self, ctx: &Context<'_>, transitive: Option<bool>) -> Result<Vec<Entity>> {
        let scope = if transitive.unwrap_or(false) { OwnedScope::Subgroups } else { OwnedScope::Direct };
        let rows = Loaders::of(ctx)?.owned(OwnedKey(self.0.entity_ref().to_string(), scope)).await?;
        Ok(entities(rows.iter().cloned()))
    }
});

entity_type!(
    /// A person.
    User, kind = "User", {
    async fn profile(&self) -> Option<Profile> {
        Profile::of(&self.0)
    }
    /// Groups the user belongs to, declared on either side.
    async fn member_of(&self, ctx: &Context<'_>) -> Result<Vec<Group>> {
        self.0.typed(ctx, RelationType::MemberOf).await
    }
    /// What the user owns; `transitive` adds what the user's groups own.
    async fn owned_entities(&self, ctx: &Context<'_>, transitive: Option<bool>) -> Result<Vec<Entity>> {
        let scope = if transitive.unwrap_or(false) { OwnedScope::Memberships } else { OwnedScope::Direct };
        let rows = Loaders::of(ctx)?.owned(OwnedKey(self.0.entity_ref().to_string(), scope)).await?;
        Ok(entities(rows.iter().cloned()))
    }
});
