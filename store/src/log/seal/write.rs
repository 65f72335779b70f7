//! Writing checkpoints: one per append, from the events the append itself
//! wrote (never read back, so a row slipped into the table by plain SQL is not
//! sealed by the next append), and a backlog seal for events read back from the
//! table (a log from before checkpoints existed, or an import).

use super::head::{fold_head, Checkpoint, Entry, Origin, GENESIS};
use super::key::Sealer;
use super::BACKLOG_CHUNK;
use crate::log::{EventLog, APPEND_LOCK_KEY};
use crate::StoreError;
use chrono::{DurationRound, TimeDelta, Utc};
use sqlx::PgConnection;

#[derive(Debug, thiserror::Error)]
pub enum SealError {
    #[error(
        "this event log has no signing key: every append must be sealed \
         (see `signing.key_path` in the configuration)"
    )]
    NoKey,
    #[error("database error while sealing: {0}")]
    Database(#[from] sqlx::Error),
}

/// The latest checkpoint: where the next one chains on.
struct Tip {
    position: i64,
    head: [u8; 32],
    event_count: i64,
}

async fn tip(conn: &mut PgConnection) -> Result<Option<Tip>, sqlx::Error> {
    let row: Option<(i64, Vec<u8>, i64)> = sqlx::query_as(
        "SELECT position, head, event_count FROM log_checkpoints ORDER BY position DESC LIMIT 1",
    )
    .fetch_optional(&mut *conn)
    .await?;
    row.map(|(position, head, event_count)| {
        let head = <[u8; 32]>::try_from(head).map_err(|_| {
            sqlx::Error::Decode(
                format!("checkpoint at position {position}: head is not 32 bytes").into(),
            )
        })?;
        Ok(Tip {
            position,
            head,
            event_count,
        })
    })
    .transpose()
}

/// Seals the events one append wrote (parallel slices, any order) with the
/// append's key. Runs in the append's transaction, under the append lock.
pub(in crate::log) async fn seal_append(
    conn: &mut PgConnection,
    sealer: Option<&Sealer>,
    positions: &[i64],
    streams: &[&str],
    versions: &[i64],
    hashes: &[Vec<u8>],
) -> Result<(), SealError> {
    let sealer = sealer.ok_or(SealError::NoKey)?;
    let Some(tip) = tip(conn).await? else {
        // No checkpoint yet: the first append after the upgrade seals what came
        // before it too (its own events included, as they are now in the table).
        seal_backlog(conn, sealer).await?;
        return Ok(());
    };
    let mut entries: Vec<Entry> = positions
        .iter()
        .zip(streams)
        .zip(versions)
        .zip(hashes)
        .map(|(((position, stream), version), hash)| Entry {
            position: *position,
            stream: stream.to_string(),
            version: *version,
            hash: hash.clone(),
        })
        .collect();
    entries.sort_by_key(|entry| entry.position);
    write(conn, sealer, &tip, &entries, Origin::Append).await?;
    Ok(())
}

/// Seals every event after the latest checkpoint, read from the table, in
/// checkpoints of at most [`BACKLOG_CHUNK`] events. Returns how many it sealed.
pub(in crate::log) async fn seal_backlog(
    conn: &mut PgConnection,
    sealer: &Sealer,
) -> Result<u64, sqlx::Error> {
    let mut sealed = 0;
    loop {
        let tip = tip(conn).await?.unwrap_or(Tip {
            position: 0,
            head: GENESIS,
            event_count: 0,
        });
        let rows: Vec<(i64, String, i64, Vec<u8>)> = sqlx::query_as(
            "SELECT position, stream, version, hash FROM events WHERE position > $1 \
             ORDER BY position LIMIT $2",
        )
        .bind(tip.position)
        .bind(BACKLOG_CHUNK as i64)
        .fetch_all(&mut *conn)
        .await?;
        if rows.is_empty() {
            return Ok(sealed);
        }
        let entries: Vec<Entry> = rows
            .into_iter()
            .map(|(position, stream, version, hash)| Entry {
                position,
                stream,
                version,
                hash,
            })
            .collect();
        sealed += entries.len() as u64;
        write(conn, sealer, &tip, &entries, Origin::Backlog).await?;
    }
}

impl EventLog {
    /// Seals, with `sealer`, every event after the latest checkpoint as read
    /// from the table: for a log written before checkpoints existed. Trust on
    /// first use: whatever the table holds now gets signed, so `verify` reports
    /// such checkpoints as a backlog.
    pub async fn seal_backlog(&self, sealer: &Sealer) -> Result<u64, StoreError> {
        let mut tx = self.pool().begin().await?;
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(APPEND_LOCK_KEY)
            .execute(&mut *tx)
            .await?;
        let sealed = seal_backlog(&mut tx, sealer).await?;
        tx.commit().await?;
        Ok(sealed)
    }
}

async fn write(
    conn: &mut PgConnection,
    sealer: &Sealer,
    tip: &Tip,
    entries: &[Entry],
    origin: Origin,
) -> Result<(), sqlx::Error> {
    let Some(last) = entries.last() else {
        return Ok(());
    };
    let now = Utc::now();
    let mut checkpoint = Checkpoint {
        position: last.position,
        previous_position: tip.position,
        previous_head: tip.head.to_vec(),
        head: fold_head(&tip.head, entries).to_vec(),
        event_count: tip.event_count + entries.len() as i64,
        origin,
        // PostgreSQL keeps microseconds: sign what will be stored.
        signed_at: now
            .duration_trunc(TimeDelta::microseconds(1))
            .unwrap_or(now),
        key_id: sealer.key_id().to_string(),
        signature: Vec::new(),
    };
    checkpoint.signature = sealer.sign(&checkpoint.message()).to_vec();
    let positions: Vec<i64> = entries.iter().map(|e| e.position).collect();
    let streams: Vec<&str> = entries.iter().map(|e| e.stream.as_str()).collect();
    let versions: Vec<i64> = entries.iter().map(|e| e.version).collect();
    let hashes: Vec<&[u8]> = entries.iter().map(|e| e.hash.as_slice()).collect();
    sqlx::query(
        "INSERT INTO log_checkpoints (position, previous_position, previous_head, head, \
           event_count, positions, streams, versions, hashes, origin, signed_at, key_id, signature) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
    )
    .bind(checkpoint.position)
    .bind(checkpoint.previous_position)
    .bind(&checkpoint.previous_head)
    .bind(&checkpoint.head)
    .bind(checkpoint.event_count)
    .bind(&positions)
    .bind(&streams)
    .bind(&versions)
    .bind(&hashes)
    .bind(origin.as_str())
    .bind(checkpoint.signed_at)
    .bind(&checkpoint.key_id)
    .bind(&checkpoint.signature)
    .execute(&mut *conn)
    .await?;
    Ok(())
}
