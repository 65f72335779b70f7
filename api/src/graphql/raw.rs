//! Lists written straight to JSON text. A resolver that answers a long list in one
//! pass (`flat`) can write the list's JSON itself instead of building a value per
//! item: for a walk of 2,000 dependents, building those values (an `IndexMap` and
//! strings per item), serialising them and dropping them was most of the server's
//! CPU per request. The text goes into the response tree as a `Value::Binary`
//! placeholder, registered here, and [`write_response`] writes the registered text
//! where the placeholder stands, and everything else as serde_json would: the body
//! is byte for byte the one the values would have given.
//!
//! Only a transport that writes the response with [`write_response`] offers it (the
//! HTTP handler puts a [`RawJson`] in the request's data); elsewhere (WebSocket,
//! tests that execute the schema directly) resolvers build values as before. It is
//! not offered when async-graphql could merge two values under one response key (a
//! key selected twice in one selection set, counting every fragment's fields): a
//! placeholder cannot be merged. It caches nothing: the text is written per request.

use async_graphql::parser::types::{FragmentDefinition, Selection, SelectionSet};
use async_graphql::{ContextSelectionSet, Name, Positioned, Response, Value};
use axum::body::Bytes;
use std::collections::{HashMap, HashSet};
use std::sync::{Mutex, OnceLock};

/// Fragments followed at most this deep when looking for merges.
const MAX_NESTING: usize = 16;

/// The JSON texts written for one request, by the transport that will splice them.
#[derive(Debug, Default)]
pub struct RawJson {
    texts: Mutex<Vec<Bytes>>,
    /// Whether the request's document selects no response key twice anywhere.
    unmerged: OnceLock<bool>,
}

impl RawJson {
    /// The request's `RawJson` when a list may be written as text here.
    pub fn offered<'a>(ctx: &ContextSelectionSet<'a>) -> Option<&'a RawJson> {
        let raw = ctx.data_opt::<std::sync::Arc<RawJson>>()?;
        let unmerged = *raw.unmerged.get_or_init(|| {
            let env = &ctx.query_env;
            never_merges(&env.operation.node.selection_set.node, &env.fragments)
        });
        unmerged.then_some(&**raw)
    }

    /// The placeholder value standing for `text` (one JSON value).
    pub fn splice(&self, text: Vec<u8>) -> Value {
        let text = Bytes::from(text);
        if let Ok(mut texts) = self.texts.lock() {
            texts.push(text.clone());
        }
        Value::Binary(text)
    }

    /// The length of the texts spliced so far.
    fn bytes(&self) -> usize {
        self.texts
            .lock()
            .map_or(0, |texts| texts.iter().map(Bytes::len).sum())
    }

    fn text_of(&self, bytes: &Bytes) -> bool {
        self.texts.lock().is_ok_and(|texts| {
            texts
                .iter()
                .any(|t| t.as_ptr() == bytes.as_ptr() && t.len() == bytes.len())
        })
    }
}

/// Fragments by name, as the request's document defines them.
type Fragments = HashMap<Name, Positioned<FragmentDefinition>>;

/// Whether no selection set under `set` (with the fields of all its fragments,
/// whatever their type condition) selects one response key twice.
fn never_merges(set: &SelectionSet, fragments: &Fragments) -> bool {
    fn keys<'a>(
        set: &'a SelectionSet,
        fragments: &'a Fragments,
        seen: &mut HashSet<&'a str>,
        nesting: usize,
    ) -> bool {
        if nesting > MAX_NESTING {
            return false;
        }
        set.items.iter().all(|selection| match &selection.node {
            Selection::Field(field) => {
                seen.insert(field.node.response_key().node.as_str())
                    && keys(
                        &field.node.selection_set.node,
                        fragments,
                        &mut HashSet::new(),
                        nesting + 1,
                    )
            }
            Selection::InlineFragment(fragment) => keys(
                &fragment.node.selection_set.node,
                fragments,
                seen,
                nesting + 1,
            ),
            Selection::FragmentSpread(spread) => fragments
                .get(&spread.node.fragment_name.node)
                .is_some_and(|fragment| {
                    keys(
                        &fragment.node.selection_set.node,
                        fragments,
                        seen,
                        nesting + 1,
                    )
                }),
        })
    }
    keys(set, fragments, &mut HashSet::new(), 0)
}

