//! Placeholders: a mapping with exactly one key, `$text`, `$json` or `$yaml`, whose value
//! is a path or URL relative to the document's own file or URL. `$text` becomes the
//! target's text; `$json` and `$yaml` its parsed value. Anywhere in a document but its root.
//!
//! Every target is read under `max_file_bytes`, and one file's placeholders together
//! under `max_placeholder_bytes`. A placeholder that cannot be resolved is an error naming
//! its field; the caller turns it into an invalid entity. Substituted values are not
//! searched for further placeholders. Other `$`-keys are left as they are.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use almanac_domain::document::{parse_documents, DocumentError, DocumentLimits};
use almanac_domain::validation::ValidationError;
use serde_json::Value;

use super::address::Address;
use super::allow::redact;
use super::fetch::Fetcher;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum PlaceholderKind {
    Text,
    Json,
    Yaml,
}

impl PlaceholderKind {
    fn key(self) -> &'static str {
        match self {
            PlaceholderKind::Text => "$text",
            PlaceholderKind::Json => "$json",
            PlaceholderKind::Yaml => "$yaml",
        }
    }
}

pub(crate) type Wanted = (PlaceholderKind, String);

/// Each distinct placeholder of one file, resolved (or the reason it was not).
pub(crate) struct Resolved {
    values: BTreeMap<Wanted, Result<(Value, u64), String>>,
    /// Bytes substitution may still add to this file's documents.
    remaining: u64,
    budget: u64,
}

/// `Some` if `value` is a placeholder: its kind and its argument (not yet checked to be
/// a string).
fn as_placeholder(value: &Value) -> Option<(PlaceholderKind, &Value)> {
    let members = value.as_object()?;
    if members.len() != 1 {
        return None;
    }
    let (key, argument) = members.iter().next()?;
    let kind = match key.as_str() {
        "$text" => PlaceholderKind::Text,
        "$json" => PlaceholderKind::Json,
        "$yaml" => PlaceholderKind::Yaml,
        _ => return None,
    };
    Some((kind, argument))
}

/// The distinct placeholders with a string argument in `documents`, in a stable order.
pub(crate) fn wanted<'a>(documents: impl Iterator<Item = &'a Value>) -> Vec<Wanted> {
    let mut found = BTreeSet::new();
    let mut stack: Vec<&Value> = Vec::new();
    for document in documents {
        stack.extend(children(document));
        while let Some(value) = stack.pop() {
            match as_placeholder(value) {
                Some((kind, Value::String(target))) => {
                    found.insert((kind, target.clone()));
                }
                Some(_) => {}
                None => stack.extend(children(value)),
            }
        }
    }
    found.into_iter().collect()
}

fn children(value: &Value) -> Vec<&Value> {
    match value {
        Value::Object(members) => members.values().collect(),
        Value::Array(items) => items.iter().collect(),
        _ => Vec::new(),
    }
}

/// Reads every wanted placeholder relative to `base`, one at a time, within the budget.
pub(crate) async fn resolve(
    wanted: Vec<Wanted>,
    (base, root): (&Address, Option<&Path>),
    fetcher: &Fetcher,
    document_limits: &DocumentLimits,
    budget: u64,
) -> Resolved {
    let mut values = BTreeMap::new();
    let mut remaining = budget;
    for (kind, target) in wanted {
        let value = if remaining == 0 {
            Err(format!(
                "the placeholders of this file read more than {budget} bytes in total"
            ))
        } else {
            read_one(kind, &target, (base, root), fetcher, document_limits).await
        };
        if let Ok((_, bytes)) = &value {
            remaining = remaining.saturating_sub(*bytes);
        }
        values.insert((kind, target), value);
    }
    Resolved {
        values,
        remaining: budget,
        budget,
    }
}

