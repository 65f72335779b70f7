//! Backstage's query parameters in the read model's vocabulary: `filter` (each
//! `key=value,key2,...` string an all-of, repeated strings an any-of; a key without
//! `=` asks that the field exist), `orderField` (`field,asc|desc`), `fullTextFilterTerm`,
//! and the opaque cursor `/entities/by-query` pages with.
//!
//! Values compare case-insensitively, as Backstage's search table does. Keys map onto
//! the catalog's own fields where it has one (`kind`, `metadata.name`, `spec.owner`,
//! labels, annotations, tags, ...). It evaluates nothing: the snapshot does.

use super::error::{RestError, RestResult};
use crate::graphql::filter::canonical_ref;
use almanac_domain::RelationType;
use almanac_readmodel::{
    check_values, FieldPath, Filter, OrderDirection, OrderField, OrderKey, PathTest, Snapshot,
    TextQuery,
};
use almanac_store::follow::followed_uid;
use base64::Engine;
use serde::{Deserialize, Serialize};

/// Most `filter` strings (any-of branches) in one request.
pub const MAX_FILTERS: usize = 32;
/// Most `orderField`s.
pub const MAX_ORDER_FIELDS: usize = 4;

/// The values of the repeated query parameter `name`.
pub fn values<'a>(params: &'a [(String, String)], name: &str) -> Vec<&'a str> {
    params
        .iter()
        .filter(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
        .collect()
}

/// The one value of `name`, if given; given twice is refused.
pub fn single<'a>(params: &'a [(String, String)], name: &str) -> RestResult<Option<&'a str>> {
    match values(params, name).as_slice() {
        [] => Ok(None),
        [one] => Ok(Some(one)),
        _ => Err(RestError::input(format!("give {name} once"))),
    }
}

/// A non-negative integer parameter.
pub fn integer(params: &[(String, String)], name: &str) -> RestResult<Option<usize>> {
    single(params, name)?
        .map(|text| {
            text.trim().parse::<usize>().map_err(|_| {
                RestError::input(format!(
                    "{name} must be a non-negative integer, got {:?}",
                    clip(text)
                ))
            })
        })
        .transpose()
}

/// At most 80 characters of user text, for messages.
pub fn clip(text: &str) -> String {
    text.chars().take(80).collect()
}

/// The `filter` parameters as one filter (`Filter::all()` when none), refusing more
/// than [`MAX_FILTERS`] strings or `max_conditions` conditions.
pub fn filter(filters: &[&str], snapshot: &Snapshot, max_conditions: usize) -> RestResult<Filter> {
    if filters.len() > MAX_FILTERS {
        return Err(RestError::input(format!(
            "{} filter parameters given; the limit is {MAX_FILTERS}",
            filters.len()
        )));
    }
    let mut any = Vec::new();
    for text in filters {
        if let Some(all) = filter_string(text, snapshot)? {
            any.push(all);
        }
    }
    let compiled = match any.len() {
        0 => Filter::all(),
        1 => any.remove(0),
        _ => Filter::Any(any),
    };
    if compiled.size() > max_conditions {
        return Err(RestError::input(format!(
            "the filter has {} conditions; the limit is {max_conditions} \
             (graphql.max_filter_conditions)",
            compiled.size()
        )));
    }
    Ok(compiled)
}

/// One `a=b,c=d,e` string: every key must hold (values of one key: any of them). Keys
/// compare case-insensitively, as Backstage's; a key that differs only in case joins the
/// first spelling.
fn filter_string(text: &str, snapshot: &Snapshot) -> RestResult<Option<Filter>> {
    // Keys in first-seen order, each with its values (None: "exists").
    let mut keys: Vec<(String, Option<Vec<String>>)> = Vec::new();
    for statement in text.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let (key, value) = match statement.split_once('=') {
            Some((key, value)) => (key.trim(), Some(value.trim().to_string())),
            None => (statement, None),
        };
        if key.is_empty() {
            return Err(RestError::input(format!(
                "Invalid filter, '{}' is not a valid statement (expected a string on the \
                 form a=b or a= or a)",
                clip(statement)
            )));
        }
        let at = match keys.iter().position(|(k, _)| k.eq_ignore_ascii_case(key)) {
            Some(at) => at,
            None => {
                keys.push((key.to_string(), Some(Vec::new())));
                keys.len() - 1
            }
        };
        match value {
            // Existence wins over values (any of "exists" and values is "exists").
            None => keys[at].1 = None,
            Some(value) => {
                if let Some(values) = &mut keys[at].1 {
                    values.push(value);
                }
            }
        }
    }
    if keys.is_empty() {
        return Ok(None);
    }
    let mut all = keys
        .into_iter()
        .map(|(key, values)| condition(&key, values, snapshot))
        .collect::<RestResult<Vec<_>>>()?;
    Ok(Some(if all.len() == 1 {
        all.remove(0)
    } else {
        Filter::All(all)
    }))
}

