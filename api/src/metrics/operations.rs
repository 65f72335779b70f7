//! GraphQL operation figures with bounded labels: an operation's name is a
//! label only for the first [`MAX_NAMES`] distinct names the process sees (a
//! client that invents a name per request cannot grow the series without end);
//! later ones count as `other`, operations without a name as `unnamed`. The
//! outcome is `ok` or the first error's code, from the closed set.

use super::recorder::{GRAPHQL_DURATION, GRAPHQL_OPERATIONS, REJECTED};
use crate::error::ErrorCode;
use async_graphql::parser::types::OperationType;
use std::collections::HashSet;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

/// Distinct operation names that get their own series.
pub const MAX_NAMES: usize = 200;
/// Longer names are not labels (they count as `other`).
const MAX_NAME_BYTES: usize = 100;

/// The label for `name`: itself while the set of names has room, else `other`.
fn label(name: Option<&str>) -> String {
    static SEEN: OnceLock<Mutex<HashSet<String>>> = OnceLock::new();
    let Some(name) = name else {
        return "unnamed".into();
    };
    if name.len() > MAX_NAME_BYTES {
        return "other".into();
    }
    // A poisoned set only means a panic elsewhere; its names are whole.
    let mut seen = SEEN
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    if seen.contains(name) {
        return name.to_string();
    }
    if seen.len() < MAX_NAMES {
        seen.insert(name.to_string());
        return name.to_string();
    }
    "other".into()
}

fn type_label(ty: Option<OperationType>) -> &'static str {
    match ty {
        Some(OperationType::Query) => "query",
        Some(OperationType::Mutation) => "mutation",
        Some(OperationType::Subscription) => "subscription",
        None => "unknown",
    }
}

/// The limit an error code says a request ran into, if any.
pub fn limit_of(code: &str) -> Option<&'static str> {
    let limit = match code {
        c if c == ErrorCode::QueryTooLarge.as_str() => "query_size",
        c if c == ErrorCode::DepthLimitExceeded.as_str() => "depth",
        c if c == ErrorCode::ComplexityLimitExceeded.as_str() => "complexity",
        c if c == ErrorCode::AliasLimitExceeded.as_str() => "aliases",
        c if c == ErrorCode::ResponseTooLarge.as_str() => "response_size",
        c if c == ErrorCode::Timeout.as_str() => "timeout",
        c if c == ErrorCode::SubscriptionLimitExceeded.as_str() => "subscriptions",
        c if c == ErrorCode::PageSizeExceeded.as_str() => "page_size",
        _ => return None,
    };
    Some(limit)
}

/// Counts one operation (and its time, when it ran) under its bounded labels.
pub fn record(
    name: Option<&str>,
    ty: Option<OperationType>,
    first_error_code: Option<&str>,
    took: Option<Duration>,
) {
    let operation = label(name);
    let ty = type_label(ty);
    let outcome = first_error_code.unwrap_or("ok").to_string();
    if let Some(limit) = first_error_code.and_then(limit_of) {
        metrics::counter!(REJECTED, "limit" => limit).increment(1);
    }
    if let Some(took) = took {
        metrics::histogram!(GRAPHQL_DURATION, "operation" => operation.clone(), "type" => ty)
            .record(took.as_secs_f64());
    }
    metrics::counter!(GRAPHQL_OPERATIONS, "operation" => operation, "type" => ty, "outcome" => outcome)
        .increment(1);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_labels_until_the_set_is_full_then_other() {
        assert_eq!(label(None), "unnamed");
        assert_eq!(label(Some(&"x".repeat(MAX_NAME_BYTES + 1))), "other");
        for i in 0..MAX_NAMES {
            assert_eq!(label(Some(&format!("Op{i}"))), format!("Op{i}"));
        }
        assert_eq!(
            label(Some("Op0")),
            "Op0",
            "a name seen before keeps its label"
        );
        assert_eq!(label(Some("OneTooMany")), "other");
    }

    #[test]
    fn limit_codes_name_their_limit() {
        assert_eq!(limit_of("DEPTH_LIMIT_EXCEEDED"), Some("depth"));
        assert_eq!(limit_of("QUERY_TOO_LARGE"), Some("query_size"));
        assert_eq!(limit_of("INVALID_REF"), None);
    }
}
