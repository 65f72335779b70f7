//! Operational state as read models: registered locations, the processing
//! errors of the last read of each source, and entities two sources claim.
//!
//! Processing errors include the events the projector could not project
//! (`projection_failures`), under the source `projector`, so they show where users
//! already look: `processingErrors` and an entity's `errors`.

use super::{Catalog, CatalogError};
use crate::locations::{self, Location};
use chrono::{DateTime, Utc};

#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct ProcessingErrorRecord {
    pub source: String,
    pub entity_ref: Option<String>,
    pub message: String,
    pub recorded_at: DateTime<Utc>,
}

#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct ConflictRecord {
    pub entity_ref: String,
    pub existing_source: String,
    pub new_source: String,
    pub first_seen: DateTime<Utc>,
    pub last_seen: DateTime<Utc>,
}

/// The ingest's processing errors and the projector's failures (under the source
/// `projection::failures::PROJECTOR_SOURCE`), as one relation.
const ALL_ERRORS: &str = "SELECT source, entity_ref, message, recorded_at FROM processing_errors \
     UNION ALL SELECT 'projector', stream, message, recorded_at FROM projection_failures";

impl Catalog {
    pub async fn locations(&self) -> Result<Vec<Location>, CatalogError> {
        Ok(locations::all(&mut *self.reader().await?).await?)
    }

    pub async fn locations_by_id(&self, ids: &[String]) -> Result<Vec<Location>, CatalogError> {
        Ok(locations::by_ids(&mut *self.reader().await?, ids).await?)
    }

    /// Errors of the last reads, optionally of one source, newest first.
    pub async fn processing_errors(
        &self,
        source: Option<&str>,
        limit: i64,
    ) -> Result<Vec<ProcessingErrorRecord>, CatalogError> {
        Ok(sqlx::query_as(&format!(
            "SELECT source, entity_ref, message, recorded_at FROM ({ALL_ERRORS}) e \
             WHERE ($1::text IS NULL OR source = $1) \
             ORDER BY recorded_at DESC, source, entity_ref NULLS FIRST, message LIMIT $2"
        ))
        .bind(source)
        .bind(limit)
        .fetch_all(&mut *self.reader().await?)
        .await?)
    }

    /// The errors naming any of `refs` (canonical), for `Entity.errors`.
    pub async fn processing_errors_of(
        &self,
        refs: &[String],
    ) -> Result<Vec<ProcessingErrorRecord>, CatalogError> {
        Ok(sqlx::query_as(&format!(
            "SELECT source, entity_ref, message, recorded_at FROM ({ALL_ERRORS}) e \
             WHERE entity_ref = ANY($1) ORDER BY entity_ref, recorded_at DESC, message"
        ))
        .bind(refs)
        .fetch_all(&mut *self.reader().await?)
        .await?)
    }

    /// Every entity ref a processing error names (canonical, sorted): whose
    /// `errors` are not empty, for the `hasProcessingErrors` filter.
    pub async fn refs_with_processing_errors(&self) -> Result<Vec<String>, CatalogError> {
        Ok(sqlx::query_scalar(&format!(
            "SELECT DISTINCT entity_ref FROM ({ALL_ERRORS}) e \
             WHERE entity_ref IS NOT NULL ORDER BY entity_ref"
        ))
        .fetch_all(&mut *self.reader().await?)
        .await?)
    }

    pub async fn conflicts(&self, limit: i64) -> Result<Vec<ConflictRecord>, CatalogError> {
        Ok(sqlx::query_as(
            "SELECT entity_ref, existing_source, new_source, first_seen, last_seen FROM conflicts \
             ORDER BY last_seen DESC, entity_ref, new_source LIMIT $1",
        )
        .bind(limit)
        .fetch_all(&mut *self.reader().await?)
        .await?)
    }
}
