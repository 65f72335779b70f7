//! One entity as the read model holds it: the summary fields every query reads, derived
//! once from its descriptor, and the descriptor itself with its large leaves elided.
//!
//! The columns are those of the `entities` projection (store's `projection/rows.rs` derives
//! them the same way) plus `system`, `links` and the relations the entity declares, derived
//! through `almanac_domain` (never re-implemented here). This module does not fold events
//! (`snapshot` does) and does not hold the text of large leaves: an API's inline
//! `definition` is replaced by a short stub, to be fetched from PostgreSQL when asked.

use std::sync::Arc;

use almanac_domain::relations::RelationType;
pub use almanac_domain::summary::Link;
use almanac_domain::summary::{links, Summary};
use almanac_domain::Change;
use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::rows::{HeldRow, RowRef};
use crate::snapshot::{LogEvent, Relations};

/// String leaves longer than this, outside `metadata`, are held as a stub. `metadata`
/// strings are kept whole: validation bounds them (a title at 1 KiB, a description and an
/// annotation value at 64 KiB) and search reads them.
pub const ELIDE_BYTES: usize = 4 * 1024;

/// The prefix of a stub; what follows is the elided text's byte length and FNV-1a hash.
pub const ELIDED_PREFIX: &str = "almanac:elided:";

/// String keys to string values, sorted by key: `metadata.labels` or `annotations` (a
/// sorted slice: a tree map's node costs half a KB for the usual two or three entries).
/// Keys and values are shared within a build: every entity ingest reads carries the
/// same two annotation keys and the same origin, and the entities of one file the same
/// `managed-by-location` (about 200 bytes per entity when each held its own copy).
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct StringMap(Box<[(Arc<str>, Arc<str>)]>);

impl StringMap {
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0
            .binary_search_by(|(k, _)| (**k).cmp(key))
            .ok()
            .map(|at| &*self.0[at].1)
    }

    pub fn contains_key(&self, key: &str) -> bool {
        self.get(key).is_some()
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(k, v)| (&**k, &**v))
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// One declaration of an edge, as the `relations` table stores it: both directions of every
/// relation an entity declares carry its ref as `declared_by`. 56 bytes: the type and the
/// field are a byte each (rows order as their spellings do, as the table's).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct RelationRow {
    pub source_ref: Arc<str>,
    pub relation: RelationType,
    pub target_ref: Arc<str>,
    pub declared_by: Arc<str>,
    /// The spec field that declared it, e.g. `spec.owner`.
    pub field: RelationField,
}

impl Ord for RelationRow {
    /// By source, type (as spelled), target, declaring entity, field (as spelled).
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.key().cmp(&other.key())
    }
}

impl RelationRow {
    fn key(&self) -> (&str, &str, &str, &str, &str) {
        (
            &self.source_ref,
            self.relation.as_str(),
            &self.target_ref,
            &self.declared_by,
            self.field.as_str(),
        )
    }
}

impl PartialOrd for RelationRow {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

/// A spec field that declares relations, as its position among the domain's
/// (`relations::fields`): a byte where its `&'static str` took sixteen.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct RelationField(u8);

impl RelationField {
    /// `field` as one of the domain's (every `DeclaredRelation::field` is).
    fn of(field: &str) -> RelationField {
        let at = almanac_domain::relations::fields().position(|known| known == field);
        RelationField(at.and_then(|at| u8::try_from(at).ok()).unwrap_or(u8::MAX))
    }

    /// Its spelling, e.g. `spec.owner`.
    pub fn as_str(self) -> &'static str {
        almanac_domain::relations::fields()
            .nth(usize::from(self.0))
            .unwrap_or_default()
    }
}

impl std::fmt::Display for RelationField {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::fmt::Debug for RelationField {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", self.as_str())
    }
}

impl RelationRow {
    /// The same declaration read from its other end.
    pub fn inverse(&self) -> RelationRow {
        RelationRow {
            source_ref: self.target_ref.clone(),
            relation: self.relation.inverse(),
            target_ref: self.source_ref.clone(),
            declared_by: self.declared_by.clone(),
            field: self.field,
        }
    }

