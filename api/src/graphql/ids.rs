//! Opaque identifiers: Relay global ids and pagination cursors.
//!
//! Both are URL-safe base64 so that clients treat them as tokens, not as data
//! to take apart. A global id is `<GraphQL type>:<key>`; a cursor is a small
//! JSON document tied to the order it was made for, so a cursor from one order
//! is refused under another instead of silently skipping rows. Cursors carry
//! their format ([`CURSOR_FORMAT`]): one made by an earlier server, whose keys
//! or scores would resume at the wrong place, is refused rather than followed.

use crate::error::{ApiError, ErrorCode, Result};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::{Deserialize, Serialize};

pub fn encode_id(type_name: &str, key: &str) -> String {
    URL_SAFE_NO_PAD.encode(format!("{type_name}:{key}"))
}

/// `(type name, key)` of a global id.
pub fn decode_id(id: &str) -> Result<(String, String)> {
    let invalid = || {
        ApiError::new(
            ErrorCode::InvalidId,
            format!("{id:?} is not an id from this API"),
        )
    };
    let bytes = URL_SAFE_NO_PAD.decode(id.trim()).map_err(|_| invalid())?;
    let text = String::from_utf8(bytes).map_err(|_| invalid())?;
    let (type_name, key) = text.split_once(':').ok_or_else(invalid)?;
    Ok((type_name.to_string(), key.to_string()))
}

/// The format of the cursors this server hands out. 2: keys and scores of the
/// in-memory catalog (times as RFC 3339, text compared by bytes, its own search
/// scores). Format 1 (no `v`) came from the SQL engine: its times were
/// PostgreSQL's text, its order the database collation's, its scores `ts_rank`'s.
pub const CURSOR_FORMAT: u32 = 2;

/// Where a page ended: its last row's sort keys and ref, under an order. The
/// serialized names are one letter each, to keep cursors short; a change of
/// what they mean is a new [`CURSOR_FORMAT`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ListCursor {
    #[serde(rename = "v")]
    pub format: u32,
    /// The order's signature, e.g. `name:asc`.
    #[serde(rename = "o")]
    pub order: String,
    /// The row's values of the order's keys, as text.
    #[serde(rename = "k")]
    pub sort_keys: Vec<String>,
    /// The row's ref, the tie-breaker.
    #[serde(rename = "r")]
    pub entity_ref: String,
}

impl ListCursor {
    pub fn new(order: String, sort_keys: Vec<String>, entity_ref: String) -> Self {
        ListCursor {
            format: CURSOR_FORMAT,
            order,
            sort_keys,
            entity_ref,
        }
    }
}

/// Where a page of search results ended (serialized names as for [`ListCursor`]).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SearchCursor {
    #[serde(rename = "v")]
    pub format: u32,
    /// The search text the score belongs to.
    #[serde(rename = "q")]
    pub query: String,
    /// The row's score.
    #[serde(rename = "s")]
    pub score: f64,
    /// The row's ref, the tie-breaker.
    #[serde(rename = "r")]
    pub entity_ref: String,
}

impl SearchCursor {
    pub fn new(query: String, score: f64, entity_ref: String) -> Self {
        SearchCursor {
            format: CURSOR_FORMAT,
            query,
            score,
            entity_ref,
        }
    }
}

pub fn encode_cursor<T: Serialize>(cursor: &T) -> String {
    // Serialising these plain structs cannot fail; an empty cursor would be refused later.
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(cursor).unwrap_or_default())
}

pub fn decode_cursor<T: for<'de> Deserialize<'de>>(cursor: &str) -> Result<T> {
    serde_json::from_value(cursor_json(cursor)?).map_err(|_| invalid_cursor())
}

/// A [`ListCursor`] or [`SearchCursor`]: refused unless it is of [`CURSOR_FORMAT`].
pub fn decode_page_cursor<T: for<'de> Deserialize<'de>>(cursor: &str) -> Result<T> {
    let value = cursor_json(cursor)?;
    let format = value.get("v").and_then(serde_json::Value::as_u64);
    if value.is_object() && format != Some(u64::from(CURSOR_FORMAT)) {
        return Err(ApiError::new(
            ErrorCode::InvalidCursor,
            "the cursor was made by another version of this server; ask for the first page again",
        ));
    }
    serde_json::from_value(value).map_err(|_| invalid_cursor())
}

fn invalid_cursor() -> ApiError {
    ApiError::new(
        ErrorCode::InvalidCursor,
        "the cursor is not one this query returned",
    )
}

fn cursor_json(cursor: &str) -> Result<serde_json::Value> {
    let bytes = URL_SAFE_NO_PAD
        .decode(cursor.trim())
        .map_err(|_| invalid_cursor())?;
    serde_json::from_slice(&bytes).map_err(|_| invalid_cursor())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip() {
        let id = encode_id("Component", "component:default/cart-service");
        assert_eq!(
            decode_id(&id).unwrap(),
            ("Component".into(), "component:default/cart-service".into())
        );
        assert!(decode_id("not base64!").is_err());
    }

    #[test]
    fn cursors_round_trip_and_refuse_garbage() {
        let cursor = SearchCursor::new("pay".into(), 1.234_567_890_123, "api:default/x".into());
        let back: SearchCursor = decode_page_cursor(&encode_cursor(&cursor)).unwrap();
        assert_eq!(back, cursor);
        let err = decode_page_cursor::<ListCursor>("Zm9v")
            .err()
            .map(|e| e.code());
        assert_eq!(err, Some(ErrorCode::InvalidCursor));
    }

    #[test]
    fn cursors_keep_their_one_letter_format_and_refuse_the_earlier_one() {
        let cursor = ListCursor::new(
            "name:asc".into(),
            vec!["cart".into()],
            "component:default/cart".into(),
        );
        let json = r#"{"v":2,"o":"name:asc","k":["cart"],"r":"component:default/cart"}"#;
        assert_eq!(serde_json::to_string(&cursor).unwrap(), json);
        assert_eq!(
            decode_page_cursor::<ListCursor>(&URL_SAFE_NO_PAD.encode(json)).unwrap(),
            cursor
        );
        let search = r#"{"v":2,"q":"pay","s":0.5,"r":"api:default/x"}"#;
        let back: SearchCursor = decode_page_cursor(&URL_SAFE_NO_PAD.encode(search)).unwrap();
        assert_eq!((back.query.as_str(), back.score), ("pay", 0.5));
        assert_eq!(serde_json::to_string(&back).unwrap(), search);
        // Format 1 (the SQL engine's) and an unknown later one are refused, with why.
        for old in [
            r#"{"o":"name:asc","k":["cart"],"r":"component:default/cart"}"#,
            r#"{"q":"pay","s":0.5,"r":"api:default/x"}"#,
            r#"{"v":3,"q":"pay","s":0.5,"r":"api:default/x"}"#,
        ] {
            let err = decode_page_cursor::<ListCursor>(&URL_SAFE_NO_PAD.encode(old)).unwrap_err();
            assert_eq!(err.code(), ErrorCode::InvalidCursor);
            assert!(
                err.client_message().contains("another version"),
                "{}",
                err.client_message()
            );
        }
    }
}
