//! Row fingerprints: which live `entities` rows already equal a replay's rebuild, found
//! without sending the rebuild to the server. The server hashes each live row's text
//! (every column as text, `quote_nullable`d, joined by commas, SHA-256), the replay hashes
//! the same text of each rebuilt row; only rows whose hashes differ are loaded and written.
//!
//! Equal hashes mean equal rows: each column's text determines its value (a `json`'s text
//! is what the projector wrote, serde_json's compact text by every write path, a
//! timestamp's is written to the microsecond in UTC), and the quoting keeps column
//! boundaries and NULLs apart. Where the text here cannot match the server's (a `json` value
//! converted from `jsonb` by migration 0016 keeps `jsonb`'s text, say), the row counts as
//! different and is rewritten: slower, never wrong. It does not compare rows for
//! `replay --verify` (that compares with `EXCEPT`, on the server), and it hashes nothing of
//! `locations` or `projection_failures` (small: replaced whole).

use crate::entity_row::EntityRow;
use sha2::{Digest, Sha256};
use sqlx::PgPool;
use std::collections::HashMap;

/// A row's SHA-256.
pub(super) type Fingerprint = [u8; 32];

/// The fingerprint of every row of `table`, by ref, read on a connection of its own.
pub(super) async fn of_table(
    pool: &PgPool,
    table: &str,
) -> Result<HashMap<String, Fingerprint>, sqlx::Error> {
    let texts: Vec<String> = EntityRow::text_sql()
        .iter()
        .map(|text| format!("quote_nullable({text})"))
        .collect();
    let key = EntityRow::COLUMNS[0];
    // Outside a transaction (it reads the table once: one snapshot either way), so the
    // session is never left idle in one. One pass over the table: compiling it (JIT) costs
    // more than running it.
    let mut conn = pool.acquire().await?;
    sqlx::query("SET jit = off").execute(&mut *conn).await?;
    let rows: Vec<(String, Vec<u8>)> = sqlx::query_as(&format!(
        "SELECT {key}, sha256(convert_to(concat_ws(',', {}), 'UTF8')) FROM {table}",
        texts.join(", ")
    ))
    .fetch_all(&mut *conn)
    .await?;
    sqlx::query("RESET jit").execute(&mut *conn).await?;
    Ok(rows
        .into_iter()
        .filter_map(|(key, hash)| Some((key, hash.try_into().ok()?)))
        .collect())
}

/// What [`of_table`] reads for `row` (`scratch` and `text` are working space).
pub(super) fn of_row(row: &EntityRow, scratch: &mut String, text: &mut String) -> Fingerprint {
    text.clear();
    row.quoted_texts(scratch, text);
    Sha256::digest(text.as_bytes()).into()
}

/// Writes `text` with each byte `special` picks replaced by what `escape` writes, and the
/// runs between them copied whole (a character at a time was most of a replay's hashing).
/// Only ASCII bytes may be special, so every run is whole characters.
pub(crate) fn escaped(
    text: &str,
    out: &mut String,
    special: impl Fn(u8) -> bool,
    escape: impl Fn(u8, &mut String),
) {
    let mut start = 0;
    for (i, byte) in text.bytes().enumerate() {
        if special(byte) {
            debug_assert!(byte.is_ascii());
            out.push_str(&text[start..i]);
            escape(byte, out);
            start = i + 1;
        }
    }
    out.push_str(&text[start..]);
}

/// PostgreSQL's `quote_nullable`: `NULL`, or the text between single quotes with quotes and
/// backslashes doubled, after an `E` when it holds a backslash.
pub(crate) fn quote_nullable(text: Option<&str>, out: &mut String) {
    let Some(text) = text else {
        out.push_str("NULL");
        return;
    };
    if text.contains('\\') {
        out.push('E');
    }
    out.push('\'');
    escaped(
        text,
        out,
        |b| b == b'\'' || b == b'\\',
        |b, out| {
            out.push(b as char);
            out.push(b as char);
        },
    );
    out.push('\'');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quote_nullable_doubles_quotes_and_marks_backslashes() {
        let mut out = String::new();
        quote_nullable(Some("it's"), &mut out);
        out.push(',');
        quote_nullable(Some(r"a\b"), &mut out);
        out.push(',');
        quote_nullable(None, &mut out);
        assert_eq!(out, r"'it''s',E'a\\b',NULL");
    }
}
