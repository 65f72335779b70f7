//! The entity filter tree, evaluated against a snapshot's entities: case-insensitive value
//! lists, "not" total over missing values, text through the search index, relations,
//! transitive owners and domains through the snapshot's relation index, paths through the
//! held descriptor (`path`).
//!
//! The caller builds the tree from user input and bounds it (`query::FieldPath`,
//! `query::check_values`, its own condition count); this module does not validate refs
//! or label syntax. Nothing here reads anything but the snapshot: processing errors are
//! operational state, which a caller turns into a [`Filter::Ref`] list itself.

use crate::fast::HashSet;
use std::sync::Arc;

use almanac_domain::RelationType;

use crate::entity::Entity;
use crate::path::{values_at, Found};
use crate::query::{FieldPath, Filter, OwnedScope, PathTest};
use crate::snapshot::Snapshot;

/// A filter ready to test entities: values lower-cased once, text conditions resolved
/// through the search index to the entities they match, relation, owner and domain
/// conditions resolved through the relation index to sets of refs.
pub(crate) struct Compiled<'s> {
    snapshot: &'s Snapshot,
    node: Node,
}

enum Node {
    All(Vec<Node>),
    Any(Vec<Node>),
    Not(Box<Node>),
    Kind(Vec<String>),
    Namespace(Vec<String>),
    Name(Vec<String>),
    Type(Vec<String>),
    Lifecycle(Vec<String>),
    Owner(Vec<String>),
    Tag(Vec<String>),
    Label(Vec<(String, String)>),
    Annotation(Vec<(String, String)>),
    HasAnnotation(Vec<String>),
    /// The entities a text condition matched; refs of `Ref`; sources of a relation to a
    /// given target.
    Refs(HashSet<Arc<str>>),
    /// Any relation of this type.
    RelationOfType(RelationType),
    /// `spec.owner` is one of these (the transitive owners, resolved).
    OwnerIn(HashSet<Arc<str>>),
    System(HashSet<Arc<str>>),
    Domain(HashSet<Arc<str>>),
    Path(FieldPath, PathTest),
    Dangling,
}

fn lower_all(values: &[String]) -> Vec<String> {
    values.iter().map(|v| v.to_lowercase()).collect()
}

fn refs(values: &[String]) -> HashSet<Arc<str>> {
    values.iter().map(|v| Arc::from(v.to_lowercase())).collect()
}

impl Node {
    fn new(filter: &Filter, snapshot: &Snapshot) -> Node {
        match filter {
            Filter::All(items) => Node::All(ordered(items, snapshot)),
            Filter::Any(items) => Node::Any(ordered(items, snapshot)),
            Filter::Not(inner) => Node::Not(Box::new(Node::new(inner, snapshot))),
            Filter::Kind(v) => Node::Kind(lower_all(v)),
            Filter::Namespace(v) => Node::Namespace(lower_all(v)),
            Filter::Name(v) => Node::Name(lower_all(v)),
            Filter::Type(v) => Node::Type(lower_all(v)),
            Filter::Lifecycle(v) => Node::Lifecycle(lower_all(v)),
            Filter::Owner(v) => Node::Owner(lower_all(v)),
            Filter::Tag(v) => Node::Tag(lower_all(v)),
            Filter::Label(pairs) => Node::Label(pairs.clone()),
            Filter::Annotation(pairs) => Node::Annotation(pairs.clone()),
            Filter::HasAnnotation(keys) => Node::HasAnnotation(keys.clone()),
            Filter::Text(text) => Node::Refs(
                snapshot
                    .text_matches(text)
                    .into_iter()
                    .map(|entity| entity.entity_ref.clone())
                    .collect(),
            ),
            Filter::Ref(v) => Node::Refs(refs(v)),
            Filter::Relation {
                relation,
                target: Some(target),
            } => {
                // The entities with `relation` to the target are the targets of its
                // inverse from there: one read of the target's rows, not a scan.
                let target = target.to_lowercase();
                let inverse = relation.inverse();
                Node::Refs(
                    snapshot
                        .relation_rows(&target)
                        .filter(|row| row.relation == inverse)
                        .map(|row| row.target_ref.clone())
                        .collect(),
                )
            }
            Filter::Relation {
                relation,
                target: None,
            } => Node::RelationOfType(*relation),
            Filter::OwnerTransitive(roots) => {
                let mut owners = HashSet::default();
                for root in roots {
                    let root = root.to_lowercase();
                    let scope = if root.starts_with("group:") {
                        OwnedScope::Subgroups
                    } else if root.starts_with("user:") {
                        OwnedScope::Memberships
                    } else {
                        OwnedScope::Direct
                    };
                    owners.extend(snapshot.owners(&root, scope));
                }
                Node::OwnerIn(owners)
            }
            Filter::System(v) => Node::System(refs(v)),
            Filter::Domain(v) => Node::Domain(refs(v)),
            Filter::Path { path, test } => Node::Path(
                path.clone(),
                match test {
                    PathTest::Exists => PathTest::Exists,
                    PathTest::Equals(values) => PathTest::Equals(lower_all(values)),
                },
            ),
            Filter::HasDanglingRelations => Node::Dangling,
        }
    }

