//! Where a descriptor (or a placeholder's target) lives, its location key, and how a
//! relative reference resolves against it.
//!
//! Rules: relative references resolve against the file's directory or, for a URL, by
//! RFC 3986 (`reqwest::Url::join`). Only a file may lead to another file: a URL or a pushed
//! document that names a server path is refused, so remote or pushed content never reads
//! the server's disk. This module does no IO.

use std::fmt;
use std::path::{Component, Path, PathBuf};

use reqwest::Url;

use super::allow::redact;

/// A place to read from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Address {
    /// An absolute, lexically normalised path.
    File(PathBuf),
    /// An `http` or `https` URL.
    Url(Url),
    /// A pushed document, by the name it was pushed under.
    Text(String),
}

impl Address {
    /// The location key Backstage uses: `file:<path>`, `url:<url>`, `api:<name>`.
    pub(crate) fn key(&self) -> String {
        match self {
            Address::File(path) => format!("file:{}", path.display()),
            Address::Url(url) => format!("url:{}", redact(url.as_str())),
            Address::Text(name) => format!("api:{name}"),
        }
    }

    /// The location type a Location entity read from here defaults to.
    pub(crate) fn default_type(&self) -> &'static str {
        match self {
            Address::File(_) => "file",
            Address::Url(_) | Address::Text(_) => "url",
        }
    }

    /// Resolves a Location target of type `target_type` (`file` or `url`) against this
    /// address.
    pub(crate) fn resolve_target(
        &self,
        target_type: &str,
        target: &str,
    ) -> Result<Address, ResolveError> {
        match target_type {
            "url" => match (parse_absolute_url(target)?, self) {
                (Some(url), _) => Ok(Address::Url(url)),
                (None, Address::Url(base)) => join_url(base, target),
                (None, Address::File(_)) => Err(ResolveError::new(format!(
                    "url target {target} is not an absolute http(s) URL"
                ))),
                (None, Address::Text(_)) => Err(no_base(target)),
            },
            "file" => match self {
                Address::File(path) => Ok(Address::File(join_path(path, target))),
                Address::Url(_) | Address::Text(_) => Err(self.refuse_file(target)),
            },
            other => Err(ResolveError::new(format!(
                "unsupported location type {other} (expected file or url)"
            ))),
        }
    }

    /// Resolves a placeholder's target: an absolute http(s) URL as is, anything else
    /// relative to this address.
    pub(crate) fn resolve_placeholder(&self, target: &str) -> Result<Address, ResolveError> {
        if let Some(url) = parse_absolute_url(target)? {
            return Ok(Address::Url(url));
        }
        match self {
            Address::File(path) => Ok(Address::File(join_path(path, target))),
            Address::Url(base) => join_url(base, target),
            Address::Text(_) => Err(self.refuse_file(target)),
        }
    }

    fn refuse_file(&self, target: &str) -> ResolveError {
        let what = match self {
            Address::Text(_) => "a pushed document",
            _ => "a document read from a URL",
        };
        ResolveError::new(format!(
            "{what} may not read files from the server: {target} (use an absolute http(s) URL)"
        ))
    }
}

/// Why a reference cannot be resolved; the message names the reference.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ResolveError(pub(crate) String);

impl ResolveError {
    /// The message, with any credential in a URL it names removed.
    fn new(message: String) -> Self {
        ResolveError(redact(&message))
    }
}

impl fmt::Display for ResolveError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

fn no_base(target: &str) -> ResolveError {
    ResolveError::new(format!(
        "relative target {target} has no base in a pushed document (use an absolute http(s) URL)"
    ))
}

/// `Some` for an absolute http(s) URL, `None` for a relative reference, an error for an
/// absolute URL of another scheme (`file:`, `ftp:`, ...).
pub(crate) fn parse_absolute_url(text: &str) -> Result<Option<Url>, ResolveError> {
    match Url::parse(text) {
        Ok(url) if matches!(url.scheme(), "http" | "https") => Ok(Some(url)),
        Ok(url) => Err(ResolveError::new(format!(
            "unsupported URL scheme {}: in {text} (only http and https)",
            url.scheme()
        ))),
        Err(_) => Ok(None),
    }
}

