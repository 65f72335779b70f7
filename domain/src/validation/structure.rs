//! Whole-document rules that look at every node: the nesting limit, the serialised size and
//! NUL characters.
//!
//! The depth check walks with an explicit stack so that a hostile, very deep value cannot
//! overflow ours; the NUL check recurses, and runs only once the depth is known to be small.
//! Neither rule knows what the fields mean.

use serde_json::Value;

use super::{field_index, field_key, ValidationError};

/// More NUL reports than this for one document add nothing but noise.
const MAX_NUL_REPORTS: usize = 10;

/// True when a container sits more than `max_depth` containers deep (the root is level 1).
pub(crate) fn too_deep(doc: &Value, max_depth: usize) -> bool {
    let mut stack = vec![(doc, 1usize)];
    while let Some((value, depth)) = stack.pop() {
        let children: Box<dyn Iterator<Item = &Value>> = match value {
            Value::Array(items) => Box::new(items.iter()),
            Value::Object(members) => Box::new(members.values()),
            _ => continue,
        };
        if depth > max_depth {
            return true;
        }
        stack.extend(children.map(|child| (child, depth + 1)));
    }
    false
}

/// The length of `value` serialised as compact JSON, counted without building it;
/// `usize::MAX` if it cannot be serialised (so any size limit refuses it).
pub fn json_size<T: serde::Serialize + ?Sized>(value: &T) -> usize {
    struct Count(usize);
    impl std::io::Write for Count {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0 += buf.len();
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut count = Count(0);
    match serde_json::to_writer(&mut count, value) {
        Ok(()) => count.0,
        Err(_) => usize::MAX,
    }
}

/// PostgreSQL's jsonb cannot store `\u0000`, so a NUL anywhere, in a key or a string,
/// is an error naming where it is.
pub(crate) fn check_nul_characters(doc: &Value, errors: &mut Vec<ValidationError>) {
    // Almost no document holds one: find out without building a path per field (that
    // was a tenth of reading a catalog), and name the fields only when there is one.
    if !has_nul(doc) {
        return;
    }
    let mut found = Vec::new();
    walk(doc, "", &mut found);
    errors.extend(found.into_iter().map(|field| {
        let message = if field.is_empty() {
            "the document contains a NUL character (\\u0000), which cannot be stored".to_string()
        } else {
            format!("{field} contains a NUL character (\\u0000), which cannot be stored")
        };
        ValidationError::new(field, message)
    }));
}

/// True when a key or a string anywhere in `value` holds a NUL. Recursive, like `walk`:
/// it runs only on documents whose depth was checked.
fn has_nul(value: &Value) -> bool {
    match value {
        Value::String(text) => text.contains('\0'),
        Value::Array(items) => items.iter().any(has_nul),
        Value::Object(members) => members
            .iter()
            .any(|(key, member)| key.contains('\0') || has_nul(member)),
        _ => false,
    }
}

fn walk(value: &Value, path: &str, found: &mut Vec<String>) {
    if found.len() >= MAX_NUL_REPORTS {
        return;
    }
    match value {
        Value::String(text) if text.contains('\0') => found.push(path.to_string()),
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                walk(item, &field_index(path, i), found);
            }
        }
        Value::Object(members) => {
            for (key, member) in members {
                let child = field_key(path, key);
                if key.contains('\0') && found.len() < MAX_NUL_REPORTS {
                    found.push(child.clone());
                }
                walk(member, &child, found);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn nested(levels: usize) -> Value {
        let mut value = json!(1);
        for _ in 0..levels {
            value = json!([value]);
        }
        value
    }

    #[test]
    fn depth_counts_containers() {
        assert!(!too_deep(&json!(1), 0));
        assert!(!too_deep(&nested(64), 64));
        assert!(too_deep(&nested(65), 64));
        assert!(!too_deep(&json!({"a": {"b": [1]}}), 3));
        assert!(too_deep(&json!({"a": {"b": [1]}}), 2));
    }

    #[test]
    fn nul_characters_are_found_in_keys_and_values() {
        let doc =
            json!({"metadata": {"name": "a\u{0}b"}, "spec": {"x\u{0}": 1, "l": ["ok", "\u{0}"]}});
        let mut errors = Vec::new();
        check_nul_characters(&doc, &mut errors);
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["metadata.name", "spec.l[1]", "spec[\"x\\0\"]"]);
    }
}
