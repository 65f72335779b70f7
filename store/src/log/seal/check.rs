//! Verifying the log against its signed checkpoints: every checkpoint must be
//! signed by a trusted key, reproduce its head from the events it lists, and
//! chain onto the one before; every event must be one a checkpoint sealed,
//! unchanged; times must not go backwards along the log; and with an auditor's
//! checkpoint, the log up to its position must reproduce its head exactly.
//!
//! It reads the events and checkpoints as two ordered streams, so memory stays
//! flat. It cannot see events that were removed together with every
//! checkpoint that listed them: only an auditor's newer checkpoint shows those.

use super::head::{fold_head, next_head, Checkpoint, Entry, Origin, GENESIS};
use super::key::TrustedKey;
use crate::log::EventLog;
use crate::StoreError;
use chrono::{DateTime, Utc};
use futures::{Stream, TryStreamExt};
use std::fmt;

/// Whose signatures count, and optionally the checkpoint an auditor kept.
#[derive(Clone, Debug, Default)]
pub struct Trust {
    pub keys: Vec<TrustedKey>,
    /// Already checked against its own key (see `CheckpointFile::open`).
    pub auditor: Option<Checkpoint>,
}

impl Trust {
    pub fn new(keys: impl IntoIterator<Item = TrustedKey>) -> Self {
        let mut trust = Self::default();
        for key in keys {
            trust.add_key(key);
        }
        trust
    }

    pub fn add_key(&mut self, key: TrustedKey) {
        if !self.keys.contains(&key) {
            self.keys.push(key);
        }
    }

    fn key(&self, key_id: &str) -> Option<&TrustedKey> {
        self.keys.iter().find(|key| key.key_id == key_id)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FindingKind {
    /// A sealed event whose stored stream, version or hash changed.
    Altered,
    /// A sealed event that is no longer in the log.
    Missing,
    /// An event below a checkpoint's position that no checkpoint sealed.
    Inserted,
    /// An event after the last checkpoint: appends always seal, so it was
    /// written around the server.
    Unsealed,
    /// A `recorded_at` earlier than the event before it.
    TimeReversed,
    /// A checkpoint row that is not signed by a trusted key, does not reproduce
    /// its head, or does not chain onto the one before.
    Checkpoint,
    /// The log does not reproduce the auditor's checkpoint.
    Auditor,
}

/// One thing that does not hold, naming the event or checkpoint.
#[derive(Clone, Debug, PartialEq)]
pub struct Finding {
    pub kind: FindingKind,
    pub position: i64,
    pub stream: Option<String>,
    pub version: Option<i64>,
    pub reason: String,
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.stream, self.version) {
            (Some(stream), Some(version)) => write!(
                f,
                "stream {stream} version {version} (position {}): {}",
                self.position, self.reason
            ),
            _ => write!(f, "position {}: {}", self.position, self.reason),
        }
    }
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct SealReport {
    pub checkpoints: u64,
    /// Events found exactly as a valid checkpoint sealed them.
    pub sealed_events: u64,
    /// The last position a checkpoint seals.
    pub sealed_to: Option<i64>,
    /// Events sealed after the fact (an upgrade or an import): trust on first use.
    pub backlog_events: u64,
    /// The auditor's checkpoint position, when the log reproduced it.
    pub auditor_verified_to: Option<i64>,
    pub findings: Vec<Finding>,
}

impl SealReport {
    pub fn is_intact(&self) -> bool {
        self.findings.is_empty()
    }
}

#[derive(sqlx::FromRow)]
struct CheckpointRow {
    position: i64,
    previous_position: i64,
    previous_head: Vec<u8>,
    head: Vec<u8>,
    event_count: i64,
    positions: Vec<i64>,
    streams: Vec<String>,
    versions: Vec<i64>,
    hashes: Vec<Vec<u8>>,
    origin: String,
    signed_at: DateTime<Utc>,
    key_id: String,
    signature: Vec<u8>,
}

const CHECKPOINT_COLUMNS: &str = "position, previous_position, previous_head, head, event_count, \
     positions, streams, versions, hashes, origin, signed_at, key_id, signature";

impl CheckpointRow {
    /// The signed part and the listed events; `None` for an unknown origin
    /// (which no signature can then cover).
    fn split(self) -> (Option<Checkpoint>, Vec<Entry>) {
        let entries = self
            .positions
            .into_iter()
            .zip(self.streams)
            .zip(self.versions)
            .zip(self.hashes)
            .map(|(((position, stream), version), hash)| Entry {
                position,
                stream,
                version,
                hash,
            })
            .collect();
        let checkpoint = Origin::parse(&self.origin).map(|origin| Checkpoint {
            position: self.position,
            previous_position: self.previous_position,
            previous_head: self.previous_head,
            head: self.head,
            event_count: self.event_count,
            origin,
            signed_at: self.signed_at,
            key_id: self.key_id,
            signature: self.signature,
        });
        (checkpoint, entries)
    }
}

#[derive(sqlx::FromRow)]
struct EventRow {
    position: i64,
    stream: String,
    version: i64,
    recorded_at: DateTime<Utc>,
    hash: Vec<u8>,
}

impl EventLog {
    /// The checkpoint with the highest position.
    pub async fn latest_checkpoint(&self) -> Result<Option<Checkpoint>, StoreError> {
        let row: Option<CheckpointRow> = sqlx::query_as(&format!(
            "SELECT {CHECKPOINT_COLUMNS} FROM log_checkpoints ORDER BY position DESC LIMIT 1"
        ))
        .fetch_optional(self.pool())
        .await?;
        Ok(row.and_then(|row| row.split().0))
    }