    /// Declared by its own source: held only in that entity's `declared`, not again in
    /// the snapshot's relation index (half of all rows).
    pub(crate) fn is_own(&self) -> bool {
        Arc::ptr_eq(&self.source_ref, &self.declared_by) || self.source_ref == self.declared_by
    }
}

/// A live entity at one log position.
#[derive(Clone, Debug, PartialEq)]
pub struct Entity {
    /// Canonical, lower-case `kind:namespace/name` (the stream).
    pub entity_ref: Arc<str>,
    /// As written (`Component`, `API`, a custom kind). Kinds, namespaces, types,
    /// lifecycles and refs are shared (one `Arc<str>` per value within a build, the
    /// owner's and system's with the relation rows' refs); the other texts are boxed (no
    /// capacity field): a tenth of a bench entity's bytes.
    pub kind: Arc<str>,
    pub namespace: Arc<str>,
    pub name: Box<str>,
    pub title: Option<Box<str>>,
    pub description: Option<Box<str>>,
    pub spec_type: Option<Arc<str>>,
    pub lifecycle: Option<Arc<str>>,
    /// Canonical ref of `spec.owner`.
    pub owner_ref: Option<Arc<str>>,
    /// Canonical ref of `spec.system` (the `partOf` relation that field declares).
    pub system_ref: Option<Arc<str>>,
    pub tags: Box<[Box<str>]>,
    pub labels: StringMap,
    /// `backstage.io/managed-by-location` and `…-origin-location` are read from here
    /// ([`Entity::source`], [`Entity::origin`]), not held again.
    pub annotations: StringMap,
    pub links: Box<[Link]>,
    /// The stream version of its last event.
    pub version: i64,
    /// The position of the registration this life of the entity began with; the store's
    /// uid is `entity_uid(ref, registered_position)`.
    pub registered_position: i64,
    pub last_position: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// The normalised descriptor as JSON text, with string leaves over [`ELIDE_BYTES`]
    /// outside `metadata` replaced by stubs (see [`Entity::elided`]), and without the
    /// fields this struct already holds (`kind`, `metadata.name`, `namespace`, `title`,
    /// `description`, `labels`, `annotations`, `tags`, `spec.type`, `spec.lifecycle`, when
    /// equal, and the usual `apiVersion`): read it through
    /// [`Entity::descriptor`], which puts them back. Held as text, not as a parsed tree:
    /// a third of the memory, parsed again only when an update applies.
    pub descriptor_json: Arc<str>,
    /// Which held fields `descriptor_json` leaves out ([`HELD`] bits).
    pub(crate) left_out: u16,
    /// Some leaf of `descriptor` is a stub: the full document is in PostgreSQL.
    pub elided: bool,
    /// The rows of `relations` this entity declares with itself as source, sorted: each
    /// declared relation forward (and a self-reference's inverse), source and declaring
    /// entity implied ([`Entity::own_rows`] reads them whole). The inverses, held under
    /// their sources in the snapshot's relation index, are in [`Entity::declared_rows`].
    pub(crate) declared: Box<[HeldRow]>,
    pub(crate) keys: Keys,
}

/// Lower-cased values that filters, sorting and search compare, computed once, read
/// through the entity's `key_*` methods: `lower(kind)` shared (it differs from the kind
/// as written for every built-in kind), the others only when one differs from its field
/// as written (rare: one pointer, not five, in the usual case).
#[derive(Clone, Debug, PartialEq, Default)]
pub(crate) struct Keys {
    kind: Arc<str>,
    others: Option<Box<Lowered>>,
    /// Name, title and description (their first `summary::SEARCH_FIELD_BYTES`) and tags, lower-cased.
    pub search_text: Box<str>,
}

/// Each `None` when the lower-cased value equals the field as written.
#[derive(Clone, Debug, PartialEq, Default)]
struct Lowered {
    namespace: Option<Box<str>>,
    name: Option<Box<str>>,
    /// `lower(coalesce(title, name))`.
    title: Option<Box<str>>,
    spec_type: Option<Box<str>>,
    lifecycle: Option<Box<str>>,
}

