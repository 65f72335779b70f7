//! The source-reading layer of ingest: from the sources a user names (files, directories,
//! URLs, pushed text) to candidates per location, following Location entities.
//!
//! `read_sources` reads level by level (the roots, then the targets of their Location
//! entities, and so on), each level concurrently (bounded); a file is read, hashed, parsed
//! and validated in one call on the blocking pool, so reads use every core. With the
//! recorded digests (`digest.rs`) a file whose last decision still holds is not parsed. A
//! key is read at most once per call, which ends cycles; the first root (in the order
//! given) to reach a key, at the shallowest depth, claims it, so the outcome is the same
//! on every run. Files come out in read order (level by level; a level in the order its
//! tasks were found: a directory's sorted walk, a Location's targets as named; last, the
//! files whose skip was not confirmed), into the outcome or, as their turn comes, into a
//! sink ([`ReadWith::sink`]). It does not reconcile with the catalog, write events, or
//! schedule re-reads: the caller does, using the read/failed distinction of
//! [`ReadOutcome`].

mod address;
mod allow;
mod digest;
mod directory;
mod fetch;
mod frontier;
mod glob;
mod lineage;
mod location;
mod outcome;
mod parse;
mod placeholder;
mod root;
mod source;

use std::collections::HashMap;
use std::panic::AssertUnwindSafe;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use futures::stream::{self, StreamExt};
use tokio::sync::mpsc;

pub use allow::{redact, AllowRule, HostCredentials, ReadPolicy, Refusal};
pub use digest::{Digests, DIGEST_FORMAT};
pub use lineage::location_target_keys;

use crate::progress::Progress;
pub use outcome::{ReadFailure, ReadFile, ReadOutcome, Unchanged};
pub use source::{ReadLimits, Source, DEFAULT_DIRECTORY_GLOB};

use address::Address;
use almanac_domain::{Candidate, KindRules};
use fetch::{FetchError, Fetcher};
use frontier::{Frontier, Task};
use location::Target;
use parse::Origin;

enum Done {
    Read {
        file: ReadFile,
        targets: Vec<Target>,
        depth: usize,
        root: Option<Arc<PathBuf>>,
    },
    /// Same digest as recorded: to be confirmed after the read (or read after all).
    /// Its recorded targets are followed at once; if it is read after all, they are
    /// the targets it has (same bytes), already read.
    Unchanged {
        task: Task,
        digest: Vec<u8>,
        targets: Vec<Target>,
    },
    Failed(ReadFailure),
    /// An optional target that does not exist.
    Skipped,
}

/// Reads every source, and every location their Location entities lead to, reading URLs
/// only as `policy` allows and files only inside their source's root. Never fails as a
/// whole: what cannot be read is a [`ReadFailure`] in the outcome.
pub async fn read_sources(
    sources: &[Source],
    limits: &ReadLimits,
    policy: &ReadPolicy,
) -> ReadOutcome {
    read_sources_with(sources, limits, policy, ReadWith::default()).await
}

/// What a read may be given besides its sources, limits and policy.
#[derive(Clone, Copy, Debug, Default)]
pub struct ReadWith<'a> {
    /// Skip the files whose recorded digest still holds ([`ReadOutcome::unchanged`]),
    /// and give every other file that can be skipped next time its digest
    /// ([`ReadFile::digest`]).
    pub digests: Option<&'a Digests>,
    /// Count files found and read.
    pub progress: Option<&'a Progress>,
    /// Which kinds each location may register (`catalog.rules`); `None`: every
    /// built-in kind and nothing else ([`KindRules::builtin`]).
    pub rules: Option<&'a KindRules>,
    /// Where the files read go as their turn comes (in read order, the files of one
    /// blocking call per message: one wake-up of the receiver per file cost more than
    /// the send), instead of into [`ReadOutcome::files`]: so a caller may decide and
    /// append the first files while later ones are still read (`Ingestor::ingest`).
    /// Bounded: a caller slower than the read holds it back rather than let the files
    /// pile up. When the receiver is gone the read stops and returns what it has.
    pub sink: Option<&'a mpsc::Sender<Vec<ReadFile>>>,
}

