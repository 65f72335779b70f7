//! One way to page any list the API holds whole in memory as a Relay connection:
//! `first`/`after` with opaque cursors, `pageInfo`, `totalCount`, and for relation
//! fields the declared refs whose target does not exist (`danglingRefs`).
//!
//! A list is paged by a key each item gives ([`Keyed`]): sort keys compared as
//! text, then a tie-breaking ref. The cursor is the same [`ListCursor`] `entities`
//! and `ownedEntitiesConnection` hand out, its order naming the field
//! (`components`, `relations`, ...): a cursor from another field is refused
//! (`INVALID_CURSOR`), and a cursor whose item went away between two pages
//! resumes right after where it was (keys compare; no position is stored).
//!
//! It does not read anything: callers gather the whole list from the operation's
//! snapshot (relation hops, walks) or, for the operational tables that live only
//! in PostgreSQL (processing errors, conflicts, locations), from one read of them.

use super::closed;
use super::connection::{page_size, PageInfo};
use super::dependencies::Dependency;
use super::entity::{
    Api, Component, Domain, Entity, EntityData, Group, KindType, ProcessingError, Relation,
    Resource, System, User,
};
use super::ids::{decode_cursor, encode_cursor, ListCursor};
use super::loaders::Loaders;
use super::operational::{CatalogLocation, EntityConflict};
use crate::error::{ApiError, ErrorCode, Result};
use crate::limits::GraphqlLimits;
use almanac_domain::RelationType;
use almanac_readmodel::{Entity as Held, Snapshot};
use almanac_store::catalog::kind_of_ref;
use async_graphql::{Context, OutputType, SimpleObject};
use std::cmp::Ordering;
use std::sync::Arc;

/// Where an item sits in its list: sort keys (compared as text, in order), then
/// the ref that breaks ties. Lists are given sorted ascending by it.
pub trait Keyed {
    fn key(&self) -> Key;
}

/// Sort keys, then the tie-breaking ref.
pub type Key = (Vec<String>, String);

/// A page of a list, with its cursors.
#[derive(Clone, Debug, SimpleObject)]
#[graphql(
    concrete(name = "EntityListConnection", params(Entity, EntityEdge)),
    concrete(name = "ComponentConnection", params(Component, ComponentEdge)),
    concrete(name = "ApiConnection", params(Api, ApiEdge)),
    concrete(name = "ResourceConnection", params(Resource, ResourceEdge)),
    concrete(name = "SystemConnection", params(System, SystemEdge)),
    concrete(name = "DomainConnection", params(Domain, DomainEdge)),
    concrete(name = "GroupConnection", params(Group, GroupEdge)),
    concrete(name = "UserConnection", params(User, UserEdge)),
    concrete(name = "RelationConnection", params(Relation, RelationEdge)),
    concrete(name = "DependencyConnection", params(Dependency, DependencyEdge)),
    concrete(
        name = "ProcessingErrorConnection",
        params(ProcessingError, ProcessingErrorEdge)
    ),
    concrete(
        name = "EntityConflictConnection",
        params(EntityConflict, EntityConflictEdge)
    ),
    concrete(
        name = "CatalogLocationConnection",
        params(CatalogLocation, CatalogLocationEdge)
    )
)]
pub struct ConnectionOf<N: OutputType, E: OutputType> {
    pub edges: Vec<E>,
    /// The edges' nodes, for clients that need no cursors.
    pub nodes: Vec<N>,
    pub page_info: PageInfo,
    /// Every item of the list (after `kind`, when given), across all pages.
    pub total_count: i32,
    /// Refs the entity declares for this relation field whose target does not
    /// exist (dangling references): in no page and not counted. Empty for lists
    /// that are not relation fields.
    pub dangling_refs: Vec<String>,
}

/// The connection of `N` (its edges' type is a parameter of its own only because
/// async-graphql's generic objects need each field's type to be a concrete one).
pub type Connection<N> = ConnectionOf<N, Edge<N>>;

// The edge types by name, for the connections' `concrete` parameters.
type EntityEdge = Edge<Entity>;
type ComponentEdge = Edge<Component>;
type ApiEdge = Edge<Api>;
type ResourceEdge = Edge<Resource>;
type SystemEdge = Edge<System>;
type DomainEdge = Edge<Domain>;
type GroupEdge = Edge<Group>;
type UserEdge = Edge<User>;
type RelationEdge = Edge<Relation>;
type DependencyEdge = Edge<Dependency>;
type ProcessingErrorEdge = Edge<ProcessingError>;
type EntityConflictEdge = Edge<EntityConflict>;
type CatalogLocationEdge = Edge<CatalogLocation>;

