//! Reading the text at an [`Address`]: a local file or an http(s) URL, capped at
//! `max_file_bytes` while reading (a growing file or a lying `Content-Length` cannot get
//! past the cap), decoded as UTF-8. A file below a source's root is read only inside that
//! root (`root.rs`); a URL only as `reading.allow` permits (`allow.rs`), checked at every
//! redirect hop and on the address each connection really goes to; failures are a small
//! closed set of messages that never hold the server's or the socket's own text.
//!
//! It does not parse what it reads, and it tells a missing target (`NotFound`, which an
//! optional Location may skip) from every other failure.

use std::io::ErrorKind;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use reqwest::{header, redirect, Client, Response, StatusCode, Url};

use super::address::Address;
use super::allow::{is_public, ReadPolicy, Refusal};

/// Redirects one URL read may follow.
const MAX_REDIRECTS: usize = 5;

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum FetchError {
    /// The file does not exist, or the server answered 404 or 410.
    NotFound(String),
    Failed(String),
}

impl FetchError {
    pub(crate) fn message(&self) -> &str {
        match self {
            FetchError::NotFound(message) | FetchError::Failed(message) => message,
        }
    }
}

impl From<Refusal> for FetchError {
    fn from(refusal: Refusal) -> Self {
        FetchError::Failed(refusal.to_string())
    }
}

/// What reads need besides the address: the size cap, the policy and the HTTP clients.
pub(crate) struct Fetcher {
    max_bytes: u64,
    timeout: Duration,
    policy: Arc<ReadPolicy>,
    /// Built once per `read_sources` call; the error is kept to report on each URL.
    clients: Result<Clients, String>,
}

/// Two clients, so the address rule is enforced on the connection itself: `public`
/// resolves names through [`PublicOnly`] (one lookup, checked, and the connection goes
/// to exactly the addresses checked); `any` is for hosts listed with `private: true`.
/// Neither follows redirects (each hop is checked here) nor uses a proxy (the proxy's
/// address would be checked instead of the target's).
struct Clients {
    public: Client,
    any: Client,
}

impl Clients {
    fn new(timeout: Duration) -> Result<Clients, String> {
        let builder = || {
            Client::builder()
                .timeout(timeout)
                .connect_timeout(timeout)
                .redirect(redirect::Policy::none())
                .no_proxy()
        };
        let public = builder()
            .dns_resolver(Arc::new(PublicOnly))
            .build()
            .map_err(|_| "cannot set up the HTTP client".to_string())?;
        let any = builder()
            .build()
            .map_err(|_| "cannot set up the HTTP client".to_string())?;
        Ok(Clients { public, any })
    }
}

/// A resolver that refuses a name if any of its addresses is not public. The client
/// connects only to the addresses returned here, so a name that answers differently on
/// a second lookup (DNS rebinding) never gets one.
struct PublicOnly;

/// The resolver's refusal, found again in reqwest's error chain.
#[derive(Debug, thiserror::Error)]
#[error("resolves to a private address")]
struct PrivateAddress;

impl Resolve for PublicOnly {
    fn resolve(&self, name: Name) -> Resolving {
        let host = name.as_str().to_string();
        Box::pin(async move {
            let addresses: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            if addresses.iter().any(|address| !is_public(address.ip())) {
                return Err(Box::new(PrivateAddress) as Box<dyn std::error::Error + Send + Sync>);
            }
            Ok(Box::new(addresses.into_iter()) as Addrs)
        })
    }
}

impl Fetcher {
    pub(crate) fn new(max_bytes: u64, timeout: Duration, policy: Arc<ReadPolicy>) -> Fetcher {
        Fetcher {
            max_bytes,
            timeout,
            policy,
            clients: Clients::new(timeout),
        }
    }

