//! Values that must come from a closed set (entity kinds, relation types, event
//! types), checked with a "did you mean", and refs that name no entity, reported
//! in the response's `extensions.notFound` with the nearest refs: so that a typo
//! does not answer like "no match".
//!
//! A kind is known when it is a built-in kind or any entity of the snapshot has
//! it (descriptors may use kinds of their own). An unknown value is refused with
//! `UNKNOWN_VALUE` and `extensions.didYouMean` (the nearest values by edit
//! distance, case-insensitive). It does not check `EntityFilter` (that one has
//! its own compile) and decides nothing about what exists: a ref that is well
//! formed but names no entity still answers null or an empty list.

use crate::error::{ApiError, ErrorCode, Result};
use almanac_domain::RelationType;
use almanac_readmodel::{FacetField, Filter, Snapshot, TextQuery};
use async_graphql::Context;
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

/// The kinds the catalog defines, lower-case as in refs.
pub const BUILT_IN_KINDS: [&str; 9] = [
    "api",
    "component",
    "domain",
    "group",
    "location",
    "resource",
    "system",
    "template",
    "user",
];

/// The log's event types (what `HistoryEvent.type` says).
use almanac_domain::event::EVENT_TYPES;

/// Edit distance between two strings, by characters.
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut current = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let substitution = previous[j] + usize::from(ca != *cb);
            current.push(substitution.min(previous[j + 1] + 1).min(current[j] + 1));
        }
        previous = current;
    }
    previous[b.len()]
}

/// The candidates nearest to `value` (case-insensitive), closest first: those
/// within a third of the longer word's length, else none.
pub fn nearest<'a>(value: &str, candidates: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    let value = value.to_lowercase();
    let mut scored: Vec<(usize, &str)> = candidates
        .into_iter()
        .map(|c| (distance(&value, &c.to_lowercase()), c))
        .filter(|(d, c)| *d <= value.chars().count().max(c.chars().count()).div_ceil(3))
        .collect();
    scored.sort();
    scored.dedup_by(|a, b| a.1 == b.1);
    scored
        .into_iter()
        .take(3)
        .map(|(_, c)| c.to_string())
        .collect()
}

/// `UNKNOWN_VALUE` for `value` of `argument`, naming the nearest known values.
fn unknown(argument: &str, what: &str, value: &str, known: &[&str]) -> ApiError {
    let suggestions = nearest(value, known.iter().copied());
    let hint = match suggestions.first() {
        Some(best) => format!("; did you mean {best:?}?"),
        None => format!("; known {what}s: {}", known.join(", ")),
    };
    ApiError::new(
        ErrorCode::UnknownValue,
        format!("{argument}: {value:?} is not a known {what}{hint}"),
    )
    .with_did_you_mean(suggestions)
}

/// Every kind `snapshot` knows, lower-case: the built-in ones and those in use.
fn known_kinds(snapshot: &Snapshot) -> BTreeSet<String> {
    let mut kinds: BTreeSet<String> = BUILT_IN_KINDS.iter().map(|k| k.to_string()).collect();
    kinds.extend(
        snapshot
            .facets(FacetField::Kind, &Filter::all(), usize::MAX)
            .into_iter()
            .map(|f| f.value.to_lowercase()),
    );
    kinds
}

/// `kinds` checked against the kinds `snapshot` knows, lower-case; None for none given.
pub fn kinds(
    snapshot: &Snapshot,
    argument: &str,
    kinds: Option<&[String]>,
) -> Result<Option<BTreeSet<String>>> {
    let Some(kinds) = kinds else {
        return Ok(None);
    };
    let mut out = BTreeSet::new();
    // The catalog's own kinds cost a pass over every entity: counted only when a
    // value is not a built-in kind (a page of components must not pay for it).
    let mut known: Option<BTreeSet<String>> = None;
    for kind in kinds {
        let lower = kind.trim().to_lowercase();
        if !BUILT_IN_KINDS.contains(&lower.as_str()) {
            let known = known.get_or_insert_with(|| known_kinds(snapshot));
            if !known.contains(&lower) {
                let known: Vec<&str> = known.iter().map(String::as_str).collect();
                return Err(unknown(argument, "kind", kind, &known));
            }
        }
        out.insert(lower);
    }
    Ok(Some(out))
}

