//! Opaque identifiers: Relay global ids and pagination cursors.
//!
//! Both are URL-safe base64 so that clients treat them as tokens, not as data
//! to take apart. A global id is `<GraphQL type>:<key>`; a cursor is a small
//! JSON document tied to the order it was made for, so a cursor from one order
//! is refused under another instead of silently skipping rows.

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

/// Where a page ended: its last row's sort keys and ref, under an order. The
/// serialized names are one letter each, to keep cursors short; they are the
/// format of every cursor handed out, so they do not change.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ListCursor {
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

/// Where a page of search results ended (serialized names as for [`ListCursor`]).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SearchCursor {
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

pub fn encode_cursor<T: Serialize>(cursor: &T) -> String {
    // Serialising these plain structs cannot fail; an empty cursor would be refused later.
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(cursor).unwrap_or_default())
}

pub fn decode_cursor<T: for<'de> Deserialize<'de>>(cursor: &str) -> Result<T> {
    let invalid = || {
        ApiError::new(
            ErrorCode::InvalidCursor,
            "the cursor is not one this query returned",
        )
    };
    let bytes = URL_SAFE_NO_PAD
        .decode(cursor.trim())
        .map_err(|_| invalid())?;
    serde_json::from_slice(&bytes).map_err(|_| invalid())
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
        let cursor = SearchCursor {
            query: "pay".into(),
            score: 1.234_567_890_123,
            entity_ref: "api:default/x".into(),
        };
        let back: SearchCursor = decode_cursor(&encode_cursor(&cursor)).unwrap();
        assert_eq!(back, cursor);
        let err = decode_cursor::<ListCursor>("Zm9v").err().map(|e| e.code());
        assert_eq!(err, Some(ErrorCode::InvalidCursor));
    }

    #[test]
    fn cursors_keep_their_one_letter_format() {
        let cursor = ListCursor {
            order: "name:asc".into(),
            sort_keys: vec!["cart".into()],
            entity_ref: "component:default/cart".into(),
        };
        let json = r#"{"o":"name:asc","k":["cart"],"r":"component:default/cart"}"#;
        assert_eq!(serde_json::to_string(&cursor).unwrap(), json);
        let old = URL_SAFE_NO_PAD.encode(json);
        assert_eq!(decode_cursor::<ListCursor>(&old).unwrap(), cursor);
        let search = r#"{"q":"pay","s":0.5,"r":"api:default/x"}"#;
        let back: SearchCursor = decode_cursor(&URL_SAFE_NO_PAD.encode(search)).unwrap();
        assert_eq!((back.query.as_str(), back.score), ("pay", 0.5));
        assert_eq!(serde_json::to_string(&back).unwrap(), search);
    }
}
