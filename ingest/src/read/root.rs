//! File reads stay inside their root: a placeholder or Location target of a file source
//! is read only if, with `..` and every symbolic link resolved, it lies under the
//! directory the source was configured with (the root file's directory, or the directory
//! source's root).
//!
//! It decides and returns the path to open (the resolved one, so the check and the read
//! agree); it does not read. A path that does not exist is "no such file" only when its
//! deepest existing ancestor is inside the root, so missing files outside the root cannot
//! be probed either.
//!
//! `Resolved` keeps, for one read, the directories already resolved: a file in one of
//! them is opened through it without following a link in its own name (a symbolic link,
//! or anything unusual, goes the whole way as before), not resolved with a `readlink` per
//! component of its path; a directory below one resolved is resolved through it with one
//! `lstat`.

use std::collections::HashMap;
use std::io::ErrorKind;
use std::path::{Component, Path, PathBuf};
use std::sync::Mutex;

use super::fetch::FetchError;

/// The root a source's files are held to: `dir` with symbolic links resolved (as given
/// when it cannot be resolved, so that reads under it fail as missing).
pub(crate) fn of_directory(dir: &Path) -> PathBuf {
    std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf())
}

/// Directories resolved during one read (directory as named -> resolved), so that the
/// files of one directory cost one resolution of it. Shared by the read's blocking calls.
/// How many parents up a directory's resolution may go through the map before it
/// resolves the rest with one `canonicalize`.
const DIRECTORY_HOPS: usize = 4;

#[derive(Debug, Default)]
pub(crate) struct Resolved(Mutex<HashMap<PathBuf, PathBuf>>);

impl Resolved {
    /// `path` through its directory's resolution, its last component not looked at:
    /// the caller opens it without following a link there (`fetch::open_plain`), which
    /// checks in the same system call what an `lstat` first would. `None` for a path
    /// that is not absolute and plain, or whose directory cannot be resolved (the caller
    /// resolves the whole path).
    pub(crate) fn through_directory(&self, path: &Path) -> Option<PathBuf> {
        let plain = path.is_absolute()
            && path
                .components()
                .all(|c| matches!(c, Component::RootDir | Component::Normal(_)));
        let (Some(directory), Some(name)) = (path.parent(), path.file_name()) else {
            return None;
        };
        if !plain {
            return None;
        }
        Some(self.directory(directory, DIRECTORY_HOPS)?.join(name))
    }

    /// The resolution of `directory` (absolute, plain components): from the map, or
    /// through its parent's resolution when its last component is a directory that is
    /// not a symbolic link (one `lstat`, where `canonicalize` costs a `readlink` per
    /// component: a catalog with a directory per file paid that per file), or by
    /// `canonicalize` itself. `hops` bounds the walk up through parents not yet known.
    fn directory(&self, directory: &Path, hops: usize) -> Option<PathBuf> {
        let known = self
            .0
            .lock()
            .ok()
            .and_then(|map| map.get(directory).cloned());
        if let Some(real) = known {
            return Some(real);
        }
        let through_parent = || {
            let (parent, name) = (directory.parent()?, directory.file_name()?);
            let real_parent = match hops {
                0 => std::fs::canonicalize(parent).ok()?,
                _ => self.directory(parent, hops - 1)?,
            };
            let candidate = real_parent.join(name);
            let metadata = std::fs::symlink_metadata(&candidate).ok()?;
            let plain = metadata.is_dir() && !metadata.file_type().is_symlink();
            plain.then_some(candidate)
        };
        let real = match through_parent() {
            Some(real) => real,
            None => std::fs::canonicalize(directory).ok()?,
        };
        if let Ok(mut map) = self.0.lock() {
            map.insert(directory.to_path_buf(), real.clone());
        }
        Some(real)
    }
}

/// The resolved path of `path` if it lies under `root` (itself resolved). Blocking IO:
/// called from the blocking read of a file.
pub(crate) fn inside(path: &Path, root: &Path) -> Result<PathBuf, FetchError> {
    let outside = || {
        FetchError::Failed(format!(
            "refused: outside the source's root {} (file reads stay under the directory the \
             source was configured with, after resolving .. and symbolic links)",
            root.display()
        ))
    };
    match std::fs::canonicalize(path) {
        Ok(real) if real.starts_with(root) => Ok(real),
        Ok(_) => Err(outside()),
        Err(error) if error.kind() == ErrorKind::NotFound => {
            let mut ancestor = path.parent();
            while let Some(directory) = ancestor {
                if let Ok(real) = std::fs::canonicalize(directory) {
                    return if real.starts_with(root) {
                        Err(FetchError::NotFound("no such file".to_string()))
                    } else {
                        Err(outside())
                    };
                }
                ancestor = directory.parent();
            }
            Err(outside())
        }
        Err(_) => Err(FetchError::Failed(
            "cannot resolve the path to check that it is inside the source's root".to_string(),
        )),
    }
}