async fn read_one(
    kind: PlaceholderKind,
    target: &str,
    (base, root): (&Address, Option<&Path>),
    fetcher: &Fetcher,
    document_limits: &DocumentLimits,
) -> Result<(Value, u64), String> {
    let address = base.resolve_placeholder(target).map_err(|e| e.0)?;
    let text = fetcher
        .fetch(&address, root)
        .await
        .map_err(|e| format!("{}: {}", address.key(), e.message()))?;
    let bytes = text.len() as u64;
    let value = match kind {
        PlaceholderKind::Text => Value::String(text),
        PlaceholderKind::Json => serde_json::from_str(&text)
            .map_err(|error| format!("{}: invalid JSON: {error}", address.key()))?,
        PlaceholderKind::Yaml => {
            let limits = document_limits.clone();
            tokio::task::spawn_blocking(move || parse_yaml_value(&text, &limits))
                .await
                .map_err(|_| "the YAML parser stopped unexpectedly".to_string())?
                .map_err(|error| format!("{}: {error}", address.key()))?
        }
    };
    Ok((value, bytes))
}

/// Any YAML value (not only a mapping). The domain's guarded parser runs first, so alias
/// bombs and deep nesting are refused before serde_yaml builds the value.
fn parse_yaml_value(text: &str, limits: &DocumentLimits) -> Result<Value, String> {
    let documents = parse_documents(text, limits).map_err(|e| e.to_string())?;
    for document in documents {
        match document {
            Ok(_) | Err(DocumentError::NotAnObject { .. }) => {}
            Err(error) => return Err(error.to_string()),
        }
    }
    serde_yaml::from_str(text).map_err(|error| format!("invalid YAML: {error}"))
}

impl Resolved {
    pub(crate) fn none() -> Resolved {
        Resolved {
            values: BTreeMap::new(),
            remaining: 0,
            budget: 0,
        }
    }

    /// Replaces each placeholder of `document` by its value; returns one error per
    /// placeholder that could not be replaced, naming its field.
    pub(crate) fn substitute(&mut self, document: &mut Value) -> Vec<ValidationError> {
        let mut errors = Vec::new();
        if self.values.is_empty() {
            return errors;
        }
        let mut stack: Vec<(String, &mut Value)> = Vec::new();
        push_children(String::new(), document, &mut stack);
        while let Some((field, value)) = stack.pop() {
            let replacement = match as_placeholder(value) {
                None => {
                    push_children(field, value, &mut stack);
                    continue;
                }
                Some((kind, argument)) => self.replacement(&field, kind, argument),
            };
            match replacement {
                Ok(replacement) => *value = replacement,
                Err(error) => errors.push(error),
            }
        }
        errors.sort_by(|a, b| a.field.cmp(&b.field));
        errors
    }

    fn replacement(
        &mut self,
        field: &str,
        kind: PlaceholderKind,
        argument: &Value,
    ) -> Result<Value, ValidationError> {
        let fail = |message: String| ValidationError::new(field, format!("{field}: {message}"));
        let Value::String(written) = argument else {
            return Err(fail(format!("{} expects a string path or URL", kind.key())));
        };
        let target = redact(written);
        let resolved = self
            .values
            .get(&(kind, written.clone()))
            .ok_or_else(|| fail(format!("cannot read {} {target}: not resolved", kind.key())))?;
        let (value, bytes) = resolved
            .as_ref()
            .map_err(|error| fail(format!("cannot read {} {target}: {error}", kind.key())))?;
        if *bytes > self.remaining {
            return Err(fail(format!(
                "cannot read {} {target}: the placeholders of this file add more than {} bytes in total",
                kind.key(),
                self.budget
            )));
        }
        self.remaining -= bytes;
        Ok(value.clone())
    }
}

fn push_children<'a>(
    field: String,
    value: &'a mut Value,
    stack: &mut Vec<(String, &'a mut Value)>,
) {
    match value {
        Value::Object(members) => {
            for (key, child) in members.iter_mut() {
                let path = if field.is_empty() {
                    key.clone()
                } else {
                    format!("{field}.{key}")
                };
                stack.push((path, child));
            }
        }
        Value::Array(items) => {
            for (index, child) in items.iter_mut().enumerate() {
                stack.push((format!("{field}[{index}]"), child));
            }
        }
        _ => {}
    }
}