/// `text` lower-cased, or `None` when that is `text` itself.
fn lowered(text: &str) -> Option<Box<str>> {
    let lower = text.to_lowercase();
    (lower != text).then(|| lower.into_boxed_str())
}

/// Where an entity's life stands before its next event.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Birth {
    pub registered_position: i64,
    pub created_at: DateTime<Utc>,
}

impl Entity {
    /// Derives every field from `descriptor` (already elided, see [`elide`]) and the
    /// rows it declares ([`relation_rows`]), at `stored` (its last event); `intern`
    /// shares the texts many entities hold.
    pub(crate) fn derive(
        entity_ref: Arc<str>,
        descriptor: Value,
        declared: Vec<HeldRow>,
        stored: &LogEvent,
        birth: Birth,
        intern: &mut dyn FnMut(String) -> Arc<str>,
    ) -> Entity {
        let summary = Summary::of(&descriptor);
        let search_text = summary.search_text().to_lowercase();
        let Summary {
            kind,
            namespace,
            name,
            title,
            description,
            tags,
            owner_ref,
            spec_type,
            lifecycle,
            // Annotations, read from `annotations` when asked.
            source: _,
            origin: _,
        } = summary;
        // Every held row has the entity as source.
        let system_ref = declared
            .iter()
            .find(|row| row.field.as_str() == "spec.system")
            .map(|row| row.target_ref.clone());
        let others = Lowered {
            namespace: lowered(&namespace),
            name: lowered(&name),
            title: lowered(title.as_deref().unwrap_or(&name)),
            spec_type: spec_type.as_deref().and_then(lowered),
            lifecycle: lifecycle.as_deref().and_then(lowered),
        };
        let keys = Keys {
            kind: intern(kind.to_lowercase()),
            others: (others != Lowered::default()).then(|| Box::new(others)),
            search_text: search_text.into_boxed_str(),
        };
        let mut entity = Entity {
            labels: string_map(&descriptor["metadata"]["labels"], intern),
            annotations: string_map(&descriptor["metadata"]["annotations"], intern),
            links: links(&descriptor).into_boxed_slice(),
            elided: has_stub(&descriptor),
            entity_ref,
            kind: intern(kind),
            namespace: intern(namespace),
            name: name.into_boxed_str(),
            title: title.map(String::into_boxed_str),
            description: description.map(String::into_boxed_str),
            spec_type: spec_type.map(&mut *intern),
            lifecycle: lifecycle.map(&mut *intern),
            owner_ref: owner_ref.map(&mut *intern),
            system_ref,
            tags: tags.into_iter().map(String::into_boxed_str).collect(),
            version: stored.version,
            registered_position: birth.registered_position,
            last_position: stored.position,
            created_at: birth.created_at,
            updated_at: stored.recorded_at,
            descriptor_json: Arc::from(""),
            left_out: 0,
            declared: declared.into_boxed_slice(),
            keys,
        };
        let mut descriptor = descriptor;
        entity.left_out = leave_out_held(&mut descriptor, &entity);
        entity.descriptor_json = Arc::from(descriptor.to_string());
        entity
    }

    /// `lower(kind)`.
    pub(crate) fn key_kind(&self) -> &str {
        &self.keys.kind
    }

    /// One of the lower-cased values other than the kind, if it differs.
    fn lowered(&self, field: impl Fn(&Lowered) -> &Option<Box<str>>) -> Option<&str> {
        self.keys
            .others
            .as_deref()
            .and_then(|o| field(o).as_deref())
    }

    pub(crate) fn key_namespace(&self) -> &str {
        self.lowered(|o| &o.namespace).unwrap_or(&self.namespace)
    }

    pub(crate) fn key_name(&self) -> &str {
        self.lowered(|o| &o.name).unwrap_or(&self.name)
    }

    /// `lower(coalesce(title, name))`.
    pub(crate) fn key_title(&self) -> &str {
        self.lowered(|o| &o.title)
            .unwrap_or(self.title.as_deref().unwrap_or(&self.name))
    }

