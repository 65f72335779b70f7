//! From read sources to appended events: load the state once per chunk, let
//! `decide` reconcile each source, append the chunk's events in bulk together
//! with its operational state, in one transaction that holds the append lock
//! from the state read to the commit, so what was decided is what is appended
//! to. Pushes (`all_or_nothing`) are one chunk, refused whole on a conflict
//! with another source or a missed expected version; reads record such
//! conflicts and apply the rest. Files are decided in read order, from a whole
//! outcome (`reconcile`) or as a read sends them (`reconcile_stream`, `stream.rs`).

use crate::digests::DigestRows;
use crate::progress::{Phase, Progress};
use crate::read::{ReadFailure, ReadFile, ReadOutcome};
use crate::report::{ConflictReport, ErrorReport, IngestReport};
use crate::state::{self, StateMap};
use crate::write::{self, stream_append};
use crate::IngestError;
use almanac_domain::decide::version_mismatches;
use almanac_domain::decide::{vanished, OrphanStrategy};
use almanac_domain::entity::managed_by_location;
use almanac_domain::{
    decide, evolve, Candidate, CatalogEvent, DecideOptions, EntityRef, EntityState, PendingEvent,
    RemovalReason,
};
use almanac_store::operational::{record_read, ErrorRow};
use almanac_store::projection::{wait_for_position, ProjectionError, Projector, Step};
use almanac_store::{AppendError, AppendMeta, EventLog, PgPool};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use uuid::Uuid;

/// How many entities one transaction reconciles at most.
const CHUNK_ENTITIES: usize = 2_000;
const ATTEMPTS: usize = 3;

#[derive(Clone, Debug)]
pub struct ReconcileOptions {
    /// Recorded on every event: `ingest:<origin>` or a token's subject.
    pub actor: String,
    /// True when the read holds the whole of each source: what a source no
    /// longer holds is removed. False for pushes that only upsert.
    pub remove_missing: bool,
    pub correlation_id: Option<Uuid>,
    /// The roots this read covered whole (`Source::origin`): entities read
    /// through one of them from a file that was not read this time are removed.
    /// Empty for pushes.
    pub origins: Vec<String>,
    /// True for pushes: if a source names an entity another source manages,
    /// nothing at all is applied ([`IngestError::Claimed`]). False for reads,
    /// where such an entity is recorded as a conflict and the rest applies.
    pub all_or_nothing: bool,
    /// Canonical ref -> the version the writer last saw (0: no live entity).
    /// One mismatch and nothing is applied ([`IngestError::VersionConflict`]).
    pub expected_versions: HashMap<String, i64>,
}

/// Reconciles read sources with the catalog.
#[derive(Clone, Debug)]
pub struct Reconciler {
    pool: PgPool,
    /// Where it appends, with the signing key.
    log: EventLog,
    projector: Projector,
    /// How long a write waits for the projection before giving up.
    pub visibility_timeout: Duration,
    /// Counts sources decided and events appended, for a caller to show.
    pub(crate) progress: Option<Arc<Progress>>,
    /// `catalog.orphanStrategy`: what becomes of an entity its source no longer holds.
    pub orphans: OrphanStrategy,
}

impl Reconciler {
    pub fn new(log: EventLog) -> Self {
        Self {
            projector: Projector::new(log.pool().clone()),
            pool: log.pool().clone(),
            log,
            visibility_timeout: Duration::from_secs(30),
            progress: None,
            orphans: OrphanStrategy::default(),
        }
    }

    /// Reconciles everything read, in chunks (in read order), then removes what vanished.
    pub async fn reconcile(
        &self,
        outcome: &ReadOutcome,
        options: &ReconcileOptions,
    ) -> Result<IngestReport, IngestError> {
        self.sync_projection().await?;
        let held_before = self.held_before(options).await?;
        if let Some(progress) = &self.progress {
            progress.enter(Phase::Deciding);
            progress.to_decide(outcome.files.len());
        }
        // All or nothing needs one transaction, whatever the size.
        let chunks = if options.all_or_nothing {
            vec![outcome.files.as_slice()]
        } else {
            chunks(&outcome.files)
        };
        let mut report = IngestReport::default();
        for chunk in chunks {
            report.merge(self.decide_chunk(chunk, options).await?);
        }
        let read: Vec<&str> = outcome.files.iter().map(|f| f.key.as_str()).collect();
        report.merge(self.finish(outcome, &read, options, held_before).await?);
        Ok(report)
    }

