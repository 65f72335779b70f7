//! The current state `decide` needs for a chunk of sources, in two queries
//! whatever the chunk's size: the live entities those sources claim or their
//! candidates name (from the projection, brought up to date first), and the
//! stream versions of named entities that were removed (from the log).

use almanac_domain::StreamState;
use serde_json::Value;
use sqlx::PgConnection;
use std::collections::HashMap;

/// Canonical ref -> stream state, for every stream a chunk touches.
pub type StateMap = HashMap<String, StreamState>;

pub async fn load(
    conn: &mut PgConnection,
    sources: &[String],
    refs: &[String],
) -> Result<StateMap, sqlx::Error> {
    let live: Vec<(String, i64, Value)> = sqlx::query_as(
        "SELECT ref, version, descriptor FROM entities WHERE source = ANY($1) OR ref = ANY($2)",
    )
    .bind(sources)
    .bind(refs)
    .fetch_all(&mut *conn)
    .await?;
    let mut map: StateMap = live
        .into_iter()
        .map(|(entity_ref, version, descriptor)| {
            (
                entity_ref,
                StreamState {
                    version,
                    descriptor: Some(descriptor),
                },
            )
        })
        .collect();
    let missing: Vec<&String> = refs.iter().filter(|r| !map.contains_key(*r)).collect();
    if !missing.is_empty() {
        let removed: Vec<(String, i64)> = sqlx::query_as(
            "SELECT stream, max(version) FROM events WHERE stream = ANY($1) GROUP BY stream",
        )
        .bind(&missing)
        .fetch_all(&mut *conn)
        .await?;
        for (stream, version) in removed {
            map.insert(
                stream,
                StreamState {
                    version,
                    descriptor: None,
                },
            );
        }
    }
    // An entity whose newest event could not be projected has a row behind its stream:
    // decide from its true state, or every later write to it would conflict.
    let mut touched: Vec<String> = map.keys().cloned().collect();
    touched.extend(refs.iter().cloned());
    let behind = almanac_store::projection::behind_states(conn, &touched).await?;
    for (stream, version, descriptor) in behind {
        map.insert(
            stream,
            StreamState {
                version,
                descriptor,
            },
        );
    }
    Ok(map)
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
