//! Relations declared by an entity's spec: Backstage's reference fields
//! and the relation each yields (the `RULES` table below).
//!
//! Each reference field yields a relation from the entity and, through [`DeclaredRelation::edges`],
//! its inverse on the target. This module does not check that targets exist (dangling edges
//! are kept by the projection) and does not check spec shapes (`validation` does).

use std::collections::HashSet;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::entity::Entity;
use crate::entity_ref::{EntityRef, RefError};
use crate::kind::Kind;
use crate::validation::limits::{MAX_REF_PART_BYTES, MAX_SPEC_TEXT_BYTES};
use crate::validation::{describe, field_index, ValidationError, ValidationErrors};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum RelationType {
    OwnedBy,
    OwnerOf,
    PartOf,
    HasPart,
    ProvidesApi,
    ApiProvidedBy,
    ConsumesApi,
    ApiConsumedBy,
    DependsOn,
    DependencyOf,
    MemberOf,
    HasMember,
    ChildOf,
    ParentOf,
}

impl RelationType {
    pub const ALL: [RelationType; 14] = [
        RelationType::OwnedBy,
        RelationType::OwnerOf,
        RelationType::PartOf,
        RelationType::HasPart,
        RelationType::ProvidesApi,
        RelationType::ApiProvidedBy,
        RelationType::ConsumesApi,
        RelationType::ApiConsumedBy,
        RelationType::DependsOn,
        RelationType::DependencyOf,
        RelationType::MemberOf,
        RelationType::HasMember,
        RelationType::ChildOf,
        RelationType::ParentOf,
    ];

    /// Backstage's spelling, e.g. `ownedBy`.
    pub fn as_str(self) -> &'static str {
        match self {
            RelationType::OwnedBy => "ownedBy",
            RelationType::OwnerOf => "ownerOf",
            RelationType::PartOf => "partOf",
            RelationType::HasPart => "hasPart",
            RelationType::ProvidesApi => "providesApi",
            RelationType::ApiProvidedBy => "apiProvidedBy",
            RelationType::ConsumesApi => "consumesApi",
            RelationType::ApiConsumedBy => "apiConsumedBy",
            RelationType::DependsOn => "dependsOn",
            RelationType::DependencyOf => "dependencyOf",
            RelationType::MemberOf => "memberOf",
            RelationType::HasMember => "hasMember",
            RelationType::ChildOf => "childOf",
            RelationType::ParentOf => "parentOf",
        }
    }

    /// Exact match on the camelCase spelling.
    pub fn parse(text: &str) -> Option<RelationType> {
        RelationType::ALL.into_iter().find(|r| r.as_str() == text)
    }

    pub fn inverse(self) -> RelationType {
        match self {
            RelationType::OwnedBy => RelationType::OwnerOf,
            RelationType::OwnerOf => RelationType::OwnedBy,
            RelationType::PartOf => RelationType::HasPart,
            RelationType::HasPart => RelationType::PartOf,
            RelationType::ProvidesApi => RelationType::ApiProvidedBy,
            RelationType::ApiProvidedBy => RelationType::ProvidesApi,
            RelationType::ConsumesApi => RelationType::ApiConsumedBy,
            RelationType::ApiConsumedBy => RelationType::ConsumesApi,
            RelationType::DependsOn => RelationType::DependencyOf,
            RelationType::DependencyOf => RelationType::DependsOn,
            RelationType::MemberOf => RelationType::HasMember,
            RelationType::HasMember => RelationType::MemberOf,
            RelationType::ChildOf => RelationType::ParentOf,
            RelationType::ParentOf => RelationType::ChildOf,
        }
    }
}

impl std::fmt::Display for RelationType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One relation as its declaring entity states it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct DeclaredRelation {
    pub source: EntityRef,
    pub relation: RelationType,
    pub target: EntityRef,
    /// The spec field that declared it, e.g. `spec.owner` or `spec.dependsOn`.
    pub field: &'static str,
}

/// A directed edge as the projection stores it: `(from, type, to)`.
pub type Edge = (EntityRef, RelationType, EntityRef);