/// Writes `number` as serde_json writes an integer.
pub fn write_int(out: &mut Vec<u8>, number: i64) {
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    let mut rest = number.unsigned_abs();
    loop {
        at -= 1;
        digits[at] = b'0' + (rest % 10) as u8;
        rest /= 10;
        if rest == 0 {
            break;
        }
    }
    if number < 0 {
        out.push(b'-');
    }
    out.extend_from_slice(&digits[at..]);
}

/// Writes `text` as a JSON string, escaped as serde_json escapes it.
pub fn write_str(out: &mut Vec<u8>, text: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let bytes = text.as_bytes();
    // Most texts (refs, names) need no escape: one scan without early exit (the
    // compiler vectorises it), then one copy.
    let plain = bytes.iter().fold(true, |plain, &b| {
        plain & (b >= 0x20 && b != b'"' && b != b'\\')
    });
    out.reserve(bytes.len() + 2);
    out.push(b'"');
    if plain {
        out.extend_from_slice(bytes);
        out.push(b'"');
        return;
    }
    let mut start = 0;
    for (i, &byte) in bytes.iter().enumerate() {
        let escape: &[u8] = match byte {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            0x08 => b"\\b",
            0x09 => b"\\t",
            0x0a => b"\\n",
            0x0c => b"\\f",
            0x0d => b"\\r",
            0x00..=0x1f => &[
                b'\\',
                b'u',
                b'0',
                b'0',
                HEX[(byte >> 4) as usize],
                HEX[(byte & 0xf) as usize],
            ],
            _ => continue,
        };
        out.extend_from_slice(&bytes[start..i]);
        out.extend_from_slice(escape);
        start = i + 1;
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

/// `response` as serde_json writes it (`data`, then `extensions` and `errors` when
/// not empty), with `raw`'s texts where their placeholders stand; `TooLarge` as
/// soon as it passes `limit` bytes.
pub fn write_response(
    response: &Response,
    raw: &RawJson,
    limit: usize,
) -> Result<Vec<u8>, WriteError> {
    // The spliced texts and about the rest: the body is not copied as it grows.
    let mut out = Vec::with_capacity(limit.min(raw.bytes() + 4 * 1024));
    out.extend_from_slice(b"{\"data\":");
    write_value(&mut out, &response.data, raw, limit)?;
    if !response.extensions.is_empty() {
        out.extend_from_slice(b",\"extensions\":");
        serde_json::to_writer(&mut out, &response.extensions)?;
    }
    if !response.errors.is_empty() {
        out.extend_from_slice(b",\"errors\":");
        serde_json::to_writer(&mut out, &response.errors)?;
    }
    out.push(b'}');
    if out.len() > limit {
        return Err(WriteError::TooLarge);
    }
    Ok(out)
}

/// Why [`write_response`] wrote no text.
#[derive(Debug)]
pub enum WriteError {
    TooLarge,
    Failed(serde_json::Error),
}

impl From<serde_json::Error> for WriteError {
    fn from(error: serde_json::Error) -> Self {
        WriteError::Failed(error)
    }
}

fn write_value(
    out: &mut Vec<u8>,
    value: &Value,
    raw: &RawJson,
    limit: usize,
) -> Result<(), WriteError> {
    match value {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Boolean(true) => out.extend_from_slice(b"true"),
        Value::Boolean(false) => out.extend_from_slice(b"false"),
        Value::Number(number) => serde_json::to_writer(&mut *out, number)?,
        Value::String(text) => write_str(out, text),
        Value::Enum(name) => write_str(out, name),
        Value::Binary(bytes) if raw.text_of(bytes) => out.extend_from_slice(bytes),
        Value::Binary(_) => serde_json::to_writer(&mut *out, value)?,
        Value::List(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_value(out, item, raw, limit)?;
            }
            out.push(b']');
        }
        Value::Object(fields) => {
            out.push(b'{');
            for (i, (key, item)) in fields.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_str(out, key);
                out.push(b':');
                write_value(out, item, raw, limit)?;
            }
            out.push(b'}');
        }
    }
    if out.len() > limit {
        return Err(WriteError::TooLarge);
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn strings_are_escaped_as_serde_json_escapes_them() {
        let mut every: String = (0u32..0x250).filter_map(char::from_u32).collect();
        every.push_str("\u{2028}\u{feff}😀 end\"\\");
        for text in [every.as_str(), "", "plain", "\"", "a\u{1f}b", "é\n\t"] {
            let mut out = Vec::new();
            write_str(&mut out, text);
            assert_eq!(
                String::from_utf8(out).unwrap(),
                serde_json::to_string(text).unwrap()
            );
        }
    }

    #[test]
    fn integers_are_written_as_serde_json_writes_them() {
        for number in [0, 1, -1, 9, 10, 42, -1234567, i64::MAX, i64::MIN] {
            let mut out = Vec::new();
            write_int(&mut out, number);
            assert_eq!(
                String::from_utf8(out).unwrap(),
                serde_json::to_string(&number).unwrap()
            );
        }
    }

    #[test]
    fn responses_are_written_as_serde_json_writes_them() {
        let data = Value::from_json(serde_json::json!({
            "a": [1, -2, 3.5, 1e300, true, false, null, "x\"y"],
            "b": { "c": { "d": [] , "e": {} }, "f": 18446744073709551615u64 },
        }))
        .unwrap();
        let mut response = Response::new(data);
        response
            .extensions
            .insert("position".into(), Value::from(42));
        response
            .errors
            .push(async_graphql::ServerError::new("bad \u{1} thing", None));
        let raw = RawJson::default();
        let written = write_response(&response, &raw, usize::MAX).unwrap();
        assert_eq!(
            String::from_utf8(written).unwrap(),
            serde_json::to_string(&response).unwrap()
        );
        // An unregistered binary value is serde_json's too (an array of numbers).
        let binary = Response::new(Value::Binary(Bytes::from_static(b"[1]")));
        let written = write_response(&binary, &raw, usize::MAX).unwrap();
        assert_eq!(
            String::from_utf8(written).unwrap(),
            serde_json::to_string(&binary).unwrap()
        );
        assert!(matches!(
            write_response(&response, &raw, 20),
            Err(WriteError::TooLarge)
        ));
    }

    #[test]
    fn spliced_texts_stand_where_their_placeholders_are() {
        let raw = RawJson::default();
        let list = raw.splice(b"[{\"ref\":\"a\"}]".to_vec());
        let mut fields = async_graphql::indexmap::IndexMap::new();
        fields.insert(async_graphql::Name::new("items"), list);
        let response = Response::new(Value::Object(fields));
        let written = write_response(&response, &raw, usize::MAX).unwrap();
        assert_eq!(
            String::from_utf8(written).unwrap(),
            r#"{"data":{"items":[{"ref":"a"}]}}"#
        );
    }

    #[test]
    fn documents_selecting_a_key_twice_are_seen() {
        let merges = |query: &str| {
            let document = async_graphql::parser::parse_query(query).unwrap();
            let (_, operation) = document.operations.iter().next().unwrap();
            !never_merges(&operation.node.selection_set.node, &document.fragments)
        };
        assert!(!merges("{ a { b c } d }"));
        assert!(!merges("{ a { ... on X { b } c } }"));
        assert!(merges("{ a { b } a { c } }"));
        assert!(merges("{ a { b ... on X { b } } }"));
        assert!(merges("{ x: a { b } x: c }"));
        assert!(merges("{ a { ...F } } fragment F on A { a { b } a }"));
        assert!(!merges("{ a { ...F } } fragment F on A { b c }"));
        assert!(merges("{ a { b ...F } } fragment F on A { b }"));
    }
}