/// [`read_sources`] with digests and progress ([`ReadWith`]).
pub async fn read_sources_with(
    sources: &[Source],
    limits: &ReadLimits,
    policy: &ReadPolicy,
    with: ReadWith<'_>,
) -> ReadOutcome {
    let ReadWith {
        digests,
        progress,
        rules,
        sink,
    } = with;
    // One copy per call, shared by every file's blocking validation.
    let rules = Arc::new(rules.cloned().unwrap_or_default());
    let policy = Arc::new(policy.clone());
    let fetcher = Fetcher::new(limits.max_file_bytes, limits.url_timeout, policy);
    let parallel = std::thread::available_parallelism().map_or(1, |n| n.get()) * 2;
    // The directories resolved by this read's file checks, shared by its reads.
    let resolved = Arc::new(root::Resolved::default());
    let mut outcome = ReadOutcome::default();
    let mut frontier = Frontier::new(limits);
    let mut level = Vec::new();
    for source in sources {
        frontier.root(source, &mut level, &mut outcome.errors).await;
    }
    let mut may_skip = digests.is_some();
    let mut maybe_unchanged: Vec<(Task, Vec<u8>)> = Vec::new();
    // Candidates for a skip are checked in batches while the read goes on (PostgreSQL
    // on one core, the reading on the others), not all at once after it.
    let mut checks = Checks::default();
    loop {
        while !level.is_empty() {
            // The second pass reads again what was counted already.
            let counting = progress.filter(|_| may_skip || digests.is_none());
            if let Some(progress) = counting {
                progress.found(level.len());
            }
            let mut batches: Vec<Vec<Task>> = Vec::new();
            for task in level {
                match batches.last_mut() {
                    Some(batch) if batch.len() < FILES_PER_CALL => batch.push(task),
                    _ => batches.push(vec![task]),
                }
            }
            // In order (`buffered`): each file goes on, to the sink or the outcome, as
            // its turn comes, so the order files are decided in is the read order.
            let mut reads = stream::iter(batches)
                .map(|batch| {
                    let fetcher = &fetcher;
                    let reading = Reading {
                        fetcher,
                        limits,
                        digests,
                        may_skip,
                        rules: &rules,
                        resolved: &resolved,
                    };
                    async move {
                        let done = read_batch(batch, reading).await;
                        if let Some(progress) = counting {
                            for _ in &done {
                                progress.read();
                            }
                        }
                        done
                    }
                })
                .buffered(parallel);
            let mut next = Vec::new();
            while let Some(batch) = reads.next().await {
                let mut read = Vec::with_capacity(batch.len());
                for done in batch {
                    match done {
                        Done::Read {
                            file,
                            targets,
                            depth,
                            root,
                        } => {
                            let targets = expand_globs(targets, &file, root.clone(), limits).await;
                            let targets = targets.unwrap_or_else(|failures| {
                                outcome.errors.extend(failures.1);
                                failures.0
                            });
                            for target in targets {
                                let parent = (file.key.as_str(), file.origin.as_str());
                                let child = frontier.child(target, parent, depth, root.clone());
                                match child {
                                    Ok(Some(task)) => next.push(task),
                                    Ok(None) => {}
                                    Err(failure) => outcome.errors.push(failure),
                                }
                            }
                            read.push(file);
                        }
                        Done::Unchanged {
                            task,
                            digest,
                            targets,
                        } => {
                            if let Some(digests) = digests {
                                checks.add(digests, task.key.clone(), digest.clone());
                            }
                            for target in targets {
                                let parent = (task.key.as_str(), task.origin.as_str());
                                let child =
                                    frontier.child(target, parent, task.depth, task.root.clone());
                                match child {
                                    Ok(Some(child)) => next.push(child),
                                    Ok(None) => {}
                                    Err(failure) => outcome.errors.push(failure),
                                }
                            }
                            maybe_unchanged.push((task, digest))
                        }
                        Done::Failed(failure) => outcome.errors.push(failure),
                        Done::Skipped => {}
                    }
                }
                match sink {
                    Some(_) if read.is_empty() => {}
                    Some(sink) => {
                        if sink.send(read).await.is_err() {
                            // Nobody takes files any more: the caller has stopped.
                            return outcome;
                        }
                    }
                    None => outcome.files.append(&mut read),
                }
            }
            level = next;
        }
        let Some(digests) = digests.filter(|_| !maybe_unchanged.is_empty()) else {
            break;
        };
        // Is each candidate's decision still what holds? (The last batch, then every
        // batch's answer.)
        let valid = checks.finish(digests).await;
        for (task, _) in maybe_unchanged.drain(..) {
            match valid.get(&task.key) {
                Some(entities) => outcome.unchanged.push(Unchanged {
                    key: task.key,
                    origin: task.origin,
                    entities: usize::try_from(*entities).unwrap_or(0),
                }),
                // Changed since (an entity of it edited elsewhere, say): read it whole.
                None => level.push(task),
            }
        }
        may_skip = false;
    }
    outcome.unchanged.sort_by(|a, b| a.key.cmp(&b.key));
    outcome
        .errors
        .sort_by(|a, b| (&a.key, &a.message).cmp(&(&b.key, &b.message)));
    outcome.errors.dedup();
    outcome
}