/// A relation type in Backstage's spelling (`ownedBy`, ...), else `UNKNOWN_VALUE`.
pub fn relation_type(argument: &str, text: &str) -> Result<RelationType> {
    RelationType::parse(text.trim()).ok_or_else(|| {
        let known: Vec<&str> = RelationType::ALL.iter().map(|r| r.as_str()).collect();
        unknown(argument, "relation type", text, &known)
    })
}

/// Event types checked against the log's, else `UNKNOWN_VALUE`.
pub fn event_types(argument: &str, types: &[String]) -> Result<()> {
    for value in types {
        if !EVENT_TYPES.contains(&value.as_str()) {
            return Err(unknown(argument, "event type", value, &EVENT_TYPES));
        }
    }
    Ok(())
}

/// Refs that named no entity in this operation, for `extensions.notFound`; one per
/// request (the gate inserts it and writes what it holds into the response).
#[derive(Clone, Debug, Default)]
pub struct NotFound(Arc<Mutex<Vec<Value>>>);

impl NotFound {
    /// What was recorded, in the order recorded.
    pub fn take(&self) -> Vec<Value> {
        self.0
            .lock()
            .map(|mut v| std::mem::take(&mut *v))
            .unwrap_or_default()
    }
}

/// The refs of live entities nearest to `missing` (canonical): the names most
/// similar by the search index, the same kind first; at most three.
pub fn nearest_refs(snapshot: &Snapshot, missing: &str) -> Vec<String> {
    let (kind, rest) = missing.split_once(':').unwrap_or(("", missing));
    let name = rest.rsplit_once('/').map_or(rest, |(_, name)| name);
    let Ok(query) = TextQuery::parse(&name.replace(['-', '_', '.'], " ")) else {
        return Vec::new();
    };
    let page = snapshot.search(&query, &Filter::all(), 20, None);
    let mut refs: Vec<(bool, usize, String)> = page
        .rows
        .iter()
        .enumerate()
        .map(|(rank, row)| {
            let entity_ref = row.entity.entity_ref.to_string();
            let other_kind = entity_ref.split_once(':').map(|(k, _)| k) != Some(kind);
            (other_kind, rank, entity_ref)
        })
        .collect();
    refs.sort();
    refs.into_iter().take(3).map(|(_, _, r)| r).collect()
}

/// Notes in the response's `extensions.notFound` that `missing` (canonical) names no
/// entity of `snapshot`, with the nearest refs. Outside a request (no [`NotFound`]),
/// nothing.
pub fn report_missing(ctx: &Context<'_>, snapshot: &Snapshot, missing: &str) {
    let Some(notes) = ctx.data_opt::<NotFound>() else {
        return;
    };
    let path: Vec<String> = ctx.path_node.map(|p| p.to_string_vec()).unwrap_or_default();
    let note = json!({
        "ref": missing,
        "path": path,
        "nearest": nearest_refs(snapshot, missing),
    });
    if let Ok(mut notes) = notes.0.lock() {
        notes.push(note);
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn nearest_values_are_close_ones_closest_first() {
        assert_eq!(
            nearest("Compnent", BUILT_IN_KINDS),
            vec!["component".to_string()]
        );
        assert_eq!(nearest("apis", BUILT_IN_KINDS), vec!["api".to_string()]);
        assert!(nearest("zzzzzz", BUILT_IN_KINDS).is_empty());
        assert_eq!(
            nearest("EntityUpdate", EVENT_TYPES)
                .first()
                .map(String::as_str),
            Some("EntityUpdated")
        );
    }

    #[test]
    fn relation_types_are_refused_with_a_suggestion() {
        assert_eq!(
            relation_type("type", "ownedBy").unwrap(),
            RelationType::OwnedBy
        );
        let err = relation_type("type", "ownedby").unwrap_err();
        assert_eq!(err.code(), ErrorCode::UnknownValue);
        assert!(
            err.client_message().contains("did you mean \"ownedBy\""),
            "{}",
            err.client_message()
        );
    }
}
