//! The current state `decide` needs for a chunk of sources: loaded by the
//! store ([`almanac_store::ingest_state`]) under the append lock, sliced here
//! per source. It runs no statement itself.

use almanac_store::history::HistoryError;
use almanac_store::Tx;

pub use almanac_store::ingest_state::StateMap;

/// The state of the streams `sources` claim and `refs` name, as of the log's
/// head. The caller holds the append lock in the same transaction.
pub async fn load(
    tx: &mut Tx,
    sources: &[String],
    refs: &[String],
) -> Result<StateMap, crate::IngestError> {
    almanac_store::ingest_state::load_for_chunk(tx, sources, refs)
        .await
        .map_err(|err| match err {
            // A failed statement is a database error of the ingest, as before.
            HistoryError::Database(db) => crate::IngestError::Database(db.into()),
            corrupt => crate::IngestError::History(corrupt),
        })
}

/// The slice of `map` one source's `decide` needs: what it claims, and what its
/// candidates name. `decide` scans its map for removals, so it gets only this.
pub fn for_source(map: &StateMap, claimed: &[String], named: &[String]) -> StateMap {
    claimed
        .iter()
        .chain(named)
        .filter_map(|r| map.get(r).map(|s| (r.clone(), s.clone())))
        .collect()
}
