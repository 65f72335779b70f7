//! Decoding one YAML document straight into a `serde_json::Value`, under a budget.
//!
//! serde_yaml re-reads an alias's target each time it is used, so a small document can
//! expand enormously (a "billion laughs"). serde_yaml's own repetition limit does not stop
//! a wide expansion (one big anchor used many times), so every value decoded here is counted
//! against a per-document and a per-stream budget, and nesting is capped, and decoding stops
//! at the first value past a limit. This module does not split streams or validate entities.

use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};

/// Which limit stopped a decode.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Tripped {
    TooDeep,
    DocumentExpansion,
    StreamValues,
}

pub(super) struct Guard {
    stream_left: usize,
    document_left: usize,
    max_depth: usize,
    pub tripped: Option<Tripped>,
}

impl Guard {
    pub fn new(stream_values: usize, max_depth: usize) -> Self {
        Guard {
            stream_left: stream_values,
            document_left: 0,
            max_depth,
            tripped: None,
        }
    }

    pub fn start_document(&mut self, document_values: usize) {
        self.document_left = document_values;
        self.tripped = None;
    }

    fn trip<E: de::Error>(&mut self, why: Tripped) -> E {
        self.tripped = Some(why);
        E::custom(match why {
            Tripped::TooDeep => "document nests too deep",
            Tripped::DocumentExpansion => "document expands too far",
            Tripped::StreamValues => "input expands too far",
        })
    }

    fn count<E: de::Error>(&mut self) -> Result<(), E> {
        if self.stream_left == 0 {
            return Err(self.trip(Tripped::StreamValues));
        }
        if self.document_left == 0 {
            return Err(self.trip(Tripped::DocumentExpansion));
        }
        self.stream_left -= 1;
        self.document_left -= 1;
        Ok(())
    }

    fn enter<E: de::Error>(&mut self, depth: usize) -> Result<(), E> {
        if depth > self.max_depth {
            return Err(self.trip(Tripped::TooDeep));
        }
        Ok(())
    }
}

/// Decodes one value at `depth` (the number of containers around it).
pub(super) struct ValueSeed<'g> {
    pub guard: &'g mut Guard,
    pub depth: usize,
}

impl<'de> DeserializeSeed<'de> for ValueSeed<'_> {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for ValueSeed<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a YAML value")
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Value, E> {
        self.guard.count()?;
        Ok(Value::Bool(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Value, E> {
        self.guard.count()?;
        Ok(Value::from(v))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Value, E> {
        self.guard.count()?;
        Ok(Value::from(v))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        self.guard.count()?;
        Number::from_f64(v)
            .map(Value::Number)
            .ok_or_else(|| E::custom(format!("{v} cannot be represented in JSON")))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Value, E> {
        self.guard.count()?;
        Ok(Value::String(v.to_string()))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Value, E> {
        self.guard.count()?;
        Ok(Value::String(v))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Value, E> {
        self.guard.count()?;
        Ok(Value::Null)
    }

    fn visit_none<E: de::Error>(self) -> Result<Value, E> {
        self.visit_unit()
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        self.deserialize(deserializer)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        self.guard.count()?;
        let depth = self.depth + 1;
        self.guard.enter(depth)?;
        let mut items = Vec::new();
        while let Some(item) = seq.next_element_seed(ValueSeed {
            guard: &mut *self.guard,
            depth,
        })? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        self.guard.count()?;
        let depth = self.depth + 1;
        self.guard.enter(depth)?;
        let mut members = Map::new();
        while let Some(key) = map.next_key_seed(KeySeed {
            guard: &mut *self.guard,
        })? {
            let value = map.next_value_seed(ValueSeed {
                guard: &mut *self.guard,
                depth,
            })?;
            if members.contains_key(&key) {
                // YAML forbids duplicate keys; keeping either one silently would hide a mistake.
                return Err(de::Error::custom(format!("duplicate key {key:?}")));
            }
            members.insert(key, value);
        }
        Ok(Value::Object(members))
    }

    fn visit_enum<A: de::EnumAccess<'de>>(self, _data: A) -> Result<Value, A::Error> {
        Err(de::Error::custom(
            "YAML tags (such as !Ref) are not supported in descriptors",
        ))
    }
}

/// Mapping keys become strings: scalars as written (`1: x` has the key `"1"`), as
/// JavaScript's YAML readers do; a list or a map as a key is an error.
struct KeySeed<'g> {
    guard: &'g mut Guard,
}

impl<'de> DeserializeSeed<'de> for KeySeed<'_> {
    type Value = String;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<String, D::Error> {
        deserializer.deserialize_string(self)
    }
}

impl<'de> Visitor<'de> for KeySeed<'_> {
    type Value = String;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string key")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<String, E> {
        self.guard.count()?;
        Ok(v.to_string())
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<String, E> {
        self.guard.count()?;
        Ok(v)
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<String, E> {
        self.visit_string(v.to_string())
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<String, E> {
        self.visit_string(v.to_string())
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<String, E> {
        self.visit_string(v.to_string())
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<String, E> {
        self.visit_string(v.to_string())
    }

    fn visit_unit<E: de::Error>(self) -> Result<String, E> {
        self.visit_string("null".to_string())
    }
}