/// Candidates for a skip per check: large enough that a statement's own cost is
/// small beside it, small enough that the checks run while files are still read.
const CHECK_BATCH: usize = 4096;

/// Checks that run at once. Files are read faster than they are checked: unbounded,
/// every batch of a 100k re-read was checked at once, each on a connection of its own
/// (14 fresh backends competing for two cores: 1.9 s of PostgreSQL CPU for 0.8 s of
/// statements).
const CHECKS_AT_ONCE: usize = 2;

/// The digest checks of one read: the candidates not yet sent, and the checks running.
struct Checks {
    batch: Vec<(String, Vec<u8>)>,
    running: Vec<tokio::task::JoinHandle<HashMap<String, i32>>>,
    permits: Arc<tokio::sync::Semaphore>,
}

impl Default for Checks {
    fn default() -> Self {
        Checks {
            batch: Vec::new(),
            running: Vec::new(),
            permits: Arc::new(tokio::sync::Semaphore::new(CHECKS_AT_ONCE)),
        }
    }
}

impl Checks {
    /// A file read whose digest matched: checked with the next full batch.
    fn add(&mut self, digests: &Digests, key: String, digest: Vec<u8>) {
        self.batch.push((key, digest));
        if self.batch.len() >= CHECK_BATCH {
            self.send(digests);
        }
    }

    fn send(&mut self, digests: &Digests) {
        let batch = std::mem::take(&mut self.batch);
        let (digests, permits) = (digests.clone(), self.permits.clone());
        self.running.push(tokio::spawn(async move {
            // Never closed: a permit always comes.
            let _permit = permits.acquire_owned().await.ok();
            digests.still_valid(&batch).await
        }));
    }

    /// Every candidate whose decision still holds, with its number of candidates. A
    /// check that failed confirms nothing (its files are read in full).
    async fn finish(&mut self, digests: &Digests) -> HashMap<String, i32> {
        if !self.batch.is_empty() {
            self.send(digests);
        }
        let mut valid = HashMap::new();
        for check in self.running.drain(..) {
            match check.await {
                Ok(confirmed) => valid.extend(confirmed),
                Err(error) => {
                    tracing::warn!(%error, "a source digest check stopped; reading its sources in full")
                }
            }
        }
        valid
    }
}

