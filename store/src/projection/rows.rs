//! What one entity's descriptor becomes in the projection tables: its row in
//! `entities` (with the columns filters and ordering need) and its relation rows.

use almanac_domain::entity::{managed_by_location, MANAGED_BY_ORIGIN_LOCATION};
use almanac_domain::relations::{self, DeclaredRelation, Edge};
use almanac_domain::EntityRef;
use chrono::{DateTime, Utc};
use serde_json::{json, Value};
use uuid::Uuid;

/// Namespace of the deterministic entity uids: a uid is derived from the ref and
/// the position of its registration, so a replay yields the same uids.
const UID_NAMESPACE: Uuid = Uuid::from_u128(0x6a1d_5c3e_0b7f_4e0a_9f4c_2d8e_7b1a_0c01);

pub fn entity_uid(entity_ref: &str, registered_at_position: i64) -> Uuid {
    Uuid::new_v5(
        &UID_NAMESPACE,
        format!("{entity_ref}@{registered_at_position}").as_bytes(),
    )
}

#[derive(Clone, Debug)]
pub struct EntityRow {
    pub entity_ref: String,
    pub uid: Uuid,
    pub descriptor: Value,
    pub version: i64,
    pub last_position: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// The derived columns of a row, read straight from the descriptor.
pub struct Columns {
    pub kind: String,
    pub namespace: String,
    pub name: String,
    pub title: Option<String>,
    pub description: Option<String>,
    pub spec_type: Option<String>,
    pub lifecycle: Option<String>,
    pub owner_ref: Option<String>,
    pub tags: Value,
    pub labels: Value,
    pub annotations: Value,
    pub source: Option<String>,
    pub origin: Option<String>,
    pub search_text: String,
}

fn text(value: &Value, path: &[&str]) -> Option<String> {
    path.iter()
        .try_fold(value, |v, key| v.get(key))?
        .as_str()
        .map(str::to_string)
}

pub fn columns(descriptor: &Value) -> Columns {
    let kind = text(descriptor, &["kind"]).unwrap_or_default();
    let namespace =
        text(descriptor, &["metadata", "namespace"]).unwrap_or_else(|| "default".into());
    let name = text(descriptor, &["metadata", "name"]).unwrap_or_default();
    let title = text(descriptor, &["metadata", "title"]);
    let description = text(descriptor, &["metadata", "description"]);
    let tags: Vec<String> = descriptor["metadata"]["tags"]
        .as_array()
        .map(|tags| {
            tags.iter()
                .filter_map(|t| t.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    let owner_ref = text(descriptor, &["spec", "owner"]).and_then(|owner| {
        EntityRef::parse(&owner, Some("group"), &namespace)
            .ok()
            .map(|r| r.canonical())
    });
    let search_text = search_text(&name, title.as_deref(), description.as_deref(), &tags);
    Columns {
        spec_type: text(descriptor, &["spec", "type"]),
        lifecycle: text(descriptor, &["spec", "lifecycle"]),
        owner_ref,
        labels: object_or_empty(&descriptor["metadata"]["labels"]),
        annotations: object_or_empty(&descriptor["metadata"]["annotations"]),
        source: managed_by_location(descriptor).map(str::to_string),
        origin: text(
            descriptor,
            &["metadata", "annotations", MANAGED_BY_ORIGIN_LOCATION],
        ),
        tags: json!(tags),
        kind,
        namespace,
        name,
        title,
        description,
        search_text,
    }
}

/// How much of the title and of the description search indexes.
pub const SEARCH_FIELD_BYTES: usize = 16 * 1024;
/// The most text search indexes for one entity. A tsvector holds at most 1 MB of lexemes,
/// so a text this size can never overflow it, whatever a stored descriptor holds.
pub const MAX_SEARCH_TEXT_BYTES: usize = 128 * 1024;

/// Name, title, description and tags, for full-text and trigram search. A long title or
/// description is indexed by its beginning rather than refused: search finds an entity by
/// what its description starts with, and the whole text is still stored and returned.
fn search_text(
    name: &str,
    title: Option<&str>,
    description: Option<&str>,
    tags: &[String],
) -> String {
    let mut text = [
        Some(name),
        title.map(|t| prefix(t, SEARCH_FIELD_BYTES)),
        description.map(|d| prefix(d, SEARCH_FIELD_BYTES)),
    ]
    .into_iter()
    .flatten()
    .chain(tags.iter().map(String::as_str))
    .collect::<Vec<_>>()
    .join(" ");
    let cut = prefix(&text, MAX_SEARCH_TEXT_BYTES).len();
    text.truncate(cut);
    text
}

/// The longest prefix of at most `max` bytes that ends on a character boundary.
fn prefix(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

fn object_or_empty(value: &Value) -> Value {
    if value.is_object() {
        value.clone()
    } else {
        json!({})
    }
}

/// One declaration of an edge, as stored in `relations`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RelationRow {
    pub source_ref: String,
    pub relation: String,
    pub target_ref: String,
    pub declared_by: String,
    pub field: String,
}

/// Both directions of every relation the descriptor declares. A descriptor that
/// no longer validates (rules changed since it was written) declares none, and
/// says so in the log: its entity row is still projected.
pub fn relation_rows(entity_ref: &str, descriptor: &Value) -> Vec<RelationRow> {
    let declared = match relations::of_descriptor(descriptor) {
        Ok(declared) => declared,
        Err(err) => {
            tracing::warn!(entity.ref = entity_ref, error = %err, "stored descriptor no longer validates; no relations projected");
            return Vec::new();
        }
    };
    let mut rows: Vec<RelationRow> = declared
        .iter()
        .flat_map(|declared| declared.edges().map(|edge| relation_row(declared, edge)))
        .collect();
    rows.sort();
    rows.dedup();
    rows
}

/// The relations the descriptor declares as its entity states them (no inverses), in
/// declaration order: what an entity as it was (time travel) declared then. None when
/// the descriptor no longer validates.
pub fn declared_rows(descriptor: &Value) -> Vec<RelationRow> {
    relations::of_descriptor(descriptor)
        .unwrap_or_default()
        .iter()
        .map(|declared| {
            let edge = (
                declared.source.clone(),
                declared.relation,
                declared.target.clone(),
            );
            relation_row(declared, edge)
        })
        .collect()
}

/// One direction of a declared relation as a row; the declaring entity is recorded on both.
fn relation_row(declared: &DeclaredRelation, (from, relation, to): Edge) -> RelationRow {
    RelationRow {
        source_ref: from.canonical(),
        relation: relation.as_str().to_string(),
        target_ref: to.canonical(),
        declared_by: declared.source.canonical(),
        field: declared.field.to_string(),
    }
}
