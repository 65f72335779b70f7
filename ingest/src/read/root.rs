//! File reads stay inside their root: a placeholder or Location target of a file source
//! is read only if, with `..` and every symbolic link resolved, it lies under the
//! directory the source was configured with (the root file's directory, or the directory
//! source's root).
//!
//! It decides and returns the path to open (the resolved one, so the check and the read
//! agree); it does not read. A path that does not exist is "no such file" only when its
//! deepest existing ancestor is inside the root, so missing files outside the root cannot
//! be probed either.

use std::io::ErrorKind;
use std::path::{Path, PathBuf};

use super::fetch::FetchError;

/// The root a source's files are held to: `dir` with symbolic links resolved (as given
/// when it cannot be resolved, so that reads under it fail as missing).
pub(crate) fn of_directory(dir: &Path) -> PathBuf {
    std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf())
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
