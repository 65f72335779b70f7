//! Pages of entities under one root, from the operation's snapshot: what a group or a
//! user owns (`ownedEntitiesConnection`) and a group's members (`membersConnection`),
//! ordered by ref, with opaque cursors and the total over every page.
//!
//! The cursor is a [`ListCursor`] whose order names the field and its scope
//! (`owned:subgroups`, `members:direct`, ...): a cursor from another field, another
//! scope or a list of `entities` is refused (`INVALID_CURSOR`) instead of resuming
//! somewhere unrelated. It does no SQL (entities held elided aside, see `Loaders`).

use super::closed;
use super::connection::{page_size, PageInfo};
use super::entity::{Entity, EntityData, User};
use super::flat::EntityNodes;
use super::ids::{decode_cursor, encode_cursor, ListCursor};
use super::loaders::Loaders;
use crate::error::{ApiError, ErrorCode, Result};
use crate::limits::GraphqlLimits;
use almanac_readmodel::{OwnedScope, RootedPage};
use almanac_store::catalog::kind_of_ref;
use async_graphql::{Context, Object, SimpleObject};
use std::sync::Arc;

/// An edge's cursor, encoded only when asked for: a page's hundred cursors (JSON, then
/// base64) are mostly not, and `pageInfo` encodes its two itself.
#[derive(Clone, Debug)]
struct RootedCursor {
    signature: &'static str,
    entity_ref: Arc<str>,
}

impl RootedCursor {
    fn encode(&self) -> String {
        encode_cursor(&ListCursor::new(
            self.signature.to_string(),
            Vec::new(),
            self.entity_ref.to_string(),
        ))
    }
}

#[derive(Clone, Debug)]
pub struct OwnedEntityEdge {
    cursor: RootedCursor,
    node: Entity,
}

#[Object]
impl OwnedEntityEdge {
    async fn cursor(&self) -> String {
        self.cursor.encode()
    }

    async fn node(&self) -> &Entity {
        &self.node
    }
}

/// A page of what a group or user owns, by ref.
#[derive(Clone, Debug, SimpleObject)]
pub struct OwnedEntityConnection {
    pub edges: Vec<OwnedEntityEdge>,
    /// The edges' nodes, for clients that need no cursors.
    pub nodes: EntityNodes,
    pub page_info: PageInfo,
    /// Every entity owned in this scope, across all pages.
    pub total_count: i32,
}

#[derive(Clone, Debug)]
pub struct MemberEdge {
    cursor: RootedCursor,
    node: User,
}

#[Object]
impl MemberEdge {
    async fn cursor(&self) -> String {
        self.cursor.encode()
    }

    async fn node(&self) -> &User {
        &self.node
    }
}

/// A page of a group's members, by ref.
#[derive(Clone, Debug, SimpleObject)]
pub struct MemberConnection {
    pub edges: Vec<MemberEdge>,
    /// The edges' nodes, for clients that need no cursors.
    pub nodes: Vec<User>,
    pub page_info: PageInfo,
    /// Every member in this scope, across all pages.
    pub total_count: i32,
}

/// The cursor order of a scope (part of every cursor handed out: do not change).
fn owned_signature(scope: OwnedScope) -> &'static str {
    match scope {
        OwnedScope::Direct => "owned:direct",
        OwnedScope::Subgroups => "owned:subgroups",
        OwnedScope::Memberships => "owned:memberships",
    }
}

fn members_signature(transitive: bool) -> &'static str {
    if transitive {
        "members:transitive"
    } else {
        "members:direct"
    }
}

/// `first` checked against the limits, and the ref `after` resumes from.
fn paging(
    ctx: &Context<'_>,
    signature: &str,
    first: Option<i32>,
    after: Option<&str>,
) -> Result<(usize, Option<String>)> {
    let limits = ctx.data::<GraphqlLimits>().cloned().unwrap_or_default();
    let first = usize::try_from(page_size(&limits, first)?).unwrap_or(0);
    let Some(after) = after else {
        return Ok((first, None));
    };
    let cursor: ListCursor = decode_cursor(after)?;
    if cursor.order != signature || !cursor.sort_keys.is_empty() {
        return Err(ApiError::new(
            ErrorCode::InvalidCursor,
            format!(
                "the cursor belongs to another list, not to this {signature} page \
                 (a cursor resumes only the field and `transitive` it came from)"
            ),
        ));
    }
    Ok((first, Some(cursor.entity_ref)))
}