    /// Whether the run's origins held any entity before it appended (see `finish`):
    /// asked after `sync_projection`, before the first chunk.
    async fn held_before(&self, options: &ReconcileOptions) -> Result<bool, IngestError> {
        Ok(options.remove_missing
            && !options.origins.is_empty()
            && almanac_store::ingest_state::origins_hold_entities(&self.pool, &options.origins)
                .await?)
    }

    /// Takes the files of a read as it sends them (`ReadWith::sink`) and decides and
    /// appends each chunk of about `CHUNK_ENTITIES` as soon as it is full, while the
    /// read goes on. Returns when the read has ended (the sender is gone), with the
    /// last, partial chunk undecided: [`Reconciler::reconcile_rest`] decides it, so a
    /// read that was abandoned appends no more than its full chunks.
    pub(crate) async fn reconcile_stream(
        &self,
        mut files: mpsc::Receiver<Vec<ReadFile>>,
        options: &ReconcileOptions,
    ) -> Result<Streamed, IngestError> {
        self.sync_projection().await?;
        let mut streamed = Streamed {
            // Asked before anything of this run is appended (see `finish`).
            held_before: self.held_before(options).await?,
            ..Streamed::default()
        };
        let mut size = 0;
        while let Some(read) = files.recv().await {
            if let Some(progress) = &self.progress {
                progress.to_decide(read.len());
            }
            for file in read {
                streamed.keys.push(file.key.clone());
                size += weight(&file);
                streamed.rest.push(file);
                if size >= CHUNK_ENTITIES {
                    // Decided, appended and freed before the next files are taken.
                    let chunk = std::mem::take(&mut streamed.rest);
                    streamed
                        .report
                        .merge(self.decide_chunk(&chunk, options).await?);
                    size = 0;
                }
            }
        }
        Ok(streamed)
    }

    /// After a streamed read has ended: its last chunk, then what only the whole read
    /// tells (skips confirmed, failures, what vanished), as [`Reconciler::reconcile`]
    /// ends.
    pub(crate) async fn reconcile_rest(
        &self,
        streamed: Streamed,
        outcome: &ReadOutcome,
        options: &ReconcileOptions,
    ) -> Result<IngestReport, IngestError> {
        let Streamed {
            mut report,
            keys,
            rest,
            held_before,
        } = streamed;
        if !rest.is_empty() {
            report.merge(self.decide_chunk(&rest, options).await?);
        }
        drop(rest);
        let read: Vec<&str> = keys.iter().map(String::as_str).collect();
        report.merge(self.finish(outcome, &read, options, held_before).await?);
        Ok(report)
    }

