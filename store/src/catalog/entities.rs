//! One entity row as the API reads it, and loading rows by canonical ref.

use super::{Catalog, CatalogError};
use chrono::{DateTime, Utc};
use serde_json::Value;
use uuid::Uuid;

/// The columns of [`EntityRecord`], in order, without a table alias.
const COLUMNS: [&str; 19] = [
    "ref",
    "uid",
    "kind",
    "namespace",
    "name",
    "title",
    "description",
    "spec_type",
    "lifecycle",
    "owner_ref",
    "tags",
    "labels",
    "annotations",
    "descriptor",
    "source",
    "origin",
    "version",
    "created_at",
    "updated_at",
];

/// `e.ref, e.uid, ...` for a query that joins `entities` as `alias`.
pub(crate) fn columns(alias: &str) -> String {
    COLUMNS
        .iter()
        .map(|c| format!("{alias}.{c}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `ref, uid, ...` without an alias.
pub(crate) fn bare_columns() -> String {
    COLUMNS.join(", ")
}

#[derive(Clone, Debug, PartialEq, sqlx::FromRow)]
pub struct EntityRecord {
    /// Canonical, lower-case `kind:namespace/name`.
    #[sqlx(rename = "ref")]
    pub entity_ref: String,
    pub uid: Uuid,
    /// As written (`Component`, `API`, a custom kind).
    pub kind: String,
    pub namespace: String,
    pub name: String,
    pub title: Option<String>,
    pub description: Option<String>,
    pub spec_type: Option<String>,
    pub lifecycle: Option<String>,
    pub owner_ref: Option<String>,
    pub tags: Vec<String>,
    pub labels: Value,
    pub annotations: Value,
    pub descriptor: Value,
    pub source: Option<String>,
    pub origin: Option<String>,
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
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
