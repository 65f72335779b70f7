//! A validated, normalised entity descriptor and read access to its parts.
//!
//! An `Entity` exists only through [`Entity::from_value`], which runs every rule of
//! `validation` (including the reference rules), so a valid entity always yields its
//! relations. It keeps the whole document, unknown keys included. It does not parse YAML
//! (`document` does) and knows nothing of sources or events.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::entity_ref::EntityRef;
use crate::kind::Kind;
use crate::relations::{self, DeclaredRelation};
use crate::validation::{self, ValidationErrors};

/// The location (`type:target`) an entity was last read from; ingest sets it.
pub const MANAGED_BY_LOCATION: &str = "backstage.io/managed-by-location";
/// Backstage's mark of an entity its source no longer holds, kept (`orphanStrategy:
/// keep`): set by `EntityOrphaned`, removed by `EntityAdopted`.
pub const ORPHAN: &str = "backstage.io/orphan";
/// The location that first led ingest to the entity (e.g. the root Location file).
pub const MANAGED_BY_ORIGIN_LOCATION: &str = "backstage.io/managed-by-origin-location";

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "Value", into = "Value")]
pub struct Entity {
    descriptor: Value,
    kind: Kind,
}

impl Entity {
    /// Validates a descriptor and normalises it (`metadata.namespace` defaults to `default`
    /// and is written into the document; numbers take the form jsonb gives back, see
    /// `canonical`). Returns every broken rule on failure.
    pub fn from_value(mut descriptor: Value) -> Result<Entity, ValidationErrors> {
        let errors = validation::check_descriptor(&descriptor);
        if !errors.is_empty() {
            return Err(ValidationErrors(errors));
        }
        crate::canonical::canonicalize_numbers(&mut descriptor);
        let kind = Kind::parse(
            descriptor
                .get("kind")
                .and_then(Value::as_str)
                .unwrap_or_default(),
        );
        if let Some(metadata) = descriptor
            .get_mut("metadata")
            .and_then(Value::as_object_mut)
        {
            metadata
                .entry("namespace")
                .or_insert_with(|| Value::String("default".into()));
        }
        Ok(Entity { descriptor, kind })
    }

    pub fn api_version(&self) -> &str {
        self.descriptor
            .get("apiVersion")
            .and_then(Value::as_str)
            .unwrap_or_default()
    }

    pub fn kind(&self) -> &Kind {
        &self.kind
    }

    /// The ref in the author's case; compare it, or its `canonical()`, for identity.
    pub fn entity_ref(&self) -> EntityRef {
        EntityRef::new(self.kind.as_str(), self.namespace(), self.name())
    }

    pub fn name(&self) -> &str {
        self.metadata_str("name").unwrap_or_default()
    }

    pub fn namespace(&self) -> &str {
        self.metadata_str("namespace").unwrap_or("default")
    }

    pub fn title(&self) -> Option<&str> {
        self.metadata_str("title")
    }

    pub fn description(&self) -> Option<&str> {
        self.metadata_str("description")
    }

    pub fn tags(&self) -> Vec<&str> {
        self.metadata()
            .and_then(|m| m.get("tags"))
            .and_then(Value::as_array)
            .map(|tags| tags.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default()
    }

    pub fn labels(&self) -> BTreeMap<&str, &str> {
        self.string_map("labels")
    }

    pub fn annotations(&self) -> BTreeMap<&str, &str> {
        self.string_map("annotations")
    }

    pub fn annotation(&self, key: &str) -> Option<&str> {
        self.metadata()
            .and_then(|m| m.get("annotations"))
            .and_then(|a| a.get(key))
            .and_then(Value::as_str)
    }

    /// The spec (`Value::Null` for a custom kind without one).
    pub fn spec(&self) -> &Value {
        self.descriptor.get("spec").unwrap_or(&Value::Null)
    }

    /// A string spec field such as `type`, `lifecycle` or `owner`.
    pub fn spec_str(&self, field: &str) -> Option<&str> {
        self.spec().get(field).and_then(Value::as_str)
    }

    /// The full normalised document.
    pub fn descriptor(&self) -> &Value {
        &self.descriptor
    }

    pub fn into_descriptor(self) -> Value {
        self.descriptor
    }

    /// Sets an annotation, creating `metadata.annotations` if needed. Meant for ingest's
    /// location annotations: the caller passes a valid key (the constants of this module)
    /// and a value without NUL characters; this does not re-validate the entity.
    pub fn set_annotation(&mut self, key: &str, value: &str) {
        let Some(metadata) = self
            .descriptor
            .get_mut("metadata")
            .and_then(Value::as_object_mut)
        else {
            return; // unreachable for a validated entity: metadata is an object
        };
        let annotations = metadata
            .entry("annotations")
            .or_insert_with(|| Value::Object(Map::new()));
        if let Some(annotations) = annotations.as_object_mut() {
            annotations.insert(key.to_string(), Value::String(value.to_string()));
        }
    }

    /// Every relation the spec declares (see `relations::RULES`), in table order.
    pub fn relations(&self) -> Vec<DeclaredRelation> {
        relations::declared(&self.kind, &self.entity_ref(), self.spec()).0
    }

    fn metadata(&self) -> Option<&Map<String, Value>> {
        self.descriptor.get("metadata").and_then(Value::as_object)
    }

    fn metadata_str(&self, key: &str) -> Option<&str> {
        self.metadata()
            .and_then(|m| m.get(key))
            .and_then(Value::as_str)
    }

    fn string_map(&self, key: &str) -> BTreeMap<&str, &str> {
        self.metadata()
            .and_then(|m| m.get(key))
            .and_then(Value::as_object)
            .map(|map| {
                map.iter()
                    .filter_map(|(k, v)| Some((k.as_str(), v.as_str()?)))
                    .collect()
            })
            .unwrap_or_default()
    }
}

impl TryFrom<Value> for Entity {
    type Error = ValidationErrors;

    fn try_from(descriptor: Value) -> Result<Self, Self::Error> {
        Entity::from_value(descriptor)
    }
}

impl From<Entity> for Value {
    fn from(entity: Entity) -> Self {
        entity.descriptor
    }
}

/// The `backstage.io/managed-by-location` annotation of a raw descriptor, if any.
pub fn managed_by_location(descriptor: &Value) -> Option<&str> {
    descriptor
        .get("metadata")?
        .get("annotations")?
        .get(MANAGED_BY_LOCATION)?
        .as_str()
}

/// The ref a raw, possibly invalid, descriptor names, when its kind and name are strings.
/// Lets ingest attach an invalid document's errors to the entity it was meant to be, so
/// that entity keeps its last good version instead of being removed.
pub fn ref_of_raw(descriptor: &Value) -> Option<EntityRef> {
    let kind = descriptor.get("kind")?.as_str()?;
    let metadata = descriptor.get("metadata")?;
    let name = metadata.get("name")?.as_str()?;
    let namespace = match metadata.get("namespace") {
        None => "default",
        Some(namespace) => namespace.as_str()?,
    };
    let parts = [kind, namespace, name];
    // A part longer than a valid one names no entity, and would not fit the index of the
    // table that records the document's errors.
    let limit = crate::validation::limits::MAX_REF_PART_BYTES;
    if parts
        .iter()
        .any(|part| part.is_empty() || part.len() > limit)
    {
        return None;
    }
    Some(EntityRef::new(kind, namespace, name))
}

#[cfg(test)]
mod tests;