    /// How costly one test is, for ordering the items of `All`/`Any`: a field compare,
    /// a look-up in the relation index, a pass over the descriptor text.
    fn cost(&self) -> u8 {
        match self {
            Node::All(items) | Node::Any(items) => items.iter().map(Node::cost).max().unwrap_or(0),
            Node::Not(inner) => inner.cost(),
            Node::RelationOfType(_) | Node::Domain(_) | Node::Dangling => 1,
            Node::Path(..) => 2,
            _ => 0,
        }
    }
}

/// The items compiled, cheapest first: `All` and `Any` stop at the first that decides.
fn ordered(items: &[Filter], snapshot: &Snapshot) -> Vec<Node> {
    let mut nodes: Vec<Node> = items.iter().map(|f| Node::new(f, snapshot)).collect();
    nodes.sort_by_key(Node::cost);
    nodes
}

impl<'s> Compiled<'s> {
    pub(crate) fn new(filter: &Filter, snapshot: &'s Snapshot) -> Compiled<'s> {
        Compiled {
            snapshot,
            node: Node::new(filter, snapshot),
        }
    }

    /// Whether `entity` passes. A missing value (no type, no owner, no system) matches no
    /// list, and `Not` of it is true.
    pub(crate) fn test(&self, entity: &Entity) -> bool {
        self.test_node(&self.node, entity)
    }

    fn test_node(&self, node: &Node, entity: &Entity) -> bool {
        let any = |values: &[String], value: Option<&str>| {
            value.is_some_and(|value| values.iter().any(|v| v == value))
        };
        let within = |set: &HashSet<Arc<str>>, value: Option<&Arc<str>>| {
            value.is_some_and(|value| set.contains(value))
        };
        match node {
            Node::All(items) => items.iter().all(|n| self.test_node(n, entity)),
            Node::Any(items) => items.iter().any(|n| self.test_node(n, entity)),
            Node::Not(inner) => !self.test_node(inner, entity),
            Node::Kind(v) => any(v, Some(entity.key_kind())),
            Node::Namespace(v) => any(v, Some(entity.key_namespace())),
            Node::Name(v) => any(v, Some(entity.key_name())),
            Node::Type(v) => any(v, entity.key_type()),
            Node::Lifecycle(v) => any(v, entity.key_lifecycle()),
            Node::Owner(v) => any(v, entity.owner_ref.as_deref()),
            Node::Tag(v) => entity.tags.iter().any(|t| v.iter().any(|w| **w == **t)),
            Node::Label(pairs) => pairs
                .iter()
                .any(|(k, val)| entity.labels.get(k) == Some(val.as_str())),
            Node::Annotation(pairs) => pairs
                .iter()
                .any(|(k, val)| entity.annotations.get(k) == Some(val.as_str())),
            Node::HasAnnotation(keys) => keys.iter().any(|k| entity.annotations.contains_key(k)),
            Node::Refs(found) => found.contains(&entity.entity_ref),
            Node::RelationOfType(relation) => self
                .snapshot
                .relation_rows(&entity.entity_ref)
                .any(|row| row.relation == *relation),
            Node::OwnerIn(owners) => within(owners, entity.owner_ref.as_ref()),
            Node::System(systems) => within(systems, entity.system_ref.as_ref()),
            Node::Domain(domains) => within(domains, self.snapshot.domain_of(entity)),
            Node::Path(path, test) => {
                let found = values_at(entity, path);
                match test {
                    PathTest::Exists => !found.is_empty(),
                    PathTest::Equals(values) => found.iter().filter_map(Found::text).any(|text| {
                        let text = text.to_lowercase();
                        values.contains(&text)
                    }),
                }
            }
            Node::Dangling => entity
                .own_rows()
                .any(|row| self.snapshot.entity(row.target_ref).is_none()),
        }
    }
}

impl Snapshot {
    /// The entity's domain: a system's `spec.domain`, or that of the system its
    /// `spec.system` names (when that system exists).
    pub(crate) fn domain_of<'a>(&'a self, entity: &'a Entity) -> Option<&'a Arc<str>> {
        entity.domain_ref().or_else(|| {
            let system = self.entity(entity.system_ref.as_deref()?)?;
            system.domain_ref()
        })
    }
}
