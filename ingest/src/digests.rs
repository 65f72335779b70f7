//! What each decided source is recorded with for the next read
//! (`store::source_digests`): its digest and the versions of the streams its decision
//! depended on, right after it, or nothing (its row deleted) when it cannot be skipped
//! next time. Written in the chunk's transaction, so a row never describes a decision
//! that was rolled back, and every decision of a source replaces its row.
//!
//! It decides nothing and computes no digest (`read::digest` does).

use crate::read::ReadFile;
use crate::reconcile::ReconcileOptions;
use crate::state::StateMap;
use almanac_domain::entity::managed_by_location;
use almanac_domain::Candidate;
use almanac_store::source_digests::{record, SourceDigest};
use almanac_store::{StoreError, Tx};
use std::collections::BTreeSet;

#[derive(Default)]
pub(crate) struct DigestRows {
    recorded: Vec<SourceDigest>,
    forgotten: Vec<String>,
}

impl DigestRows {
    /// Notes `file` just decided: `claimed` and `named` are the streams its decision
    /// read, `map` the state right after its events, `clean` false when the decision
    /// had errors or conflicts (those are reported on every read, so it is decided on
    /// every read).
    pub(crate) fn note(
        &mut self,
        file: &ReadFile,
        (claimed, named): (&[String], &[String]),
        map: &StateMap,
        clean: bool,
        options: &ReconcileOptions,
    ) {
        // Only a whole read of the source is skippable: a push decides against expected
        // versions and removes nothing, so its outcome is not the source's alone.
        let whole_read = options.remove_missing
            && !options.all_or_nothing
            && options.expected_versions.is_empty();
        let Some(digest) = file.digest.clone().filter(|_| whole_read && clean) else {
            self.forgotten.push(file.key.clone());
            return;
        };
        let streams: BTreeSet<&String> = claimed.iter().chain(named).collect();
        // What deciding it again would call unchanged: its entities it now holds.
        let held = file
            .candidates
            .iter()
            .filter_map(|c| match c {
                Candidate::Valid(entity) => Some(entity.entity_ref().canonical()),
                Candidate::Invalid { .. } => None,
            })
            .filter(|r| {
                map.get(r)
                    .and_then(|state| state.descriptor.as_ref())
                    .and_then(managed_by_location)
                    .is_some_and(|source| source == file.key)
            })
            .count();
        self.recorded.push(SourceDigest {
            source: file.key.clone(),
            origin: file.origin.clone(),
            digest,
            entities: i32::try_from(held).unwrap_or(i32::MAX),
            streams: streams
                .into_iter()
                .map(|s| (s.clone(), map.get(s).map_or(0, |state| state.version)))
                .collect(),
            targets: file.targets.clone(),
        });
    }

    pub(crate) async fn write(self, tx: &mut Tx) -> Result<(), StoreError> {
        record(tx, &self.recorded, &self.forgotten).await
    }
}
