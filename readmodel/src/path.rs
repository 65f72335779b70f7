//! The values at a dotted path ([`FieldPath`]) of an entity's descriptor, for path filters
//! and path facets: read from the held descriptor text in one pass that skips what the
//! path does not reach (nothing is parsed into a tree but the values found), and from the
//! fields the entity holds apart from that text (`kind`, `metadata.labels`, ...).
//!
//! It does not fetch the text of elided leaves: a spec string held as a stub is reported
//! as [`Found::Elided`] (it exists; its text, over `ELIDE_BYTES`, is in PostgreSQL only).

use std::fmt;

use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use serde_json::Value;

use crate::entity::{Entity, ELIDED_PREFIX};
use crate::query::FieldPath;

/// One value a path reaches.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Found {
    /// A string, as written.
    Text(String),
    /// A number or a boolean, as JSON writes it.
    Scalar(String),
    /// A string held as a stub: longer than any filter value, its text not in memory.
    Elided,
    /// An object or an array (an array's elements are found too).
    Node,
}

impl Found {
    /// The text a facet counts and an equality compares (none for elided leaves and nodes).
    pub(crate) fn text(&self) -> Option<&str> {
        match self {
            Found::Text(text) | Found::Scalar(text) => Some(text),
            Found::Elided | Found::Node => None,
        }
    }
}

/// Every non-null value `path` reaches in `entity`'s descriptor, in document order (the
/// held fields after the rest).
pub(crate) fn values_at(entity: &Entity, path: &FieldPath) -> Vec<Found> {
    let mut out = Vec::new();
    let elided = entity.elided;
    let mut reader = serde_json::Deserializer::from_str(&entity.descriptor_json);
    // The text was written by this crate: it parses. Were it not to, nothing is found.
    let _ = At {
        rest: path.as_str(),
        elided,
        out: &mut out,
    }
    .deserialize(&mut reader);
    let held = entity.left_out_fields(|held| related(held, path.as_str()));
    if let Some(held) = held {
        let _ = At {
            rest: path.as_str(),
            elided: false,
            out: &mut out,
        }
        .deserialize(&held);
    }
    out
}

/// Whether a held field at `held` (dotted, ASCII) can be on or under `path`: one is the
/// other, or a prefix of it up to a dot.
fn related(held: &str, path: &str) -> bool {
    let prefix = |short: &str, long: &str| {
        long.len() > short.len()
            && long.as_bytes()[..short.len()].eq_ignore_ascii_case(short.as_bytes())
            && long.as_bytes()[short.len()] == b'.'
    };
    held.eq_ignore_ascii_case(path) || prefix(held, path) || prefix(path, held)
}

/// Walks a value with `rest` of the path still to match; at the end (`rest` empty) takes
/// the value whole.
struct At<'p, 'o> {
    rest: &'p str,
    elided: bool,
    out: &'o mut Vec<Found>,
}

impl<'de> DeserializeSeed<'de> for At<'_, '_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        if self.rest.is_empty() {
            let value = Value::deserialize(deserializer)?;
            leaves(value, self.elided, self.out);
            Ok(())
        } else {
            deserializer.deserialize_any(self)
        }
    }
}

/// What one key does to the rest of the path.
enum Step {
    /// The key is the rest: its value is found.
    Exact,
    /// The key and a dot begin the rest: match what follows (byte offset) in its value.
    Deeper(usize),
    Skip,
}

struct KeyMatch<'p> {
    rest: &'p str,
}

impl<'de> DeserializeSeed<'de> for KeyMatch<'_> {
    type Value = Step;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Step, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for KeyMatch<'_> {
    type Value = Step;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object key")
    }

    fn visit_str<E: serde::de::Error>(self, key: &str) -> Result<Step, E> {
        let (rest, key) = (self.rest.as_bytes(), key.as_bytes());
        // Keys compare ASCII case-insensitively; other bytes exactly, so a match ends on
        // a character boundary of the path.
        if rest.len() < key.len() || !rest[..key.len()].eq_ignore_ascii_case(key) {
            return Ok(Step::Skip);
        }
        Ok(match rest.get(key.len()) {
            None => Step::Exact,
            Some(b'.') => Step::Deeper(key.len() + 1),
            Some(_) => Step::Skip,
        })
    }
}

impl<'de> Visitor<'de> for At<'_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(step) = map.next_key_seed(KeyMatch { rest: self.rest })? {
            let rest = match step {
                Step::Exact => "",
                Step::Deeper(at) => self.rest.get(at..).unwrap_or_default(),
                Step::Skip => {
                    map.next_value::<IgnoredAny>()?;
                    continue;
                }
            };
            map.next_value_seed(At {
                rest,
                elided: self.elided,
                out: &mut *self.out,
            })?;
        }
        Ok(())
    }

    /// Arrays are passed through: each element is matched with the same rest.
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq
            .next_element_seed(At {
                rest: self.rest,
                elided: self.elided,
                out: &mut *self.out,
            })?
            .is_some()
        {}
        Ok(())
    }

    // A scalar with path left to match holds nothing there.
    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }
    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        Ok(())
    }
    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }
    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        Ok(())
    }
    fn visit_str<E>(self, _: &str) -> Result<(), E> {
        Ok(())
    }
    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }
    fn visit_none<E>(self) -> Result<(), E> {
        Ok(())
    }
}

/// The values `value` holds at a path's end: itself, and an array's elements.
fn leaves(value: Value, elided: bool, out: &mut Vec<Found>) {
    match value {
        Value::Null => {}
        Value::Bool(_) | Value::Number(_) => out.push(Found::Scalar(value.to_string())),
        // Only an entity with stubs holds any (a real string of that entity that begins
        // with the stub prefix would be read as one: left as is, it is that unlikely).
        Value::String(text) if elided && text.starts_with(ELIDED_PREFIX) => out.push(Found::Elided),
        Value::String(text) => out.push(Found::Text(text)),
        Value::Array(items) => {
            out.push(Found::Node);
            for item in items {
                leaves(item, elided, out);
            }
        }
        Value::Object(_) => out.push(Found::Node),
    }
}
