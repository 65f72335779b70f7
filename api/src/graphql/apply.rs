//! The checks `applyEntities` makes on its input before it writes anything
//! (every pushed document must validate, expected versions must name pushed
//! entities), and the typed results of a push that `ingest` refused whole.
//! Ownership and expected versions are not checked here but by `ingest`, under
//! the append lock, in the transaction that appends: that is what makes a push
//! all or nothing also when two writers race.

use super::results::{
    ApplyConflict, ApplyEntitiesResult, ConflictSummary, DescriptorError, ExpectedVersion,
    InvalidDescriptors, VersionConflict, VersionMismatch,
};
use almanac_domain::{Candidate, EntityRef};
use almanac_ingest::{IngestError, ReadOutcome};
use std::collections::HashMap;

/// The errors of a push that cannot be applied as a whole, if any.
pub fn invalid_descriptors(outcome: &ReadOutcome) -> Option<InvalidDescriptors> {
    let mut errors: Vec<DescriptorError> = outcome
        .errors
        .iter()
        .map(|failure| DescriptorError {
            document: None,
            entity_ref: None,
            field: String::new(),
            message: failure.message.clone(),
        })
        .collect();
    let mut documents = 0;
    for file in &outcome.files {
        for (index, candidate) in file.candidates.iter().enumerate() {
            documents += 1;
            if let Candidate::Invalid {
                entity_ref,
                errors: invalid,
            } = candidate
            {
                errors.extend(invalid.0.iter().map(|e| DescriptorError {
                    document: i32::try_from(index).ok(),
                    entity_ref: entity_ref.as_ref().map(|r| r.canonical()),
                    field: e.field.clone(),
                    message: e.message.clone(),
                }));
            }
        }
    }
    if !errors.is_empty() {
        let message = format!(
            "{} error(s) in the pushed documents; nothing was applied",
            errors.len()
        );
        return Some(InvalidDescriptors { message, errors });
    }
    if documents == 0 {
        return Some(InvalidDescriptors {
            message: "the pushed text holds no documents".into(),
            errors: Vec::new(),
        });
    }
    None
}

/// Canonical refs of the valid pushed entities, in document order.
pub fn candidate_refs(outcome: &ReadOutcome) -> Vec<String> {
    outcome
        .files
        .iter()
        .flat_map(|f| f.candidates.iter())
        .filter_map(|c| match c {
            Candidate::Valid(entity) => Some(entity.entity_ref().canonical()),
            Candidate::Invalid { .. } => None,
        })
        .collect()
}

/// The expected versions of a push by canonical ref. Each must name an entity
/// the push holds, once; otherwise the push is refused as invalid.
pub fn expected_versions(
    inputs: &[ExpectedVersion],
    refs: &[String],
) -> std::result::Result<HashMap<String, i64>, InvalidDescriptors> {
    let mut expected = HashMap::new();
    let mut errors = Vec::new();
    for input in inputs {
        let error = |message: String| DescriptorError {
            document: None,
            entity_ref: Some(input.entity_ref.clone()),
            field: "expectedVersions".into(),
            message,
        };
        let canonical = match EntityRef::parse(input.entity_ref.trim(), None, "default") {
            Ok(parsed) => parsed.canonical(),
            Err(err) => {
                errors.push(error(err.to_string()));
                continue;
            }
        };
        if input.version < 0 {
            errors.push(error(format!(
                "expected version of {canonical} must be 0 or more, not {}",
                input.version
            )));
        } else if !refs.contains(&canonical) {
            errors.push(error(format!(
                "expected version given for {canonical}, which the pushed documents do not hold"
            )));
        } else if expected.insert(canonical.clone(), input.version).is_some() {
            errors.push(error(format!(
                "expected version given twice for {canonical}"
            )));
        }
    }
    if errors.is_empty() {
        return Ok(expected);
    }
    Err(InvalidDescriptors {
        message: format!(
            "{} error(s) in expectedVersions; nothing was applied",
            errors.len()
        ),
        errors,
    })
}

/// The result of a push that `ingest` refused as a whole, if it was refused.
pub fn refusal(error: &IngestError) -> Option<ApplyEntitiesResult> {
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
