//! Registered locations, read from the `locations` projection: the one read type
//! ([`Location`]) and the one place its statements live, for ingest (find, list)
//! and for the catalog's `operational` reads (run on the request's reader). The
//! projector writes the table. It does not read what a location holds.

use crate::StoreError;
use chrono::{DateTime, Utc};
use sqlx::{PgExecutor, PgPool};

/// A registered location, as projected.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct Location {
    /// Stable id, derived from type and target.
    pub id: String,
    #[sqlx(rename = "type")]
    pub location_type: String,
    pub target: String,
    /// The actor that added it.
    pub added_by: String,
    pub added_at: DateTime<Utc>,
}

const SELECT: &str = "SELECT id, type, target, added_by, added_at FROM locations";

/// Every registered location, oldest first.
pub(crate) async fn all<'e>(executor: impl PgExecutor<'e>) -> Result<Vec<Location>, sqlx::Error> {
    sqlx::query_as(&format!("{SELECT} ORDER BY added_at, id"))
        .fetch_all(executor)
        .await
}

/// The registered locations among `ids`, in no particular order.
pub(crate) async fn by_ids<'e>(
    executor: impl PgExecutor<'e>,
    ids: &[String],
) -> Result<Vec<Location>, sqlx::Error> {
    sqlx::query_as(&format!("{SELECT} WHERE id = ANY($1)"))
        .bind(ids)
        .fetch_all(executor)
        .await
}

pub async fn find(pool: &PgPool, id: &str) -> Result<Option<Location>, StoreError> {
    Ok(by_ids(pool, &[id.to_string()]).await?.into_iter().next())
}

pub async fn list(pool: &PgPool) -> Result<Vec<Location>, StoreError> {
    Ok(all(pool).await?)
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