/// The targets with every glob target replaced by the files it matches; the failures
/// of globs that could not be expanded beside them.
async fn expand_globs(
    targets: Vec<Target>,
    parent: &ReadFile,
    root: Option<Arc<PathBuf>>,
    limits: &ReadLimits,
) -> Result<Vec<Target>, (Vec<Target>, Vec<ReadFailure>)> {
    let mut out = Vec::with_capacity(targets.len());
    let mut failures = Vec::new();
    for target in targets {
        // Nearly every target is a plain file: no walk, so no trip to the blocking pool
        // (one per target was a thread wake-up per file of a large catalog).
        if !glob::holds_glob(&target) {
            out.push(target);
            continue;
        }
        let (one, within, max) = (target.clone(), root.clone(), limits.max_glob_matches);
        let expanded = tokio::task::spawn_blocking(move || {
            glob::expand(&one, within.as_deref().map(PathBuf::as_path), max)
        })
        .await
        .unwrap_or_else(|_| Err("the glob walk stopped unexpectedly".to_string()));
        match expanded {
            Ok(None) => out.push(target),
            Ok(Some(files)) => out.extend(files),
            Err(message) => failures.push(ReadFailure {
                key: target.key.clone(),
                origin: parent.origin.clone(),
                message: format!(
                    "{message} (target of {} in {})",
                    target.declared_by, parent.key
                ),
            }),
        }
    }
    if failures.is_empty() {
        Ok(out)
    } else {
        Err((out, failures))
    }
}

/// `Some((directory, glob))` when a file target holds a glob (`./catalog/**/*.yaml`):
/// the directory before its first glob segment, and the rest.
pub fn split_glob(path: &std::path::Path) -> Option<(PathBuf, String)> {
    glob::split(path)
}

/// A file path as a read keys it: absolute (from the current directory) and cleaned of
/// `.` and `..` (`file:<this>` is the location key of what is read from it).
pub fn absolute_path(path: &str) -> String {
    source::absolute(std::path::Path::new(path))
        .display()
        .to_string()
}

/// What every read of one call shares.
#[derive(Clone, Copy)]
struct Reading<'a> {
    fetcher: &'a Fetcher,
    limits: &'a ReadLimits,
    digests: Option<&'a Digests>,
    /// False on the second pass, for the files whose skip was not confirmed.
    may_skip: bool,
    rules: &'a Arc<KindRules>,
    resolved: &'a Arc<root::Resolved>,
}

/// A file's text read, hashed and parsed, in one blocking call when it is a file.
enum Prepared {
    /// The digest, and the targets recorded with it.
    Unchanged(Vec<u8>, Vec<location::Written>),
    /// Wants placeholders resolved first (and so gets no digest).
    Parsed { parsed: parse::Parsed },
    /// Nothing wanted from elsewhere: validated in the same blocking call.
    Ready {
        candidates: Vec<Candidate>,
        digest: Option<Vec<u8>>,
    },
}

/// Files read (and hashed, parsed, validated) per blocking call: one hand-off to the
/// blocking pool and back per file was a fifth of reading the bench's catalog (thread
/// wake-ups), while a call of this many small files still spreads over every core.
const FILES_PER_CALL: usize = 32;

/// Reads a batch of one level's tasks: the plain files among them in one blocking
/// call, then each one's rest (placeholders, targets) as [`read_one`] would.
async fn read_batch(batch: Vec<Task>, reading: Reading<'_>) -> Vec<Done> {
    let jobs: Vec<Option<FileJob>> = batch
        .iter()
        .map(|task| FileJob::of(task, &reading))
        .collect();
    let files: Vec<FileJob> = jobs.iter().flatten().cloned().collect();
    let mut prepared = match files.len() {
        0 => Vec::new(),
        // Each file on its own: a panic in one file's parse fails that file only.
        _ => tokio::task::spawn_blocking(move || {
            files
                .into_iter()
                .map(|job| std::panic::catch_unwind(AssertUnwindSafe(|| job.run())).map_err(|_| ()))
                .collect::<Vec<_>>()
        })
        .await
        .map_err(|_| ())
        .unwrap_or_default(),
    }
    .into_iter();
    let mut out = Vec::with_capacity(batch.len());
    for (task, job) in batch.into_iter().zip(jobs) {
        let done = match job {
            // A batch whose blocking call stopped yields nothing: each file fails.
            Some(_) => match prepared.next() {
                Some(one) => finish_one(task, one, reading).await,
                None => finish_one(task, Err(()), reading).await,
            },
            None => read_one(task, reading).await,
        };
        out.push(done);
    }
    out
}