fn join_url(base: &Url, reference: &str) -> Result<Address, ResolveError> {
    let joined = base.join(reference).map_err(|error| {
        ResolveError::new(format!(
            "cannot resolve {reference} against {base}: {error}"
        ))
    })?;
    match joined.scheme() {
        "http" | "https" => Ok(Address::Url(joined)),
        other => Err(ResolveError::new(format!(
            "unsupported URL scheme {other}: in {reference} (only http and https)"
        ))),
    }
}

/// `reference` taken relative to the directory holding `file` (or as is when absolute).
fn join_path(file: &Path, reference: &str) -> PathBuf {
    let reference = Path::new(reference);
    let joined = match file.parent() {
        Some(directory) if reference.is_relative() => directory.join(reference),
        _ => reference.to_path_buf(),
    };
    normalize_path(&joined)
}

/// Removes `.` and resolves `..` lexically (never above the root).
pub(crate) fn normalize_path(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                if !out.pop() && path.is_relative() {
                    out.push("..");
                }
            }
            other => out.push(other.as_os_str()),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(path: &str) -> Address {
        Address::File(PathBuf::from(path))
    }

    fn url(text: &str) -> Address {
        Address::Url(Url::parse(text).expect("test URL"))
    }

    #[test]
    fn file_targets_resolve_against_the_files_directory() {
        let base = file("/repo/a/catalog-info.yaml");
        let cases = [
            ("./b/c.yaml", "/repo/a/b/c.yaml"),
            ("../x.yaml", "/repo/x.yaml"),
            ("../../../../x.yaml", "/x.yaml"),
            ("/etc/y.yaml", "/etc/y.yaml"),
        ];
        for (target, expected) in cases {
            assert_eq!(
                base.resolve_target("file", target),
                Ok(file(expected)),
                "{target}"
            );
        }
    }

    #[test]
    fn url_references_resolve_by_rfc_3986() {
        let base = url("https://h.example/r/a/catalog.yaml?x=1");
        let cases = [
            ("./b.yaml", "https://h.example/r/a/b.yaml"),
            ("../b.yaml", "https://h.example/r/b.yaml"),
            ("/b.yaml", "https://h.example/b.yaml"),
            ("http://o.example/c.yaml", "http://o.example/c.yaml"),
        ];
        for (target, expected) in cases {
            assert_eq!(
                base.resolve_placeholder(target),
                Ok(url(expected)),
                "{target}"
            );
            assert_eq!(
                base.resolve_target("url", target),
                Ok(url(expected)),
                "{target}"
            );
        }
    }

    #[test]
    fn only_files_may_lead_to_files() {
        let from_url = url("https://h.example/catalog.yaml").resolve_target("file", "/etc/passwd");
        assert!(from_url.is_err_and(|e| e.0.contains("may not read files from the server")));
        let pushed = Address::Text("push".into()).resolve_placeholder("./openapi.yaml");
        assert!(pushed.is_err_and(|e| e.0.contains("a pushed document may not read files")));
        let scheme = file("/a/b.yaml").resolve_placeholder("file:///etc/passwd");
        assert!(scheme.is_err_and(|e| e.0.contains("unsupported URL scheme file")));
        let kind = file("/a/b.yaml").resolve_target("github-discovery", "x");
        assert!(kind.is_err_and(|e| e.0.contains("unsupported location type github-discovery")));
    }

    #[test]
    fn keys_follow_backstage() {
        assert_eq!(file("/a/b.yaml").key(), "file:/a/b.yaml");
        assert_eq!(
            url("https://h.example/x/./y/../z").key(),
            "url:https://h.example/x/z"
        );
        assert_eq!(Address::Text("ci".into()).key(), "api:ci");
    }
}