    pub(crate) fn key_type(&self) -> Option<&str> {
        let held = self.lowered(|o| &o.spec_type);
        self.spec_type.as_deref().map(|t| held.unwrap_or(t))
    }

    pub(crate) fn key_lifecycle(&self) -> Option<&str> {
        let held = self.lowered(|o| &o.lifecycle);
        self.lifecycle.as_deref().map(|l| held.unwrap_or(l))
    }

    /// Every row this entity declares in `relations` (both directions), sorted.
    pub fn declared_rows(&self) -> Vec<RelationRow> {
        let mut rows: Vec<RelationRow> = self.own_rows().map(|row| row.to_row()).collect();
        rows.extend(self.inverse_rows().map(|(source, row)| RelationRow {
            source_ref: source.clone(),
            relation: row.relation,
            target_ref: row.target_ref,
            declared_by: self.entity_ref.clone(),
            field: row.field,
        }));
        rows.sort();
        rows
    }

    /// The rows it declares with itself as source, sorted.
    pub fn own_rows(&self) -> impl Iterator<Item = RowRef<'_>> {
        self.declared
            .iter()
            .map(|row| row.view(&self.entity_ref, &self.entity_ref))
    }

    /// The rows it declares under other sources (its own read from their other end), as
    /// the relation index holds them: (source, row whose target declared it).
    pub(crate) fn inverse_rows(&self) -> impl Iterator<Item = (&Arc<str>, HeldRow)> + '_ {
        self.declared
            .iter()
            // A self-reference's inverse is one of its own, held already.
            .filter(|row| row.target_ref != self.entity_ref)
            .map(|row| {
                (
                    &row.target_ref,
                    HeldRow {
                        relation: row.relation.inverse(),
                        field: row.field,
                        target_ref: self.entity_ref.clone(),
                    },
                )
            })
    }

    /// Canonical ref of `spec.domain` (a system's `partOf` its domain).
    pub fn domain_ref(&self) -> Option<&Arc<str>> {
        self.declared
            .iter()
            .find(|row| row.field.as_str() == "spec.domain")
            .map(|row| &row.target_ref)
    }

    /// The held fields `descriptor_json` leaves out whose dotted path (`metadata.labels`)
    /// `wanted` accepts, as one object shaped like the descriptor; `None` when none are.
    pub(crate) fn left_out_fields(&self, wanted: impl Fn(&str) -> bool) -> Option<Value> {
        let mut fields = serde_json::Map::new();
        for (bit, (path, name)) in HELD.iter().zip(HELD_NAMES).enumerate() {
            if self.left_out & (1 << bit) == 0 || !wanted(name) {
                continue;
            }
            // Every held path is a top-level key or one below one.
            let value = self.held_value(path);
            match path {
                [key] => {
                    fields.insert(key.to_string(), value);
                }
                [parent, key] => {
                    let slot = fields
                        .entry(parent.to_string())
                        .or_insert_with(|| Value::Object(serde_json::Map::new()));
                    if let Some(object) = slot.as_object_mut() {
                        object.insert(key.to_string(), value);
                    }
                }
                _ => {}
            }
        }
        (!fields.is_empty()).then_some(Value::Object(fields))
    }

    /// `backstage.io/managed-by-location`: the source that holds the entity.
    pub fn source(&self) -> Option<&str> {
        self.annotations
            .get(almanac_domain::entity::MANAGED_BY_LOCATION)
    }

    /// `backstage.io/managed-by-origin-location`.
    pub fn origin(&self) -> Option<&str> {
        self.annotations
            .get(almanac_domain::entity::MANAGED_BY_ORIGIN_LOCATION)
    }

    /// The held descriptor, parsed (`Null` if the text were not JSON, which it always is:
    /// this crate wrote it).
    pub fn descriptor(&self) -> Value {
        let mut descriptor: Value =
            serde_json::from_str(&self.descriptor_json).unwrap_or(Value::Null);
        for (bit, path) in HELD.iter().enumerate() {
            if self.left_out & (1 << bit) != 0 {
                if let Some((parent, key)) = slot(&mut descriptor, path) {
                    parent.insert(key.to_string(), self.held_value(path));
                }
            }
        }
        descriptor
    }

    /// The field at `path` as this struct holds it, as JSON.
    fn held_value(&self, path: &[&str]) -> Value {
        let map = |m: &StringMap| {
            Value::Object(
                m.iter()
                    .map(|(k, v)| (k.to_string(), Value::String(v.to_string())))
                    .collect(),
            )
        };
        let text = |t: Option<&str>| t.map_or(Value::Null, |t| Value::String(t.to_string()));
        match path {
            // Not a field: left out only when it is the usual one, so put back as that.
            ["apiVersion"] => text(Some(USUAL_API_VERSION)),
            ["kind"] => text(Some(&self.kind)),
            [_, "name"] => text(Some(&self.name)),
            [_, "namespace"] => text(Some(&self.namespace)),
            [_, "title"] => text(self.title.as_deref()),
            [_, "description"] => text(self.description.as_deref()),
            [_, "labels"] => map(&self.labels),
            [_, "annotations"] => map(&self.annotations),
            [_, "tags"] => Value::Array(self.tags.iter().map(|t| text(Some(t))).collect()),
            ["spec", "type"] => text(self.spec_type.as_deref()),
            ["spec", "lifecycle"] => text(self.lifecycle.as_deref()),
            _ => Value::Null,
        }
    }

    pub(crate) fn birth(&self) -> Birth {
        Birth {
            registered_position: self.registered_position,
            created_at: self.created_at,
        }
    }
}