#[derive(Clone, Debug, SimpleObject)]
#[graphql(
    concrete(name = "EntityListEdge", params(Entity)),
    concrete(name = "ComponentEdge", params(Component)),
    concrete(name = "ApiEdge", params(Api)),
    concrete(name = "ResourceEdge", params(Resource)),
    concrete(name = "SystemEdge", params(System)),
    concrete(name = "DomainEdge", params(Domain)),
    concrete(name = "GroupEdge", params(Group)),
    concrete(name = "UserEdge", params(User)),
    concrete(name = "RelationEdge", params(Relation)),
    concrete(name = "DependencyItemEdge", params(Dependency)),
    concrete(name = "ProcessingErrorEdge", params(ProcessingError)),
    concrete(name = "EntityConflictEdge", params(EntityConflict)),
    concrete(name = "CatalogLocationEdge", params(CatalogLocation))
)]
pub struct Edge<N: OutputType> {
    pub cursor: String,
    pub node: N,
}

/// `first` checked against the limits, and the key `after` resumes from.
pub fn paging(
    ctx: &Context<'_>,
    signature: &str,
    first: Option<i32>,
    after: Option<&str>,
) -> Result<(usize, Option<Key>)> {
    let limits = ctx.data::<GraphqlLimits>().cloned().unwrap_or_default();
    let first = usize::try_from(page_size(&limits, first)?).unwrap_or(0);
    let Some(after) = after else {
        return Ok((first, None));
    };
    let cursor: ListCursor = decode_cursor(after)?;
    if cursor.order != signature {
        return Err(ApiError::new(
            ErrorCode::InvalidCursor,
            format!(
                "the cursor belongs to another list, not to this {signature} page \
                 (a cursor resumes only the field it came from)"
            ),
        ));
    }
    Ok((first, Some((cursor.sort_keys, cursor.entity_ref))))
}

fn compare(a: &Key, b: &Key) -> Ordering {
    a.0.cmp(&b.0).then_with(|| a.1.cmp(&b.1))
}

/// The window of `items` (sorted by [`Keyed::key`]) that `first` and `after` ask for.
pub struct Window<T> {
    pub items: Vec<(String, T)>,
    pub page_info: PageInfo,
    pub total: i32,
}

/// Cuts a page out of `items` (sorted by key): up to `first` after the cursor `after`.
pub fn window<T: Keyed>(
    ctx: &Context<'_>,
    signature: &str,
    items: Vec<T>,
    first: Option<i32>,
    after: Option<&str>,
) -> Result<Window<T>> {
    let (first, after) = paging(ctx, signature, first, after)?;
    let total = i32::try_from(items.len()).unwrap_or(i32::MAX);
    let start = match &after {
        Some(after) => {
            items.partition_point(|item| compare(&item.key(), after) != Ordering::Greater)
        }
        None => 0,
    };
    let has_next = items.len().saturating_sub(start) > first;
    let items: Vec<(String, T)> = items
        .into_iter()
        .skip(start)
        .take(first)
        .map(|item| {
            let (sort_keys, last) = item.key();
            let cursor = encode_cursor(&ListCursor::new(signature.to_string(), sort_keys, last));
            (cursor, item)
        })
        .collect();
    let page_info = PageInfo {
        has_next_page: has_next,
        has_previous_page: after.is_some(),
        start_cursor: items.first().map(|(c, _)| c.clone()),
        end_cursor: items.last().map(|(c, _)| c.clone()),
    };
    Ok(Window {
        items,
        page_info,
        total,
    })
}

impl<T> Window<T> {
    /// The page as a connection of `N`, each item made a node by `node`.
    pub fn connection<N: OutputType + Clone>(
        self,
        dangling_refs: Vec<String>,
        mut node: impl FnMut(T) -> N,
    ) -> Connection<N>
    where
        Edge<N>: OutputType,
    {
        let edges: Vec<Edge<N>> = self
            .items
            .into_iter()
            .map(|(cursor, item)| Edge {
                cursor,
                node: node(item),
            })
            .collect();
        Connection {
            nodes: edges.iter().map(|e| e.node.clone()).collect(),
            edges,
            page_info: self.page_info,
            total_count: self.total,
            dangling_refs,
        }
    }
}

/// Entities are paged by ref.
impl Keyed for Arc<Held> {
    fn key(&self) -> Key {
        (Vec::new(), self.entity_ref.to_string())
    }
}