/// One plain file's read and preparation, owned, for a blocking call.
#[derive(Clone)]
struct FileJob {
    path: PathBuf,
    within: Option<PathBuf>,
    key: String,
    origin: String,
    limits: ReadLimits,
    rules: Arc<KindRules>,
    digests: Option<Digests>,
    may_skip: bool,
    resolved: Arc<root::Resolved>,
}

impl FileJob {
    /// The job for `task` when it is a file to read (not pushed text, not a URL).
    fn of(task: &Task, reading: &Reading<'_>) -> Option<FileJob> {
        let Address::File(path) = &task.address else {
            return None;
        };
        if task.text.is_some() {
            return None;
        }
        Some(FileJob {
            path: path.clone(),
            within: within(task).map(PathBuf::from),
            key: task.key.clone(),
            origin: task.origin.clone(),
            limits: reading.limits.clone(),
            rules: Arc::clone(reading.rules),
            digests: reading.digests.cloned(),
            may_skip: reading.may_skip,
            resolved: Arc::clone(reading.resolved),
        })
    }

    /// Blocking: the file read, hashed, parsed and validated.
    fn run(self) -> Result<Prepared, Fetched> {
        let text = fetch::read_file_resolved(
            &self.path,
            self.within.as_deref(),
            self.limits.max_file_bytes,
            Some(&self.resolved),
        )
        .map_err(Fetched)?;
        let file = FileContext {
            key: &self.key,
            origin: &self.origin,
            limits: &self.limits,
            rules: &self.rules,
        };
        prepare(text, file, self.digests.as_ref(), self.may_skip)
    }
}

/// A root the caller named is read as is; what it leads to stays inside its root.
fn within(task: &Task) -> Option<&std::path::Path> {
    match task.depth {
        0 => None,
        _ => task.root.as_deref().map(PathBuf::as_path),
    }
}

async fn read_one(task: Task, reading: Reading<'_>) -> Done {
    let Reading {
        fetcher,
        limits,
        digests,
        may_skip,
        rules,
        resolved,
    } = reading;
    let within = within(&task);
    // Pushed text is never skipped: a push decides against expected versions too.
    let digests = digests.filter(|_| task.text.is_none()).cloned();
    let (key, origin) = (task.key.clone(), task.origin.clone());
    let prepare = {
        let limits = limits.clone();
        let rules = Arc::clone(rules);
        move |text: String| {
            let file = FileContext {
                key: &key,
                origin: &origin,
                limits: &limits,
                rules: &rules,
            };
            prepare(text, file, digests.as_ref(), may_skip)
        }
    };
    let prepared = match (&task.text, &task.address) {
        (Some(text), _) => {
            let text = text.clone();
            tokio::task::spawn_blocking(move || prepare(text)).await
        }
        (None, Address::File(path)) => {
            let (path, within) = (path.clone(), within.map(PathBuf::from));
            let max_bytes = limits.max_file_bytes;
            let resolved = Arc::clone(resolved);
            tokio::task::spawn_blocking(move || {
                fetch::read_file_resolved(&path, within.as_deref(), max_bytes, Some(&resolved))
                    .map(prepare)
            })
            .await
            .map(|read| read.unwrap_or_else(|error| Err(Fetched(error))))
        }
        (None, _) => match fetcher.fetch(&task.address, within).await {
            Ok(text) => tokio::task::spawn_blocking(move || prepare(text)).await,
            Err(error) => Ok(Err(Fetched(error))),
        },
    };
    finish_one(task, prepared.map_err(|_| ()), reading).await
}

