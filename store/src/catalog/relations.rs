//! Relation hops in batches: every edge leaving a set of entities, in one
//! statement, from `relation_edges` (one row per `(source, type, target)`,
//! both directions stored, so inverses declared by others are included).

use super::{Catalog, CatalogError};
use crate::stored_relation::StoredRelation;
use almanac_domain::RelationType;
use sqlx::postgres::PgRow;
use sqlx::Row;

/// One declaration of an edge: a row of `relations` as the projector writes it and the
/// catalog reads it (from `relation_edges`, which has the same columns).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RelationRecord {
    pub source_ref: String,
    pub relation: RelationType,
    pub target_ref: String,
    /// The entity whose descriptor declared the edge.
    pub declared_by: String,
    /// The spec field that declared it (`spec.owner`, `spec.members`, ...).
    pub field: String,
}

impl RelationRecord {
    /// The columns of `relations` and `relation_edges`, in [`RelationRecord`]'s order.
    pub const COLUMNS: &'static str = "source_ref, type, target_ref, declared_by, field";
}

impl<'r> sqlx::FromRow<'r, PgRow> for RelationRecord {
    fn from_row(row: &'r PgRow) -> Result<Self, sqlx::Error> {
        Ok(RelationRecord {
            source_ref: row.try_get("source_ref")?,
            relation: row.try_get::<StoredRelation, _>("type")?.0,
            target_ref: row.try_get("target_ref")?,
            declared_by: row.try_get("declared_by")?,
            field: row.try_get("field")?,
        })
    }
}

impl Catalog {
    /// Every edge whose source is one of `sources`, ordered by source, type, target.
    pub async fn relations_from(
        &self,
        sources: &[String],
    ) -> Result<Vec<RelationRecord>, CatalogError> {
        if sources.is_empty() {
            return Ok(Vec::new());
        }
        Ok(sqlx::query_as(&format!(
            "SELECT {} FROM relation_edges \
             WHERE source_ref = ANY($1) ORDER BY source_ref, type, target_ref",
            RelationRecord::COLUMNS
        ))
        .bind(sources)
        .fetch_all(&mut *self.reader().await?)
        .await?)
    }
}
