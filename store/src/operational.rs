//! Operational state written with each read, in the same transaction as its
//! events: what each source could not accept, and which entities two sources claim.
//! Not history: the next read replaces it. The one writer of `processing_errors` and
//! `conflicts`; the catalog's `operational` module reads them.

use crate::{StoreError, Tx};
use almanac_domain::Conflict;

pub struct ErrorRow {
    pub source: String,
    pub entity_ref: Option<String>,
    pub message: String,
}

/// `sources` are every source read or failed: their errors and conflicts are replaced
/// (a failure's text is one of `errors`). A conflict
/// is recorded by canonical ref, an existing claim without a source as `''`.
pub async fn record_read(
    tx: &mut Tx,
    sources: &[String],
    errors: &[ErrorRow],
    conflicts: &[Conflict],
) -> Result<(), StoreError> {
    let conn = tx.conn();
    sqlx::query("DELETE FROM processing_errors WHERE source = ANY($1)")
        .bind(sources)
        .execute(&mut *conn)
        .await?;
    if !errors.is_empty() {
        sqlx::query(
            "INSERT INTO processing_errors (source, entity_ref, message, recorded_at) \
             SELECT s, r, m, now() FROM unnest($1::text[], $2::text[], $3::text[]) AS x(s, r, m)",
        )
        .bind(errors.iter().map(|e| e.source.as_str()).collect::<Vec<_>>())
        .bind(
            errors
                .iter()
                .map(|e| e.entity_ref.as_deref())
                .collect::<Vec<_>>(),
        )
        .bind(
            errors
                .iter()
                .map(|e| e.message.as_str())
                .collect::<Vec<_>>(),
        )
        .execute(&mut *conn)
        .await?;
    }

    // Conflicts no longer seen are resolved; the rest keep their first_seen.
    let refs: Vec<String> = conflicts.iter().map(|c| c.entity_ref.canonical()).collect();
    let new_sources: Vec<&str> = conflicts.iter().map(|c| c.new_source.as_str()).collect();
    sqlx::query(
        "DELETE FROM conflicts WHERE new_source = ANY($1) AND (entity_ref, new_source) NOT IN \
         (SELECT * FROM unnest($2::text[], $3::text[]))",
    )
    .bind(sources)
    .bind(&refs)
    .bind(&new_sources)
    .execute(&mut *conn)
    .await?;
    if !conflicts.is_empty() {
        sqlx::query(
            "INSERT INTO conflicts (entity_ref, existing_source, new_source, first_seen, last_seen) \
             SELECT r, e, n, now(), now() FROM unnest($1::text[], $2::text[], $3::text[]) AS x(r, e, n) \
             ON CONFLICT (entity_ref, new_source) DO UPDATE \
               SET existing_source = EXCLUDED.existing_source, last_seen = EXCLUDED.last_seen",
        )
        .bind(&refs)
        .bind(
            conflicts
                .iter()
                .map(|c| c.existing_source.as_deref().unwrap_or_default())
                .collect::<Vec<_>>(),
        )
        .bind(&new_sources)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}