    /// One chunk decided and appended in its transaction, decided again from fresh
    /// state when another writer moved one of its streams meanwhile.
    async fn decide_chunk(
        &self,
        chunk: &[ReadFile],
        options: &ReconcileOptions,
    ) -> Result<IngestReport, IngestError> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            match self.reconcile_chunk(chunk, options).await {
                Ok(done) => {
                    if let Some(progress) = &self.progress {
                        progress.decided(chunk.len(), done.events());
                    }
                    return Ok(done);
                }
                Err(IngestError::Conflict(detail)) if attempt < ATTEMPTS => {
                    tracing::info!(%detail, attempt, "another writer moved a stream; deciding again");
                    self.sync_projection().await?;
                }
                Err(err) => return Err(err),
            }
        }
    }

    /// Brings the projection up to the log's head: this process projects if no
    /// other holds the projector, otherwise it waits for the one that does.
    pub async fn sync_projection(&self) -> Result<(), IngestError> {
        let head = self.log.head_position().await?;
        if self.projector.catch_up().await? == Step::Busy {
            self.wait_while_progressing(head).await?;
        }
        Ok(())
    }

    /// Waits for the projector that holds the lock. A large ingest may take it
    /// minutes: give up only when it stops moving for a whole timeout. The
    /// holder may also finish just before `position` commits (two writers
    /// racing, no background projector): so every `TAKE_OVER` this projects
    /// itself if the lock has come free, rather than wait for nobody.
    async fn wait_while_progressing(&self, position: i64) -> Result<(), IngestError> {
        const TAKE_OVER: Duration = Duration::from_millis(200);
        let mut last_reached = -1;
        let mut progressed = Instant::now();
        loop {
            match wait_for_position(&self.pool, position, TAKE_OVER).await {
                Ok(()) => return Ok(()),
                Err(ProjectionError::WaitTimeout { reached, .. }) => {
                    if reached > last_reached {
                        last_reached = reached;
                        progressed = Instant::now();
                    } else if progressed.elapsed() >= self.visibility_timeout {
                        return Err(ProjectionError::WaitTimeout {
                            position,
                            reached,
                            waited_ms: progressed.elapsed().as_millis(),
                        }
                        .into());
                    }
                    self.projector.catch_up().await?;
                }
                Err(err) => return Err(err.into()),
            }
        }
    }

    /// Read-your-writes: returns once `position` is visible to queries.
    pub async fn wait_visible(&self, position: Option<i64>) -> Result<(), IngestError> {
        let Some(position) = position else {
            return Ok(());
        };
        if self.projector.catch_up().await? == Step::Busy {
            self.wait_while_progressing(position).await?;
        }
        Ok(())
    }

    async fn reconcile_chunk(
        &self,
        files: &[ReadFile],
        options: &ReconcileOptions,
    ) -> Result<IngestReport, IngestError> {
        let keys: Vec<String> = files.iter().map(|f| f.key.clone()).collect();
        let named: Vec<Vec<String>> = files
            .iter()
            .map(|f| candidate_refs(&f.candidates))
            .collect();
        let all_named: Vec<String> = named.iter().flatten().cloned().collect();
        // Decide and append in one transaction under the append lock: the state
        // read here is the state the events are appended to, so ownership and
        // expected versions cannot change between the check and the write.
        let mut tx = write::begin_locked(&self.log).await?;
        let mut map = state::load(&mut tx, &keys, &all_named).await?;
        let mismatches = version_mismatches(&map, &all_named, &options.expected_versions);
        if !mismatches.is_empty() {
            return Err(IngestError::VersionConflict(mismatches));
        }
        let claimed = claims(&map);

        let mut report = IngestReport {
            sources_read: files.len(),
            ..IngestReport::default()
        };
        let mut appends = Vec::new();
        let mut errors = Vec::new();
        let mut conflicts = Vec::new();
        let mut digests = DigestRows::default();
        for (file, named) in files.iter().zip(&named) {
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
                    // A document we cannot identify might be any of the source's
                    // entities: remove none of them on its account.
                    remove_missing: options.remove_missing && all_identified(&file.candidates),
                    orphans: self.orphans,
                },
            );
            report.unchanged += decision.unchanged;
            let clean = decision.errors.is_empty() && decision.conflicts.is_empty();
            for pending in decision.appends {
                count(&mut report, &pending.event);
                advance(&mut map, &pending);
                appends.push(stream_append(pending, &file.key));
            }
            for error in decision.errors {
                errors.push(ErrorRow {
                    source: file.key.clone(),
                    entity_ref: error.entity_ref.map(|r| r.canonical()),
                    message: error.message,
                });
            }
            conflicts.extend(decision.conflicts);
            digests.note(file, (mine, named), &map, clean, options);
        }

        if options.all_or_nothing && !conflicts.is_empty() {
            // Dropping the transaction rolls it back: nothing is written.
            return Err(IngestError::Claimed(
                conflicts.iter().map(ConflictReport::from).collect(),
            ));
        }
        report.last_position = write::append(&mut tx, &appends, &meta(options)).await?;
        record_read(&mut tx, &keys, &errors, &conflicts).await?;
        digests.write(&mut tx).await?;
        tx.commit().await?;
        report.errors = errors.into_iter().map(error_report).collect();
        report.conflicts = conflicts.iter().map(ConflictReport::from).collect();
        Ok(report)
    }

    /// Counts the sources whose last decision still holds, records the sources that
    /// failed, and removes the entities of files that vanished from a fully read
    /// origin (a deleted file under a directory, a target dropped from a Location).
    /// An origin with any failure removes nothing: what could not be read is not
    /// known to be gone. `read`: the keys of the files read and decided.
    /// `held_before`: whether the origins held any entity before the run appended; if
    /// not (a first read), the run's own appends are all from sources it read, and
    /// nothing can have vanished. An entity another writer adds meanwhile from a file
    /// this run did not see is that writer's, not removed on the strength of an older
    /// walk.
    async fn finish(
        &self,
        outcome: &ReadOutcome,
        read: &[&str],
        options: &ReconcileOptions,
        held_before: bool,
    ) -> Result<IngestReport, IngestError> {
        // Sources whose last decision still holds: read and hashed, not decided again.
        let mut report = IngestReport {
            sources_read: outcome.unchanged.len(),
            unchanged: outcome.unchanged.iter().map(|u| u.entities).sum(),
            ..IngestReport::default()
        };
        if let Some(progress) = &self.progress {
            progress.to_decide(outcome.unchanged.len());
            progress.decided(outcome.unchanged.len(), 0);
        }
        // From the roots given, not from the files read: a root that now holds
        // no file at all (an emptied directory) must still lose its entities.
        let complete_origins: Vec<&str> = options
            .origins
            .iter()
            .map(String::as_str)
            .filter(|o| outcome.is_complete(o))
            .collect();
        let seen: Vec<&str> = read
            .iter()
            .copied()
            .chain(outcome.unchanged.iter().map(|u| u.key.as_str()))
            .chain(outcome.errors.iter().map(|f| f.key.as_str()))
            .collect();

        let mut tx = self.log.begin().await?;
        let mut appends = Vec::new();
        if options.remove_missing && held_before && !complete_origins.is_empty() {
            // What is decided from here on is appended to exactly what was read.
            tx.lock_appends().await?;
            let gone =
                almanac_store::ingest_state::vanished(&mut tx, &complete_origins, &seen).await?;
            for (entity_ref, version, descriptor, source) in gone {
                let state = EntityState {
                    version,
                    descriptor: Some(descriptor),
                };
                let Some(parsed) = ref_from_canonical(&entity_ref) else {
                    continue;
                };
                let event = vanished(&state, &source, self.orphans, RemovalReason::SourceDeleted);
                if let Some(event) = event {
                    let pending = PendingEvent {
                        stream: almanac_domain::entity_stream(&parsed),
                        expected_version: state.version,
                        event,
                    };
                    count(&mut report, &pending.event);
                    appends.push(stream_append(pending, &source));
                }
            }
        }
        report.last_position = write::append(&mut tx, &appends, &meta(options)).await?;
        if !outcome.errors.is_empty() {
            let failed: Vec<String> = outcome.errors.iter().map(|f| f.key.clone()).collect();
            let errors: Vec<ErrorRow> = outcome.errors.iter().map(failure_row).collect();
            record_read(&mut tx, &failed, &errors, &[]).await?;
            report.errors = errors.into_iter().map(error_report).collect();
        }
        tx.commit().await?;
        Ok(report)
    }
}

