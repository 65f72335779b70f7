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
mod allow;
mod directory;
mod fetch;
mod frontier;
mod location;
mod outcome;
mod parse;
mod placeholder;
mod root;
mod source;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use futures::stream::{self, StreamExt};

pub use allow::{redact, AllowRule, HostCredentials, ReadPolicy, Refusal};
pub use outcome::{ReadFailure, ReadFile, ReadOutcome};
pub use source::{ReadLimits, Source, DEFAULT_DIRECTORY_GLOB};

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
    let policy = Arc::new(policy.clone());
    let fetcher = Fetcher::new(limits.max_file_bytes, limits.url_timeout, policy);
    let parallel = std::thread::available_parallelism().map_or(1, |n| n.get()) * 2;
    let mut outcome = ReadOutcome::default();
    let mut frontier = Frontier::new(limits);
    let mut level = Vec::new();
    for source in sources {
        frontier.root(source, &mut level, &mut outcome.errors).await;
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
                    root,
                } => {
                    for target in targets {
                        let child = frontier.child(target, &file, depth, root.clone());
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
    // A root the caller named is read as is; what it leads to stays inside its root.
    let within = match task.depth {
        0 => None,
        _ => task.root.as_deref().map(PathBuf::as_path),
    };
    let text = match &task.text {
        Some(text) => text.clone(),
        None => match fetcher.fetch(&task.address, within).await {
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
        root: task.root.as_deref().map(PathBuf::as_path),
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
                root: task.root.clone(),
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
