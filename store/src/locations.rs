//! Registered locations as ingest needs them (id, type, target), read from the
//! `locations` projection. The projector writes the table; this module and the
//! catalog's `operational` read it. It does not read what a location holds.

use crate::StoreError;
use sqlx::PgPool;

/// A registered location, as projected.
#[derive(Clone, Debug, PartialEq, sqlx::FromRow)]
pub struct Location {
    pub id: String,
    #[sqlx(rename = "type")]
    pub location_type: String,
    pub target: String,
}

pub async fn find(pool: &PgPool, id: &str) -> Result<Option<Location>, StoreError> {
    Ok(
        sqlx::query_as("SELECT id, type, target FROM locations WHERE id = $1")
            .bind(id)
            .fetch_optional(pool)
            .await?,
    )
}

pub async fn list(pool: &PgPool) -> Result<Vec<Location>, StoreError> {
    Ok(
        sqlx::query_as("SELECT id, type, target FROM locations ORDER BY added_at, id")
            .fetch_all(pool)
            .await?,
    )
}

/// The live entities read through `origin`: (ref, version), by ref.
pub async fn entities_of_origin(
    pool: &PgPool,
    origin: &str,
) -> Result<Vec<(String, i64)>, StoreError> {
    Ok(
        sqlx::query_as("SELECT ref, version FROM entities WHERE origin = $1 ORDER BY ref")
            .bind(origin)
            .fetch_all(pool)
            .await?,
    )
}
