//! Validation of a descriptor against Backstage's rules (envelope, names, required
//! spec fields by kind) and its reference rules, collecting every error of a document, not just the first.
//!
//! It reads a `serde_json::Value` and reports; it never changes the document (the namespace
//! default is applied by `Entity::from_value` once the document has passed). It does not
//! parse YAML (`document` does) and does not check that referenced entities exist.

pub mod limits;
mod metadata;
mod spec;
mod structure;
pub mod syntax;

pub use structure::json_size;
pub(crate) use structure::too_deep;

use std::fmt;

use serde_json::Value;

use crate::entity_ref::EntityRef;
use crate::kind::Kind;

/// Documents nested deeper than this are rejected before any other rule runs.
pub const MAX_DEPTH: usize = 64;

/// One broken rule. `field` is a path such as `metadata.name`, `spec.owner` or
/// `metadata.tags[2]` (empty for the document root); `message` is the full sentence.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize, thiserror::Error)]
#[error("{message}")]
pub struct ValidationError {
    pub field: String,
    pub message: String,
}

/// Every broken rule of one document.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ValidationErrors(pub Vec<ValidationError>);

impl ValidationError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        ValidationError {
            field: field.into(),
            message: message.into(),
        }
    }

    /// `<field> <value> is not valid: <rule>`.
    pub(crate) fn invalid(field: &str, value: &Value, rule: &str) -> Self {
        let name = display_name(field);
        Self::new(
            field,
            format!("{name} {} is not valid: {rule}", describe(value)),
        )
    }

    /// `<field> must be <expected>, found <value>`.
    pub(crate) fn wrong_type(field: &str, expected: &str, value: &Value) -> Self {
        let name = display_name(field);
        Self::new(
            field,
            format!("{name} must be {expected}, found {}", describe(value)),
        )
    }

    /// `<field> is <n> bytes, over the limit of <max> bytes`.
    pub(crate) fn too_long(field: &str, actual: usize, max: usize) -> Self {
        let name = display_name(field);
        Self::new(
            field,
            format!(
                "{name} is {actual} bytes, over the limit of {}",
                limits::bytes(max)
            ),
        )
    }

    /// `<field> holds <n> <what>, over the limit of <max>`.
    pub(crate) fn too_many(field: &str, what: &str, actual: usize, max: usize) -> Self {
        let name = display_name(field);
        Self::new(
            field,
            format!("{name} holds {actual} {what}, over the limit of {max}"),
        )
    }

    pub(crate) fn missing(field: &str, context: &str) -> Self {
        let name = display_name(field);
        Self::new(field, format!("{name} is required{context}"))
    }
}

impl ValidationErrors {
    pub fn iter(&self) -> impl Iterator<Item = &ValidationError> {
        self.0.iter()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Display for ValidationErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, error) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            f.write_str(&error.message)?;
        }
        Ok(())
    }
}

impl std::error::Error for ValidationErrors {}

impl From<ValidationError> for ValidationErrors {
    fn from(error: ValidationError) -> Self {
        ValidationErrors(vec![error])
    }
}

/// Checks a whole descriptor; an empty result means it is valid.
pub(crate) fn check_descriptor(doc: &Value) -> Vec<ValidationError> {
    let mut errors = Vec::new();
    // Depth first: every later rule may recurse, and a too-deep document gets no further.
    if structure::too_deep(doc, MAX_DEPTH) {
        errors.push(ValidationError::new(
            "",
            format!("document nests deeper than {MAX_DEPTH} levels"),
        ));
        return errors;
    }
    // Size next: a document past it gets no further, so no rule walks a huge value.
    let size = structure::json_size(doc);
    if size > limits::MAX_DESCRIPTOR_BYTES {
        errors.push(ValidationError::too_long(
            "",
            size,
            limits::MAX_DESCRIPTOR_BYTES,
        ));
        return errors;
    }
    structure::check_nul_characters(doc, &mut errors);
    let Some(root) = doc.as_object() else {
        errors.push(ValidationError::wrong_type(
            "",
            "an object (an entity descriptor)",
            doc,
        ));
        return errors;
    };
    for key in root.keys() {
        match key.as_str() {
            "apiVersion" | "kind" | "metadata" | "spec" => {}
            "relations" | "status" => errors.push(ValidationError::new(
                key.as_str(),
                format!("Unknown field {key}: it is output only, computed by the catalog"),
            )),
            _ => errors.push(ValidationError::new(
                key.as_str(),
                format!("Unknown field {key}"),
            )),
        }
    }
    let kind = check_kind(root.get("kind"), &mut errors);
    check_api_version(root.get("apiVersion"), kind.as_ref(), &mut errors);
    metadata::check(root.get("metadata"), &mut errors);
    if let Some(kind) = &kind {
        spec::check(kind, root.get("spec"), &mut errors);
        if let Some(spec) = root.get("spec").filter(|s| s.is_object()) {
            let source = source_ref(kind, root.get("metadata"));
            let (relations, ref_errors) = crate::relations::declared(kind, &source, spec);
            errors.extend(ref_errors);
            if relations.len() > limits::MAX_RELATIONS {
                errors.push(ValidationError::too_many(
                    "spec",
                    "relations (distinct entity refs in its reference fields)",
                    relations.len(),
                    limits::MAX_RELATIONS,
                ));
            }
        }
    }
    errors
}