/// The descriptor fields an [`Entity`] holds anyway, left out of its `descriptor_json`
/// when equal to the held value (bit i of `left_out` = `HELD[i]`): about half of a
/// bench-shaped descriptor's text.
const HELD: [&[&str]; 11] = [
    &["apiVersion"],
    &["kind"],
    &["metadata", "name"],
    &["metadata", "namespace"],
    &["metadata", "title"],
    &["metadata", "description"],
    &["metadata", "labels"],
    &["metadata", "annotations"],
    &["metadata", "tags"],
    &["spec", "type"],
    &["spec", "lifecycle"],
];

/// The `apiVersion` of nearly every descriptor: left out of the held text when it is
/// this (37 bytes an entity).
const USUAL_API_VERSION: &str = "backstage.io/v1alpha1";

/// [`HELD`]'s paths, dotted.
const HELD_NAMES: [&str; 11] = [
    "apiVersion",
    "kind",
    "metadata.name",
    "metadata.namespace",
    "metadata.title",
    "metadata.description",
    "metadata.labels",
    "metadata.annotations",
    "metadata.tags",
    "spec.type",
    "spec.lifecycle",
];

/// The object holding the last key of `path`, and that key.
fn slot<'v, 'p>(
    descriptor: &'v mut Value,
    path: &[&'p str],
) -> Option<(&'v mut serde_json::Map<String, Value>, &'p str)> {
    let (last, parents) = path.split_last()?;
    let mut at = descriptor;
    for key in parents {
        at = at.get_mut(*key)?;
    }
    Some((at.as_object_mut()?, last))
}

/// Removes from `descriptor` each [`HELD`] field equal to what `entity` holds; the bits
/// of those removed.
fn leave_out_held(descriptor: &mut Value, entity: &Entity) -> u16 {
    let mut left_out = 0;
    for (bit, path) in HELD.iter().enumerate() {
        let held = entity.held_value(path);
        if let Some((parent, key)) = slot(descriptor, path) {
            if parent.get(key) == Some(&held) {
                parent.remove(key);
                left_out |= 1 << bit;
            }
        }
    }
    left_out
}

/// Both directions of every relation the descriptor declares, through the domain's one
/// mapping (`relations::of_descriptor`, or without validating again:
/// `of_logged_descriptor`). A descriptor that no longer validates declares none (as the
/// projector does).
pub(crate) fn relation_rows(
    entity_ref: &Arc<str>,
    descriptor: &Value,
    relations: Relations,
    intern: &mut dyn FnMut(String) -> Arc<str>,
) -> Vec<HeldRow> {
    let declared = match relations {
        Relations::Validated => {
            almanac_domain::relations::of_descriptor(descriptor).unwrap_or_default()
        }
        Relations::Logged => almanac_domain::relations::of_logged_descriptor(descriptor),
    };
    // Every relation has this entity as its source: its ref is made once.
    let Some(source) = declared.first().map(|d| intern(d.source.canonical())) else {
        return Vec::new();
    };
    let mut rows = Vec::with_capacity(declared.len() * 2);
    for declared in &declared {
        // Both of `DeclaredRelation::edges` (their order does not matter: rows are sorted),
        // each ref made once.
        let target = intern(declared.target.canonical());
        let field = RelationField::of(declared.field);
        let row =
            |source_ref: &Arc<str>, relation: RelationType, target_ref: &Arc<str>| RelationRow {
                source_ref: source_ref.clone(),
                relation,
                target_ref: target_ref.clone(),
                declared_by: entity_ref.clone(),
                field,
            };
        rows.push(row(&source, declared.relation, &target));
        rows.push(row(&target, declared.relation.inverse(), &source));
    }
    rows.sort();
    rows.dedup();
    // Only its own are held (sorted still: source and declaring entity are the same in
    // each); the others are their inverses (`Entity::inverse_rows`).
    rows.into_iter()
        .filter(RelationRow::is_own)
        .map(|row| HeldRow {
            relation: row.relation,
            field: row.field,
            target_ref: row.target_ref,
        })
        .collect()
}

fn string_map(value: &Value, intern: &mut dyn FnMut(String) -> Arc<str>) -> StringMap {
    let mut pairs: Vec<(Arc<str>, Arc<str>)> = value
        .as_object()
        .map(|map| {
            map.iter()
                .filter_map(|(k, v)| {
                    let v = v.as_str()?;
                    Some((intern(k.clone()), intern(v.to_string())))
                })
                .collect()
        })
        .unwrap_or_default();
    pairs.sort();
    StringMap(pairs.into_boxed_slice())
}

/// Replaces every string leaf over [`ELIDE_BYTES`] outside `metadata` by its stub.
/// Deterministic, so a change's old value elided the same way still matches the held one.
pub fn elide(mut descriptor: Value) -> Value {
    if let Value::Object(map) = &mut descriptor {
        for (key, value) in map.iter_mut() {
            if key != "metadata" {
                elide_all(value);
            }
        }
    }
    descriptor
}

/// The changes of an update with the same leaves elided, so they apply to a held
/// descriptor. A change at or under `/metadata` is left whole.
pub fn elide_changes(changes: &[Change]) -> Vec<Change> {
    changes
        .iter()
        .map(|change| {
            let mut change = change.clone();
            if change.path.is_empty() {
                change.old_value = change.old_value.map(elide);
                change.new_value = change.new_value.map(elide);
            } else if change.path != "/metadata" && !change.path.starts_with("/metadata/") {
                if let Some(old) = &mut change.old_value {
                    elide_all(old);
                }
                if let Some(new) = &mut change.new_value {
                    elide_all(new);
                }
            }
            change
        })
        .collect()
}

fn elide_all(value: &mut Value) {
    match value {
        Value::String(text) if text.len() > ELIDE_BYTES => *text = stub(text),
        Value::Array(items) => items.iter_mut().for_each(elide_all),
        Value::Object(map) => map.values_mut().for_each(elide_all),
        _ => {}
    }
}

fn stub(text: &str) -> String {
    // FNV-1a: stable across builds, and enough to tell two texts of one length apart
    // when a patch's old value is checked.
    let hash = text.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    format!("{ELIDED_PREFIX}{}:{hash:016x}", text.len())
}

fn has_stub(value: &Value) -> bool {
    match value {
        Value::String(text) => text.starts_with(ELIDED_PREFIX),
        Value::Array(items) => items.iter().any(has_stub),
        Value::Object(map) => map.values().any(has_stub),
        _ => false,
    }
}