impl DeclaredRelation {
    /// The relation and its inverse seen from the target, in a canonical order (by `from`,
    /// then type), so that a fact declared from either side (a Group's `members`, a User's
    /// `memberOf`) yields the same pair.
    pub fn edges(&self) -> [Edge; 2] {
        let forward = (self.source.clone(), self.relation, self.target.clone());
        let backward = (
            self.target.clone(),
            self.relation.inverse(),
            self.source.clone(),
        );
        if (&backward.0, backward.1) < (&forward.0, forward.1) {
            [backward, forward]
        } else {
            [forward, backward]
        }
    }
}

/// The relations a stored descriptor declares: it is validated as an entity first, so one
/// that no longer validates (the rules changed since it was written) declares none, and the
/// errors say why. The one mapping from a descriptor to its relations: the projection, the
/// history reads and time travel all call it.
pub fn of_descriptor(descriptor: &Value) -> Result<Vec<DeclaredRelation>, ValidationErrors> {
    Entity::from_value(descriptor.clone()).map(|entity| entity.relations())
}

/// The relations of a descriptor the log holds, without validating it again: every
/// logged descriptor was validated (`Entity::from_value`) before it was written, and for
/// every descriptor that validates this equals [`of_descriptor`]'s relations, at the cost
/// of its references alone (validation was most of the time a server spent folding the
/// log at start). A reference that does not parse still makes it declare none, as there.
/// A descriptor failing another rule (one added since it was written) does declare its
/// relations here and none through `of_descriptor`: `replay --verify` folds with the
/// latter and names such entities.
pub fn of_logged_descriptor(descriptor: &Value) -> Vec<DeclaredRelation> {
    fn text(value: Option<&Value>) -> Option<&str> {
        value.and_then(Value::as_str)
    }
    let kind = Kind::parse(text(descriptor.get("kind")).unwrap_or_default());
    let metadata = descriptor.get("metadata");
    // As `Entity::from_value` then `Entity::entity_ref`: the namespace defaults to `default`.
    let source = EntityRef::new(
        kind.as_str(),
        text(metadata.and_then(|m| m.get("namespace"))).unwrap_or("default"),
        text(metadata.and_then(|m| m.get("name"))).unwrap_or_default(),
    );
    let spec = descriptor.get("spec").unwrap_or(&Value::Null);
    match declared(&kind, &source, spec) {
        (relations, errors) if errors.is_empty() => relations,
        _ => Vec::new(),
    }
}

/// One row of the conformance table.
struct Rule {
    kinds: &'static [Kind],
    /// The spec key, and the same with its `spec.` prefix for `DeclaredRelation::field`.
    key: &'static str,
    field: &'static str,
    /// `None`: a reference without a kind is an error (`dependsOn` may point at anything).
    default_kind: Option<&'static str>,
    relation: RelationType,
}

const OWNED: &[Kind] = &[
    Kind::Component,
    Kind::Api,
    Kind::Resource,
    Kind::System,
    Kind::Domain,
    Kind::Template,
];
const IN_SYSTEM: &[Kind] = &[Kind::Component, Kind::Api, Kind::Resource];
const DEPENDING: &[Kind] = &[Kind::Component, Kind::Resource];

/// One row: `row!(kinds, "field", default kind, relation)`; the `spec.` path is derived.
macro_rules! row {
    ($kinds:expr, $key:literal, $default_kind:expr, $relation:ident) => {
        Rule {
            kinds: $kinds,
            key: $key,
            field: concat!("spec.", $key),
            default_kind: $default_kind,
            relation: RelationType::$relation,
        }
    };
}

/// One row per reference field: kind, spec field, default target kind, relation.
#[rustfmt::skip]
const RULES: &[Rule] = &[
    row!(OWNED,              "owner",          Some("Group"),     OwnedBy),
    row!(&[Kind::Component], "subcomponentOf", Some("Component"), PartOf),
    row!(IN_SYSTEM,          "system",         Some("System"),    PartOf),
    row!(&[Kind::Component], "providesApis",   Some("API"),       ProvidesApi),
    row!(&[Kind::Component], "consumesApis",   Some("API"),       ConsumesApi),
    row!(DEPENDING,          "dependsOn",      None,              DependsOn),
    row!(DEPENDING,          "dependencyOf",   None,              DependencyOf),
    row!(&[Kind::System],    "domain",         Some("Domain"),    PartOf),
    row!(&[Kind::Domain],    "subdomainOf",    Some("Domain"),    PartOf),
    row!(&[Kind::User],      "memberOf",       Some("Group"),     MemberOf),
    row!(&[Kind::Group],     "parent",         Some("Group"),     ChildOf),
    row!(&[Kind::Group],     "children",       Some("Group"),     ParentOf),
    row!(&[Kind::Group],     "members",        Some("User"),      HasMember),
];

