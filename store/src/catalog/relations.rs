//! One declared relation as a row: what time travel shows an entity as it was
//! declaring (`projection::rows::declared_rows`). No table holds relations since
//! migration 0008; every hop reads the in-memory snapshot.

use crate::stored_relation::StoredRelation;
use almanac_domain::RelationType;
use sqlx::postgres::PgRow;
use sqlx::Row;

/// One declaration of an edge, with the entity and the field that declared it.
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
    /// The columns of the row, in [`RelationRecord`]'s order (the `relations` table's
    /// before migration 0008; kept for rows read from SQL, e.g. a query over `unnest`).
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
