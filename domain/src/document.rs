//! Reading descriptor files: multi-document YAML (`---`), or JSON (an entity, or an array of
//! entities), into one JSON value per document, with guards against hostile input.
//!
//! Guards: total size, number of documents, nesting depth, and alias expansion (per
//! document, relative to its size, and for the whole input). A broken document yields an
//! error in its own slot and the others still parse; only a broken limit rejects the whole
//! input. Duplicate mapping keys are an error in JSON as in YAML. This module does not validate entities (`Entity::from_value` does).

mod flow_depth;
mod seed;
mod split;

use std::fmt;

use serde::de::DeserializeSeed;
use serde_json::Value;

use crate::validation::{describe, too_deep};
use seed::{Guard, Tripped, ValueSeed};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DocumentLimits {
    /// Largest accepted input, in bytes.
    pub max_bytes: usize,
    /// Most documents (or JSON array items) in one input.
    pub max_documents: usize,
    /// Deepest nesting of containers in one document (its root is level 1).
    pub max_depth: usize,
    /// Most values a document may decode to per byte of its text. Without aliases a
    /// document decodes to fewer values than it has bytes; aliases may multiply that.
    pub max_expansion: usize,
    /// Most values the whole input may decode to; bounds memory whatever the aliases do.
    pub max_values: usize,
}

impl Default for DocumentLimits {
    fn default() -> Self {
        DocumentLimits {
            max_bytes: 5 * 1024 * 1024,
            max_documents: 10_000,
            max_depth: crate::validation::MAX_DEPTH,
            max_expansion: 10,
            max_values: 2_000_000,
        }
    }
}

/// Slack for tiny documents, whose byte count says little about a fair number of values.
const DOCUMENT_VALUE_FLOOR: usize = 1024;

/// Where in the input a document is: its 1-based number and, when known, a 1-based line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Position {
    pub document: usize,
    pub line: Option<usize>,
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "document {} (line {line})", self.document),
            None => write!(f, "document {}", self.document),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DocumentError {
    #[error("input is {bytes} bytes, over the limit of {max}")]
    TooLarge { bytes: usize, max: usize },
    #[error("input holds more than {max} documents")]
    TooManyDocuments { max: usize },
    #[error("input decodes to more than {max} values in total (YAML aliases expanding?)")]
    TooManyValues { max: usize },
    #[error("{position}: invalid YAML: {message}")]
    Syntax { position: Position, message: String },
    #[error("{position}: invalid JSON: {message}")]
    InvalidJson { position: Position, message: String },
    #[error("{position}: document nests deeper than {max} levels")]
    TooDeep { position: Position, max: usize },
    #[error(
        "{position}: YAML aliases expand to more than {max} values; refusing a possible alias bomb"
    )]
    AliasExpansion { position: Position, max: usize },
    #[error("{position}: expected an entity (a mapping) at the root, found {found}")]
    NotAnObject { position: Position, found: String },
}

