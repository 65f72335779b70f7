//! The source-reading layer of ingest: from the sources a user names (files, directories,
//! URLs, pushed text) to candidates per location, following Location entities.
//!
//! `read_sources` reads level by level (the roots, then the targets of their Location
//! entities, and so on), each level concurrently (bounded) with parsing on the blocking
//! pool. A key is read at most once per call, which ends cycles; the first root (in the
//! order given) to reach a key, at the shallowest depth, claims it, so the outcome is the
//! same on every run. It does not reconcile with the catalog, write events, or schedule
//! re-reads: the caller does, using the read/failed distinction of [`ReadOutcome`].

mod address;
mod directory;
mod fetch;
mod location;
mod outcome;
mod parse;
mod placeholder;
mod source;

use std::collections::HashSet;
use std::time::Instant;

use futures::stream::{self, StreamExt};

pub use outcome::{ReadFailure, ReadFile, ReadOutcome};
pub use source::{ReadLimits, Source, DEFAULT_DIRECTORY_GLOB};

use address::{parse_absolute_url, Address};
use fetch::{FetchError, Fetcher};
use location::Target;
use parse::Origin;

/// One location to read.
struct Task {
    address: Address,
    key: String,
    origin: String,
    /// Location hops from the root (a root is 0).
    depth: usize,
    /// A missing target is skipped silently (`presence: optional`).
    optional: bool,
    /// The content of a pushed text; `None` for what must be fetched.
    text: Option<String>,
    /// The Location entity that named this target, for messages.
    via: Option<String>,
}

enum Done {
    Read {
        file: ReadFile,
        targets: Vec<Target>,
        depth: usize,
    },
    Failed(ReadFailure),
    /// An optional target that does not exist.
    Skipped,
}

/// Reads every source, and every location their Location entities lead to. Never fails
/// as a whole: what cannot be read is a [`ReadFailure`] in the outcome.
pub async fn read_sources(sources: &[Source], limits: &ReadLimits) -> ReadOutcome {
    let fetcher = Fetcher::new(limits.max_file_bytes, limits.url_timeout);
    let parallel = std::thread::available_parallelism().map_or(1, |n| n.get()) * 2;
    let mut outcome = ReadOutcome::default();
    let mut scheduler = Scheduler {
        seen: HashSet::new(),
        scheduled: 0,
        limits,
    };
    let mut level = Vec::new();
    for source in sources {
        scheduler
            .root(source, &mut level, &mut outcome.errors)
            .await;
    }
    while !level.is_empty() {
        let mut results: Vec<(usize, Done)> = stream::iter(level.into_iter().enumerate())
            .map(|(index, task)| {
                let fetcher = &fetcher;
                async move { (index, read_one(task, fetcher, limits).await) }
            })
            .buffer_unordered(parallel)
            .collect()
            .await;
        results.sort_by_key(|(index, _)| *index);
        let mut next = Vec::new();
        for (_, done) in results {
            match done {
                Done::Read {
                    file,
                    targets,
                    depth,
                } => {
                    for target in targets {
                        let child = scheduler.child(target, &file, depth);
                        match child {
                            Ok(Some(task)) => next.push(task),
                            Ok(None) => {}
                            Err(failure) => outcome.errors.push(failure),
                        }
                    }
                    outcome.files.push(file);
                }
                Done::Failed(failure) => outcome.errors.push(failure),
                Done::Skipped => {}
            }
        }
        level = next;
    }
    outcome.files.sort_by(|a, b| a.key.cmp(&b.key));
    outcome
        .errors
        .sort_by(|a, b| (&a.key, &a.message).cmp(&(&b.key, &b.message)));
    outcome.errors.dedup();
    outcome
}

/// Hands out tasks: each key once, within the depth and file limits.
struct Scheduler<'a> {
    seen: HashSet<String>,
    scheduled: usize,
    limits: &'a ReadLimits,
}