/// A page's rows as the API's entities, each with its cursor.
async fn rows(
    ctx: &Context<'_>,
    snapshot: &almanac_readmodel::Snapshot,
    page: RootedPage,
    signature: &'static str,
    resumed: bool,
) -> Result<(Vec<(RootedCursor, EntityData)>, PageInfo, i32)> {
    let cursors: Vec<RootedCursor> = page
        .rows
        .iter()
        .map(|e| RootedCursor {
            signature,
            entity_ref: e.entity_ref.clone(),
        })
        .collect();
    let data = Loaders::of(ctx)?.all(snapshot, page.rows).await?;
    let info = PageInfo {
        has_next_page: page.has_next,
        has_previous_page: resumed,
        start_cursor: cursors.first().map(RootedCursor::encode),
        end_cursor: cursors.last().map(RootedCursor::encode),
    };
    let total = i32::try_from(page.total).unwrap_or(i32::MAX);
    Ok((cursors.into_iter().zip(data).collect(), info, total))
}

/// What `root` owns in `scope`: up to `first` after the cursor `after`.
pub async fn owned(
    ctx: &Context<'_>,
    root: &EntityData,
    scope: OwnedScope,
    kind: Option<Vec<String>>,
    first: Option<i32>,
    after: Option<&str>,
) -> Result<OwnedEntityConnection> {
    let signature = owned_signature(scope);
    let (first, after) = paging(ctx, signature, first, after)?;
    let snapshot = root.snapshot(ctx)?;
    let page = match closed::kinds(&snapshot, "kind", kind.as_deref())? {
        None => snapshot.owned_entities(root.entity_ref(), scope, first, after.as_deref()),
        // Some kinds only: every owned entity, those kinds kept, then the page.
        Some(kinds) => {
            let mut all = snapshot.owned_entities(root.entity_ref(), scope, usize::MAX, None);
            all.rows
                .retain(|e| kinds.contains(kind_of_ref(&e.entity_ref)));
            let start = match &after {
                Some(after) => all
                    .rows
                    .partition_point(|e| &*e.entity_ref <= after.as_str()),
                None => 0,
            };
            RootedPage {
                total: all.rows.len(),
                has_next: all.rows.len().saturating_sub(start) > first,
                rows: all.rows.into_iter().skip(start).take(first).collect(),
            }
        }
    };
    let (rows, page_info, total_count) =
        rows(ctx, &snapshot, page, signature, after.is_some()).await?;
    let edges: Vec<OwnedEntityEdge> = rows
        .into_iter()
        .map(|(cursor, data)| OwnedEntityEdge {
            cursor,
            node: Entity::from_data(data),
        })
        .collect();
    Ok(OwnedEntityConnection {
        nodes: EntityNodes(edges.iter().map(|e| e.node.clone()).collect()),
        edges,
        page_info,
        total_count,
    })
}

/// The members of `group` (and of every group below it when `transitive`).
pub async fn members(
    ctx: &Context<'_>,
    group: &EntityData,
    transitive: bool,
    first: Option<i32>,
    after: Option<&str>,
) -> Result<MemberConnection> {
    let signature = members_signature(transitive);
    let (first, after) = paging(ctx, signature, first, after)?;
    let snapshot = group.snapshot(ctx)?;
    let page = snapshot.members(group.entity_ref(), transitive, first, after.as_deref());
    let (rows, page_info, total_count) =
        rows(ctx, &snapshot, page, signature, after.is_some()).await?;
    let edges: Vec<MemberEdge> = rows
        .into_iter()
        .map(|(cursor, data)| MemberEdge {
            cursor,
            node: User(data),
        })
        .collect();
    Ok(MemberConnection {
        nodes: edges.iter().map(|e| e.node.clone()).collect(),
        edges,
        page_info,
        total_count,
    })
}

/// Everything `root` owns in `scope`, by ref (the unpaged list fields).
pub async fn all_owned(
    ctx: &Context<'_>,
    root: &EntityData,
    scope: OwnedScope,
) -> Result<Vec<Entity>> {
    let snapshot = root.snapshot(ctx)?;
    let page = snapshot.owned_entities(root.entity_ref(), scope, usize::MAX, None);
    let data = Loaders::of(ctx)?.all(&snapshot, page.rows).await?;
    Ok(data.into_iter().map(Entity::from_data).collect())
}

/// Every member of `group` (and of the groups below it when `transitive`), by ref.
pub async fn all_members(
    ctx: &Context<'_>,
    group: &EntityData,
    transitive: bool,
) -> Result<Vec<User>> {
    let snapshot = group.snapshot(ctx)?;
    let page = snapshot.members(group.entity_ref(), transitive, usize::MAX, None);
    let data = Loaders::of(ctx)?.all(&snapshot, page.rows).await?;
    Ok(data.into_iter().map(User).collect())
}
