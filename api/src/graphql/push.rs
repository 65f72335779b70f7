//! A push's checks as GraphQL results. What refuses a push is decided in
//! `domain::decide::push` (every pushed document must validate, expected versions
//! must name pushed entities); this module hands it the read documents and turns
//! its refusals, and those of a push `ingest` refused whole, into the members of
//! `ApplyEntitiesResult`. Ownership and expected versions against the catalog are
//! not checked here but by `ingest`, under the append lock, in the transaction that
//! appends: that is what makes a push all or nothing also when two writers race.
//! Who may push to a source is authorisation (`auth.rs`), not a decision here.

use super::results::{
    ApplyConflict, ApplyEntitiesResult, ConflictSummary, DescriptorError, ExpectedVersion,
    InvalidDescriptors, VersionConflict, VersionMismatch,
};
use almanac_domain::decide::{self, InvalidPush};
use almanac_domain::Candidate;
use almanac_ingest::{IngestError, ReadOutcome};
use std::collections::HashMap;

fn documents(outcome: &ReadOutcome) -> impl Iterator<Item = &[Candidate]> {
    outcome.files.iter().map(|f| f.candidates.as_slice())
}

/// Refuses a push whose documents cannot be applied as a whole.
pub fn check_documents(outcome: &ReadOutcome) -> Result<(), InvalidDescriptors> {
    let failures = outcome.errors.iter().map(|f| f.message.as_str());
    decide::check_documents(failures, documents(outcome)).map_err(InvalidDescriptors::from)
}

/// Canonical refs of the valid pushed entities, in document order.
pub fn pushed_refs(outcome: &ReadOutcome) -> Vec<String> {
    decide::pushed_refs(documents(outcome))
}

/// The expected versions of a push by canonical ref. Each must name an entity
/// the push holds, once; otherwise the push is refused as invalid.
pub fn expected_versions(
    inputs: &[ExpectedVersion],
    refs: &[String],
) -> std::result::Result<HashMap<String, i64>, InvalidDescriptors> {
    let inputs = inputs.iter().map(|i| (i.entity_ref.as_str(), i.version));
    decide::expected_versions(inputs, refs).map_err(InvalidDescriptors::from)
}

impl From<InvalidPush> for InvalidDescriptors {
    fn from(refused: InvalidPush) -> Self {
        InvalidDescriptors {
            message: refused.message,
            errors: refused
                .errors
                .into_iter()
                .map(|e| DescriptorError {
                    document: e.document.and_then(|d| i32::try_from(d).ok()),
                    entity_ref: e.entity_ref,
                    field: e.field,
                    message: e.message,
                })
                .collect(),
        }
    }
}

/// The result of a push that `ingest` refused as a whole, if it was refused.
pub fn refused_push(error: &IngestError) -> Option<ApplyEntitiesResult> {
    match error {
        IngestError::Claimed(conflicts) => {
            Some(ApplyEntitiesResult::ApplyConflict(ApplyConflict {
                message: "another source manages some of these entities; nothing was applied"
                    .into(),
                conflicts: conflicts.iter().map(ConflictSummary::from).collect(),
            }))
        }
        IngestError::VersionConflict(mismatches) => {
            Some(ApplyEntitiesResult::VersionConflict(VersionConflict {
                message: format!(
                    "{} entities are not at the expected version; nothing was applied",
                    mismatches.len()
                ),
                conflicts: mismatches
                    .iter()
                    .map(|m| VersionMismatch {
                        entity_ref: m.entity_ref.clone(),
                        expected: m.expected,
                        actual: m.actual,
                    })
                    .collect(),
            }))
        }
        IngestError::Conflict(detail) => Some(ApplyEntitiesResult::ApplyConflict(ApplyConflict {
            message: format!("another writer changed these entities; try again ({detail})"),
            conflicts: Vec::new(),
        })),
        _ => None,
    }
}
