//! Field-level differences between two JSON documents, and applying them back.
//!
//! Objects are compared key by key (keys sorted, so the output is deterministic); arrays
//! and scalars are compared as whole values, so a list that changed is one `Replace` at its
//! path. Paths are RFC 6901 JSON pointers. This is not a general JSON Patch (RFC 6902)
//! implementation: it applies exactly the changes `diff` produces, and checks them strictly
//! so that a log that no longer matches its state fails loudly instead of drifting.

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ChangeOp {
    Add,
    Remove,
    Replace,
}

/// One changed field: `old` is absent for an `Add`, `new` for a `Remove`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Change {
    pub path: String,
    pub op: ChangeOp,
    #[serde(
        rename = "old",
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    pub old_value: Option<Value>,
    #[serde(
        rename = "new",
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    pub new_value: Option<Value>,
}

/// A present key is `Some`, even when its value is `null` (serde would read `null` as
/// `None`, losing a change from or to `null`).
fn present<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Value>, D::Error> {
    Value::deserialize(deserializer).map(Some)
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PatchError {
    #[error("{path:?} is not a valid JSON pointer")]
    InvalidPointer { path: String },
    #[error("{path:?}: nothing there to change")]
    NotFound { path: String },
    #[error("{path:?}: the parent is not an object or a list")]
    NotAContainer { path: String },
    #[error("{path:?}: cannot add, a value is already there")]
    AlreadyExists { path: String },
    #[error("{path:?}: the current value is not the change's old value")]
    OldValueMismatch { path: String },
    #[error("{path:?}: an {op:?} needs a new value")]
    MissingNewValue { path: String, op: ChangeOp },
    #[error("the document root cannot be removed")]
    RemoveRoot,
}

/// The changes that turn `old` into `new`; empty when they are equal.
pub fn diff(old: &Value, new: &Value) -> Vec<Change> {
    let mut changes = Vec::new();
    diff_at(&mut String::new(), old, new, &mut changes);
    changes
}

fn diff_at(path: &mut String, old: &Value, new: &Value, out: &mut Vec<Change>) {
    if old == new {
        return;
    }
    let (Value::Object(old_map), Value::Object(new_map)) = (old, new) else {
        out.push(Change {
            path: path.clone(),
            op: ChangeOp::Replace,
            old_value: Some(old.clone()),
            new_value: Some(new.clone()),
        });
        return;
    };
    // Sorted explicitly: map order depends on serde_json's `preserve_order` feature, which
    // another crate in the build may switch on.
    let mut keys: Vec<&String> = old_map.keys().chain(new_map.keys()).collect();
    keys.sort();
    keys.dedup();
    for key in keys {
        let len = path.len();
        path.push('/');
        path.push_str(&escape(key));
        match (old_map.get(key), new_map.get(key)) {
            (Some(before), Some(after)) => diff_at(path, before, after, out),
            (Some(before), None) => out.push(Change {
                path: path.clone(),
                op: ChangeOp::Remove,
                old_value: Some(before.clone()),
                new_value: None,
            }),
            (None, Some(after)) => out.push(Change {
                path: path.clone(),
                op: ChangeOp::Add,
                old_value: None,
                new_value: Some(after.clone()),
            }),
            (None, None) => {}
        }
        path.truncate(len);
    }
}

/// Escapes one pointer token: `~` as `~0`, `/` as `~1`.
pub fn escape(token: &str) -> String {
    token.replace('~', "~0").replace('/', "~1")
}

/// Splits a pointer into unescaped tokens; `""` is the root (no tokens).
fn tokens(path: &str) -> Result<Vec<String>, PatchError> {
    if path.is_empty() {
        return Ok(Vec::new());
    }
    let invalid = || PatchError::InvalidPointer {
        path: path.to_string(),
    };
    let rest = path.strip_prefix('/').ok_or_else(invalid)?;
    rest.split('/')
        .map(|raw| {
            let mut token = String::with_capacity(raw.len());
            let mut chars = raw.chars();
            while let Some(c) = chars.next() {
                if c != '~' {
                    token.push(c);
                    continue;
                }
                match chars.next() {
                    Some('0') => token.push('~'),
                    Some('1') => token.push('/'),
                    _ => return Err(invalid()),
                }
            }
            Ok(token)
        })
        .collect()
}

/// Applies changes in order. On error the document may be partly changed; callers that
/// need all-or-nothing apply to a copy.
pub fn apply_changes(doc: &mut Value, changes: &[Change]) -> Result<(), PatchError> {
    changes.iter().try_for_each(|change| apply_one(doc, change))
}

fn apply_one(doc: &mut Value, change: &Change) -> Result<(), PatchError> {
    let path = || change.path.clone();
    let mut tokens = tokens(&change.path)?;
    let Some(last) = tokens.pop() else {
        return match (change.op, &change.new_value) {
            (ChangeOp::Remove, _) => Err(PatchError::RemoveRoot),
            (_, Some(new)) => {
                check_old(doc, change)?;
                *doc = new.clone();
                Ok(())
            }
            (op, None) => Err(PatchError::MissingNewValue { path: path(), op }),
        };
    };
    let mut parent = &mut *doc;
    for token in &tokens {
        parent = child_mut(parent, token).ok_or_else(|| PatchError::NotFound { path: path() })?;
    }
    let new_value = || {
        change.new_value.clone().ok_or(PatchError::MissingNewValue {
            path: path(),
            op: change.op,
        })
    };
    match parent {
        Value::Object(map) => match change.op {
            ChangeOp::Add if map.contains_key(&last) => {
                Err(PatchError::AlreadyExists { path: path() })
            }
            ChangeOp::Add => {
                map.insert(last, new_value()?);
                Ok(())
            }
            ChangeOp::Remove | ChangeOp::Replace => {
                let current = map
                    .get_mut(&last)
                    .ok_or_else(|| PatchError::NotFound { path: path() })?;
                check_old(current, change)?;
                if change.op == ChangeOp::Replace {
                    *current = new_value()?;
                } else {
                    map.remove(&last);
                }
                Ok(())
            }
        },
        Value::Array(items) => {
            let index = array_index(&last, items.len())
                .ok_or_else(|| PatchError::NotFound { path: path() })?;
            match change.op {
                ChangeOp::Add => items.insert(index, new_value()?),
                ChangeOp::Remove | ChangeOp::Replace if index >= items.len() => {
                    return Err(PatchError::NotFound { path: path() })
                }
                ChangeOp::Remove => {
                    check_old(&items[index], change)?;
                    items.remove(index);
                }
                ChangeOp::Replace => {
                    check_old(&items[index], change)?;
                    items[index] = new_value()?;
                }
            }
            Ok(())
        }
        _ => Err(PatchError::NotAContainer { path: path() }),
    }
}

fn child_mut<'a>(value: &'a mut Value, token: &str) -> Option<&'a mut Value> {
    match value {
        Value::Object(map) => map.get_mut(token),
        Value::Array(items) => {
            let index = array_index(token, items.len())?;
            items.get_mut(index)
        }
        _ => None,
    }
}

/// An array token: decimal digits without a leading zero, or `-` for the end.
fn array_index(token: &str, len: usize) -> Option<usize> {
    if token == "-" {
        return Some(len);
    }
    let well_formed = !token.is_empty()
        && token.chars().all(|c| c.is_ascii_digit())
        && (token == "0" || !token.starts_with('0'));
    well_formed.then(|| token.parse().ok()).flatten()
}

fn check_old(current: &Value, change: &Change) -> Result<(), PatchError> {
    match &change.old_value {
        Some(old) if old != current => Err(PatchError::OldValueMismatch {
            path: change.path.clone(),
        }),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests;
