//! Walks and rooted pages over a random history equal the same answers computed
//! naively from `relation_rows` (the `relations` table as the snapshot holds it):
//! the walks' own target lists and the owned-entities merge are shortcuts, not
//! other semantics.

use std::collections::{BTreeSet, HashMap, VecDeque};

use almanac_domain::RelationType;
use almanac_readmodel::{Direction, OwnedScope, Reached, Snapshot, WalkLimits};

use crate::history::random_log;

/// Targets of `relation` edges leaving `source`, sorted, once each: from the rows.
fn targets(snapshot: &Snapshot, source: &str, relation: RelationType) -> Vec<String> {
    let mut targets: Vec<String> = snapshot
        .relation_rows(source)
        .filter(|row| row.relation == relation)
        .map(|row| row.target_ref.to_string())
        .collect();
    targets.dedup();
    targets
}

/// Next hops as the walk defines them: by target, a direct edge before the same hop
/// through an API, then the smallest API; no self-loops.
fn hops(
    snapshot: &Snapshot,
    from: &str,
    direction: Direction,
    via_apis: bool,
) -> Vec<(String, Option<String>)> {
    let (direct, out, back) = match direction {
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
    };
    let mut hops: Vec<(String, Option<String>)> = targets(snapshot, from, direct)
        .into_iter()
        .map(|to| (to, None))
        .collect();
    if via_apis {
        for api in targets(snapshot, from, out) {
            for to in targets(snapshot, &api, back) {
                hops.push((to, Some(api.clone())));
            }
        }
    }
    hops.sort();
    hops.dedup_by(|later, first| later.0 == first.0);
    hops.retain(|(to, _)| to != from);
    hops
}

/// A reached entity: ref, depth, previous ref, API.
type Item = (String, u32, String, Option<String>);

/// Breadth-first, level by level in ref order, each entity at its first sighting.
fn walk(
    snapshot: &Snapshot,
    root: &str,
    direction: Direction,
    via_apis: bool,
    limits: WalkLimits,
) -> (Vec<Item>, bool) {
    let mut seen: BTreeSet<String> = BTreeSet::from([root.to_string()]);
    let mut frontier = vec![root.to_string()];
    let mut reached = Vec::new();
    let mut truncated = false;
    'walk: for level in 1..=limits.max_depth + 1 {
        frontier.sort();
        let mut next = Vec::new();
        for from in &frontier {
            for (to, via) in hops(snapshot, from, direction, via_apis) {
                if seen.contains(&to) {
                    continue;
                }
                if level > limits.max_depth || seen.len() > limits.max_nodes {
                    truncated = true;
                    break 'walk;
                }
                seen.insert(to.clone());
                reached.push((to.clone(), level, from.clone(), via));
                next.push(to);
            }
        }
        frontier = next;
    }
    reached.sort_by(|a, b| (a.1, &a.0).cmp(&(b.1, &b.0)));
    (reached, truncated)
}

fn as_tuple(r: &Reached) -> Item {
    (
        r.entity_ref.to_string(),
        r.depth,
        r.previous.to_string(),
        r.via.as_deref().map(str::to_string),
    )
}

#[test]
fn walks_equal_a_breadth_first_search_over_the_relation_rows() {
    let snapshot = Snapshot::from_log(&random_log(21, 1_000).events).snapshot;
    let mut roots: Vec<String> = snapshot
        .entities()
        .map(|e| e.entity_ref.to_string())
        .collect();
    roots.sort();
    let mut compared = 0;
    for root in roots.iter().step_by(2) {
        for direction in [Direction::Outgoing, Direction::Incoming] {
            for via_apis in [false, true] {
                for limits in [
                    WalkLimits {
                        max_depth: 10,
                        max_nodes: 2_000,
                    },
                    WalkLimits {
                        max_depth: 2,
                        max_nodes: 5,
                    },
                ] {
                    let got = snapshot.walk_dependencies(root, direction, via_apis, limits);
                    let expected = walk(&snapshot, root, direction, via_apis, limits);
                    let reached: Vec<_> = got.reached.iter().map(as_tuple).collect();
                    assert_eq!(
                        (reached, got.truncated),
                        expected,
                        "{root} {direction:?} via APIs {via_apis} {limits:?}"
                    );
                    compared += got.reached.len();
                }
            }
        }
    }
    assert!(compared > 500, "the history walks somewhere: {compared}");
}

/// Owners as `owned_entities` counts them, from the rows.
fn owners(snapshot: &Snapshot, root: &str, scope: OwnedScope) -> BTreeSet<String> {
    let mut owners = BTreeSet::from([root.to_string()]);
    match scope {
        OwnedScope::Direct => {}
        OwnedScope::Subgroups => {
            let mut queue = VecDeque::from([root.to_string()]);
            while let Some(group) = queue.pop_front() {
                for child in targets(snapshot, &group, RelationType::ParentOf) {
                    if owners.insert(child.clone()) {
                        queue.push_back(child);
                    }
                }
            }
        }
        OwnedScope::Memberships => {
            owners.extend(targets(snapshot, root, RelationType::MemberOf));
        }
    }
    owners
}

#[test]
fn owned_pages_equal_the_sorted_list_of_what_the_owners_own() {
    let snapshot = Snapshot::from_log(&random_log(23, 1_000).events).snapshot;
    let mut by_owner: HashMap<String, Vec<String>> = HashMap::new();
    for entity in snapshot.entities() {
        if let Some(owner) = &entity.owner_ref {
            by_owner
                .entry(owner.to_string())
                .or_default()
                .push(entity.entity_ref.to_string());
        }
    }
    let mut roots: Vec<String> = snapshot
        .entities()
        .filter(|e| matches!(&*e.kind, "Group" | "User"))
        .map(|e| e.entity_ref.to_string())
        .chain(["group:default/nobody".to_string()])
        .collect();
    roots.sort();
    let mut pages = 0;
    for root in &roots {
        for scope in [
            OwnedScope::Direct,
            OwnedScope::Subgroups,
            OwnedScope::Memberships,
        ] {
            let mut all: Vec<String> = owners(&snapshot, root, scope)
                .iter()
                .flat_map(|owner| by_owner.get(owner).cloned().unwrap_or_default())
                .collect();
            all.sort();
            for first in [0, 1, 3, 100] {
                // Every page boundary, and a cursor that is no entity's ref.
                let mut cursors: Vec<Option<String>> = vec![None, Some("m".to_string())];
                cursors.extend(all.iter().step_by(7).map(|r| Some(r.clone())));
                for after in cursors {
                    let page = snapshot.owned_entities(root, scope, first, after.as_deref());
                    let rest: Vec<&String> = all
                        .iter()
                        .filter(|r| after.as_ref().is_none_or(|after| *r > after))
                        .collect();
                    let rows: Vec<String> =
                        page.rows.iter().map(|e| e.entity_ref.to_string()).collect();
                    let expected: Vec<String> =
                        rest.iter().take(first).map(|r| r.to_string()).collect();
                    assert_eq!(rows, expected, "{root} {scope:?} {first} after {after:?}");
                    assert_eq!(page.total, all.len());
                    assert_eq!(page.has_next, rest.len() > first);
                    pages += 1;
                }
            }
        }
    }
    assert!(pages > 500, "{pages}");
}