/// A page of `entities` (sorted by ref, live in `snapshot`), each wrapped by `wrap`.
#[allow(clippy::too_many_arguments)]
pub async fn entities<N: OutputType + Clone>(
    ctx: &Context<'_>,
    snapshot: &Snapshot,
    signature: &str,
    entities: Vec<Arc<Held>>,
    dangling_refs: Vec<String>,
    first: Option<i32>,
    after: Option<&str>,
    wrap: impl Fn(EntityData) -> N,
) -> Result<Connection<N>>
where
    Edge<N>: OutputType,
{
    let window = window(ctx, signature, entities, first, after)?;
    let held: Vec<Arc<Held>> = window.items.iter().map(|(_, e)| e.clone()).collect();
    // `all` gives one entity per one asked, in order.
    let data = Loaders::of(ctx)?.all(snapshot, held).await?;
    let edges: Vec<Edge<N>> = window
        .items
        .into_iter()
        .zip(data)
        .map(|((cursor, _), data)| Edge {
            cursor,
            node: wrap(data),
        })
        .collect();
    Ok(Connection {
        nodes: edges.iter().map(|e| e.node.clone()).collect(),
        edges,
        page_info: window.page_info,
        total_count: window.total,
        dangling_refs,
    })
}

impl Keyed for Relation {
    fn key(&self) -> Key {
        (vec![self.relation_type.clone()], self.target_ref.clone())
    }
}

impl Keyed for Dependency {
    fn key(&self) -> Key {
        // Zero-padded: depths compare as text.
        (vec![format!("{:010}", self.depth)], self.entity_ref.clone())
    }
}

/// Newest first: the time inverted, zero-padded, so that text order is newest first.
fn newest_first(time: chrono::DateTime<chrono::Utc>) -> String {
    let micros = time.timestamp_micros();
    format!("{:020}", i64::MAX.saturating_sub(micros).max(0))
}

impl Keyed for ProcessingError {
    fn key(&self) -> Key {
        (
            vec![
                newest_first(self.recorded_at),
                self.source.clone(),
                self.entity_ref.clone().unwrap_or_default(),
            ],
            self.message.clone(),
        )
    }
}

impl Keyed for EntityConflict {
    fn key(&self) -> Key {
        (
            vec![newest_first(self.last_seen), self.entity_ref.clone()],
            self.new_source.clone(),
        )
    }
}

impl Keyed for CatalogLocation {
    fn key(&self) -> Key {
        (
            vec![format!("{:020}", self.added_at.timestamp_micros().max(0))],
            self.location_id.clone(),
        )
    }
}

/// Sorts `items` by their keys (what [`window`] expects).
pub fn sort_by_key<T: Keyed>(items: &mut [T]) {
    items.sort_by_cached_key(Keyed::key);
}

/// A typed relation field as a connection: the targets of `relation` of `T`'s kind,
/// by ref, with the declared refs of that kind no entity has.
pub async fn related<T: KindType + OutputType + Clone>(
    ctx: &Context<'_>,
    data: &EntityData,
    relation: RelationType,
    field: &str,
    first: Option<i32>,
    after: Option<&str>,
) -> Result<Connection<T>>
where
    Edge<T>: OutputType,
{
    let kind = T::KIND.to_lowercase();
    let (snapshot, mut live, dangling) = data.split_targets(ctx, relation, Some(&kind))?;
    // As the list fields: only entities whose kind is written as `T`'s.
    live.retain(|e| &*e.kind == T::KIND);
    entities(ctx, &snapshot, field, live, dangling, first, after, T::wrap).await
}

/// A relation field of any kind as a connection; `kind` keeps those kinds (checked
/// against the kinds the catalog knows).
#[allow(clippy::too_many_arguments)]
pub async fn related_any(
    ctx: &Context<'_>,
    data: &EntityData,
    relation: RelationType,
    field: &str,
    kind: Option<Vec<String>>,
    first: Option<i32>,
    after: Option<&str>,
) -> Result<Connection<Entity>> {
    let (snapshot, mut live, mut dangling) = data.split_targets(ctx, relation, None)?;
    if let Some(kinds) = closed::kinds(&snapshot, "kind", kind.as_deref())? {
        live.retain(|e| kinds.contains(kind_of_ref(&e.entity_ref)));
        dangling.retain(|r| kinds.contains(kind_of_ref(r)));
    }
    entities(
        ctx,
        &snapshot,
        field,
        live,
        dangling,
        first,
        after,
        Entity::from_data,
    )
    .await
}
