//! Proof of integrity: recompute every stream's hash chain from the stored rows,
//! and check that the database still guards the log against change.

use super::hash::{event_hash, HashInput};
use super::read::{StoredEvent, EVENT_COLUMNS};
use super::EventLog;
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

/// Which append-only triggers are present and enabled on the events table.
#[derive(Clone, Debug, PartialEq)]
pub struct GuardReport {
    pub missing_or_disabled: Vec<String>,
}

/// The triggers `migrations/0001_event_log.sql` and
/// `0004_single_registration.sql` install on `events`.
const GUARDS: [&str; 4] = [
    "events_no_update_delete",
    "events_no_truncate",
    "events_serialise_appends",
    "events_single_registration",
];

impl EventLog {
    /// Walks every stream (or just `stream`) in version order, streaming rows so
    /// memory stays flat however long the log is.
    pub async fn verify(&self, stream: Option<&str>) -> Result<VerifyReport, sqlx::Error> {
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

    /// Append-only is enforced by triggers; a disabled or dropped one is a finding.
    pub async fn check_guards(&self) -> Result<GuardReport, sqlx::Error> {
        let enabled: Vec<(String,)> = sqlx::query_as(
            "SELECT tgname::text FROM pg_trigger \
             WHERE tgrelid = 'events'::regclass AND tgenabled IN ('O', 'A')",
        )
        .fetch_all(&self.pool)
        .await?;
        let missing_or_disabled = GUARDS
            .iter()
            .filter(|guard| !enabled.iter().any(|(name,)| name == *guard))
            .map(|guard| guard.to_string())
            .collect();
        Ok(GuardReport {
            missing_or_disabled,
        })
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
        &HashInput {
            stream: &event.stream,
            version: event.version,
            event_type: &event.event_type,
            schema_version: event.schema_version,
            payload: &event.payload,
            actor: &event.actor,
            source: event.source.as_deref(),
            correlation_id: event.correlation_id,
            causation_id: event.causation_id,
            recorded_at: event.recorded_at,
        },
    );
    (recomputed.as_slice() != event.hash.as_slice())
        .then(|| "stored hash does not match the event's contents and the previous link".into())
}
