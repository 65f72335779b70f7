//! `validateEntities`: the checks a push makes, with nothing written
//! (Backstage's `validate-entity`). The document checks are the push's own
//! (`push::check_documents`, `push::expected_versions`); the claim and version
//! checks that `ingest` makes under the append lock are made here against the
//! operation's in-memory snapshot, so a push right after may still meet a
//! writer that came in between. `analyzeLocation` reads a location and asks
//! `almanac_ingest::analyze_location` what the read would change, against the
//! log's state (the same function a REST route may call). Neither touches the log.

use super::push;
use super::results::{
    count, ConflictSummary, DescriptorError, ExpectedVersion, IngestIssue, VersionMismatch,
};
use almanac_ingest::{ErrorReport, LocationAnalysis, ReadOutcome};
use almanac_readmodel::Snapshot;
use async_graphql::SimpleObject;
use std::collections::HashMap;

/// What a push of these documents would meet now; nothing was written.
#[derive(Clone, Debug, SimpleObject)]
pub struct EntityValidation {
    /// Whether a push of the same documents, source and expected versions
    /// would be applied (no errors, conflicts or version conflicts).
    pub valid: bool,
    /// Canonical refs of the valid documents' entities, in document order.
    pub refs: Vec<String>,
    /// Documents a push would refuse, by 0-based document index and field.
    pub errors: Vec<DescriptorError>,
    /// Entities another source manages (a push would be an `ApplyConflict`).
    pub conflicts: Vec<ConflictSummary>,
    /// Entities not at the expected version (a push would be a `VersionConflict`).
    pub version_conflicts: Vec<VersionMismatch>,
}

/// Every check of a push of `outcome` to the source `source_key` (`api:<name>`).
pub fn validate(
    snapshot: &Snapshot,
    outcome: &ReadOutcome,
    source_key: &str,
    expected: &[ExpectedVersion],
) -> EntityValidation {
    let refs = push::pushed_refs(outcome);
    let mut errors = Vec::new();
    if let Err(invalid) = push::check_documents(outcome) {
        if invalid.errors.is_empty() {
            // The text as a whole failed: say so, so `valid` cannot be true.
            errors.push(DescriptorError {
                document: None,
                entity_ref: None,
                field: String::new(),
                message: invalid.message,
            });
        } else {
            errors.extend(invalid.errors);
        }
    }
    let expected = push::expected_versions(expected, &refs).unwrap_or_else(|invalid| {
        errors.extend(invalid.errors);
        HashMap::new()
    });
    let mut conflicts = Vec::new();
    let mut version_conflicts = Vec::new();
    for entity_ref in &refs {
        let held = snapshot.entity(entity_ref);
        if let Some(entity) = held.filter(|e| e.source() != Some(source_key)) {
            conflicts.push(ConflictSummary {
                entity_ref: entity_ref.clone(),
                existing_source: entity.source().unwrap_or_default().to_string(),
                new_source: source_key.to_string(),
            });
        }
        if let Some(&wanted) = expected.get(entity_ref) {
            let actual = held.map_or(0, |e| e.version);
            if actual != wanted {
                version_conflicts.push(VersionMismatch {
                    entity_ref: entity_ref.clone(),
                    expected: wanted,
                    actual,
                });
            }
        }
    }
    EntityValidation {
        valid: errors.is_empty() && conflicts.is_empty() && version_conflicts.is_empty(),
        refs,
        errors,
        conflicts,
        version_conflicts,
    }
}

/// What reading a location would change now (Backstage's `analyze-location`);
/// nothing was registered or written.
#[derive(Clone, Debug, SimpleObject)]
pub struct LocationAnalysisResult {
    /// Location keys the read reached, sorted.
    pub files: Vec<String>,
    /// Canonical refs a read would register.
    pub register: Vec<String>,
    /// Canonical refs a read would update (or adopt, an orphan back in its file).
    pub update: Vec<String>,
    /// Canonical refs a read would remove (or keep as orphans, with
    /// `catalog.orphanStrategy: keep`).
    pub remove: Vec<String>,
    /// Entities the location holds as the catalog holds them.
    pub unchanged: i32,
    /// Documents a read would refuse, with why (invalid, a kind the rules refuse,
    /// a duplicate).
    pub rejected: Vec<IngestIssue>,
    /// Entities another location manages.
    pub conflicts: Vec<ConflictSummary>,
    /// Locations that could not be read at all.
    pub failures: Vec<IngestIssue>,
}

fn issue(report: ErrorReport) -> IngestIssue {
    IngestIssue {
        source: report.source,
        entity_ref: report.entity_ref,
        message: report.message,
    }
}

impl From<LocationAnalysis> for LocationAnalysisResult {
    fn from(analysis: LocationAnalysis) -> Self {
        LocationAnalysisResult {
            files: analysis.files,
            register: analysis.register,
            update: analysis.update,
            remove: analysis.remove,
            unchanged: count(analysis.unchanged),
            rejected: analysis.rejected.into_iter().map(issue).collect(),
            conflicts: analysis
                .conflicts
                .iter()
                .map(ConflictSummary::from)
                .collect(),
            failures: analysis.failures.into_iter().map(issue).collect(),
        }
    }
}
