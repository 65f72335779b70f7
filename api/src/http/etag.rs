//! ETags for `GET /graphql`: a weak validator made of the snapshot position the
//! answer was read at and a hash of what was asked (query, operation name,
//! variables, media type, and who asked). A catalog read is a function of those,
//! so `If-None-Match` with the tag of the current position answers 304 without
//! running the query.
//!
//! What is not a function of the position gets no tag (`Cache-Control:
//! no-cache` instead): operational state (`processingErrors`, `conflicts`, an
//! entity's `errors`, the `hasProcessingErrors` filter, in the query or its
//! variables), the integrity check, and the log read straight from SQL
//! (`events`, `history`), which may hold events the snapshot has not folded
//! yet, and `locations` (the projector's table, not the snapshot). The check is on the query text's words, so it may also withhold a tag
//! from a query that merely mentions one; it never gives one wrongly. POST
//! responses get no tag (they are not cached by HTTP caches anyway).

use axum::http::{header, HeaderMap, HeaderValue};
use sha2::{Digest, Sha256};

/// Fields whose answers do not follow from the snapshot position.
const UNTAGGED_FIELDS: &[&str] = &[
    "processingErrors",
    "processingErrorsConnection",
    "conflicts",
    "conflictsConnection",
    "errors",
    // A filter input, so it may come in the variables too.
    "hasProcessingErrors",
    "verifyIntegrity",
    "events",
    "history",
    // A projection table, read from SQL: its position is the projector's.
    "locations",
    "locationsConnection",
];

/// What was asked, hashed: the tag's second half.
pub struct Asked(String);

impl Asked {
    /// `None` when the answer must not be tagged (see the module doc).
    pub fn of(
        request: &async_graphql::Request,
        media: &str,
        subject: Option<&str>,
    ) -> Option<Asked> {
        let words = request
            .query
            .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'));
        if words.into_iter().any(|w| UNTAGGED_FIELDS.contains(&w)) {
            return None;
        }
        let variables = serde_json::to_string(&request.variables).unwrap_or_default();
        if variables.contains("\"hasProcessingErrors\"") {
            return None;
        }
        let mut hash = Sha256::new();
        for part in [
            request.query.as_str(),
            request.operation_name.as_deref().unwrap_or(""),
            &variables,
            media,
            subject.unwrap_or(""),
        ] {
            // Length-prefixed, so parts cannot run into each other.
            hash.update((part.len() as u64).to_be_bytes());
            hash.update(part.as_bytes());
        }
        Some(Asked(hex::encode(&hash.finalize()[..12])))
    }

    /// The tag of this question answered at `position`.
    pub fn tag(&self, position: i64) -> HeaderValue {
        HeaderValue::from_str(&format!("W/\"{position}-{}\"", self.0))
            .unwrap_or_else(|_| HeaderValue::from_static("W/\"0\""))
    }
}

/// Whether `If-None-Match` names `tag` (weak comparison, as RFC 9110 says for it).
pub fn matches(headers: &HeaderMap, tag: &HeaderValue) -> bool {
    let Ok(tag) = tag.to_str() else {
        return false;
    };
    let opaque = |t: &str| t.trim().trim_start_matches("W/").to_string();
    headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|candidate| candidate.trim() == "*" || opaque(candidate) == opaque(tag))
}
