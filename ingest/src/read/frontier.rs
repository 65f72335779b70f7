//! The frontier of one `read_sources` call: what is still to read, handed out in
//! order: the roots a caller names (a directory becomes its files), then the targets
//! of the Location entities read, each key at most once per call (which ends cycles),
//! within the depth and file-count limits.
//!
//! It reads nothing but a directory listing; `mod.rs` reads the tasks it hands out.

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::Arc;

use super::address::{parse_absolute_url, Address};
use super::directory;
use super::location::Target;
use super::outcome::ReadFailure;
use super::root;
use super::source::{self, ReadLimits, Source};

/// One location to read.
pub(crate) struct Task {
    pub(crate) address: Address,
    pub(crate) key: String,
    pub(crate) origin: String,
    /// Location hops from the root (a root is 0).
    pub(crate) depth: usize,
    /// A missing target is skipped silently (`presence: optional`).
    pub(crate) optional: bool,
    /// The content of a pushed text; `None` for what must be fetched.
    pub(crate) text: Option<String>,
    /// The Location entity that named this target, for messages.
    pub(crate) via: Option<String>,
    /// The directory a file source's targets and placeholders must stay under.
    pub(crate) root: Option<Arc<PathBuf>>,
}

/// Hands out tasks: each key once, within the depth and file limits.
pub(crate) struct Frontier<'a> {
    seen: HashSet<String>,
    scheduled: usize,
    limits: &'a ReadLimits,
}

impl<'a> Frontier<'a> {
    pub(crate) fn new(limits: &'a ReadLimits) -> Self {
        Frontier {
            seen: HashSet::new(),
            scheduled: 0,
            limits,
        }
    }

    pub(crate) async fn root(
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
            Source::File(path) => {
                let path = source::absolute(path);
                let directory = path.parent().map(root::of_directory);
                let address = Address::File(path);
                if let Some(mut task) = self.task(address, &origin, 0, false, None) {
                    task.root = directory.map(Arc::new);
                    level.push(task);
                } else if self.scheduled >= self.limits.max_files {
                    errors.push(fail(self.too_many()));
                }
                return;
            }
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
                let held_to = Arc::new(root::of_directory(&root));
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
                        Some(mut task) => {
                            task.root = Some(Arc::clone(&held_to));
                            level.push(task)
                        }
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

    /// The task for one target of a Location in `parent` (key, origin); `Ok(None)` when
    /// the key was already read (or is being read) in this call.
    pub(crate) fn child(
        &mut self,
        target: Target,
        (parent_key, parent_origin): (&str, &str),
        depth: usize,
        root: Option<Arc<PathBuf>>,
    ) -> Result<Option<Task>, ReadFailure> {
        let via = format!("{} in {}", target.declared_by, parent_key);
        let fail = |message: String| ReadFailure {
            key: target.key.clone(),
            origin: parent_origin.to_string(),
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
            parent_origin,
            depth + 1,
            target.optional,
            Some(via.clone()),
        );
        match task {
            Some(mut task) => {
                task.root = root;
                Ok(Some(task))
            }
            None => Err(fail(self.too_many())),
        }
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
            root: None,
        })
    }

    fn too_many(&self) -> String {
        format!("more than {} files in one read", self.limits.max_files)
    }
}
