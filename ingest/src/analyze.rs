//! `analyze_location`: what reading a location would register, update, remove and
//! reject, with the reasons, and nothing written (Backstage's `analyze-location`).
//!
//! It reads the location as a read would (the ingestor's limits, reading policy and
//! kind rules), loads the current state of what it touches in a transaction that is
//! never committed and takes no lock, and asks `domain::decide` per file, as the
//! reconciler does. A write right after may still meet a writer that came in between.
//! It does not judge who may ask (the API does) and does not look at files of the
//! origin that this read no longer reaches (their removal is reported by the read).

use serde::Serialize;

use crate::reconcile::{advance, all_identified, candidate_refs, claims};
use crate::{operations, state, ConflictReport, ErrorReport, IngestError, Ingestor, ReadOutcome};
use almanac_domain::{decide, CatalogEvent, DecideOptions};

/// What a read of one location would do now.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct LocationAnalysis {
    /// Location keys read, sorted.
    pub files: Vec<String>,
    /// Canonical refs a read would register, update, or remove (or orphan, with
    /// `orphanStrategy: keep`); each sorted.
    pub register: Vec<String>,
    pub update: Vec<String>,
    pub remove: Vec<String>,
    /// Entities the location holds as the catalog holds them.
    pub unchanged: usize,
    /// Documents refused, with why (invalid, refused kind, duplicate).
    pub rejected: Vec<ErrorReport>,
    /// Entities another location manages.
    pub conflicts: Vec<ConflictReport>,
    /// Locations that could not be read at all.
    pub failures: Vec<ErrorReport>,
}

/// Reads the location `location_type`/`target` (as `addLocation` would) and says what
/// the read would change; writes nothing.
pub async fn analyze_location(
    ingestor: &Ingestor,
    location_type: &str,
    target: &str,
) -> Result<LocationAnalysis, IngestError> {
    let source = operations::location_source(location_type, target)?;
    let outcome = ingestor.read(std::slice::from_ref(&source)).await;
    analyze(ingestor, &outcome).await
}

/// What reconciling `outcome` would do now; writes nothing.
pub async fn analyze(
    ingestor: &Ingestor,
    outcome: &ReadOutcome,
) -> Result<LocationAnalysis, IngestError> {
    let keys: Vec<String> = outcome.files.iter().map(|f| f.key.clone()).collect();
    let named: Vec<Vec<String>> = outcome
        .files
        .iter()
        .map(|f| candidate_refs(&f.candidates))
        .collect();
    let all_named: Vec<String> = named.iter().flatten().cloned().collect();
    let mut map = {
        // Never committed: dropping it rolls back a transaction that wrote nothing.
        let mut tx = ingestor.log().begin().await?;
        state::load(&mut tx, &keys, &all_named).await?
    };
    let claimed = claims(&map);
    let mut analysis = LocationAnalysis {
        files: keys.clone(),
        ..LocationAnalysis::default()
    };
    for (file, named) in outcome.files.iter().zip(&named) {
        let mine = claimed
            .get(file.key.as_str())
            .map(Vec::as_slice)
            .unwrap_or(&[]);
        let slice = state::for_source(&map, mine, named);
        let decision = decide(
            &file.key,
            &file.candidates,
            &slice,
            DecideOptions {
                remove_missing: all_identified(&file.candidates),
                orphans: ingestor.reconciler().orphans,
            },
        );
        analysis.unchanged += decision.unchanged;
        for pending in &decision.appends {
            let list = match pending.event {
                CatalogEvent::EntityRegistered { .. } => &mut analysis.register,
                CatalogEvent::EntityUpdated { .. } | CatalogEvent::EntityAdopted { .. } => {
                    &mut analysis.update
                }
                _ => &mut analysis.remove,
            };
            list.push(pending.stream.clone());
            advance(&mut map, pending);
        }
        analysis
            .rejected
            .extend(decision.errors.into_iter().map(|error| ErrorReport {
                source: file.key.clone(),
                entity_ref: error.entity_ref.map(|r| r.canonical()),
                message: error.message,
            }));
        analysis
            .conflicts
            .extend(decision.conflicts.iter().map(ConflictReport::from));
    }
    analysis.failures = outcome
        .errors
        .iter()
        .map(|failure| ErrorReport {
            source: failure.key.clone(),
            entity_ref: None,
            message: failure.message.clone(),
        })
        .collect();
    for list in [
        &mut analysis.register,
        &mut analysis.update,
        &mut analysis.remove,
    ] {
        list.sort();
    }
    Ok(analysis)
}
