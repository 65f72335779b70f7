//! The entity filter tree, evaluated against a snapshot's entities with the semantics of
//! the store's SQL (`store::catalog::filter`): the same variants, case-insensitive value
//! lists, "not" total over missing values, text through the search index.
//!
//! The caller builds the tree from user input and checks its size; this module does not
//! validate refs or label syntax.

use crate::fast::HashSet;
use std::sync::Arc;

use crate::entity::Entity;
use crate::query::Filter;
use crate::snapshot::Snapshot;

/// A filter ready to test entities: values lower-cased once, text conditions resolved
/// through the search index to the entities they match.
pub(crate) enum Compiled {
    All(Vec<Compiled>),
    Any(Vec<Compiled>),
    Not(Box<Compiled>),
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
    Matches(HashSet<Arc<str>>),
    Ref(Vec<String>),
}

fn lower_all(values: &[String]) -> Vec<String> {
    values.iter().map(|v| v.to_lowercase()).collect()
}

impl Compiled {
    pub(crate) fn new(filter: &Filter, snapshot: &Snapshot) -> Compiled {
        match filter {
            Filter::All(items) => {
                Compiled::All(items.iter().map(|f| Compiled::new(f, snapshot)).collect())
            }
            Filter::Any(items) => {
                Compiled::Any(items.iter().map(|f| Compiled::new(f, snapshot)).collect())
            }
            Filter::Not(inner) => Compiled::Not(Box::new(Compiled::new(inner, snapshot))),
            Filter::Kind(v) => Compiled::Kind(lower_all(v)),
            Filter::Namespace(v) => Compiled::Namespace(lower_all(v)),
            Filter::Name(v) => Compiled::Name(lower_all(v)),
            Filter::Type(v) => Compiled::Type(lower_all(v)),
            Filter::Lifecycle(v) => Compiled::Lifecycle(lower_all(v)),
            Filter::Owner(v) => Compiled::Owner(lower_all(v)),
            Filter::Tag(v) => Compiled::Tag(lower_all(v)),
            Filter::Label(pairs) => Compiled::Label(pairs.clone()),
            Filter::Annotation(pairs) => Compiled::Annotation(pairs.clone()),
            Filter::HasAnnotation(keys) => Compiled::HasAnnotation(keys.clone()),
            Filter::Text(text) => Compiled::Matches(
                snapshot
                    .text_matches(text)
                    .into_iter()
                    .map(|entity| entity.entity_ref.clone())
                    .collect(),
            ),
            Filter::Ref(v) => Compiled::Ref(lower_all(v)),
        }
    }

    /// Whether `entity` passes. A missing value (no type, no owner) matches no list, and
    /// `Not` of it is true, as the store's `NOT coalesce(..., FALSE)`.
    pub(crate) fn test(&self, entity: &Entity) -> bool {
        let any = |values: &[String], value: Option<&str>| {
            value.is_some_and(|value| values.iter().any(|v| v == value))
        };
        match self {
            Compiled::All(items) => items.iter().all(|c| c.test(entity)),
            Compiled::Any(items) => items.iter().any(|c| c.test(entity)),
            Compiled::Not(inner) => !inner.test(entity),
            Compiled::Kind(v) => any(v, Some(entity.key_kind())),
            Compiled::Namespace(v) => any(v, Some(entity.key_namespace())),
            Compiled::Name(v) => any(v, Some(entity.key_name())),
            Compiled::Type(v) => any(v, entity.key_type()),
            Compiled::Lifecycle(v) => any(v, entity.key_lifecycle()),
            Compiled::Owner(v) => any(v, entity.owner_ref.as_deref()),
            Compiled::Ref(v) => any(v, Some(&entity.entity_ref)),
            Compiled::Tag(v) => entity.tags.iter().any(|t| v.iter().any(|w| **w == **t)),
            Compiled::Label(pairs) => pairs
                .iter()
                .any(|(k, val)| entity.labels.get(k) == Some(val.as_str())),
            Compiled::Annotation(pairs) => pairs
                .iter()
                .any(|(k, val)| entity.annotations.get(k) == Some(val.as_str())),
            Compiled::HasAnnotation(keys) => {
                keys.iter().any(|k| entity.annotations.contains_key(k))
            }
            Compiled::Matches(found) => found.contains(&entity.entity_ref),
        }
    }
}