/// What the chunks of a streamed read decided while it went on
/// ([`Reconciler::reconcile_stream`]).
#[derive(Debug, Default)]
pub(crate) struct Streamed {
    report: IngestReport,
    /// Every file taken, decided or not: what the read found (vanished sources).
    keys: Vec<String>,
    /// The files of the last chunk, not yet decided.
    rest: Vec<ReadFile>,
    /// Whether the origins held any entity before the first chunk (`finish`).
    held_before: bool,
}

/// A file's share of a chunk: its entities (a file of none still costs its state).
fn weight(file: &ReadFile) -> usize {
    file.candidates.len().max(1)
}

/// Files grouped so that one transaction holds about `CHUNK_ENTITIES` entities.
fn chunks(files: &[ReadFile]) -> Vec<&[ReadFile]> {
    let mut out = Vec::new();
    let (mut start, mut size) = (0, 0);
    for (i, file) in files.iter().enumerate() {
        size += weight(file);
        if size >= CHUNK_ENTITIES {
            out.push(&files[start..=i]);
            start = i + 1;
            size = 0;
        }
    }
    if start < files.len() {
        out.push(&files[start..]);
    }
    out
}

pub(crate) fn candidate_refs(candidates: &[Candidate]) -> Vec<String> {
    candidates
        .iter()
        .filter_map(|c| match c {
            Candidate::Valid(entity) => Some(entity.entity_ref().canonical()),
            Candidate::Invalid { entity_ref, .. } => entity_ref.as_ref().map(EntityRef::canonical),
        })
        .collect()
}

