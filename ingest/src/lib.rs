//! Almanac's ingestion: read sources (files, directories, URLs, Location
//! entities, pushed text), turn them into candidates, reconcile each source with
//! the catalog's current state, and append the resulting events.
//!
//! It decides nothing itself: `almanac-domain` validates and decides (reads,
//! pushes, deletes, locations), the store appends and projects; every decision
//! reaches the log through one path (`write`). It never serves requests.

pub mod analyze;
mod digests;
pub mod metrics;
pub mod operations;
pub mod progress;
pub mod read;
mod reconcile;
pub mod refresh;
mod report;
mod state;
mod stream;
mod write;

pub use almanac_domain::decide::VersionMismatch;
pub use analyze::{analyze_location, LocationAnalysis};
pub use read::{
    read_sources, read_sources_with, Digests, ReadFailure, ReadFile, ReadLimits, ReadOutcome,
    ReadPolicy, ReadWith, Source, Unchanged,
};
pub use reconcile::{ReconcileOptions, Reconciler};
pub use report::{ConflictReport, ErrorReport, IngestReport};

pub use almanac_domain::decide::OrphanStrategy;
pub use almanac_domain::KindRules;
use almanac_store::projection::ProjectionError;
use almanac_store::{EventLog, PgPool};
use progress::Progress;
use std::sync::Arc;

#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error("{0}")]
    Invalid(String),
    #[error("another writer changed the same entities: {0}")]
    Conflict(String),
    /// An all-or-nothing reconcile (a push) names entities another source
    /// manages: nothing was written.
    #[error("{} entities are managed by another source; nothing was applied", .0.len())]
    Claimed(Vec<ConflictReport>),
    /// Expected versions that do not match: nothing was written.
    #[error("{} entities are not at the expected version; nothing was applied", .0.len())]
    VersionConflict(Vec<VersionMismatch>),
    /// An event of the log does not fold (read while deciding from the log).
    #[error(transparent)]
    History(#[from] almanac_store::history::HistoryError),
    #[error("database error during ingest: {0}")]
    Database(#[from] almanac_store::StoreError),
    #[error(transparent)]
    Projection(#[from] ProjectionError),
    /// The append could not be signed (no key): nothing was written.
    #[error(transparent)]
    Seal(#[from] almanac_store::log::seal::SealError),
    /// The task deciding a read's chunks was stopped before the read ended (the
    /// runtime shutting down): the chunks it appended stand, the rest was not decided.
    #[error("the ingest was stopped before it finished")]
    Stopped,
}

/// What the `catalog:` configuration decides about reads: which kinds each location
/// may register, and what becomes of what a location no longer holds. One value, so
/// the refresh loop and the API's reads apply the same.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CatalogPolicy {
    pub rules: KindRules,
    pub orphans: OrphanStrategy,
}

/// Reads sources and applies them: the one call `almanac ingest`, the
/// refresh loop and the push API share.
#[derive(Clone, Debug)]
pub struct Ingestor {
    reconciler: Reconciler,
    /// The log it appends to, with the key its appends sign with.
    log: EventLog,
    /// What one read may hold (`limits:`); by default [`ReadLimits::default`].
    /// Passed in by the caller, never taken from a global, so two ingestors of
    /// one process may read with different limits.
    pub limits: ReadLimits,
    /// What URL reads may reach (`reading:`); by default nothing. Passed in by the
    /// caller, never taken from a global.
    pub reading: ReadPolicy,
    /// Which kinds each location may register (`catalog.rules`); by default every
    /// built-in kind and nothing else. Passed in by the caller.
    pub rules: KindRules,
    /// Counters a caller may watch (`almanac ingest` draws them).
    progress: Option<Arc<Progress>>,
}

impl Ingestor {
    /// Appends to `log` (which holds the signing key).
    pub fn new(log: EventLog) -> Self {
        Self {
            reconciler: Reconciler::new(log.clone()),
            log,
            limits: ReadLimits::default(),
            reading: ReadPolicy::default(),
            rules: KindRules::builtin(),
            progress: None,
        }
    }

    /// Counts what [`Ingestor::ingest`] and [`Ingestor::wait_visible`] do in `progress`.
    pub fn with_progress(mut self, progress: Arc<Progress>) -> Self {
        self.reconciler.progress = Some(progress.clone());
        self.progress = Some(progress);
        self
    }

    pub fn with_reading(mut self, reading: ReadPolicy) -> Self {
        self.reading = reading;
        self
    }

    /// What becomes of an entity its source no longer holds (`catalog.orphanStrategy`).
    pub fn with_orphans(mut self, orphans: almanac_domain::decide::OrphanStrategy) -> Self {
        self.reconciler.orphans = orphans;
        self
    }

    /// Reads under the catalog's rules and orphan strategy.
    pub fn with_catalog(self, catalog: CatalogPolicy) -> Self {
        self.with_rules(catalog.rules).with_orphans(catalog.orphans)
    }

    /// Reads under `rules` (`catalog.rules` and the locations' own rules).
    pub fn with_rules(mut self, rules: KindRules) -> Self {
        self.rules = rules;
        self
    }

    pub fn pool(&self) -> &PgPool {
        self.log.pool()
    }

    pub fn log(&self) -> &EventLog {
        &self.log
    }

    /// Reads sources with this ingestor's limits and policy, without reconciling them.
    pub async fn read(&self, sources: &[Source]) -> ReadOutcome {
        let with = ReadWith {
            rules: Some(&self.rules),
            ..ReadWith::default()
        };
        read_sources_with(sources, &self.limits, &self.reading, with).await
    }

    pub fn with_limits(mut self, limits: ReadLimits) -> Self {
        self.limits = limits;
        self
    }

    pub fn reconciler(&self) -> &Reconciler {
        &self.reconciler
    }

    /// Reads one root source whole and applies it as `ingest:<origin>`;
    /// what the source no longer holds is removed.
    ///
    /// A file whose bytes and whose last decision are unchanged since it was last
    /// decided is read and hashed, not parsed or decided again (`read::digest`).
    /// Files are decided in read order, a chunk at a time while the read goes on
    /// (`stream.rs`): of two files naming one new ref, the one read first keeps it.
    pub async fn ingest(&self, source: &Source) -> Result<IngestReport, IngestError> {
        let digests = match source {
            Source::Text { .. } => None,
            _ => {
                Some(Digests::load(self.pool(), &source.origin(), &self.limits, &self.rules).await?)
            }
        };
        let options = ReconcileOptions {
            actor: format!("ingest:{}", source.origin()),
            remove_missing: !matches!(source, Source::Text { .. }),
            // One id per run: every event of this read says which run wrote it.
            correlation_id: Some(uuid::Uuid::new_v4()),
            origins: vec![source.origin()],
            all_or_nothing: false,
            expected_versions: Default::default(),
        };
        // Chunks are decided and appended while later files are still read.
        stream::ingest(
            self,
            source,
            digests.as_ref(),
            self.progress.as_deref(),
            options,
        )
        .await
    }

    /// Reconciles already-read sources with the caller's options (pushes).
    pub async fn reconcile(
        &self,
        outcome: &ReadOutcome,
        options: &ReconcileOptions,
    ) -> Result<IngestReport, IngestError> {
        self.reconciler.reconcile(outcome, options).await
    }

    /// Returns once everything up to `position` is visible to queries.
    pub async fn wait_visible(&self, position: Option<i64>) -> Result<(), IngestError> {
        if let Some(progress) = &self.progress {
            progress.enter(progress::Phase::Projecting);
        }
        self.reconciler.wait_visible(position).await
    }
}
