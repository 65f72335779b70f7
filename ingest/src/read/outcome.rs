//! What `read_sources` returns: the files it read, each with its candidates, and the
//! places it could not read at all.
//!
//! The two are kept apart on purpose. A [`ReadFile`] says "this location was read and
//! holds exactly these candidates" (an empty list means it holds nothing: its entities
//! are gone). A [`ReadFailure`] says "this location could not be read": its entities must
//! be kept as they are. Since a failed Location file hides whatever it would have led
//! to, [`ReadOutcome::is_complete`] tells whether a whole origin was read.

use std::fmt;

use almanac_domain::Candidate;

#[derive(Debug, Default)]
pub struct ReadOutcome {
    /// In read order (what a reconcile decides first wins a ref two files name); one per
    /// file, URL or pushed text read. Empty when the read was given a sink
    /// (`ReadWith::sink`): the files went there instead.
    pub files: Vec<ReadFile>,
    /// Sorted by key.
    pub errors: Vec<ReadFailure>,
    /// Sorted by key: files read whose last decision still holds (same digest, every
    /// stream it depended on unchanged), neither parsed nor decided again. Empty unless
    /// the read was given the recorded digests.
    pub unchanged: Vec<Unchanged>,
}

/// A location read whose bytes, and everything its last decision depended on, are as
/// they were when it was last decided: it holds what it held then.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Unchanged {
    pub key: String,
    pub origin: String,
    /// Entities it held when decided (reported as unchanged).
    pub entities: usize,
}

/// One location read in full.
#[derive(Debug)]
pub struct ReadFile {
    /// The location key: `file:<absolute path>`, `url:<url>` or `api:<name>`; every valid
    /// candidate carries it as `backstage.io/managed-by-location`.
    pub key: String,
    /// The key of the root source that led here ([`super::Source::origin`]); every valid
    /// candidate carries it as `backstage.io/managed-by-origin-location`.
    pub origin: String,
    /// In document order.
    pub candidates: Vec<Candidate>,
    /// What a later read may skip it by (`read::digest`); `None` for a file that wants
    /// something from elsewhere (a placeholder, pushed text) or was not given digests
    /// to check.
    pub digest: Option<Vec<u8>>,
    /// Its Location entities' targets as written (`read::location::Written`), recorded
    /// with the digest so that a skip still follows them; `None` when it has none.
    pub targets: Option<serde_json::Value>,
}

/// A location that could not be read or parsed at all: remove nothing it held.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReadFailure {
    /// The location key (as for [`ReadFile::key`]); for a target that could not even be
    /// resolved, `<type>:<target>` as written.
    pub key: String,
    /// The root source it was reached from.
    pub origin: String,
    /// Why, without the key (the `Display` form adds it).
    pub message: String,
}

impl fmt::Display for ReadFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.key, self.message)
    }
}

impl ReadOutcome {
    /// True when nothing reached from `origin` failed, so a location under it that was
    /// not read is truly gone (its entities may be removed).
    pub fn is_complete(&self, origin: &str) -> bool {
        !self.errors.iter().any(|error| error.origin == origin)
    }

    /// The file read under `key`, if any.
    pub fn file(&self, key: &str) -> Option<&ReadFile> {
        self.files.iter().find(|file| file.key == key)
    }

    /// The failure recorded under `key`, if any.
    pub fn error(&self, key: &str) -> Option<&ReadFailure> {
        self.errors.iter().find(|error| error.key == key)
    }
}
