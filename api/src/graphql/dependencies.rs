//! Dependency walks as GraphQL: `dependencies` (the transitive set, each with
//! its depth and one shortest path) and `dependencyGraph` (nodes and edges).
//! The walk itself is the snapshot's (`Snapshot::walk_dependencies`), once per
//! request and arguments (`Loaders::walk`).

use super::closed;
use super::entity::{Entity, EntityData};
use super::flat::DependencyItems;
use super::loaders::{Loaders, WalkKey};
use super::paged::{window, Connection};
use crate::error::{ApiError, Result};
use crate::limits::GraphqlLimits;
use almanac_readmodel::{Direction, Reached, Walk};
use almanac_store::catalog::kind_of_ref;
use async_graphql::{ComplexObject, Context, Enum, SimpleObject, ID};
use std::collections::{BTreeSet, HashSet};
use std::sync::Arc;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Enum)]
pub enum DependencyDirection {
    /// What the entity depends on.
    Outgoing,
    /// What depends on the entity (impact).
    Incoming,
}

#[derive(Clone, Debug, SimpleObject)]
#[graphql(complex)]
pub struct Dependencies {
    /// By depth, then ref. The entity itself is not included.
    pub items: DependencyItems,
    /// A limit (the depth asked or the server's node budget) cut the walk:
    /// more entities lie beyond.
    pub truncated: bool,
}

#[ComplexObject]
impl Dependencies {
    /// `items` as a connection, by depth then ref, with the total.
    #[graphql(complexity = "first.unwrap_or(50).clamp(0, 100_000) as usize * child_complexity + 1")]
    async fn items_connection(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<Connection<Dependency>> {
        // The walk gives them by depth, then ref: the key's order.
        let items = self.items.dependencies();
        let window = window(ctx, "dependencies", items, first, after.as_deref())?;
        Ok(window.connection(Vec::new(), |d| d))
    }
}

#[derive(Clone, Debug, SimpleObject)]
#[graphql(complex)]
pub struct Dependency {
    #[graphql(
        name = "ref",
        deprecation = "a ref of another entity (or of the one a record is about) is named `entityRef` / `<role>Ref`; use entityRef"
    )]
    pub entity_ref: String,
    /// 1 for a direct dependency.
    pub depth: i32,
    /// The API the last hop went through (with `viaApis`), else null.
    #[graphql(deprecation = "a ref is named `<role>Ref`; use viaRef")]
    pub via: Option<String>,
    /// The walk it was reached by: its path is traced back only when asked for.
    #[graphql(skip)]
    pub walk: Arc<Walk>,
}

impl Dependency {
    /// The item for an entity `walk` reached.
    pub fn reached(reached: &Reached, walk: &Arc<Walk>) -> Dependency {
        Dependency {
            entity_ref: reached.entity_ref.to_string(),
            depth: Dependency::depth_of(reached),
            via: reached.via.as_deref().map(str::to_string),
            walk: walk.clone(),
        }
    }

    /// Its `depth` field.
    pub fn depth_of(reached: &Reached) -> i32 {
        reached.depth as i32
    }

    /// One shortest path, traced back through the walk.
    pub fn traced_path(&self) -> Vec<String> {
        self.walk
            .path(&self.entity_ref)
            .iter()
            .map(|p| p.to_string())
            .collect()
    }
}

#[ComplexObject]
impl Dependency {
    /// The reached entity's canonical ref.
    #[graphql(name = "entityRef")]
    async fn reached_ref(&self) -> &str {
        &self.entity_ref
    }

    /// The ref of the API the last hop went through (with `viaApis`), else null.
    async fn via_ref(&self) -> Option<&str> {
        self.via.as_deref()
    }

    /// One shortest path: the root's ref first, this entity's last.
    async fn path(&self) -> Vec<String> {
        self.traced_path()
    }

    /// Null when the ref is dangling.
    async fn entity(&self, ctx: &Context<'_>) -> Result<Option<Entity>> {
        load(ctx, &self.entity_ref).await
    }
}

#[derive(Clone, Debug, SimpleObject)]
pub struct DependencyGraph {
    /// The root (depth 0) and every entity reached.
    pub nodes: Vec<DependencyNode>,
    /// `source` depends on `target`, whatever the walk's direction.
    pub edges: Vec<DependencyEdge>,
    pub truncated: bool,
}

#[derive(Clone, Debug, SimpleObject)]
#[graphql(complex)]
pub struct DependencyNode {
    /// Relay global id of this node of this graph (the walk's root and
    /// arguments and the entity): the same entity in another graph is another
    /// node. `node(id:)` walks again and resolves it.
    #[graphql(owned)]
    pub id: ID,
    /// The entity's ref, which edges use (what `id` held before it became a
    /// global id).
    #[graphql(
        name = "ref",
        deprecation = "a ref of another entity (or of the one a record is about) is named `entityRef` / `<role>Ref`; use entityRef"
    )]
    pub entity_ref: String,
    pub depth: i32,
}

#[ComplexObject]
impl DependencyNode {
    /// The entity's canonical ref, which edges' `sourceRef` and `targetRef` use.
    #[graphql(name = "entityRef")]
    async fn node_ref(&self) -> &str {
        &self.entity_ref
    }

    async fn entity(&self, ctx: &Context<'_>) -> Result<Option<Entity>> {
        load(ctx, &self.entity_ref).await
    }
}

