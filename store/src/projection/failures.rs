//! Events the projector could not project, recorded in `projection_failures` instead of
//! halting the catalog: which event, at which stage, and why, in words a user can act on.
//!
//! Every column is a function of the log (the event's own time, a database message without
//! the names of the tables it was written to), so a replay writes the same rows. This module
//! records and counts; it does not decide what is a failure (`batch` does) and does not show
//! the rows to users (`catalog::operational` does, as processing errors of the projector).

use super::tables::Tables;
use crate::log::StoredEvent;
use crate::StoreError;
use sqlx::{PgConnection, PgPool};

/// The processing-error source under which projection failures are shown.
pub const PROJECTOR_SOURCE: &str = "projector";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stage {
    Decode,
    Fold,
    Write,
}

impl Stage {
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Decode => "decode",
            Stage::Fold => "fold",
            Stage::Write => "write",
        }
    }
}

/// One row of `projection_failures`.
#[derive(Clone, Debug)]
pub struct Failure {
    pub stage: Stage,
    pub position: i64,
    pub stream: String,
    pub version: i64,
    pub event_type: String,
    pub message: String,
    pub recorded_at: chrono::DateTime<chrono::Utc>,
}

impl Failure {
    pub fn new(stage: Stage, stored: &StoredEvent, reason: &str) -> Failure {
        let what = format!(
            "event at position {} (version {} of {}, {})",
            stored.position, stored.version, stored.stream, stored.event_type
        );
        let message = match stage {
            Stage::Decode => format!("{what} could not be decoded and was not projected: {reason}"),
            Stage::Fold => format!(
                "{what} does not apply to the entity's state and was not projected: {reason}"
            ),
            Stage::Write => format!(
                "{what} could not be stored in the catalog, which shows the entity's last \
                 version that could be: {reason}"
            ),
        };
        Failure {
            stage,
            position: stored.position,
            stream: stored.stream.clone(),
            version: stored.version,
            event_type: stored.event_type.clone(),
            message,
            recorded_at: stored.recorded_at,
        }
    }
}

/// A database error caused by the data of one batch (SQLSTATE classes 22 data exception,
/// 23 integrity constraint, 54 program limit exceeded: an index row or a tsvector too
/// large). Anything else (a lost connection, a timeout, a serialisation failure) is
/// transient: the batch fails whole and is tried again.
pub fn is_data_error(err: &sqlx::Error) -> bool {
    match err {
        sqlx::Error::Database(db) => db
            .code()
            .is_some_and(|code| ["22", "23", "54"].iter().any(|c| code.starts_with(c))),
        _ => false,
    }
}

/// The database's message with its SQLSTATE, without the names of indexes, tables and
/// constraints: a replay writes to differently named tables and must record the same text.
pub fn database_reason(err: &sqlx::Error) -> String {
    match err {
        sqlx::Error::Database(db) => format!(
            "the database refused it: {} (SQLSTATE {})",
            without_object_names(db.message()),
            db.code().unwrap_or_default()
        ),
        other => other.to_string(),
    }
}

fn without_object_names(message: &str) -> String {
    let mut out = message.to_string();
    for keyword in ["index ", "relation ", "constraint ", "table "] {
        while let Some(start) = out.find(&format!("{keyword}\"")) {
            let quote = start + keyword.len();
            let Some(len) = out[quote + 1..].find('"') else {
                break;
            };
            out.replace_range(quote - 1..quote + len + 2, "");
        }
    }
    out
}

/// Writes failures. A write failure replaces the stream's previous one (it is the
/// stream's current state); the others are kept once per event.
pub async fn record(
    conn: &mut PgConnection,
    tables: &Tables,
    failures: &[Failure],
) -> Result<(), sqlx::Error> {
    for failure in failures {
        if failure.stage == Stage::Write {
            clear_write_failures(conn, tables, std::slice::from_ref(&failure.stream)).await?;
        }
        let inserted = sqlx::query(&format!(
            "INSERT INTO {} (position, stage, stream, version, event_type, message, recorded_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING",
            tables.failures
        ))
        .bind(failure.position)
        .bind(failure.stage.as_str())
        .bind(&failure.stream)
        .bind(failure.version)
        .bind(&failure.event_type)
        .bind(&failure.message)
        .bind(failure.recorded_at)
        .execute(&mut *conn)
        .await?;
        if inserted.rows_affected() == 1 && tables.failures == Tables::LIVE.failures {
            tracing::error!(
                position = failure.position,
                stream = %failure.stream,
                stage = failure.stage.as_str(),
                message = %failure.message,
                "event could not be projected; recorded in projection_failures, projecting on"
            );
        }
    }
    Ok(())
}

/// The streams' write failures are over: a later event of theirs was stored.
pub async fn clear_write_failures(
    conn: &mut PgConnection,
    tables: &Tables,
    streams: &[String],
) -> Result<(), sqlx::Error> {
    if streams.is_empty() {
        return Ok(());
    }
    sqlx::query(&format!(
        "DELETE FROM {} WHERE stage = 'write' AND stream = ANY($1)",
        tables.failures
    ))
    .bind(streams)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// The streams among `streams` whose projected row is behind their log.
pub async fn write_failed(
    conn: &mut PgConnection,
    tables: &Tables,
    streams: &[String],
) -> Result<Vec<String>, sqlx::Error> {
    let rows: Vec<(String,)> = sqlx::query_as(&format!(
        "SELECT stream FROM {} WHERE stage = 'write' AND stream = ANY($1)",
        tables.failures
    ))
    .bind(streams)
    .fetch_all(&mut *conn)
    .await?;
    Ok(rows.into_iter().map(|(stream,)| stream).collect())
}

/// How many events could not be projected, by stage (for `/metrics` and `/readyz`).
pub async fn count_by_stage(pool: &PgPool) -> Result<Vec<(String, i64)>, StoreError> {
    Ok(sqlx::query_as(
        "SELECT stage, count(*) FROM projection_failures GROUP BY stage ORDER BY stage",
    )
    .fetch_all(pool)
    .await?)
}

#[cfg(test)]
mod tests {
    use super::without_object_names;

    #[test]
    fn object_names_are_dropped_from_database_messages() {
        assert_eq!(
            without_object_names(
                "index row size 2720 exceeds btree version 4 maximum 2704 for index \"entities_type_idx\""
            ),
            "index row size 2720 exceeds btree version 4 maximum 2704 for index"
        );
        assert_eq!(
            without_object_names("index row requires 10016 bytes, maximum size is 8191"),
            "index row requires 10016 bytes, maximum size is 8191"
        );
        assert_eq!(
            without_object_names(
                "duplicate key value violates unique constraint \"a\" on table \"b\""
            ),
            "duplicate key value violates unique constraint on table"
        );
    }
}
