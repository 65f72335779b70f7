//! Canonical numbers: every number of a JSON document rewritten to exactly what it reads
//! back as after a round trip through PostgreSQL's `jsonb`, so that what is hashed is what
//! is stored and a hash always recomputes from the stored row.
//!
//! jsonb keeps numbers as `numeric`, which has no negative zero and no exponent: `-0.0`
//! comes back as `0.0`, `1e18` as `1000000000000000000` (which serde_json then reads as an
//! integer, not a float, so the canonical JSON text differs). The canonical form of a
//! number is therefore: serde_json's text for it, turned into numeric's output (sign of
//! zero dropped, exponent expanded with numeric's scale rule `dscale = max(0, fraction
//! digits - exponent)`), read again by serde_json. Strings, keys and nesting need nothing:
//! serde_json's map is already sorted and deduplicated, and the text jsonb cannot hold (a
//! NUL) is refused by validation.
//!
//! Where it applies: `Entity::from_value` canonicalises every descriptor that enters (so
//! `decide` compares canonical with canonical and a re-read of `-0.0` is no change), and
//! the store canonicalises every payload it appends (so no writer, validated or not, can
//! append a hash that will not recompute). It is idempotent, so doing both costs only a walk.
//! This module does no IO and knows nothing of hashes.

use serde_json::{Number, Value};

/// Rewrites every number of `value` in place to its canonical form.
pub fn canonicalize_numbers(value: &mut Value) {
    let mut stack = vec![value];
    while let Some(value) = stack.pop() {
        match value {
            Value::Number(number) => {
                if let Some(canonical) = canonical_number(number) {
                    *number = canonical;
                }
            }
            Value::Array(items) => stack.extend(items.iter_mut()),
            Value::Object(members) => stack.extend(members.values_mut()),
            _ => {}
        }
    }
}

/// True when every number of `value` is canonical already, so [`canonical`] would
/// return it unchanged (a writer can then skip the copy it takes).
pub fn is_canonical(value: &Value) -> bool {
    let mut stack = vec![value];
    while let Some(value) = stack.pop() {
        match value {
            // Compared as text: -0.0 equals 0.0 as a float, not as what is hashed.
            Value::Number(number)
                if canonical_number(number)
                    .is_some_and(|c| c.to_string() != number.to_string()) =>
            {
                return false
            }
            Value::Array(items) => stack.extend(items.iter()),
            Value::Object(members) => stack.extend(members.values()),
            _ => {}
        }
    }
    true
}

/// `value` with canonical numbers.
pub fn canonical(mut value: Value) -> Value {
    canonicalize_numbers(&mut value);
    value
}

/// The number as jsonb gives it back, or `None` when it already is.
fn canonical_number(number: &Number) -> Option<Number> {
    // Integers keep their text through numeric unchanged.
    if !number.is_f64() {
        return None;
    }
    let text = number.to_string();
    let stored = numeric_text(&text)?;
    if stored == text {
        return None;
    }
    serde_json::from_str::<Number>(&stored).ok()
}

/// PostgreSQL's `numeric` output for a JSON number's text: plain decimal, the scale of
/// the input (fraction digits minus exponent, at least 0), no sign on zero. `None` for
/// text that is not a JSON number.
pub fn numeric_text(json_number: &str) -> Option<String> {
    let (negative, unsigned) = match json_number.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, json_number),
    };
    let (mantissa, exponent) = match unsigned.find(['e', 'E']) {
        Some(at) => (&unsigned[..at], unsigned[at + 1..].parse::<i64>().ok()?),
        None => (unsigned, 0),
    };
    let (int_part, frac_part) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    if int_part.is_empty()
        || !(int_part.bytes().chain(frac_part.bytes())).all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let digits: String = format!("{int_part}{frac_part}");
    // Digits before the decimal point once the exponent is applied (may be <= 0 or past
    // the end of `digits`).
    let point = int_part.len() as i64 + exponent;
    let scale = (frac_part.len() as i64 - exponent).max(0);
    let (whole, fraction) = if point <= 0 {
        let zeros = "0".repeat(usize::try_from(-point).ok()?);
        (String::new(), format!("{zeros}{digits}"))
    } else if point as usize >= digits.len() {
        let zeros = "0".repeat(point as usize - digits.len());
        (format!("{digits}{zeros}"), String::new())
    } else {
        let (w, f) = digits.split_at(point as usize);
        (w.to_string(), f.to_string())
    };
    // `fraction` holds exactly `scale` digits here, except when the exponent pushed every
    // digit left of the point (scale 0, fraction empty).
    debug_assert_eq!(fraction.len() as i64, scale);
    let whole = whole.trim_start_matches('0');
    let whole = if whole.is_empty() { "0" } else { whole };
    let is_zero = whole == "0" && fraction.bytes().all(|b| b == b'0');
    let sign = if negative && !is_zero { "-" } else { "" };
    Some(if fraction.is_empty() {
        format!("{sign}{whole}")
    } else {
        format!("{sign}{whole}.{fraction}")
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use serde_json::json;

    #[test]
    fn numeric_output_is_plain_decimal_with_the_input_scale() {
        for (input, stored) in [
            ("0", "0"),
            ("-0", "0"),
            ("-0.0", "0.0"),
            ("-0.000", "0.000"),
            ("1e18", "1000000000000000000"),
            ("1E+20", "100000000000000000000"),
            ("1.5e-7", "0.00000015"),
            ("1.500e1", "15.00"),
            ("1.5e2", "150"),
            ("-2.5e-3", "-0.0025"),
            ("123.0", "123.0"),
            ("0.1", "0.1"),
            ("-12", "-12"),
            ("0.0e5", "0"),
            ("007", "7"),
        ] {
            assert_eq!(numeric_text(input).as_deref(), Some(stored), "{input}");
        }
        assert_eq!(numeric_text("x"), None);
        assert_eq!(numeric_text("1e"), None);
    }

    #[test]
    fn numbers_become_what_jsonb_gives_back() {
        let doc: Value =
            serde_json::from_str(r#"{"a": -0.0, "b": 1e18, "c": 1.5e-7, "d": [1E+20, -0], "e": 2.5, "f": 18446744073709551615}"#)
                .unwrap();
        let canonical = canonical(doc);
        assert_eq!(
            canonical.to_string(),
            r#"{"a":0.0,"b":1000000000000000000,"c":1.5e-7,"d":[1e+20,0.0],"e":2.5,"f":18446744073709551615}"#
        );
        assert!(canonical["b"].is_u64());
        assert_eq!(super::canonical(canonical.clone()), canonical);
        assert!(is_canonical(&canonical));
        assert!(!is_canonical(&json!({"x": [{"y": -0.0}]})));
        assert!(!is_canonical(&json!([1e18])));
    }

    #[test]
    fn other_values_are_untouched() {
        let doc = json!({"s": "-0.0", "n": null, "t": true, "x": {"y": [1, "ü"]}});
        assert_eq!(canonical(doc.clone()), doc);
        assert!(is_canonical(&doc));
    }
}
