//! Dependency walks: breadth-first from one or many roots along `dependsOn`
//! (outgoing) or `dependencyOf` (incoming) edges, optionally through APIs
//! ("A consumes an API that B provides" counts as A depends on B).
//!
//! One statement per depth level for all roots together, never one per node.
//! Each root keeps its own visited set, so cycles end the walk, and each
//! reached entity gets its smallest depth and one shortest path. The walk stops
//! at the requested depth or the node budget and says whether that cut it.

use super::{Catalog, CatalogError};
use crate::stored_relation::StoredRelation;
use almanac_domain::RelationType;
pub use almanac_readmodel::{Direction, WalkLimits};
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

/// (direct edge type, API hop out, API hop back) in `relations`.
fn edge_types(direction: Direction) -> (RelationType, RelationType, RelationType) {
    use RelationType::*;
    match direction {
        Direction::Outgoing => (DependsOn, ConsumesApi, ApiProvidedBy),
        Direction::Incoming => (DependencyOf, ProvidesApi, ApiConsumedBy),
    }
}

/// An entity reached from the root.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reached {
    pub entity_ref: String,
    pub depth: u32,
    /// Root first, this entity last.
    pub path: Vec<String>,
    /// The API the last hop went through, when it was not a direct edge.
    pub via: Option<String>,
}

/// `dependent` depends on `dependency` (whatever the walk's direction).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct WalkEdge {
    pub dependent: String,
    pub dependency: String,
    pub via: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Walk {
    /// By depth, then ref. The root is not included.
    pub reached: Vec<Reached>,
    /// Every edge between the root and reached entities, cycles included.
    pub edges: Vec<WalkEdge>,
    /// A limit (depth or node budget) left reachable entities out.
    pub truncated: bool,
}

/// One root's walk in progress.
struct State {
    /// ref -> (depth, previous ref, via)
    seen: HashMap<String, (u32, Option<String>, Option<String>)>,
    frontier: Vec<String>,
    edges: BTreeSet<WalkEdge>,
    truncated: bool,
}

type Adjacency = BTreeMap<String, Vec<(String, Option<String>)>>;

impl Catalog {
    /// Walks from every root at once; the result has one [`Walk`] per root.
    pub async fn walk_dependencies(
        &self,
        roots: &[String],
        direction: Direction,
        via_apis: bool,
        limits: WalkLimits,
    ) -> Result<HashMap<String, Walk>, CatalogError> {
        let mut states: BTreeMap<String, State> = roots
            .iter()
            .map(|root| {
                let mut seen = HashMap::new();
                seen.insert(root.clone(), (0, None, None));
                let state = State {
                    seen,
                    frontier: vec![root.clone()],
                    edges: BTreeSet::new(),
                    truncated: false,
                };
                (root.clone(), state)
            })
            .collect();
        // One level more than asked: it only tells whether the depth cut the walk
        // and draws the edges that close cycles at the last level.
        for level in 1..=limits.max_depth + 1 {
            let frontier: BTreeSet<&String> =
                states.values().flat_map(|s| s.frontier.iter()).collect();
            if frontier.is_empty() {
                break;
            }
            let frontier: Vec<String> = frontier.into_iter().cloned().collect();
            let adjacency = self.next_level(&frontier, direction, via_apis).await?;
            let last = level > limits.max_depth;
            for state in states.values_mut() {
                advance(state, &adjacency, direction, level, last, limits.max_nodes);
            }
        }
        Ok(states
            .into_iter()
            .map(|(root, state)| (root.clone(), finish(&root, state)))
            .collect())
    }

    /// Edges leaving `frontier` in the walk's direction: (from, to, via API).
    async fn next_level(
        &self,
        frontier: &[String],
        direction: Direction,
        via_apis: bool,
    ) -> Result<Adjacency, CatalogError> {
        let (direct, api_out, api_back) = edge_types(direction);
        let rows: Vec<(String, String, Option<String>)> = sqlx::query_as(
            "SELECT DISTINCT source_ref, target_ref, via FROM ( \
               SELECT source_ref, target_ref, NULL::text AS via FROM relations \
               WHERE source_ref = ANY($1) AND type = $2 \
               UNION ALL \
               SELECT c.source_ref, p.target_ref, c.target_ref FROM relations c \
               JOIN relations p ON p.source_ref = c.target_ref AND p.type = $4 \
               WHERE $5 AND c.source_ref = ANY($1) AND c.type = $3) x \
             WHERE source_ref <> target_ref \
             ORDER BY source_ref, target_ref, via NULLS FIRST",
        )
        .bind(frontier)
        .bind(StoredRelation(direct))
        .bind(StoredRelation(api_out))
        .bind(StoredRelation(api_back))
        .bind(via_apis)
        .fetch_all(&mut *self.reader().await?)
        .await?;
        let mut adjacency = Adjacency::new();
        for (from, to, via) in rows {
            let next = adjacency.entry(from).or_default();
            // A direct edge (sorted first) wins over the same hop through an API.
            if !next.iter().any(|(t, _)| *t == to) {
                next.push((to, via));
            }
        }
        Ok(adjacency)
    }
}

fn advance(
    state: &mut State,
    adjacency: &Adjacency,
    direction: Direction,
    level: u32,
    last: bool,
    max_nodes: usize,
) {
    let mut next = Vec::new();
    let mut frontier = std::mem::take(&mut state.frontier);
    frontier.sort();
    for from in &frontier {
        for (to, via) in adjacency.get(from).map(Vec::as_slice).unwrap_or(&[]) {
            if !state.seen.contains_key(to) {
                if last || state.seen.len() > max_nodes {
                    state.truncated = true;
                    continue;
                }
                state
                    .seen
                    .insert(to.clone(), (level, Some(from.clone()), via.clone()));
                next.push(to.clone());
            }
            let (dependent, dependency) = match direction {
                Direction::Outgoing => (from.clone(), to.clone()),
                Direction::Incoming => (to.clone(), from.clone()),
            };
            state.edges.insert(WalkEdge {
                dependent,
                dependency,
                via: via.clone(),
            });
        }
    }
    state.frontier = next;
}

fn finish(root: &str, state: State) -> Walk {
    let mut reached: Vec<Reached> = state
        .seen
        .iter()
        .filter(|(r, _)| r.as_str() != root)
        .map(|(entity_ref, (depth, _, via))| Reached {
            entity_ref: entity_ref.clone(),
            depth: *depth,
            path: path_to(&state.seen, entity_ref),
            via: via.clone(),
        })
        .collect();
    reached.sort_by(|a, b| (a.depth, &a.entity_ref).cmp(&(b.depth, &b.entity_ref)));
    let seen: HashSet<&String> = state.seen.keys().collect();
    Walk {
        edges: state
            .edges
            .iter()
            .filter(|e| seen.contains(&e.dependent) && seen.contains(&e.dependency))
            .cloned()
            .collect(),
        reached,
        truncated: state.truncated,
    }
}

/// Follows previous-pointers back to the root; bounded by the number of
/// entities seen, so even a corrupted chain cannot loop.
fn path_to(
    seen: &HashMap<String, (u32, Option<String>, Option<String>)>,
    entity_ref: &str,
) -> Vec<String> {
    let mut path = vec![entity_ref.to_string()];
    let mut current = entity_ref;
    while let Some((_, Some(previous), _)) = seen.get(current) {
        if path.len() > seen.len() {
            break;
        }
        path.push(previous.clone());
        current = previous;
    }
    path.reverse();
    path
}