    /// Checks the whole log (or one stream: its events against the checkpoints
    /// that list it; chain continuity and the auditor's head need the whole log).
    pub async fn verify_seal(
        &self,
        trust: &Trust,
        stream: Option<&str>,
    ) -> Result<SealReport, StoreError> {
        let events = sqlx::query_as::<_, EventRow>(
            "SELECT position, stream, version, recorded_at, hash FROM events \
             WHERE ($1::text IS NULL OR stream = $1) ORDER BY position",
        )
        .bind(stream)
        .fetch(self.pool());
        let checkpoint_sql = format!(
            "SELECT {CHECKPOINT_COLUMNS} FROM log_checkpoints \
             WHERE ($1::text IS NULL OR $1 = ANY(streams)) ORDER BY position"
        );
        let checkpoints = sqlx::query_as::<_, CheckpointRow>(&checkpoint_sql)
            .bind(stream)
            .fetch(self.pool());
        let mut walk = Walk::new(trust, stream, events);
        if stream.is_some() {
            // An event of this stream after its last checkpoint but before a
            // later one of other streams was inserted, not merely unsealed.
            let (last,): (Option<i64>,) =
                sqlx::query_as("SELECT max(position) FROM log_checkpoints")
                    .fetch_one(self.pool())
                    .await?;
            walk.log_sealed_to = last;
        }
        futures::pin_mut!(checkpoints);
        while let Some(row) = checkpoints.try_next().await? {
            walk.checkpoint(row).await?;
        }
        Ok(walk.finish().await?)
    }
}

/// The state of one verification pass.
struct Walk<'a, E> {
    trust: &'a Trust,
    stream: Option<&'a str>,
    events: std::pin::Pin<Box<E>>,
    next: Option<EventRow>,
    exhausted: bool,
    /// Over every event seen, in position order (the whole log only).
    head: [u8; 32],
    count: i64,
    last: Option<(i64, DateTime<Utc>)>,
    /// The previous checkpoint row: position, head, event count.
    previous: Option<(i64, Vec<u8>, i64)>,
    auditor_done: bool,
    /// The last position any checkpoint seals (set when checking one stream).
    log_sealed_to: Option<i64>,
    report: SealReport,
}

