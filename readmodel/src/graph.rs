//! Walks over the relation graph of one snapshot, with the store's semantics: relation
//! hops both ways (`store::catalog::relations`), ownership through the group tree and a
//! group's members (`ownership`), and dependency walks (`dependencies`).
//!
//! Every walk keeps a visited set, so a cycle in the data ends it; targets need not exist
//! (dangling edges are walked, as in SQL), but only live entities are returned where the
//! store joins `entities`. Nothing here reads anything but the snapshot.

use std::cmp::Reverse;
use std::collections::{BTreeSet, BinaryHeap, VecDeque};

use crate::fast::HashMap;
use std::sync::Arc;

use almanac_domain::RelationType;

use crate::entity::Entity;
use crate::query::{Direction, OwnedScope, WalkLimits};
use crate::rows::RowRef;
use crate::set::Set;
use crate::snapshot::Snapshot;

/// A page of entities under a root, by ref, with the total over all pages.
#[derive(Clone, Debug)]
pub struct RootedPage {
    pub rows: Vec<Arc<Entity>>,
    pub total: usize,
    pub has_next: bool,
}

#[derive(Clone, Debug)]
pub struct Ancestor {
    /// 1 for the parent, 2 for the grandparent, ...
    pub depth: u32,
    pub entity: Arc<Entity>,
}

/// Deepest parent chain followed; deeper trees are cut (and cycles end here).
pub const MAX_ANCESTRY: u32 = 64;

impl Direction {
    /// (direct edge type, API hop out, API hop back).
    fn edge_types(self) -> (RelationType, RelationType, RelationType) {
        match self {
            Direction::Outgoing => (
                RelationType::DependsOn,
                RelationType::ConsumesApi,
                RelationType::ApiProvidedBy,
            ),
            Direction::Incoming => (
                RelationType::DependencyOf,
                RelationType::ProvidesApi,
                RelationType::ApiConsumedBy,
            ),
        }
    }
}

/// An entity reached from the root.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reached {
    pub entity_ref: Arc<str>,
    pub depth: u32,
    /// The entity before this one on one shortest path (the root at depth 1); the whole
    /// path is [`Walk::path`].
    pub previous: Arc<str>,
    /// The API the last hop went through, when it was not a direct edge.
    pub via: Option<Arc<str>>,
}

/// `dependent` depends on `dependency` (whatever the walk's direction).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct WalkEdge {
    pub dependent: Arc<str>,
    pub dependency: Arc<str>,
    pub via: Option<Arc<str>>,
}

/// A walk's result. Paths and edges are built when asked ([`Walk::path`],
/// [`Walk::edges`]): a walk reaching half the catalog should not pay for them when the
/// caller wants refs and depths only.
#[derive(Clone, Debug, Default)]
pub struct Walk {
    /// By depth, then ref. The root is not included.
    pub reached: Vec<Reached>,
    /// A limit (depth or node budget) left reachable entities out.
    pub truncated: bool,
    direction: Option<Direction>,
    via_apis: bool,
    seen: Seen,
}

impl Walk {
    /// Root first, `entity_ref` last, along one shortest path; empty when not reached.
    pub fn path(&self, entity_ref: &str) -> Vec<Arc<str>> {
        let Some((current, _)) = self.seen.get_key_value(entity_ref) else {
            return Vec::new();
        };
        let mut path = vec![current.clone()];
        let mut current = current;
        while let Some((_, Some(previous), _)) = self.seen.get(current) {
            if path.len() > self.seen.len() {
                break; // bounded even if the pointers were to loop
            }
            path.push(previous.clone());
            current = previous;
        }
        path.reverse();
        path
    }

    /// Every edge between the root and reached entities, cycles included, sorted;
    /// `snapshot` is the one walked. Each reached entity's next hops are read again here:
    /// the walk itself stops as soon as a limit cuts it, before expanding them all.
    pub fn edges(&self, snapshot: &Snapshot) -> Vec<WalkEdge> {
        let Some(direction) = self.direction else {
            return Vec::new();
        };
        let mut edges: Vec<WalkEdge> = Vec::new();
        for from in self.seen.keys() {
            for (to, via) in snapshot.next_hops(from, direction, self.via_apis) {
                if !self.seen.contains_key(to) {
                    continue;
                }
                let (dependent, dependency) = match direction {
                    Direction::Outgoing => (from.clone(), to.clone()),
                    Direction::Incoming => (to.clone(), from.clone()),
                };
                edges.push(WalkEdge {
                    dependent,
                    dependency,
                    via: via.cloned(),
                });
            }
        }
        edges.sort();
        edges.dedup();
        edges
    }
}