pub(crate) fn all_identified(candidates: &[Candidate]) -> bool {
    candidates.iter().all(|c| {
        !matches!(
            c,
            Candidate::Invalid {
                entity_ref: None,
                ..
            }
        )
    })
}

/// Source key -> refs of the live entities it manages.
pub(crate) fn claims(map: &StateMap) -> HashMap<String, Vec<String>> {
    let mut claimed: HashMap<String, Vec<String>> = HashMap::new();
    for (entity_ref, state) in map {
        if let Some(source) = state.descriptor.as_ref().and_then(managed_by_location) {
            claimed
                .entry(source.to_string())
                .or_default()
                .push(entity_ref.clone());
        }
    }
    claimed
}

/// Later sources of the same chunk must see what earlier ones decided.
pub(crate) fn advance(map: &mut StateMap, pending: &PendingEvent) {
    let before = map.get(&pending.stream).cloned().unwrap_or(EntityState {
        version: pending.expected_version,
        descriptor: None,
    });
    match evolve(Some(before), &pending.event) {
        Ok(after) => {
            map.insert(pending.stream.clone(), after);
        }
        Err(err) => {
            tracing::error!(stream = %pending.stream, error = %err, "decided event does not fold")
        }
    }
}

fn count(report: &mut IngestReport, event: &CatalogEvent) {
    match event {
        CatalogEvent::EntityRegistered { .. } => report.registered += 1,
        // An adoption changes the descriptor (the orphan mark goes): an update.
        CatalogEvent::EntityUpdated { .. } | CatalogEvent::EntityAdopted { .. } => {
            report.updated += 1
        }
        CatalogEvent::EntityRemoved { .. } => report.removed += 1,
        CatalogEvent::EntityOrphaned { .. } => report.orphaned += 1,
        _ => {}
    }
}

fn meta(options: &ReconcileOptions) -> AppendMeta {
    AppendMeta {
        actor: options.actor.clone(),
        source: None,
        correlation_id: options.correlation_id,
        causation_id: None,
        idempotency_key: None,
    }
}

/// Canonical refs are `kind:namespace/name` with every part present.
fn ref_from_canonical(canonical: &str) -> Option<EntityRef> {
    EntityRef::parse(canonical, None, "default").ok()
}

fn failure_row(failure: &ReadFailure) -> ErrorRow {
    ErrorRow {
        source: failure.key.clone(),
        entity_ref: None,
        message: failure.message.clone(),
    }
}

fn error_report(row: ErrorRow) -> ErrorReport {
    ErrorReport {
        source: row.source,
        entity_ref: row.entity_ref,
        message: row.message,
    }
}

impl IngestError {
    pub(crate) fn from_append(err: AppendError) -> IngestError {
        match err {
            AppendError::Conflict { .. }
            | AppendError::ConcurrentConflict(_)
            | AppendError::AlreadyRegistered { .. } => IngestError::Conflict(err.to_string()),
            AppendError::Database(db) => IngestError::Database(db.into()),
            AppendError::Seal(seal) => IngestError::Seal(seal),
        }
    }
}