/// Every spec field that declares relations (each `DeclaredRelation::field`), always in
/// this order: a position names one in a byte (the read model holds rows that way).
pub fn fields() -> impl Iterator<Item = &'static str> + Clone {
    RULES.iter().map(|rule| rule.field)
}

/// Declarations up to this many are checked for a repeat by a scan: most entities
/// declare a handful, and a set cost a hash and a copy of every target (a tenth of
/// the projector's fold in a cold ingest). Past it, a set: a spec may list thousands.
const SCAN_UP_TO: usize = 16;

/// Whether `relations` does not yet hold `relation` to `target`; `seen` mirrors
/// `relations` once they are more than [`SCAN_UP_TO`].
fn is_new(
    relations: &[DeclaredRelation],
    seen: &mut HashSet<(RelationType, EntityRef)>,
    relation: RelationType,
    target: &EntityRef,
) -> bool {
    if relations.len() <= SCAN_UP_TO {
        return !relations
            .iter()
            .any(|r| r.relation == relation && r.target == *target);
    }
    if seen.is_empty() {
        seen.extend(relations.iter().map(|r| (r.relation, r.target.clone())));
    }
    seen.insert((relation, target.clone()))
}

/// The relations a spec declares, and the errors of references that do not parse.
///
/// Default namespace: the declaring entity's own. An explicit kind wins over the field's
/// default. Values of the wrong shape are skipped here (the spec rules report them), and a
/// repeated `(relation, target)` is kept once, with the first field that declared it.
pub(crate) fn declared(
    kind: &Kind,
    source: &EntityRef,
    spec: &Value,
) -> (Vec<DeclaredRelation>, Vec<ValidationError>) {
    let mut relations = Vec::new();
    let mut errors = Vec::new();
    let mut seen = HashSet::new();
    for rule in RULES.iter().filter(|rule| rule.kinds.contains(kind)) {
        let references: Vec<(String, &Value)> = match spec.get(rule.key) {
            Some(Value::Array(items)) => items
                .iter()
                .enumerate()
                .map(|(i, item)| (field_index(rule.field, i), item))
                .collect(),
            Some(value) => vec![(rule.field.to_string(), value)],
            None => Vec::new(),
        };
        for (path, value) in references {
            // Non-strings, empty and over-long strings are the spec rules' to report, not ours.
            let Some(text) = value
                .as_str()
                .filter(|text| !text.is_empty() && text.len() <= MAX_SPEC_TEXT_BYTES)
            else {
                continue;
            };
            match EntityRef::parse(text, rule.default_kind, source.namespace()) {
                Ok(target) => match long_part(&target) {
                    Some((part, len)) => errors.push(ValidationError::new(
                        path.clone(),
                        format!(
                            "{path} {} is not a valid entity ref: its {part} is {len} bytes, \
                             over the limit of {MAX_REF_PART_BYTES} bytes",
                            describe(value)
                        ),
                    )),
                    None => {
                        if is_new(&relations, &mut seen, rule.relation, &target) {
                            relations.push(DeclaredRelation {
                                source: source.clone(),
                                relation: rule.relation,
                                target,
                                field: rule.field,
                            });
                        }
                    }
                },
                Err(RefError::KindRequired { .. }) => errors.push(ValidationError::new(
                    path.clone(),
                    format!(
                        "{path} {} has no kind, and a kind is required here because the field \
                         may refer to any kind: write kind:name, e.g. resource:{text}",
                        describe(value)
                    ),
                )),
                Err(error) => errors.push(ValidationError::new(
                    path.clone(),
                    format!(
                        "{path} {} is not a valid entity ref: {error}",
                        describe(value)
                    ),
                )),
            }
        }
    }
    (relations, errors)
}

/// The first part of a ref longer than any entity's kind, namespace or name can be.
fn long_part(target: &EntityRef) -> Option<(&'static str, usize)> {
    [
        ("kind", target.kind().len()),
        ("namespace", target.namespace().len()),
        ("name", target.name().len()),
    ]
    .into_iter()
    .find(|(_, len)| *len > MAX_REF_PART_BYTES)
}

#[cfg(test)]
mod tests;