/// Parses an input into its documents. The outer error rejects the whole input (a limit);
/// each inner result is one document. Empty documents (between two `---`, or `null`) are
/// skipped.
pub fn parse_documents(
    text: &str,
    limits: &DocumentLimits,
) -> Result<Vec<Result<Value, DocumentError>>, DocumentError> {
    if text.len() > limits.max_bytes {
        return Err(DocumentError::TooLarge {
            bytes: text.len(),
            max: limits.max_bytes,
        });
    }
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut out = Vec::new();
    // JSON first when it looks like JSON: YAML is nearly a superset, but libyaml rejects some
    // valid JSON (surrogate-pair escapes such as "\ud83d\ude00").
    if text.trim_start().starts_with(['{', '[']) {
        match parse_json(text) {
            Ok(value) => {
                let position = Position {
                    document: 1,
                    line: Some(1),
                };
                push_root(value, position, true, limits, &mut out)?;
                return Ok(out);
            }
            // Valid JSON with a duplicate key: refused as in YAML (serde_json alone would
            // keep the last one silently). Other errors go on to the YAML reader, which
            // reads some JSON serde_json does not and reports the rest.
            Err(err) if err.classify() == serde_json::error::Category::Data => {
                out.push(Err(DocumentError::InvalidJson {
                    position: Position {
                        document: 1,
                        line: Some(err.line()),
                    },
                    message: err.to_string(),
                }));
                return Ok(out);
            }
            Err(_) => {}
        }
    }
    let chunks = split::split(text);
    if chunks.len() > limits.max_documents {
        return Err(DocumentError::TooManyDocuments {
            max: limits.max_documents,
        });
    }
    // One level of slack: a root list's items are documents, each held to max_depth itself.
    let mut guard = Guard::new(limits.max_values, limits.max_depth + 1);
    for (index, chunk) in chunks.iter().enumerate() {
        let position = Position {
            document: index + 1,
            line: Some(chunk.first_line),
        };
        let document_values = chunk
            .text
            .len()
            .saturating_mul(limits.max_expansion)
            .saturating_add(DOCUMENT_VALUE_FLOOR);
        // libyaml's time grows with the square of flow nesting, so deep nesting is refused
        // before it parses; the slack allows for the bound's over-estimates.
        let flow_limit = limits.max_depth.saturating_mul(2);
        if flow_depth::flow_depth_bound(chunk.text, flow_limit) > flow_limit {
            out.push(Err(DocumentError::TooDeep {
                position,
                max: limits.max_depth,
            }));
            continue;
        }
        guard.start_document(document_values);
        let decoded = ValueSeed {
            guard: &mut guard,
            depth: 0,
        }
        .deserialize(serde_yaml::Deserializer::from_str(chunk.text));
        match (decoded, guard.tripped) {
            (Ok(value), _) => push_root(value, position, false, limits, &mut out)?,
            (Err(_), Some(Tripped::StreamValues)) => {
                return Err(DocumentError::TooManyValues {
                    max: limits.max_values,
                })
            }
            (Err(_), Some(Tripped::DocumentExpansion)) => {
                out.push(Err(DocumentError::AliasExpansion {
                    position,
                    max: document_values,
                }));
            }
            (Err(_), Some(Tripped::TooDeep)) => out.push(Err(DocumentError::TooDeep {
                position,
                max: limits.max_depth,
            })),
            (Err(error), None) => out.push(Err(syntax_error(&error, chunk, position))),
        }
    }
    Ok(out)
}

/// JSON through the same value builder as YAML, for its duplicate-key check; no budget,
/// since JSON has no aliases (the input size bounds it) and serde_json bounds recursion.
fn parse_json(text: &str) -> Result<Value, serde_json::Error> {
    let mut guard = Guard::new(usize::MAX, usize::MAX);
    guard.start_document(usize::MAX);
    let mut deserializer = serde_json::Deserializer::from_str(text);
    let value = ValueSeed {
        guard: &mut guard,
        depth: 0,
    }
    .deserialize(&mut deserializer)?;
    deserializer.end()?;
    Ok(value)
}

fn syntax_error(
    error: &serde_yaml::Error,
    chunk: &split::Chunk<'_>,
    position: Position,
) -> DocumentError {
    let line = error
        .location()
        .map(|location| location.line() + chunk.first_line - 1);
    DocumentError::Syntax {
        position: Position {
            line: line.or(position.line),
            ..position
        },
        message: split::rebase_lines(&error.to_string(), chunk.first_line),
    }
}

/// Adds a decoded document: an object as is, a list's items one by one, `null` not at all.
/// `number_items`: a JSON array's items are numbered as documents of their own (they have
/// no line); a YAML list's items keep their document's position.
fn push_root(
    value: Value,
    position: Position,
    number_items: bool,
    limits: &DocumentLimits,
    out: &mut Vec<Result<Value, DocumentError>>,
) -> Result<(), DocumentError> {
    let (items, is_list) = match value {
        Value::Array(items) => (items, true),
        other => (vec![other], false),
    };
    for (index, item) in items.into_iter().enumerate() {
        let position = match (is_list, number_items) {
            (true, true) => Position {
                document: index + 1,
                line: None,
            },
            _ => position,
        };
        let result = match item {
            Value::Null => continue,
            Value::Object(_) if too_deep(&item, limits.max_depth) => Err(DocumentError::TooDeep {
                position,
                max: limits.max_depth,
            }),
            Value::Object(_) => Ok(item),
            other => Err(DocumentError::NotAnObject {
                position,
                found: describe(&other),
            }),
        };
        out.push(result);
        if out.len() > limits.max_documents {
            return Err(DocumentError::TooManyDocuments {
                max: limits.max_documents,
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
