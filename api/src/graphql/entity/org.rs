//! The organisation: Groups (a tree through parent/children) and Users, with
//! ownership through the tree and through memberships.

use super::common::Profile;
use super::Entity;
use crate::error::Result;
use crate::graphql::loaders::Loaders;
use crate::graphql::rooted;
use almanac_domain::RelationType;
use almanac_readmodel::OwnedScope;
use async_graphql::Context;

fn group_scope(transitive: Option<bool>) -> OwnedScope {
    if transitive.unwrap_or(false) {
        OwnedScope::Subgroups
    } else {
        OwnedScope::Direct
    }
}

fn user_scope(transitive: Option<bool>) -> OwnedScope {
    if transitive.unwrap_or(false) {
        OwnedScope::Memberships
    } else {
        OwnedScope::Direct
    }
}

entity_type!(
    /// A team or organisational unit.
    Group, kind = "Group",
    owned = (group_scope, " What this group owns (`transitive`: and what every group below it \
        owns), a page by ref, with the total across pages."),
    members = " Users in this group (`transitive`: and in every group below it), a page by \
        ref, with the total across pages.",
    typed = [
        (children_connection, Group, ParentOf, " Its child groups, a page by ref, with the total."),
    ],
    {
    async fn profile(&self) -> Option<Profile> {
        Profile::of(&self.0)
    }
    async fn parent(&self, ctx: &Context<'_>) -> Result<Option<Group>> {
        self.0.typed_one(ctx, RelationType::ChildOf).await
    }
    #[graphql(deprecation = "unbounded; use childrenConnection(first, after)")]
    async fn children(&self, ctx: &Context<'_>) -> Result<Vec<Group>> {
        self.0.typed(ctx, RelationType::ParentOf).await
    }
    /// The parent, its parent and so on up to the root, nearest first.
    async fn ancestors(&self, ctx: &Context<'_>) -> Result<Vec<Group>> {
        let snapshot = self.0.snapshot(ctx)?;
        let found = snapshot.ancestors(self.0.entity_ref()).into_iter().map(|a| a.entity).collect();
        let data = Loaders::of(ctx)?.all(&snapshot, found).await?;
        Ok(data.into_iter().map(Group).collect())
    }
    /// Users in this group; `transitive` adds those of every subgroup. Every one of
    /// them, by ref: for a page with a total, use `membersConnection`.
    #[graphql(deprecation = "unbounded; use membersConnection(transitive, first, after), a page with totalCount")]
    async fn members(&self, ctx: &Context<'_>, transitive: Option<bool>) -> Result<Vec<User>> {
        Box::pin(rooted::all_members(ctx, &self.0, transitive.unwrap_or(false))).await
    }
    /// What this group owns; `transitive` adds what its subgroups own. Every one of
    /// them, by ref: for a page with a total, use `ownedEntitiesConnection`.
    #[graphql(deprecation = "unbounded; use ownedEntitiesConnection(transitive, first, after), a page with totalCount")]
    async fn owned_entities(&self, ctx: &Context<'_>, transitive: Option<bool>) -> Result<Vec<Entity>> {
        Box::pin(rooted::all_owned(ctx, &self.0, group_scope(transitive))).await
    }
});

entity_type!(
    /// A person.
    User, kind = "User",
    owned = (user_scope, " What the user owns (`transitive`: and what the groups the user \
        is a direct member of own), a page by ref, with the total across pages."),
    typed = [
        (member_of_connection, Group, MemberOf, " Groups the user belongs to, a page by ref, with the total."),
    ],
    {
    async fn profile(&self) -> Option<Profile> {
        Profile::of(&self.0)
    }
    /// Groups the user belongs to, declared on either side.
    #[graphql(deprecation = "unbounded; use memberOfConnection(first, after)")]
    async fn member_of(&self, ctx: &Context<'_>) -> Result<Vec<Group>> {
        self.0.typed(ctx, RelationType::MemberOf).await
    }
    /// What the user owns; `transitive` adds what the user's groups own. Every one
    /// of them, by ref: for a page with a total, use `ownedEntitiesConnection`.
    #[graphql(deprecation = "unbounded; use ownedEntitiesConnection(transitive, first, after), a page with totalCount")]
    async fn owned_entities(&self, ctx: &Context<'_>, transitive: Option<bool>) -> Result<Vec<Entity>> {
        Box::pin(rooted::all_owned(ctx, &self.0, user_scope(transitive))).await
    }
});
