//! Mutation results. Expected failures (invalid descriptors, not found,
//! conflicts, bad input) are members of each result union, not entries in the
//! `errors` array, which stays for the unexpected.

use super::entity::Entity;
use super::operational::CatalogLocation;
use almanac_ingest::{ConflictReport, IngestReport};
use async_graphql::{InputObject, SimpleObject, Union, ID};

#[derive(Clone, Debug, Union)]
pub enum ApplyEntitiesResult {
    ApplySuccess(ApplySuccess),
    InvalidDescriptors(InvalidDescriptors),
    ApplyConflict(ApplyConflict),
    VersionConflict(VersionConflict),
}

#[derive(Clone, Debug, Union)]
pub enum DeleteEntityResult {
    DeleteSuccess(DeleteSuccess),
    NotFound(NotFound),
    InvalidInput(InvalidInput),
}

#[derive(Clone, Debug, Union)]
pub enum AddLocationResult {
    AddLocationSuccess(LocationSuccess),
    InvalidInput(InvalidInput),
}

#[derive(Clone, Debug, Union)]
pub enum RemoveLocationResult {
    RemoveLocationSuccess(RemoveLocationSuccess),
    NotFound(NotFound),
    InvalidInput(InvalidInput),
}

#[derive(Clone, Debug, Union)]
pub enum RefreshLocationResult {
    RefreshLocationSuccess(LocationSuccess),
    NotFound(NotFound),
    InvalidInput(InvalidInput),
}

/// The pushed documents are in the catalog, and visible to the next query.
#[derive(Clone, Debug, SimpleObject)]
pub struct ApplySuccess {
    /// The location key the documents now belong to (`api:<name>`).
    pub source: String,
    pub registered: i32,
    pub updated: i32,
    pub unchanged: i32,
    /// The entities pushed, as they are now.
    pub entities: Vec<Entity>,
}

/// Nothing was applied: at least one document is not a valid descriptor.
#[derive(Clone, Debug, SimpleObject)]
pub struct InvalidDescriptors {
    pub message: String,
    pub errors: Vec<DescriptorError>,
}

#[derive(Clone, Debug, SimpleObject)]
pub struct DescriptorError {
    /// 0-based index of the YAML document; null when the text as a whole failed.
    pub document: Option<i32>,
    /// The ref the document names, when it can be read.
    pub entity_ref: Option<String>,
    /// The offending field's path (`spec.owner`); empty for the whole document.
    pub field: String,
    pub message: String,
}

/// Another source already manages some of these entities (or another writer
/// changed them at the same moment). Nothing of theirs was changed.
#[derive(Clone, Debug, SimpleObject)]
pub struct ApplyConflict {
    pub message: String,
    pub conflicts: Vec<ConflictSummary>,
}

#[derive(Clone, Debug, SimpleObject)]
pub struct ConflictSummary {
    pub entity_ref: String,
    pub existing_source: String,
    pub new_source: String,
}

impl From<&ConflictReport> for ConflictSummary {
    fn from(c: &ConflictReport) -> Self {
        ConflictSummary {
            entity_ref: c.entity_ref.clone(),
            existing_source: c.existing_source.clone(),
            new_source: c.new_source.clone(),
        }
    }
}

/// The version a push expects an entity to be at (`0`: not in the catalog).
#[derive(Clone, Debug, InputObject)]
pub struct ExpectedVersion {
    #[graphql(name = "ref")]
    pub entity_ref: String,
    pub version: i64,
}

/// Some entities are not at the version the push expected (another writer
/// changed them since they were read). Nothing was applied.
#[derive(Clone, Debug, SimpleObject)]
pub struct VersionConflict {
    pub message: String,
    pub conflicts: Vec<VersionMismatch>,
}

#[derive(Clone, Debug, SimpleObject)]
pub struct VersionMismatch {
    #[graphql(name = "ref")]
    pub entity_ref: String,
    pub expected: i64,
    /// The entity's version now; 0 when it is not in the catalog.
    pub actual: i64,
}

#[derive(Clone, Debug, SimpleObject)]
pub struct DeleteSuccess {
    /// The deleted entity's global id, as it was cached (Relay's `@deleteRecord`).
    pub id: ID,
    #[graphql(name = "ref")]
    pub entity_ref: String,
}

#[derive(Clone, Debug, SimpleObject)]
pub struct NotFound {
    pub message: String,
}

/// An argument is malformed (a ref that does not parse, an unsupported location type).
#[derive(Clone, Debug, SimpleObject)]
pub struct InvalidInput {
    pub field: String,
    pub message: String,
}

#[derive(Clone, Debug, SimpleObject)]
pub struct LocationSuccess {
    pub location: Option<CatalogLocation>,
    pub summary: IngestSummary,
}

#[derive(Clone, Debug, SimpleObject)]
pub struct RemoveLocationSuccess {
    /// The removed location's global id.
    pub id: ID,
    /// Its location id (what `id` held before it became a global id).
    pub location_id: String,
    /// Entities removed with it.
    pub removed_entities: i32,
}

/// What one read changed.
#[derive(Clone, Debug, SimpleObject)]
pub struct IngestSummary {
    pub registered: i32,
    pub updated: i32,
    pub removed: i32,
    pub unchanged: i32,
    pub errors: Vec<IngestIssue>,
    pub conflicts: Vec<ConflictSummary>,
}

#[derive(Clone, Debug, SimpleObject)]
pub struct IngestIssue {
    pub source: String,
    pub entity_ref: Option<String>,
    pub message: String,
}

pub fn count(n: usize) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

impl From<&IngestReport> for IngestSummary {
    fn from(report: &IngestReport) -> Self {
        IngestSummary {
            registered: count(report.registered),
            updated: count(report.updated),
            removed: count(report.removed),
            unchanged: count(report.unchanged),
            errors: report
                .errors
                .iter()
                .map(|e| IngestIssue {
                    source: e.source.clone(),
                    entity_ref: e.entity_ref.clone(),
                    message: e.message.clone(),
                })
                .collect(),
            conflicts: report.conflicts.iter().map(ConflictSummary::from).collect(),
        }
    }
}

impl InvalidInput {
    pub fn new(field: &str, message: impl Into<String>) -> Self {
        InvalidInput {
            field: field.to_string(),
            message: message.into(),
        }
    }
}
