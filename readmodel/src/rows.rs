//! Relation rows as the snapshot holds them: with two of their four refs implied by where
//! they are held, and read back as whole rows through a borrowed view.
//!
//! Every row of the `relations` table has the declaring entity at one end. A row with it
//! as source is held in that entity's `declared` (source and declaring entity: the
//! entity); any other row is the inverse of one of those, held in the relation index
//! under its source (declaring entity: its target). So a held row is its type, field and
//! target: 24 bytes where a [`RelationRow`] takes 56 (three refs). This module does not
//! decide which rows exist (`entity::relation_rows` does, through `almanac_domain`).

use std::cmp::Ordering;
use std::sync::Arc;

use almanac_domain::relations::RelationType;

use crate::entity::{RelationField, RelationRow};

/// A relation row held under its source, by the entity at one of its ends (see the
/// module doc): which end declared it is known from where it is held.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct HeldRow {
    pub relation: RelationType,
    pub field: RelationField,
    pub target_ref: Arc<str>,
}

impl HeldRow {
    /// Order within one source, whichever end declared the rows (the declaring entity is
    /// then the same for all, or the target): by type as spelled, target, field as spelled.
    fn key(&self) -> (&str, &str, &str) {
        (
            self.relation.as_str(),
            &self.target_ref,
            self.field.as_str(),
        )
    }

    /// The whole row, read with its source and declaring entity.
    pub(crate) fn view<'a>(
        &'a self,
        source_ref: &'a Arc<str>,
        declared_by: &'a Arc<str>,
    ) -> RowRef<'a> {
        RowRef {
            source_ref,
            relation: self.relation,
            target_ref: &self.target_ref,
            declared_by,
            field: self.field,
        }
    }
}

impl Ord for HeldRow {
    fn cmp(&self, other: &Self) -> Ordering {
        self.key().cmp(&other.key())
    }
}

impl PartialOrd for HeldRow {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// One row of `relations`, borrowed from the snapshot: what [`RelationRow`] holds, as
/// references. Orders as [`RelationRow`] does (source, type as spelled, target, declaring
/// entity, field as spelled).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct RowRef<'a> {
    pub source_ref: &'a Arc<str>,
    pub relation: RelationType,
    pub target_ref: &'a Arc<str>,
    pub declared_by: &'a Arc<str>,
    /// The spec field that declared it, e.g. `spec.owner`.
    pub field: RelationField,
}

impl RowRef<'_> {
    /// The row, owned.
    pub fn to_row(&self) -> RelationRow {
        RelationRow {
            source_ref: self.source_ref.clone(),
            relation: self.relation,
            target_ref: self.target_ref.clone(),
            declared_by: self.declared_by.clone(),
            field: self.field,
        }
    }

    fn key(&self) -> (&str, &str, &str, &str, &str) {
        (
            self.source_ref,
            self.relation.as_str(),
            self.target_ref,
            self.declared_by,
            self.field.as_str(),
        )
    }
}

impl Ord for RowRef<'_> {
    fn cmp(&self, other: &Self) -> Ordering {
        self.key().cmp(&other.key())
    }
}

impl PartialOrd for RowRef<'_> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
