//! The row of `relations` (and of the `relation_edges` view) as the projector
//! writes it and readers see it. No hop reads it here: the API reads relations
//! from the in-memory snapshot.

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