    /// Reads `address`. A file is read only under `root` (after resolving `..` and
    /// symbolic links) when one is given; `None` is for a root source the caller named.
    pub(crate) async fn fetch(
        &self,
        address: &Address,
        root: Option<&Path>,
    ) -> Result<String, FetchError> {
        let bytes = match address {
            Address::File(path) => {
                // One hop to the blocking pool for the whole read, not one per call.
                let (path, root) = (path.clone(), root.map(Path::to_path_buf));
                let max_bytes = self.max_bytes;
                return tokio::task::spawn_blocking(move || {
                    read_file(&path, root.as_deref(), max_bytes)
                })
                .await
                .unwrap_or_else(|_| {
                    Err(FetchError::Failed(
                        "the file read stopped unexpectedly".into(),
                    ))
                });
            }
            Address::Url(url) => self.read_url(url).await?,
            Address::Text(name) => {
                return Err(FetchError::Failed(format!(
                    "pushed document {name} has no content to fetch"
                )))
            }
        };
        utf8(bytes)
    }

    /// Reads a URL, checking it and every redirect against the policy; the whole read
    /// (all hops and the body) within the timeout.
    async fn read_url(&self, url: &Url) -> Result<Vec<u8>, FetchError> {
        match tokio::time::timeout(self.timeout, self.follow(url)).await {
            Ok(result) => result,
            Err(_) => Err(self.timed_out()),
        }
    }

    async fn follow(&self, url: &Url) -> Result<Vec<u8>, FetchError> {
        let clients = self
            .clients
            .as_ref()
            .map_err(|e| FetchError::Failed(e.clone()))?;
        let mut current = url.clone();
        for hop in 0..=MAX_REDIRECTS {
            let permit = self.policy.check(&current)?;
            let client = if permit.private {
                &clients.any
            } else {
                &clients.public
            };
            // Only this hop's host gets its configured headers.
            let headers = self
                .policy
                .headers_for(&current)
                .map_err(FetchError::Failed)?;
            let response = client
                .get(current.clone())
                .headers(headers)
                .send()
                .await
                .map_err(|e| self.http_error(e))?;
            if !response.status().is_redirection() {
                return self.body(response).await;
            }
            let next = response
                .headers()
                .get(header::LOCATION)
                .and_then(|value| value.to_str().ok())
                .and_then(|location| current.join(location).ok())
                .filter(|next| matches!(next.scheme(), "http" | "https"));
            match next {
                Some(next) if hop < MAX_REDIRECTS => current = next,
                Some(_) => break,
                None => {
                    return Err(FetchError::Failed(format!(
                        "HTTP status {} without a usable http(s) Location",
                        response.status().as_u16()
                    )))
                }
            }
        }
        Err(FetchError::Failed(format!(
            "too many redirects (more than {MAX_REDIRECTS})"
        )))
    }

