//! `Long`: a 64-bit signed integer, for log positions and event counts, which
//! can pass GraphQL's 32-bit `Int`.
//!
//! Sent as a JSON number (exact: JSON numbers have no size limit, though a
//! JavaScript client reads them exactly only up to 2^53, some nine
//! quadrillion events). Accepted as a JSON integer or as a string of decimal
//! digits, so a client that keeps positions as strings can send them back.
//! It does not carry versions of one entity (they stay `Int`).

use async_graphql::{InputValueError, InputValueResult, Scalar, ScalarType, Value};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Long(pub i64);

/// A 64-bit signed integer (log positions, event counts): a JSON number on
/// output; a JSON integer or a decimal string on input.
#[Scalar(name = "Long")]
impl ScalarType for Long {
    fn parse(value: Value) -> InputValueResult<Self> {
        match &value {
            Value::Number(number) => number.as_i64().map(Long).ok_or_else(|| {
                InputValueError::custom(format!("{number} is not a 64-bit integer"))
            }),
            Value::String(text) => {
                text.trim().parse::<i64>().map(Long).map_err(|_| {
                    InputValueError::custom(format!("{text:?} is not a 64-bit integer"))
                })
            }
            _ => Err(InputValueError::expected_type(value)),
        }
    }

    fn is_valid(value: &Value) -> bool {
        matches!(value, Value::Number(n) if n.is_i64()) || matches!(value, Value::String(_))
    }

    fn to_value(&self) -> Value {
        Value::Number(self.0.into())
    }
}

impl From<i64> for Long {
    fn from(value: i64) -> Self {
        Long(value)
    }
}