impl Scheduler<'_> {
    async fn root(
        &mut self,
        source: &Source,
        level: &mut Vec<Task>,
        errors: &mut Vec<ReadFailure>,
    ) {
        let origin = source.origin();
        let fail = |message: String| ReadFailure {
            key: origin.clone(),
            origin: origin.clone(),
            message,
        };
        let address = match source {
            Source::File(path) => Address::File(source::absolute(path)),
            Source::Url(url) => match parse_absolute_url(url) {
                Ok(Some(url)) => Address::Url(url),
                Ok(None) => return errors.push(fail("not an absolute http(s) URL".into())),
                Err(error) => return errors.push(fail(error.0)),
            },
            Source::Text { name, text } => {
                let address = Address::Text(name.clone());
                if let Some(mut task) = self.task(address, &origin, 0, false, None) {
                    task.text = Some(text.clone());
                    level.push(task);
                }
                return;
            }
            Source::Directory { root, glob } => {
                let root = source::absolute(root);
                let (glob, max_files) = (glob.clone(), self.limits.max_files);
                let walk_root = root.clone();
                let walked = tokio::task::spawn_blocking(move || {
                    directory::walk(&walk_root, &glob, max_files)
                })
                .await
                .unwrap_or_else(|_| Err("the directory walk stopped unexpectedly".into()));
                let walked = match walked {
                    Ok(walked) => walked,
                    Err(message) => return errors.push(fail(message)),
                };
                for (directory, message) in walked.unreadable {
                    errors.push(ReadFailure {
                        key: format!("file:{}", directory.display()),
                        origin: origin.clone(),
                        message: format!("cannot list directory: {message}"),
                    });
                }
                for path in walked.files {
                    let address = Address::File(path);
                    match self.task(address, &origin, 0, false, None) {
                        Some(task) => level.push(task),
                        None if self.scheduled >= self.limits.max_files => {
                            return errors.push(fail(self.too_many()))
                        }
                        None => {}
                    }
                }
                return;
            }
        };
        if let Some(task) = self.task(address, &origin, 0, false, None) {
            level.push(task);
        } else if self.scheduled >= self.limits.max_files {
            errors.push(fail(self.too_many()));
        }
    }

    /// The task for one target of a Location in `parent`; `Ok(None)` when the key was
    /// already read (or is being read) in this call.
    fn child(
        &mut self,
        target: Target,
        parent: &ReadFile,
        depth: usize,
    ) -> Result<Option<Task>, ReadFailure> {
        let via = format!("{} in {}", target.declared_by, parent.key);
        let fail = |message: String| ReadFailure {
            key: target.key.clone(),
            origin: parent.origin.clone(),
            message: format!("{message} (target of {via})"),
        };
        let address = target.address.clone().map_err(fail)?;
        if self.seen.contains(&target.key) {
            return Ok(None);
        }
        if depth + 1 > self.limits.max_location_depth {
            return Err(fail(format!(
                "Location entities nest deeper than {} levels",
                self.limits.max_location_depth
            )));
        }
        let task = self.task(
            address,
            &parent.origin,
            depth + 1,
            target.optional,
            Some(via.clone()),
        );
        task.map(Some).ok_or_else(|| fail(self.too_many()))
    }

    /// A task for `address` unless its key was seen or the file budget is spent.
    fn task(
        &mut self,
        address: Address,
        origin: &str,
        depth: usize,
        optional: bool,
        via: Option<String>,
    ) -> Option<Task> {
        let key = address.key();
        if self.seen.contains(&key) || self.scheduled >= self.limits.max_files {
            return None;
        }
        self.seen.insert(key.clone());
        self.scheduled += 1;
        Some(Task {
            address,
            key,
            origin: origin.to_string(),
            depth,
            optional,
            text: None,
            via,
        })
    }

    fn too_many(&self) -> String {
        format!("more than {} files in one read", self.limits.max_files)
    }
}

async fn read_one(task: Task, fetcher: &Fetcher, limits: &ReadLimits) -> Done {
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
    let text = match &task.text {
        Some(text) => text.clone(),
        None => match fetcher.fetch(&task.address).await {
            Ok(text) => text,
            Err(FetchError::NotFound(_)) if task.optional => {
                tracing::debug!(location.target = %task.key, "optional location target missing, skipped");
                return Done::Skipped;
            }
            Err(error) => return failure(error.message().to_string()),
        },
    };
    let from = Origin {
        address: &task.address,
        key: &task.key,
        origin: &task.origin,
    };
    match parse::candidates(text, from, fetcher, limits).await {
        Ok(candidates) => {
            tracing::debug!(
                location.target = %task.key,
                candidates = candidates.len(),
                duration_ms = started.elapsed().as_millis() as u64,
                "read location"
            );
            let targets = location::targets(&candidates, &task.address);
            Done::Read {
                depth: task.depth,
                targets,
                file: ReadFile {
                    key: task.key.clone(),
                    origin: task.origin.clone(),
                    candidates,
                },
            }
        }
        Err(message) => failure(message),
    }
}