impl<'a, E> Walk<'a, E>
where
    E: Stream<Item = Result<EventRow, sqlx::Error>>,
{
    fn new(trust: &'a Trust, stream: Option<&'a str>, events: E) -> Self {
        Self {
            trust,
            stream,
            events: Box::pin(events),
            next: None,
            exhausted: false,
            head: GENESIS,
            count: 0,
            last: None,
            previous: None,
            auditor_done: stream.is_some() || trust.auditor.is_none(),
            log_sealed_to: None,
            report: SealReport::default(),
        }
    }

    async fn peek(&mut self) -> Result<Option<&EventRow>, sqlx::Error> {
        if self.next.is_none() && !self.exhausted {
            self.next = self.events.try_next().await?;
            self.exhausted = self.next.is_none();
        }
        Ok(self.next.as_ref())
    }

    /// Takes the next event if its position is at most `up_to`.
    async fn take(&mut self, up_to: i64) -> Result<Option<EventRow>, sqlx::Error> {
        match self.peek().await? {
            Some(event) if event.position <= up_to => {}
            _ => return Ok(None),
        }
        let event = self.next.take();
        if let Some(event) = &event {
            self.observe(event);
        }
        Ok(event)
    }

    /// Time order and the running head, for every event in position order.
    fn observe(&mut self, event: &EventRow) {
        if !self.auditor_done {
            if let Some(auditor) = &self.trust.auditor {
                if event.position > auditor.position {
                    self.check_auditor(Some(event.position));
                }
            }
        }
        if let Some((position, at)) = self.last {
            if event.recorded_at < at {
                let scope = if self.stream.is_some() {
                    "in its stream"
                } else {
                    "in the log"
                };
                self.report.findings.push(Finding {
                    kind: FindingKind::TimeReversed,
                    position: event.position,
                    stream: Some(event.stream.clone()),
                    version: Some(event.version),
                    reason: format!(
                        "recorded_at {} is earlier than that of the event before it {scope} \
                         (position {position}, {}): times never go back along the log, so it \
                         was backdated or inserted",
                        event.recorded_at.to_rfc3339(),
                        at.to_rfc3339()
                    ),
                });
            }
        }
        self.last = Some((event.position, event.recorded_at));
        self.head = next_head(
            &self.head,
            &Entry {
                position: event.position,
                stream: event.stream.clone(),
                version: event.version,
                hash: event.hash.clone(),
            },
        );
        self.count += 1;
    }

    /// Compares the log so far with the auditor's checkpoint; `beyond` is the
    /// first position after it, if the log goes on.
    fn check_auditor(&mut self, beyond: Option<i64>) {
        self.auditor_done = true;
        let Some(auditor) = &self.trust.auditor else {
            return;
        };
        if self.count == auditor.event_count && self.head.as_slice() == auditor.head.as_slice() {
            self.report.auditor_verified_to = Some(auditor.position);
            return;
        }
        let ends = self.last.map_or(0, |(position, _)| position);
        let reason = if beyond.is_none() && self.count < auditor.event_count {
            format!(
                "the log ends at position {ends} with {} events, but the auditor's checkpoint \
                 seals {} events up to position {}: events were removed or the database was \
                 rolled back",
                self.count, auditor.event_count, auditor.position
            )
        } else {
            format!(
                "the log up to position {} ({} events) does not reproduce the auditor's signed \
                 head ({} events): an event up to there was altered, removed or inserted",
                auditor.position, self.count, auditor.event_count
            )
        };
        self.report.findings.push(Finding {
            kind: FindingKind::Auditor,
            position: auditor.position,
            stream: None,
            version: None,
            reason,
        });
    }

    fn checkpoint_finding(&mut self, position: i64, reason: String) {
        self.report.findings.push(Finding {
            kind: FindingKind::Checkpoint,
            position,
            stream: None,
            version: None,
            reason: format!("checkpoint {reason}"),
        });
    }

    /// Why a checkpoint row cannot be believed, if it cannot.
    fn refuse(&self, checkpoint: &Checkpoint, entries: &[Entry]) -> Option<String> {
        let Some(key) = self.trust.key(&checkpoint.key_id) else {
            let trusted: Vec<&str> = self.trust.keys.iter().map(|k| k.key_id.as_str()).collect();
            return Some(format!(
                "is signed by key {}, which is not trusted here (trusted: {})",
                checkpoint.key_id,
                if trusted.is_empty() {
                    "none".into()
                } else {
                    trusted.join(", ")
                }
            ));
        };
        if !key.verifies(&checkpoint.message(), &checkpoint.signature) {
            return Some(format!(
                "has a signature that does not verify with key {}: forged or altered",
                key.key_id
            ));
        }
        let in_order = entries.windows(2).all(|w| w[0].position < w[1].position)
            && entries
                .first()
                .is_some_and(|e| e.position > checkpoint.previous_position)
            && entries
                .last()
                .is_some_and(|e| e.position == checkpoint.position);
        let previous_head = <[u8; 32]>::try_from(checkpoint.previous_head.as_slice()).ok();
        let reproduces = previous_head.is_some_and(|previous| {
            fold_head(&previous, entries).as_slice() == checkpoint.head.as_slice()
        });
        if !in_order || !reproduces {
            return Some(
                "lists events that do not reproduce its signed head: its event list was altered"
                    .into(),
            );
        }
        None
    }

    async fn checkpoint(&mut self, row: CheckpointRow) -> Result<(), sqlx::Error> {
        self.report.checkpoints += 1;
        let position = row.position;
        let (checkpoint, entries) = row.split();
        let Some(checkpoint) = checkpoint else {
            self.checkpoint_finding(
                position,
                format!("at position {position} has an unknown origin"),
            );
            self.skip_unproven(position).await?;
            return Ok(());
        };
        if let Some(reason) = self.refuse(&checkpoint, &entries) {
            let first = self
                .peek()
                .await?
                .map(|e| e.position)
                .filter(|p| *p <= position);
            let range = first.map_or(String::new(), |first| {
                format!("; the events at positions {first}..={position} are not proven by it")
            });
            self.checkpoint_finding(position, format!("at position {position} {reason}{range}"));
            self.skip_unproven(position).await?;
            return Ok(());
        }
        if self.stream.is_none() {
            self.check_chain(&checkpoint, entries.len());
        }
        if let Some(auditor) = &self.trust.auditor {
            if auditor.position == checkpoint.position && auditor.head != checkpoint.head {
                self.checkpoint_finding(
                    position,
                    format!("at position {position} differs from the auditor's checkpoint at the same position"),
                );
            }
        }
        if checkpoint.origin == Origin::Backlog {
            self.report.backlog_events += entries.len() as u64;
        }
        self.report.sealed_to = Some(position);
        self.previous = Some((position, checkpoint.head.clone(), checkpoint.event_count));
        let only = self.stream;
        let mut listed = entries
            .into_iter()
            .filter(|entry| only.is_none_or(|stream| entry.stream == stream))
            .peekable();
        loop {
            let next_event = self
                .peek()
                .await?
                .filter(|e| e.position <= position)
                .map(|e| e.position);
            match (next_event, listed.peek().map(|entry| entry.position)) {
                (None, None) => break,
                (Some(at), entry) if entry.is_none_or(|sealed| at < sealed) => {
                    if let Some(event) = self.take(position).await? {
                        self.report.findings.push(Finding {
                            kind: FindingKind::Inserted,
                            position: event.position,
                            stream: Some(event.stream),
                            version: Some(event.version),
                            reason: format!(
                                "is in no signed checkpoint (the checkpoint at position {position} \
                                 does not list it): inserted around the server"
                            ),
                        });
                    }
                }
                (at, Some(sealed)) if at.is_none_or(|at| sealed < at) => {
                    if let Some(entry) = listed.next() {
                        self.report.findings.push(Finding {
                            kind: FindingKind::Missing,
                            position: sealed,
                            stream: Some(entry.stream),
                            version: Some(entry.version),
                            reason: format!(
                                "was sealed by the checkpoint at position {position} but is no \
                                 longer in the log: removed"
                            ),
                        });
                    }
                }
                _ => {
                    let (Some(event), Some(entry)) = (self.take(position).await?, listed.next())
                    else {
                        break;
                    };
                    if event.stream == entry.stream
                        && event.version == entry.version
                        && event.hash == entry.hash
                    {
                        self.report.sealed_events += 1;
                    } else {
                        self.report.findings.push(Finding {
                            kind: FindingKind::Altered,
                            position: event.position,
                            stream: Some(event.stream),
                            version: Some(event.version),
                            reason: format!(
                                "differs from what the checkpoint at position {position} sealed \
                                 (stream {} version {} hash {}…): altered",
                                entry.stream,
                                entry.version,
                                hex::encode(&entry.hash[..entry.hash.len().min(8)])
                            ),
                        });
                    }
                }
            }
        }
        Ok(())
    }

    /// Chain continuity: the row must build on the previous row.
    fn check_chain(&mut self, checkpoint: &Checkpoint, listed: usize) {
        let (position, head, count) = self.previous.clone().unwrap_or((0, GENESIS.to_vec(), 0));
        if checkpoint.previous_position != position || checkpoint.previous_head != head {
            let reason = if checkpoint.previous_position > position {
                format!(
                    "at position {} chains onto a checkpoint at position {} that is not in the \
                     log (the one before it is at {position}): checkpoints were removed",
                    checkpoint.position, checkpoint.previous_position
                )
            } else {
                format!(
                    "at position {} does not chain onto the checkpoint before it (position \
                     {position})",
                    checkpoint.position
                )
            };
            self.checkpoint_finding(checkpoint.position, reason);
        } else if checkpoint.event_count != count + listed as i64 {
            self.checkpoint_finding(
                checkpoint.position,
                format!(
                    "at position {} counts {} events, but the one before it counts {count} and \
                     it lists {listed}",
                    checkpoint.position, checkpoint.event_count
                ),
            );
        }
    }

    /// Consumes the events a refused checkpoint covers, without proving them.
    async fn skip_unproven(&mut self, up_to: i64) -> Result<(), sqlx::Error> {
        while self.take(up_to).await?.is_some() {}
        Ok(())
    }

    async fn finish(mut self) -> Result<SealReport, sqlx::Error> {
        let sealed_to = self.log_sealed_to.or(self.report.sealed_to).unwrap_or(0);
        while let Some(event) = self.take(i64::MAX).await? {
            let (kind, reason) = if event.position < sealed_to {
                (
                    FindingKind::Inserted,
                    format!(
                        "is in no signed checkpoint (the log is sealed up to position \
                         {sealed_to}): inserted around the server"
                    ),
                )
            } else {
                (
                    FindingKind::Unsealed,
                    format!(
                        "comes after the last signed checkpoint (position {sealed_to}): appends \
                         always seal, so it was written around the server"
                    ),
                )
            };
            self.report.findings.push(Finding {
                kind,
                position: event.position,
                stream: Some(event.stream),
                version: Some(event.version),
                reason,
            });
        }
        if !self.auditor_done {
            self.check_auditor(None);
        }
        Ok(self.report)
    }
}
