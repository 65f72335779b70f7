//! What the caller asks `read_sources` to read ([`Source`]) and the limits it reads under
//! ([`ReadLimits`]), plus the origin key each source gives its entities.
//!
//! Nothing here does IO beyond asking for the current directory (to make a relative path
//! absolute); reading is `fetch`'s job.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::address::normalize_path;
use super::allow::redact;

/// The glob a [`Source::Directory`] uses when the caller has no better one.
pub const DEFAULT_DIRECTORY_GLOB: &str = "**/catalog-info.yaml";

/// One root to read. Location entities found in it lead to more files (or URLs).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    /// One descriptor file; a relative path is taken from the current directory.
    File(PathBuf),
    /// Every file under `root` whose path relative to `root` matches `glob` (globset
    /// syntax, `/` separated). Symbolic links are not followed.
    Directory { root: PathBuf, glob: String },
    /// An `http` or `https` URL.
    Url(String),
    /// A pushed document (e.g. through the API); it may not read the server's files.
    Text { name: String, text: String },
}

impl Source {
    /// A directory source with [`DEFAULT_DIRECTORY_GLOB`].
    pub fn directory(root: impl Into<PathBuf>) -> Source {
        Source::Directory {
            root: root.into(),
            glob: DEFAULT_DIRECTORY_GLOB.to_string(),
        }
    }

    /// The key of this root as it appears in `backstage.io/managed-by-origin-location` of
    /// everything read through it: `file:<absolute path>`, `file:<absolute root>/<glob>`
    /// for a directory (Backstage's form for a glob location), `url:<url>`, `api:<name>`.
    pub fn origin(&self) -> String {
        match self {
            Source::File(path) => format!("file:{}", absolute(path).display()),
            Source::Directory { root, glob } => {
                let root = absolute(root);
                let root = root.to_string_lossy();
                format!("file:{}/{}", root.trim_end_matches('/'), glob)
            }
            // Never the user info: the origin is shown to every reader.
            Source::Url(url) => match reqwest::Url::parse(url) {
                Ok(parsed) => format!("url:{}", redact(parsed.as_str())),
                Err(_) => format!("url:{}", redact(url)),
            },
            Source::Text { name, .. } => format!("api:{name}"),
        }
    }
}

/// A path made absolute (from the current directory) and cleaned of `.` and `..`
/// lexically; symbolic links are left alone. Falls back to the path as given if the
/// current directory cannot be read.
pub(crate) fn absolute(path: &Path) -> PathBuf {
    let joined = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    normalize_path(&joined)
}

/// Bounds on one `read_sources` call. Every one turns hostile or broken input into a
/// failure or an invalid entity with a message, never into unbounded work or memory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReadLimits {
    /// Largest file, URL body or placeholder target read, in bytes.
    pub max_file_bytes: u64,
    /// Most YAML documents in one file.
    pub max_documents: usize,
    /// Whole-request timeout of one URL read (connect, headers and body).
    pub url_timeout: Duration,
    /// Most files one directory source may match, and most files (and URLs) one call reads.
    pub max_files: usize,
    /// Deepest chain of Location entities followed from a root (the root is depth 0).
    pub max_location_depth: usize,
    /// Most files one glob Location target may match (`./plugins/**/catalog-info.yaml`).
    pub max_glob_matches: usize,
    /// Most bytes the placeholders of one file may read and substitute in total
    /// (each placeholder target is also held to `max_file_bytes`).
    pub max_placeholder_bytes: u64,
}

impl Default for ReadLimits {
    fn default() -> Self {
        ReadLimits {
            max_file_bytes: 5 * 1024 * 1024,
            max_documents: 10_000,
            url_timeout: Duration::from_secs(10),
            max_files: 200_000,
            max_location_depth: 16,
            max_glob_matches: 10_000,
            max_placeholder_bytes: 20 * 1024 * 1024,
        }
    }
}