/// The entity's own ref, as far as it can be read; used as the relations' source.
fn source_ref(kind: &Kind, metadata: Option<&Value>) -> EntityRef {
    let text = |key: &str| {
        metadata
            .and_then(|m| m.get(key))
            .and_then(Value::as_str)
            .map(str::to_string)
    };
    EntityRef::new(
        kind.as_str(),
        text("namespace").unwrap_or_else(|| "default".into()),
        text("name").unwrap_or_default(),
    )
}

/// Returns the kind when it is usable for the kind-specific rules.
fn check_kind(value: Option<&Value>, errors: &mut Vec<ValidationError>) -> Option<Kind> {
    let Some(value) = value else {
        errors.push(ValidationError::missing("kind", ""));
        return None;
    };
    let Some(text) = value.as_str() else {
        errors.push(ValidationError::wrong_type("kind", "a string", value));
        return None;
    };
    if !syntax::is_kind(text) {
        errors.push(ValidationError::invalid("kind", value, syntax::KIND_RULE));
        return None;
    }
    let kind = Kind::parse(text);
    if !kind.is_builtin() {
        if let Some(builtin) = Kind::builtin_ignoring_case(text) {
            errors.push(ValidationError::new(
                "kind",
                format!(
                    "kind {text:?} is not valid: kinds are case-sensitive; did you mean {:?}?",
                    builtin.as_str()
                ),
            ));
            return None;
        }
    }
    Some(kind)
}

fn check_api_version(
    value: Option<&Value>,
    kind: Option<&Kind>,
    errors: &mut Vec<ValidationError>,
) {
    let Some(value) = value else {
        errors.push(ValidationError::missing("apiVersion", ""));
        return;
    };
    let Some(text) = value.as_str() else {
        errors.push(ValidationError::wrong_type("apiVersion", "a string", value));
        return;
    };
    let builtin_versions: &[&str] = match kind {
        Some(Kind::Template) => &["scaffolder.backstage.io/v1beta3"],
        Some(kind) if kind.is_builtin() => &["backstage.io/v1alpha1", "backstage.io/v1beta1"],
        _ => &[],
    };
    if let (Some(kind), false) = (kind, builtin_versions.is_empty()) {
        if !builtin_versions.contains(&text) {
            let rule = format!("kind {kind} accepts {}", builtin_versions.join(" or "));
            errors.push(ValidationError::invalid("apiVersion", value, &rule));
        }
    } else if !syntax::is_api_version(text) {
        // Custom kinds, and documents whose kind is itself broken, get the generic syntax.
        errors.push(ValidationError::invalid(
            "apiVersion",
            value,
            syntax::API_VERSION_RULE,
        ));
    }
}

/// The root's path is empty; messages call it "the document".
fn display_name(field: &str) -> &str {
    if field.is_empty() {
        "the document"
    } else {
        field
    }
}

/// A value as an error message shows it: strings quoted and cut short, containers named.
pub(crate) fn describe(value: &Value) -> String {
    const MAX_CHARS: usize = 80;
    match value {
        Value::String(text) if text.chars().count() > MAX_CHARS => {
            let cut: String = text.chars().take(MAX_CHARS).collect();
            format!("{:?}...", cut)
        }
        Value::String(text) => format!("{text:?}"),
        Value::Array(_) => "a list".into(),
        Value::Object(_) => "an object".into(),
        other => other.to_string(),
    }
}

/// The path of a member: `parent.key`, or `parent["key"]` when the key is not a plain word
/// (annotation keys hold `.` and `/`).
pub(crate) fn field_key(parent: &str, key: &str) -> String {
    let plain = !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    match (parent.is_empty(), plain) {
        (true, true) => key.to_string(),
        (false, true) => format!("{parent}.{key}"),
        (_, false) => format!("{parent}[{key:?}]"),
    }
}

pub(crate) fn field_index(parent: &str, index: usize) -> String {
    format!("{parent}[{index}]")
}

#[cfg(test)]
mod tests;
