//! The checks `applyEntities` makes before it writes anything: every pushed
//! document must validate, and none may name an entity another source manages.
//! Together they make a push all or nothing in the usual case.

use super::results::{ApplyConflict, ConflictSummary, DescriptorError, InvalidDescriptors};
use crate::error::Result;
use almanac_domain::Candidate;
use almanac_ingest::ReadOutcome;
use almanac_store::catalog::Catalog;

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

/// The pushed entities that a different source already manages.
pub async fn claimed_elsewhere(
    catalog: &Catalog,
    refs: &[String],
    key: &str,
) -> Result<Option<ApplyConflict>> {
    let existing = catalog.entities_by_ref(refs).await?;
    let conflicts: Vec<ConflictSummary> = existing
        .into_iter()
        .filter_map(|row| {
            let source = row.source?;
            (source != key).then(|| ConflictSummary {
                entity_ref: row.entity_ref,
                existing_source: source,
                new_source: key.to_string(),
            })
        })
        .collect();
    Ok((!conflicts.is_empty()).then(|| ApplyConflict {
        message: "another source manages some of these entities; nothing was applied".into(),
        conflicts,
    }))
}