/// A task's prepared text to what it yields: its candidates (placeholders resolved
/// first, when it wants any) and targets, a skip candidate, or a failure. `Err(())`:
/// the blocking call stopped.
async fn finish_one(
    task: Task,
    prepared: Result<Result<Prepared, Fetched>, ()>,
    reading: Reading<'_>,
) -> Done {
    let Reading {
        fetcher,
        limits,
        rules,
        ..
    } = reading;
    let started = Instant::now();
    let failure = |message: String| {
        let message = match &task.via {
            Some(via) => format!("{message} (target of {via})"),
            None => message,
        };
        Done::Failed(ReadFailure {
            key: task.key.clone(),
            origin: task.origin.clone(),
            message,
        })
    };
    let prepared = match prepared {
        Ok(Ok(prepared)) => prepared,
        Ok(Err(Fetched(FetchError::NotFound(_)))) if task.optional => {
            tracing::debug!(location.target = %task.key, "optional location target missing, skipped");
            return Done::Skipped;
        }
        Ok(Err(Fetched(error))) => return failure(error.message().to_string()),
        Err(_) => return failure("the YAML parser stopped unexpectedly".to_string()),
    };
    let (candidates, digest) = match prepared {
        Prepared::Unchanged(digest, written) => {
            let targets = written.iter().map(|w| w.resolve(&task.address)).collect();
            return Done::Unchanged {
                task,
                digest,
                targets,
            };
        }
        Prepared::Ready { candidates, digest } => (candidates, digest),
        Prepared::Parsed { parsed } => {
            let from = Origin {
                address: &task.address,
                key: &task.key,
                origin: &task.origin,
                root: task.root.as_deref().map(PathBuf::as_path),
            };
            match parse::candidates(parsed, from, fetcher, limits, Arc::clone(rules)).await {
                // What placeholders read is not in the digest: never skipped.
                Ok(candidates) => (candidates, None),
                Err(message) => return failure(message),
            }
        }
    };
    tracing::debug!(
        location.target = %task.key,
        candidates = candidates.len(),
        duration_ms = started.elapsed().as_millis() as u64,
        "read location"
    );
    let written = location::written(&candidates, &task.address);
    let targets = written.iter().map(|w| w.resolve(&task.address)).collect();
    // Kept with the digest: a later skip of this file follows them from there.
    let recorded_targets = match written.is_empty() {
        true => None,
        false => serde_json::to_value(&written).ok(),
    };
    // Targets that cannot be recorded: never skipped.
    let digest = digest.filter(|_| written.is_empty() || recorded_targets.is_some());
    Done::Read {
        depth: task.depth,
        root: task.root.clone(),
        targets,
        file: ReadFile {
            key: task.key.clone(),
            origin: task.origin.clone(),
            candidates,
            digest,
            targets: recorded_targets,
        },
    }
}

/// Why a file yielded nothing: its read failed, or a limit broken by the whole file.
struct Fetched(FetchError);

/// What one file's preparation needs besides its text.
struct FileContext<'a> {
    key: &'a str,
    origin: &'a str,
    limits: &'a ReadLimits,
    rules: &'a KindRules,
}

/// Hashes, then (unless the digest matches the recorded one) parses and, when nothing
/// is wanted from elsewhere, validates. Blocking: CPU only.
fn prepare(
    text: String,
    file: FileContext<'_>,
    digests: Option<&Digests>,
    may_skip: bool,
) -> Result<Prepared, Fetched> {
    let FileContext {
        key,
        origin,
        limits,
        rules,
    } = file;
    let digest = digests.map(|d| d.of(key, origin, &text));
    if let (Some(digests), Some(digest)) = (digests, &digest) {
        if let Some(targets) = digests.matches(key, digest).filter(|_| may_skip) {
            return Ok(Prepared::Unchanged(digest.clone(), targets));
        }
    }
    let parsed = parse::parse(&text, limits).map_err(|m| Fetched(FetchError::Failed(m)))?;
    drop(text);
    if parsed.has_placeholders() {
        return Ok(Prepared::Parsed { parsed });
    }
    Ok(Prepared::Ready {
        candidates: parse::validate_plain(parsed, key, origin, rules),
        digest,
    })
}
