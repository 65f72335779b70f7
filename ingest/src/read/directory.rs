//! Walking a directory source: every regular file under the root whose path relative to
//! the root (with `/` separators) matches the glob, sorted.
//!
//! Symbolic links inside the tree are skipped, neither read nor descended into, so a link
//! cannot lead the walk out of the tree or round in a loop (the root itself may be a
//! link: the caller named it). More than `max_files` matches fails the whole walk; an
//! unreadable subdirectory is reported and the walk goes on. Blocking IO: run it on the
//! blocking pool.

use std::path::{Path, PathBuf};

use globset::GlobBuilder;

#[derive(Debug, Default)]
pub(crate) struct Walked {
    /// Matching files, absolute, sorted.
    pub(crate) files: Vec<PathBuf>,
    /// Subdirectories that could not be listed, with why.
    pub(crate) unreadable: Vec<(PathBuf, String)>,
}

pub(crate) fn walk(root: &Path, glob: &str, max_files: usize) -> Result<Walked, String> {
    let matcher = GlobBuilder::new(glob)
        .literal_separator(true)
        .build()
        .map_err(|error| format!("invalid glob {glob}: {error}"))?
        .compile_matcher();
    match std::fs::metadata(root) {
        Ok(metadata) if metadata.is_dir() => {}
        Ok(_) => return Err("not a directory".to_string()),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            return Err("no such directory".to_string())
        }
        Err(error) => return Err(format!("cannot read directory: {error}")),
    }
    let mut walked = Walked::default();
    let mut pending = vec![root.to_path_buf()];
    while let Some(directory) = pending.pop() {
        let entries = match std::fs::read_dir(&directory) {
            Ok(entries) => entries,
            Err(error) => {
                walked.unreadable.push((directory, error.to_string()));
                continue;
            }
        };
        for entry in entries {
            let entry = match entry {
                Ok(entry) => entry,
                Err(error) => {
                    walked
                        .unreadable
                        .push((directory.clone(), error.to_string()));
                    continue;
                }
            };
            let Ok(file_type) = entry.file_type() else {
                continue;
            };
            let path = entry.path();
            if file_type.is_dir() {
                pending.push(path);
            } else if file_type.is_file() && matches(&matcher, root, &path) {
                walked.files.push(path);
                if walked.files.len() > max_files {
                    return Err(format!(
                        "more than {max_files} files match {glob}; narrow the glob or raise the limit"
                    ));
                }
            }
        }
    }
    walked.files.sort();
    walked.unreadable.sort();
    Ok(walked)
}

fn matches(matcher: &globset::GlobMatcher, root: &Path, path: &Path) -> bool {
    let Ok(relative) = path.strip_prefix(root) else {
        return false;
    };
    let relative: Vec<_> = relative
        .components()
        .map(|c| c.as_os_str().to_string_lossy())
        .collect();
    matcher.is_match(relative.join("/"))
}