    async fn body(&self, mut response: Response) -> Result<Vec<u8>, FetchError> {
        let status = response.status();
        if status == StatusCode::NOT_FOUND || status == StatusCode::GONE {
            return Err(FetchError::NotFound(status_message(status)));
        }
        if !status.is_success() {
            return Err(FetchError::Failed(status_message(status)));
        }
        // A declared length over the cap fails early; a missing or false one is caught
        // by counting the body as it arrives.
        if let Some(length) = response.content_length().filter(|&l| l > self.max_bytes) {
            return Err(self.too_large(&format!("response declares {length} bytes")));
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|e| self.http_error(e))? {
            if (body.len() + chunk.len()) as u64 > self.max_bytes {
                return Err(self.too_large("response body is larger"));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    }

    /// One of a closed set of messages: never the socket's or the server's own text, so
    /// an error cannot scan ports or echo a response.
    fn http_error(&self, error: reqwest::Error) -> FetchError {
        let mut source = std::error::Error::source(&error);
        while let Some(cause) = source {
            if cause.is::<PrivateAddress>() {
                return Refusal::PrivateAddress.into();
            }
            source = cause.source();
        }
        if error.is_timeout() {
            return self.timed_out();
        }
        FetchError::Failed("connection failed".to_string())
    }

    fn timed_out(&self) -> FetchError {
        FetchError::Failed(format!("timed out after {:?}", self.timeout))
    }

    fn too_large(&self, what: &str) -> FetchError {
        too_large(what, self.max_bytes)
    }
}

fn too_large(what: &str, max_bytes: u64) -> FetchError {
    FetchError::Failed(format!("{what}, over the limit of {max_bytes} bytes"))
}

fn utf8(bytes: Vec<u8>) -> Result<String, FetchError> {
    String::from_utf8(bytes).map_err(|error| {
        FetchError::Failed(format!(
            "not valid UTF-8 (at byte {})",
            error.utf8_error().valid_up_to()
        ))
    })
}

/// Reads a file as UTF-8, inside `root` when one is given, at most `max_bytes`.
/// Blocking IO: run it on the blocking pool (`read_sources` reads, hashes and parses
/// a file in one blocking call).
pub(crate) fn read_file(
    path: &Path,
    root: Option<&Path>,
    max_bytes: u64,
) -> Result<String, FetchError> {
    read_file_resolved(path, root, max_bytes, None)
}

/// [`read_file`], resolving through the directories `resolved` already knows (a read's
/// many files in few directories).
pub(crate) fn read_file_resolved(
    path: &Path,
    root: Option<&Path>,
    max_bytes: u64,
    resolved: Option<&super::root::Resolved>,
) -> Result<String, FetchError> {
    let io_error = |error: std::io::Error| match error.kind() {
        ErrorKind::NotFound => FetchError::NotFound("no such file".to_string()),
        _ => FetchError::Failed(format!("cannot read file: {error}")),
    };
    let plain = match (root, resolved) {
        (Some(root), Some(resolved)) => resolved
            .through_directory(path)
            .filter(|real| real.starts_with(root))
            .and_then(|real| open_plain(&real).ok()),
        _ => None,
    };
    let file = match plain {
        Some(file) => file,
        // A link, a missing file or anything unusual: resolved the whole way, which
        // also tells "outside the root" from "no such file".
        None => {
            let path = match root {
                Some(root) => super::root::inside(path, root)?,
                None => path.to_path_buf(),
            };
            open_nonblocking(&path, false).map_err(io_error)?
        }
    };
    let metadata = file.metadata().map_err(io_error)?;
    if metadata.is_dir() {
        return Err(FetchError::Failed("is a directory, not a file".to_string()));
    }
    if !metadata.is_file() {
        // A FIFO would block the read until some writer came; a device has no end.
        return Err(FetchError::Failed(
            "not a regular file (a pipe, socket or device)".to_string(),
        ));
    }
    if metadata.len() > max_bytes {
        return Err(too_large(
            &format!("file is {} bytes", metadata.len()),
            max_bytes,
        ));
    }
    let mut bytes = Vec::with_capacity(usize::try_from(metadata.len()).unwrap_or(0));
    std::io::Read::read_to_end(
        &mut std::io::Read::take(file, max_bytes.saturating_add(1)),
        &mut bytes,
    )
    .map_err(io_error)?;
    if bytes.len() as u64 > max_bytes {
        return Err(too_large("file grew while being read", max_bytes));
    }
    utf8(bytes)
}

/// Opens `path` (in a resolved directory) unless its own name is a symbolic link: one
/// system call for what took an `lstat` and an `open`.
fn open_plain(path: &Path) -> std::io::Result<std::fs::File> {
    open_nonblocking(path, true)
}

/// Opens `path` for reading without waiting on a FIFO (the caller refuses anything but a
/// regular file once it is open); `no_follow`: fail on a link in its last component.
fn open_nonblocking(path: &Path, no_follow: bool) -> std::io::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    let flags = libc::O_NONBLOCK | if no_follow { libc::O_NOFOLLOW } else { 0 };
    std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(flags)
        .open(path)
}

fn status_message(status: StatusCode) -> String {
    format!("HTTP status {}", status.as_u16())
}