#[derive(Clone, Debug, SimpleObject)]
#[graphql(complex)]
pub struct DependencyEdge {
    /// The dependent's ref.
    #[graphql(deprecation = "a ref is named `...Ref`; use sourceRef")]
    pub source: String,
    /// The dependency's ref.
    #[graphql(deprecation = "a ref is named `...Ref`; use targetRef")]
    pub target: String,
    /// The API between them when the edge comes from `viaApis`.
    pub via: Option<String>,
}

#[ComplexObject]
impl DependencyEdge {
    /// The dependent's ref (it depends on `targetRef`).
    async fn source_ref(&self) -> &str {
        &self.source
    }

    /// The dependency's ref.
    async fn target_ref(&self) -> &str {
        &self.target
    }
}

async fn load(ctx: &Context<'_>, entity_ref: &str) -> Result<Option<Entity>> {
    Loaders::current(ctx, entity_ref).await
}

/// Runs (or reuses, within the request) the walk the arguments describe.
async fn walk(
    data: &EntityData,
    ctx: &Context<'_>,
    depth: Option<i32>,
    direction: Option<DependencyDirection>,
    via_apis: Option<bool>,
) -> Result<Arc<Walk>> {
    let limits = ctx.data::<GraphqlLimits>().cloned().unwrap_or_default();
    let max = limits.max_walk_depth;
    let depth = match depth {
        None => max,
        Some(d) if d >= 1 && d as u32 <= max => d as u32,
        Some(d) => {
            return Err(ApiError::invalid(format!(
                "depth must be between 1 and {max}, not {d}"
            )))
        }
    };
    let direction = match direction.unwrap_or(DependencyDirection::Outgoing) {
        DependencyDirection::Outgoing => Direction::Outgoing,
        DependencyDirection::Incoming => Direction::Incoming,
    };
    let snapshot = data.snapshot(ctx)?;
    Ok(Loaders::of(ctx)?.walk(
        &snapshot,
        WalkKey {
            root: data.entity_ref().to_string(),
            direction,
            via_apis: via_apis.unwrap_or(false),
            depth,
        },
    ))
}

/// `kind` and its deprecated spelling `kinds`, together.
pub fn either(kind: Option<Vec<String>>, kinds: Option<Vec<String>>) -> Option<Vec<String>> {
    match (kind, kinds) {
        (Some(mut kind), Some(kinds)) => {
            kind.extend(kinds);
            Some(kind)
        }
        (kind, kinds) => kind.or(kinds),
    }
}

/// The lower-case kinds to keep (each one the catalog knows), or None for all.
fn kind_filter(
    data: &EntityData,
    ctx: &Context<'_>,
    kinds: Option<&[String]>,
) -> Result<Option<BTreeSet<String>>> {
    let snapshot = data.snapshot(ctx)?;
    closed::kinds(&snapshot, "kind", kinds)
}

pub(super) fn kept(kinds: Option<&BTreeSet<String>>, entity_ref: &str) -> bool {
    kinds.is_none_or(|kinds| kinds.contains(kind_of_ref(entity_ref)))
}

pub async fn dependencies(
    data: &EntityData,
    ctx: &Context<'_>,
    depth: Option<i32>,
    direction: Option<DependencyDirection>,
    kinds: Option<Vec<String>>,
    via_apis: Option<bool>,
) -> Result<Dependencies> {
    let kinds = kind_filter(data, ctx, kinds.as_deref())?;
    let walk = walk(data, ctx, depth, direction, via_apis).await?;
    Ok(Dependencies {
        truncated: walk.truncated,
        items: DependencyItems::new(walk, kinds),
    })
}

pub async fn dependency_graph(
    data: &EntityData,
    ctx: &Context<'_>,
    depth: Option<i32>,
    direction: Option<DependencyDirection>,
    kinds: Option<Vec<String>>,
    via_apis: Option<bool>,
) -> Result<DependencyGraph> {
    let walk = walk(data, ctx, depth, direction, via_apis).await?;
    let snapshot = data.snapshot(ctx)?;
    let mut key =
        super::nodes::GraphNodeKey::new(data.entity_ref(), depth, direction, &kinds, via_apis);
    let kinds = kind_filter(data, ctx, kinds.as_deref())?;
    let mut node = |entity_ref: &str, depth: i32| DependencyNode {
        id: key.id_of(entity_ref),
        entity_ref: entity_ref.to_string(),
        depth,
    };
    let root = node(data.entity_ref(), 0);
    let nodes: Vec<DependencyNode> = std::iter::once(root)
        .chain(
            walk.reached
                .iter()
                .filter(|r| kept(kinds.as_ref(), &r.entity_ref))
                .map(|r| node(&r.entity_ref, r.depth as i32)),
        )
        .collect();
    let ids: HashSet<&str> = nodes.iter().map(|n| n.entity_ref.as_str()).collect();
    let edges = walk
        .edges(&snapshot)
        .iter()
        .filter(|e| ids.contains(&*e.dependent) && ids.contains(&*e.dependency))
        .map(|e| DependencyEdge {
            source: e.dependent.to_string(),
            target: e.dependency.to_string(),
            via: e.via.as_deref().map(str::to_string),
        })
        .collect();
    Ok(DependencyGraph {
        nodes,
        edges,
        truncated: walk.truncated,
    })
}