impl Snapshot {
    /// Every declaration of an edge leaving `source` (canonical), sorted by type, target,
    /// declaring entity and field: the `relations` rows.
    pub fn relation_rows(&self, source: &str) -> impl Iterator<Item = RowRef<'_>> {
        // The source's own declarations are held once, in its `declared`; the index
        // holds the others' (each declared by its target). Both sorted and disjoint:
        // merged.
        let own = self
            .state
            .entities
            .get(source)
            .into_iter()
            .flat_map(|entity| entity.own_rows());
        let others =
            self.state
                .edges
                .get_key_value(source)
                .into_iter()
                .flat_map(|(source, rows)| {
                    rows.iter()
                        .map(move |row| row.view(source, &row.target_ref))
                });
        Merged {
            a: own.peekable(),
            b: others.peekable(),
        }
    }

    /// Every edge leaving `source`, once per (type, target), with the first declaration
    /// (by declaring entity, then field): the store's `relation_edges`. Inverse edges
    /// declared by the target are included, so hops go both ways.
    pub fn relations_from(&self, source: &str) -> Vec<RowRef<'_>> {
        let mut out: Vec<RowRef<'_>> = Vec::new();
        for row in self.relation_rows(source) {
            match out.last() {
                Some(last)
                    if last.relation == row.relation && last.target_ref == row.target_ref => {}
                _ => out.push(row),
            }
        }
        out
    }

    /// Targets of `relation` edges leaving `source`, sorted, once each: the targets of
    /// [`Snapshot::relation_rows`] of that type. The walks' inner loop: rows are matched
    /// by type as a byte and only the two sorted target lists (the source's own rows and
    /// the index's) are merged, instead of merging whole rows by their spellings.
    fn targets(&self, source: &str, relation: RelationType) -> Vec<&Arc<str>> {
        let own = self
            .state
            .entities
            .get(source)
            .map_or(&[][..], |entity| &entity.declared[..]);
        // Within one type, rows are sorted by target (then field): so are these.
        let mut own = own
            .iter()
            .filter(|row| row.relation == relation)
            .map(|row| &row.target_ref)
            .peekable();
        let mut others = self
            .state
            .edges
            .get(source)
            .into_iter()
            .flat_map(|rows| rows.iter())
            .filter(|row| row.relation == relation)
            .map(|row| &row.target_ref)
            .peekable();
        let mut targets: Vec<&Arc<str>> = Vec::new();
        loop {
            let next = match (own.peek(), others.peek()) {
                (Some(a), Some(b)) if b < a => others.next(),
                (Some(_), _) => own.next(),
                (None, _) => others.next(),
            };
            let Some(next) = next else { break };
            // Several fields may declare the same edge: once each.
            if targets
                .last()
                .is_none_or(|last| !Arc::ptr_eq(last, next) && last != &next)
            {
                targets.push(next);
            }
        }
        targets
    }

    /// The root and every group below it through `parentOf`, or the root alone.
    fn group_tree(&self, root: &str, descend: bool) -> BTreeSet<Arc<str>> {
        let mut seen: BTreeSet<Arc<str>> = BTreeSet::from([Arc::from(root)]);
        let mut queue: VecDeque<Arc<str>> = VecDeque::from([Arc::from(root)]);
        if !descend {
            return seen;
        }
        while let Some(group) = queue.pop_front() {
            for child in self.targets(&group, RelationType::ParentOf) {
                if seen.insert(child.clone()) {
                    queue.push_back(child.clone());
                }
            }
        }
        seen
    }

    /// The refs whose ownership counts as the root's, for `scope`.
    pub(crate) fn owners(&self, root: &str, scope: OwnedScope) -> BTreeSet<Arc<str>> {
        match scope {
            OwnedScope::Direct => self.group_tree(root, false),
            OwnedScope::Subgroups => self.group_tree(root, true),
            OwnedScope::Memberships => {
                let mut owners = self.group_tree(root, false);
                owners.extend(
                    self.targets(root, RelationType::MemberOf)
                        .into_iter()
                        .cloned(),
                );
                owners
            }
        }
    }

    /// Entities owned within `scope` of `root`, by ref: up to `first` after `after` (a
    /// ref), with the total.
    ///
    /// An entity has one owner, so the owners' sets are disjoint: the total is the sum
    /// of their sizes, and the page is merged from the sets (each sorted, read from
    /// `after` on) without gathering and sorting everything they hold.
    pub fn owned_entities(
        &self,
        root: &str,
        scope: OwnedScope,
        first: usize,
        after: Option<&str>,
    ) -> RootedPage {
        let sets: Vec<&Set<Arc<str>>> = self
            .owners(root, scope)
            .iter()
            .filter_map(|owner| self.state.owned.get(owner))
            .collect();
        let total = sets.iter().map(|set| set.len()).sum();
        // Smallest head first: (head, which set).
        let mut heads: Vec<_> = sets.iter().map(|set| set.iter_after(after)).collect();
        let mut queue: BinaryHeap<Reverse<(&Arc<str>, usize)>> = heads
            .iter_mut()
            .enumerate()
            .filter_map(|(at, rest)| Some(Reverse((rest.next()?, at))))
            .collect();
        let mut rows = Vec::new();
        let mut has_next = false;
        while let Some(Reverse((next, at))) = queue.pop() {
            if rows.len() == first {
                has_next = true;
                break;
            }
            // The sets hold live entities only (a removal leaves its owner's set).
            if let Some(entity) = self.entity(next) {
                rows.push(entity.clone());
            }
            if let Some(following) = heads[at].next() {
                queue.push(Reverse((following, at)));
            }
        }
        RootedPage {
            rows,
            total,
            has_next,
        }
    }

    /// The live users who are members of `root`, or (`transitive`) of it or any group
    /// below it, by ref, paged.
    pub fn members(
        &self,
        root: &str,
        transitive: bool,
        first: usize,
        after: Option<&str>,
    ) -> RootedPage {
        let mut refs: Vec<&Arc<str>> = Vec::new();
        for group in self.group_tree(root, transitive) {
            refs.extend(
                self.relation_rows(&group)
                    .filter(|row| row.relation == RelationType::HasMember)
                    .map(|row| row.target_ref),
            );
        }
        refs.sort_unstable();
        refs.dedup();
        refs.retain(|r| self.entity(r).is_some());
        self.page(refs, first, after)
    }

    /// A page of `refs` (sorted, distinct, live) after `after`, with the total.
    fn page(&self, refs: Vec<&Arc<str>>, first: usize, after: Option<&str>) -> RootedPage {
        let total = refs.len();
        let start = match after {
            Some(after) => refs.partition_point(|r| &***r <= after),
            None => 0,
        };
        let rest = &refs[start..];
        RootedPage {
            rows: rest
                .iter()
                .take(first)
                .filter_map(|r| self.entity(r).cloned())
                .collect(),
            has_next: rest.len() > first,
            total,
        }
    }

    /// The root's parent, grandparent and so on (those that exist), nearest first, each at
    /// its smallest depth; the root itself is left out even in a cycle.
    pub fn ancestors(&self, root: &str) -> Vec<Ancestor> {
        let mut depth_of: HashMap<Arc<str>, u32> = HashMap::default();
        let mut frontier: Vec<Arc<str>> = vec![Arc::from(root)];
        for depth in 1..=MAX_ANCESTRY {
            let mut next = Vec::new();
            for group in &frontier {
                for parent in self.targets(group, RelationType::ChildOf) {
                    if !depth_of.contains_key(parent) {
                        depth_of.insert(parent.clone(), depth);
                        next.push(parent.clone());
                    }
                }
            }
            if next.is_empty() {
                break;
            }
            frontier = next;
        }
        let mut out: Vec<Ancestor> = depth_of
            .into_iter()
            .filter(|(r, _)| &**r != root)
            .filter_map(|(r, depth)| {
                Some(Ancestor {
                    depth,
                    entity: self.entity(&r)?.clone(),
                })
            })
            .collect();
        out.sort_by(|a, b| (a.depth, &a.entity.entity_ref).cmp(&(b.depth, &b.entity.entity_ref)));
        out
    }

    /// Next hops from `from` in the walk's direction: (to, via API), sorted by target, a
    /// direct edge winning over the same hop through an API; no self-loops.
    fn next_hops(
        &self,
        from: &str,
        direction: Direction,
        via_apis: bool,
    ) -> Vec<(&Arc<str>, Option<&Arc<str>>)> {
        let (direct, api_out, api_back) = direction.edge_types();
        // Sorted and distinct already: without APIs there is nothing to merge.
        let mut hops: Vec<(&Arc<str>, Option<&Arc<str>>)> = self
            .targets(from, direct)
            .into_iter()
            .map(|to| (to, None))
            .collect();
        if via_apis {
            let mut through: Vec<(&Arc<str>, Option<&Arc<str>>)> = Vec::new();
            for api in self.targets(from, api_out) {
                for to in self.targets(api, api_back) {
                    through.push((to, Some(api)));
                }
            }
            if !through.is_empty() {
                // By target, a direct edge (None) first, then the smallest API.
                hops.extend(through);
                hops.sort();
                hops.dedup_by(|later, first| later.0 == first.0);
            }
        }
        hops.retain(|(to, _)| &***to != from);
        hops
    }

    /// Breadth-first from `root` (canonical) along dependencies, optionally through APIs
    /// ("A consumes an API that B provides": A depends on B). Each reached entity gets its
    /// smallest depth and one shortest path; the walk stops at the depth or node limit and
    /// says whether that cut it.
    pub fn walk_dependencies(
        &self,
        root: &str,
        direction: Direction,
        via_apis: bool,
        limits: WalkLimits,
    ) -> Walk {
        let mut seen: Seen = HashMap::default();
        let root: Arc<str> = Arc::from(root);
        seen.insert(root.clone(), (0, None, None));
        let mut frontier = vec![root.clone()];
        let mut reached: Vec<Reached> = Vec::new();
        let mut truncated = false;
        // One level more than asked: it only tells whether the depth cut the walk. Once a
        // limit leaves an entity out nothing more can be added (the budget is spent or
        // this is that extra level), so the walk ends there.
        'walk: for level in 1..=limits.max_depth + 1 {
            if frontier.is_empty() {
                break;
            }
            let last = level > limits.max_depth;
            frontier.sort();
            let mut next = Vec::new();
            for from in &frontier {
                for (to, via) in self.next_hops(from, direction, via_apis) {
                    if seen.contains_key(to) {
                        continue;
                    }
                    if last || seen.len() > limits.max_nodes {
                        truncated = true;
                        break 'walk;
                    }
                    seen.insert(to.clone(), (level, Some(from.clone()), via.cloned()));
                    reached.push(Reached {
                        entity_ref: to.clone(),
                        depth: level,
                        previous: from.clone(),
                        via: via.cloned(),
                    });
                    next.push(to.clone());
                }
            }
            frontier = next;
        }
        reached.sort_by(|a, b| (a.depth, &a.entity_ref).cmp(&(b.depth, &b.entity_ref)));
        Walk {
            reached,
            truncated,
            direction: Some(direction),
            via_apis,
            seen,
        }
    }
}

/// ref -> (depth, previous ref, API the hop went through)
type Seen = HashMap<Arc<str>, (u32, Option<Arc<str>>, Option<Arc<str>>)>;

/// Two sorted iterators of rows as one, in order.
struct Merged<'a, A: Iterator<Item = RowRef<'a>>, B: Iterator<Item = RowRef<'a>>> {
    a: std::iter::Peekable<A>,
    b: std::iter::Peekable<B>,
}

impl<'a, A, B> Iterator for Merged<'a, A, B>
where
    A: Iterator<Item = RowRef<'a>>,
    B: Iterator<Item = RowRef<'a>>,
{
    type Item = RowRef<'a>;

    fn next(&mut self) -> Option<RowRef<'a>> {
        match (self.a.peek(), self.b.peek()) {
            (Some(a), Some(b)) if b < a => self.b.next(),
            (Some(_), _) => self.a.next(),
            (None, _) => self.b.next(),
        }
    }
}