/// Matches nothing.
fn never() -> Filter {
    Filter::Any(Vec::new())
}

/// One key's condition: any of `values`, or (None) the key exists. The fields the read
/// model holds apart (kind, name, namespace, type, lifecycle, tags) use those; uids and
/// relations their own tests; any other key is a path into the descriptor, compared
/// case-insensitively as Backstage's search table does (`spec.owner=team-a` compares the
/// text as written, as Backstage does).
fn condition(key: &str, values: Option<Vec<String>>, snapshot: &Snapshot) -> RestResult<Filter> {
    let lower = key.to_ascii_lowercase();
    if let Some(values) = &values {
        check_values(values)
            .map_err(|err| RestError::input(format!("filter {}: {err}", clip(key))))?;
    }
    if let Some(relation) = lower.strip_prefix("relations.") {
        // An unknown relation type relates nothing.
        let Some(relation) = RelationType::ALL
            .into_iter()
            .find(|t| t.as_str().eq_ignore_ascii_case(relation))
        else {
            return Ok(never());
        };
        return Ok(match values {
            None => Filter::Relation {
                relation,
                target: None,
            },
            Some(values) => Filter::Any(
                values
                    .iter()
                    // A value that is no ref names no entity: it matches nothing.
                    .filter_map(|v| canonical_ref(v, None).ok())
                    .map(|target| Filter::Relation {
                        relation,
                        target: Some(target),
                    })
                    .collect(),
            ),
        });
    }
    let Some(values) = values else {
        return Ok(match lower.as_str() {
            "kind" | "metadata.name" | "metadata.namespace" | "metadata.uid" | "apiversion"
            | "metadata" => Filter::all(),
            _ => path(key, PathTest::Exists)?,
        });
    };
    Ok(match lower.as_str() {
        "kind" => Filter::Kind(values),
        "metadata.name" => Filter::Name(values),
        "metadata.namespace" => Filter::Namespace(values),
        "spec.type" => Filter::Type(values),
        "spec.lifecycle" => Filter::Lifecycle(values),
        "metadata.tags" => Filter::Tag(values),
        "metadata.uid" => Filter::Ref(refs_of_uids(snapshot, &values)),
        _ => path(key, PathTest::Equals(values))?,
    })
}

fn path(key: &str, test: PathTest) -> RestResult<Filter> {
    let path = FieldPath::parse(key)
        .map_err(|err| RestError::input(format!("filter key {}: {err}", clip(key))))?;
    Ok(Filter::Path { path, test })
}

/// The refs of the entities whose uid is one of `uids`: a scan (uids are derived from
/// the ref and the registration's position, so they cannot be looked up).
pub fn refs_of_uids(snapshot: &Snapshot, uids: &[String]) -> Vec<String> {
    let wanted: Vec<uuid::Uuid> = uids
        .iter()
        .filter_map(|u| uuid::Uuid::parse_str(u.trim()).ok())
        .collect();
    if wanted.is_empty() {
        return Vec::new();
    }
    snapshot
        .entities()
        .filter(|e| wanted.contains(&followed_uid(e)))
        .map(|e| e.entity_ref.to_string())
        .collect()
}

/// `orderField` values (`field` or `field,asc|desc`) as sort keys; none: by ref.
pub fn order(fields: &[&str]) -> RestResult<Vec<OrderKey>> {
    if fields.len() > MAX_ORDER_FIELDS {
        return Err(RestError::input(format!(
            "{} orderField parameters given; the limit is {MAX_ORDER_FIELDS}",
            fields.len()
        )));
    }
    let mut keys = Vec::new();
    for text in fields {
        let (field, direction) = match text.split_once(',') {
            Some((field, direction)) => (field.trim(), direction.trim()),
            None => (text.trim(), "asc"),
        };
        let direction = match direction {
            "asc" => OrderDirection::Asc,
            "desc" => OrderDirection::Desc,
            _ => {
                return Err(RestError::input(
                    "Invalid order field order, must be asc or desc",
                ))
            }
        };
        let field = match field.to_lowercase().as_str() {
            "kind" => OrderField::Kind,
            "metadata.name" => OrderField::Name,
            "metadata.namespace" => OrderField::Namespace,
            "metadata.title" => OrderField::Title,
            "spec.type" => OrderField::Type,
            "spec.lifecycle" => OrderField::Lifecycle,
            "spec.owner" => OrderField::Owner,
            other => {
                return Err(RestError::input(format!(
                    "ordering by `{}` is not supported; order by kind, metadata.name, \
                     metadata.namespace, metadata.title, spec.type, spec.lifecycle or spec.owner",
                    clip(other)
                )))
            }
        };
        keys.push(OrderKey { field, direction });
    }
    if keys.is_empty() {
        keys.push(OrderKey {
            field: OrderField::Ref,
            direction: OrderDirection::Asc,
        });
    }
    Ok(keys)
}

