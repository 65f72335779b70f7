//! Proof of integrity: recompute every stream's hash chain from the stored rows,
//! and check that the database still guards the log against change: the guard
//! triggers exist, are enabled, fire as installed, and run the function text
//! this binary ships. The signed checkpoints are checked in `seal/check.rs`.

use super::hash::event_hash;
use super::read::{StoredEvent, EVENT_COLUMNS};
use super::EventLog;
use crate::StoreError;
use futures::TryStreamExt;

/// The first broken link of one stream.
#[derive(Clone, Debug, PartialEq)]
pub struct ChainBreak {
    pub stream: String,
    pub version: i64,
    pub position: i64,
    pub reason: String,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct VerifyReport {
    pub streams: u64,
    pub events: u64,
    pub breaks: Vec<ChainBreak>,
}

impl VerifyReport {
    pub fn is_intact(&self) -> bool {
        self.breaks.is_empty()
    }
}

/// What is wrong with the database's append-only guards.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct GuardReport {
    /// Guard triggers that are gone or disabled, as `trigger on table`.
    pub missing_or_disabled: Vec<String>,
    /// Guards still there but changed: another function, another firing, or a
    /// function body that is not the text this binary ships.
    pub altered: Vec<String>,
}

impl GuardReport {
    pub fn is_intact(&self) -> bool {
        self.missing_or_disabled.is_empty() && self.altered.is_empty()
    }
}

/// Each guard: table, trigger, the function it runs, its `pg_trigger.tgtype`
/// (BEFORE = 2, INSERT = 4, DELETE = 8, UPDATE = 16, TRUNCATE = 32; statement level).
const GUARDS: [(&str, &str, &str, i16); 8] = [
    (
        "events",
        "events_no_update_delete",
        "events_reject_change",
        2 | 8 | 16,
    ),
    (
        "events",
        "events_no_truncate",
        "events_reject_change",
        2 | 32,
    ),
    (
        "events",
        "events_serialise_appends",
        "events_serialise_appends",
        2 | 4,
    ),
    (
        "append_requests",
        "append_requests_no_update_delete",
        "events_reject_change",
        2 | 8 | 16,
    ),
    (
        "append_requests",
        "append_requests_no_truncate",
        "events_reject_change",
        2 | 32,
    ),
    (
        "log_checkpoints",
        "log_checkpoints_no_update_delete",
        "events_reject_change",
        2 | 8 | 16,
    ),
    (
        "log_checkpoints",
        "log_checkpoints_no_truncate",
        "events_reject_change",
        2 | 32,
    ),
    (
        "events",
        "events_single_registration",
        "events_single_registration",
        1 | 2 | 4,
    ),
];

/// The migrations that install the guard functions, as compiled into this binary.
const GUARD_MIGRATIONS: [&str; 2] = [
    include_str!("../../../migrations/0001_event_log.sql"),
    include_str!("../../../migrations/0004_single_registration.sql"),
];

/// A guard function's body exactly as its migration installs it (`pg_proc.prosrc`,
/// the text between the `$$`, trimmed). A function replaced with `CREATE OR REPLACE`
/// keeps its name and its triggers, so only its text shows the change. Read from
/// the migrations themselves, so the two cannot drift.
fn installed_body(function: &str) -> Option<&'static str> {
    let head = format!("CREATE FUNCTION {function}()");
    GUARD_MIGRATIONS.iter().find_map(|sql| {
        let after = &sql[sql.find(&head)? + head.len()..];
        let mut parts = after.splitn(3, "$$");
        parts.next()?;
        parts.next().map(str::trim)
    })
}

/// A trigger on a guarded table and the function it runs.
#[derive(sqlx::FromRow)]
struct GuardRow {
    relation: String,
    trigger_name: String,
    enabled: String,
    tgtype: i16,
    function: String,
    body: String,
    language: String,
    definer: bool,
}

