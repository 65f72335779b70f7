//! Loading entity rows by canonical ref, and the column lists of the catalog's entity
//! reads. The row itself ([`EntityRecord`]) is declared with the table's other columns in
//! `crate::entity_row`.

use super::{Catalog, CatalogError};
pub use crate::entity_row::EntityRecord;

/// `e.ref, e.uid, ...` for a query that joins `entities` as `alias`.
pub(crate) fn columns(alias: &str) -> String {
    EntityRecord::COLUMNS
        .iter()
        .map(|c| format!("{alias}.{c}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `ref, uid, ...` without an alias.
pub(crate) fn bare_columns() -> String {
    EntityRecord::COLUMNS.join(", ")
}

impl Catalog {
    /// The live entities among `refs` (canonical); missing ones are absent.
    pub async fn entities_by_ref(
        &self,
        refs: &[String],
    ) -> Result<Vec<EntityRecord>, CatalogError> {
        if refs.is_empty() {
            return Ok(Vec::new());
        }
        let sql = format!(
            "SELECT {} FROM entities e WHERE e.ref = ANY($1)",
            columns("e")
        );
        Ok(sqlx::query_as(&sql)
            .bind(refs)
            .fetch_all(&mut *self.reader().await?)
            .await?)
    }
}

impl Catalog {
    /// The stored descriptor of a live entity as JSON text, with the version it is
    /// at: what the API reads when the in-memory catalog holds the entity elided (one
    /// row, one column, no derived fields). `None` when there is no such row.
    pub async fn entity_descriptor(
        &self,
        entity_ref: &str,
    ) -> Result<Option<(i64, String)>, CatalogError> {
        Ok(
            sqlx::query_as("SELECT version, descriptor::text FROM entities WHERE ref = $1")
                .bind(entity_ref)
                .fetch_optional(&mut *self.reader().await?)
                .await?,
        )
    }
}
