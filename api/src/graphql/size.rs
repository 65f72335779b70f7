//! The response byte budget: every resolved field charges about the bytes it
//! adds to the JSON response (its key, and its value when that is a scalar or
//! an enum, such as a `spec` or a description), so a request whose response
//! would pass `graphql.max_response_bytes` stops resolving fields as soon as it
//! does, instead of building the whole response first (40 aliases of a 5 MB
//! `spec` fail at the fourth, not after 200 MB).
//!
//! The count is an estimate of the serialised size (escapes are not counted);
//! the HTTP handler checks the exact size again while serialising. It does not
//! apply to subscriptions, whose events are bounded by the subscription buffer.

use crate::error::{ApiError, ErrorCode};
use async_graphql::context::ContextBase;
use async_graphql::{ServerError, ServerResult, Value};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

/// The refusal of a response past `limit` bytes.
pub fn too_large(limit: usize) -> ServerError {
    ApiError::new(
        ErrorCode::ResponseTooLarge,
        format!("the response would be larger than {limit} bytes; ask for fewer fields or a smaller page"),
    )
    .into_server_error()
}

/// Charges `value` (built whole by a resolver, not field by field) to the
/// request's budget, which the gate puts in the request's data.
pub fn charge<T>(ctx: &ContextBase<'_, T>, value: &Value) -> ServerResult<()> {
    match ctx.data_opt::<Arc<ResponseBudget>>() {
        Some(budget) if !budget.charge(json_size(value)) => Err(too_large(budget.limit())),
        _ => Ok(()),
    }
}

/// Charges `bytes` of JSON text written whole by a resolver (`raw`).
pub fn charge_bytes<T>(ctx: &ContextBase<'_, T>, bytes: usize) -> ServerResult<()> {
    match ctx.data_opt::<Arc<ResponseBudget>>() {
        Some(budget) if !budget.charge(bytes) => Err(too_large(budget.limit())),
        _ => Ok(()),
    }
}

/// About how many bytes `value` takes as JSON.
pub fn json_size(value: &Value) -> usize {
    match value {
        Value::Null => 4,
        Value::Boolean(_) => 5,
        Value::Number(_) => 8,
        Value::String(s) => s.len() + 2,
        Value::Enum(name) => name.len() + 2,
        Value::Binary(bytes) => bytes.len() * 2 + 2,
        Value::List(items) => items
            .iter()
            .fold(2usize, |sum, item| sum.saturating_add(json_size(item) + 1)),
        Value::Object(fields) => fields.iter().fold(2usize, |sum, (key, item)| {
            sum.saturating_add(key.len() + 4 + json_size(item))
        }),
    }
}

/// One request's budget. Off until the gate enables it for a query or mutation.
#[derive(Debug, Default)]
pub struct ResponseBudget {
    enabled: AtomicBool,
    limit: AtomicUsize,
    used: AtomicUsize,
}

impl ResponseBudget {
    pub fn enable(&self, limit: usize) {
        self.limit.store(limit, Ordering::SeqCst);
        self.enabled.store(true, Ordering::SeqCst);
    }

    pub fn limit(&self) -> usize {
        self.limit.load(Ordering::SeqCst)
    }

    /// True once the response has passed its limit.
    pub fn exhausted(&self) -> bool {
        self.enabled.load(Ordering::SeqCst) && self.used.load(Ordering::SeqCst) > self.limit()
    }

    /// Adds `bytes`; false when that passes the limit.
    pub fn charge(&self, bytes: usize) -> bool {
        if !self.enabled.load(Ordering::SeqCst) {
            return true;
        }
        let used = self
            .used
            .fetch_add(bytes, Ordering::SeqCst)
            .saturating_add(bytes);
        used <= self.limit()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn sizes_follow_the_json_text() {
        let value = Value::from_json(serde_json::json!({
            "a": "xyz",
            "list": [1, true, null],
        }))
        .unwrap();
        // {"a":"xyz","list":[1,true,null]} is 33 bytes; the estimate is near it.
        let size = json_size(&value);
        assert!((30..=45).contains(&size), "{size}");
    }

    #[test]
    fn the_budget_refuses_past_its_limit_once_enabled() {
        let budget = ResponseBudget::default();
        assert!(budget.charge(1_000), "off until enabled");
        budget.enable(100);
        assert!(budget.charge(60));
        assert!(!budget.exhausted());
        assert!(!budget.charge(60));
        assert!(budget.exhausted());
    }
}