impl EventLog {
    /// Walks every stream (or just `stream`) in version order, streaming rows so
    /// memory stays flat however long the log is.
    pub async fn verify(&self, stream: Option<&str>) -> Result<VerifyReport, StoreError> {
        let sql = format!(
            "SELECT {EVENT_COLUMNS} FROM events WHERE ($1::text IS NULL OR stream = $1) \
             ORDER BY stream, version"
        );
        let mut rows = sqlx::query_as::<_, StoredEvent>(&sql)
            .bind(stream)
            .fetch(&self.pool);
        let mut report = VerifyReport::default();
        let mut current: Option<String> = None;
        let mut previous: Option<(i64, Vec<u8>)> = None;
        let mut broken = false;
        while let Some(event) = rows.try_next().await? {
            report.events += 1;
            if current.as_deref() != Some(event.stream.as_str()) {
                report.streams += 1;
                current = Some(event.stream.clone());
                previous = None;
                broken = false;
            }
            if broken {
                continue;
            }
            if let Some(reason) = check_link(previous.as_ref(), &event) {
                report.breaks.push(ChainBreak {
                    stream: event.stream.clone(),
                    version: event.version,
                    position: event.position,
                    reason,
                });
                broken = true;
            }
            previous = Some((event.version, event.hash));
        }
        Ok(report)
    }

    /// Append-only is enforced by triggers: a dropped, disabled or re-pointed
    /// trigger, or a guard function whose body was replaced, is a finding.
    pub async fn check_guards(&self) -> Result<GuardReport, StoreError> {
        let tables: Vec<&str> = GUARDS.iter().map(|guard| guard.0).collect();
        let triggers: Vec<GuardRow> = sqlx::query_as(
            "SELECT c.relname::text AS relation, t.tgname::text AS trigger_name, \
                        t.tgenabled::text AS enabled, t.tgtype, p.proname::text AS function, \
                        p.prosrc AS body, l.lanname::text AS language, p.prosecdef AS definer \
                 FROM pg_trigger t \
                 JOIN pg_class c ON c.oid = t.tgrelid \
                 JOIN pg_namespace n ON n.oid = c.relnamespace \
                 JOIN pg_proc p ON p.oid = t.tgfoid \
                 JOIN pg_language l ON l.oid = p.prolang \
                 WHERE NOT t.tgisinternal AND c.relname = ANY($1) \
                   AND n.nspname = current_schema()",
        )
        .bind(&tables)
        .fetch_all(&self.pool)
        .await?;
        let mut report = GuardReport::default();
        for (table, name, function, tgtype) in GUARDS {
            let found = triggers
                .iter()
                .find(|row| row.relation == table && row.trigger_name == name);
            let Some(GuardRow {
                enabled,
                tgtype: actual_type,
                function: proname,
                body,
                language,
                definer,
                ..
            }) = found
            else {
                report
                    .missing_or_disabled
                    .push(format!("{name} on {table}"));
                continue;
            };
            if !matches!(enabled.as_str(), "O" | "A") {
                report
                    .missing_or_disabled
                    .push(format!("{name} on {table}"));
                continue;
            }
            if proname != function || *actual_type != tgtype {
                report.altered.push(format!(
                    "trigger {name} on {table} was re-created: it runs {proname} (tgtype \
                     {actual_type}) where Almanac installs {function} (tgtype {tgtype})"
                ));
                continue;
            }
            let expected = installed_body(function).unwrap_or_default();
            if body.trim() != expected || language != "plpgsql" || *definer {
                let message = format!(
                    "function {function} (run by the guard triggers) is not the one Almanac \
                     installs: its body was replaced"
                );
                if !report.altered.contains(&message) {
                    report.altered.push(message);
                }
            }
        }
        Ok(report)
    }
}

/// Why `event` does not follow `previous` (version, hash) in its stream, if it does not.
pub(super) fn check_link(previous: Option<&(i64, Vec<u8>)>, event: &StoredEvent) -> Option<String> {
    let expected_version = previous.map_or(1, |(version, _)| version + 1);
    if event.version != expected_version {
        return Some(format!(
            "version {} where {} was expected: an event is missing",
            event.version, expected_version
        ));
    }
    let recomputed = event_hash(
        previous.map(|(_, hash)| hash.as_slice()),
        &event.hash_input(),
    );
    (recomputed.as_slice() != event.hash.as_slice())
        .then(|| "stored hash does not match the event's contents and the previous link".into())
}

#[cfg(test)]
mod guard_body_tests {
    use super::*;

    #[test]
    fn every_guard_function_has_its_body_in_the_migrations() {
        for (_, _, function, _) in GUARDS {
            let body = installed_body(function).unwrap_or_default();
            assert!(
                body.starts_with("BEGIN") || body.starts_with("DECLARE"),
                "{function}: {body}"
            );
            assert!(body.ends_with("END"), "{function}: {body}");
        }
    }
}