/// `fullTextFilterTerm` as the catalog's text search (words and prefixes over name,
/// title, description and tags; `fullTextFilterFields` is not honoured).
pub fn full_text(term: Option<&str>) -> RestResult<Option<TextQuery>> {
    match term.map(str::trim).filter(|t| !t.is_empty()) {
        None => Ok(None),
        Some(term) => TextQuery::parse(term)
            .map(Some)
            .map_err(|err| RestError::input(format!("fullTextFilterTerm: {err}"))),
    }
}

/// Where a page starts: after these sort keys and ref.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Keyset {
    pub keys: Vec<String>,
    #[serde(rename = "ref")]
    pub entity_ref: String,
}

/// The query a cursor continues: the initial request's parameters, as given.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct Asked {
    #[serde(default)]
    pub filter: Vec<String>,
    #[serde(default)]
    pub order: Vec<String>,
    #[serde(default)]
    pub text: Option<String>,
}

/// Most earlier pages a cursor remembers for `prevCursor`.
pub const MAX_TRAIL: usize = 64;

/// `/entities/by-query`'s cursor: the query, where its page starts, where the earlier
/// pages started (for `prevCursor`), and the total counted on the first page.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Cursor {
    /// Format version: a cursor is resumed only by the format that made it.
    pub v: u32,
    pub asked: Asked,
    pub after: Option<Keyset>,
    /// `after` of each earlier page, oldest first (at most [`MAX_TRAIL`]).
    #[serde(default)]
    pub trail: Vec<Option<Keyset>>,
    pub total: i64,
}

const CURSOR_VERSION: u32 = 1;
/// Largest cursor text accepted.
const MAX_CURSOR_BYTES: usize = 64 * 1024;

impl Cursor {
    pub fn first(asked: Asked, total: i64) -> Cursor {
        Cursor {
            v: CURSOR_VERSION,
            asked,
            after: None,
            trail: Vec::new(),
            total,
        }
    }

    /// The cursor of the page after this one, which ends at `last`.
    pub fn next(&self, last: Keyset) -> Cursor {
        let mut trail = self.trail.clone();
        trail.push(self.after.clone());
        if trail.len() > MAX_TRAIL {
            trail.remove(0);
        }
        Cursor {
            after: Some(last),
            trail,
            ..self.clone()
        }
    }

    /// The cursor of the page before this one, if remembered.
    pub fn previous(&self) -> Option<Cursor> {
        let mut trail = self.trail.clone();
        let after = trail.pop()?;
        Some(Cursor {
            after,
            trail,
            ..self.clone()
        })
    }

    pub fn encode(&self) -> String {
        let json = serde_json::to_vec(self).unwrap_or_default();
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(json)
    }

    pub fn decode(text: &str) -> RestResult<Cursor> {
        let malformed = || RestError::input("Malformed cursor: not one this server returned");
        if text.len() > MAX_CURSOR_BYTES {
            return Err(malformed());
        }
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(text.trim().trim_end_matches('='))
            .map_err(|_| malformed())?;
        let cursor: Cursor = serde_json::from_slice(&bytes).map_err(|_| malformed())?;
        if cursor.v != CURSOR_VERSION || cursor.trail.len() > MAX_TRAIL {
            return Err(malformed());
        }
        Ok(cursor)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn filter_strings_are_all_of_and_repeats_any_of() {
        let snapshot = Snapshot::empty();
        let parsed = filter(
            &["kind=component,spec.type=service,spec.type=website"],
            &snapshot,
            64,
        )
        .unwrap();
        assert_eq!(
            parsed,
            Filter::All(vec![
                Filter::Kind(vec!["component".into()]),
                Filter::Type(vec!["service".into(), "website".into()]),
            ])
        );
        let parsed = filter(
            &["kind=group", "kind=user,metadata.annotations.a"],
            &snapshot,
            64,
        )
        .unwrap();
        assert_eq!(
            parsed,
            Filter::Any(vec![
                Filter::Kind(vec!["group".into()]),
                Filter::All(vec![
                    Filter::Kind(vec!["user".into()]),
                    Filter::Path {
                        path: FieldPath::parse("metadata.annotations.a").unwrap(),
                        test: PathTest::Exists,
                    },
                ]),
            ])
        );
        assert!(filter(&["=x"], &snapshot, 64).is_err());
    }

    #[test]
    fn cursors_round_trip_and_remember_earlier_pages() {
        let first = Cursor::first(Asked::default(), 7);
        let keyset = |r: &str| Keyset {
            keys: vec![r.into()],
            entity_ref: r.into(),
        };
        let second = first.next(keyset("a"));
        let third = second.next(keyset("b"));
        assert_eq!(Cursor::decode(&third.encode()).unwrap(), third);
        assert_eq!(third.previous().unwrap(), second);
        assert_eq!(second.previous().unwrap().after, None);
        assert!(Cursor::decode("not a cursor").is_err());
    }
}
