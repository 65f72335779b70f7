//! Reading the text at an [`Address`]: a local file or an http(s) URL, capped at
//! `max_file_bytes` while reading (a growing file or a lying `Content-Length` cannot get
//! past the cap), decoded as UTF-8.
//!
//! It does not parse what it reads, and it tells a missing target (`NotFound`, which an
//! optional Location may skip) from every other failure.

use std::io::ErrorKind;
use std::path::Path;
use std::time::Duration;

use reqwest::{redirect, Client, StatusCode, Url};
use tokio::io::AsyncReadExt;

use super::address::Address;

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

/// What reads need besides the address: the size cap and the HTTP client.
pub(crate) struct Fetcher {
    max_bytes: u64,
    timeout: Duration,
    /// Built once per `read_sources` call; the error is kept to report on each URL.
    client: Result<Client, String>,
}

impl Fetcher {
    pub(crate) fn new(max_bytes: u64, timeout: Duration) -> Fetcher {
        let client = Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            .redirect(redirect::Policy::limited(MAX_REDIRECTS))
            .build()
            .map_err(|error| format!("cannot set up the HTTP client: {error}"));
        Fetcher {
            max_bytes,
            timeout,
            client,
        }
    }

    pub(crate) async fn fetch(&self, address: &Address) -> Result<String, FetchError> {
        let bytes = match address {
            Address::File(path) => self.read_file(path).await?,
            Address::Url(url) => self.read_url(url).await?,
            Address::Text(name) => {
                return Err(FetchError::Failed(format!(
                    "pushed document {name} has no content to fetch"
                )))
            }
        };
        String::from_utf8(bytes).map_err(|error| {
            FetchError::Failed(format!(
                "not valid UTF-8 (at byte {})",
                error.utf8_error().valid_up_to()
            ))
        })
    }

    async fn read_file(&self, path: &Path) -> Result<Vec<u8>, FetchError> {
        let io_error = |error: std::io::Error| match error.kind() {
            ErrorKind::NotFound => FetchError::NotFound("no such file".to_string()),
            _ => FetchError::Failed(format!("cannot read file: {error}")),
        };
        let file = tokio::fs::File::open(path).await.map_err(io_error)?;
        let metadata = file.metadata().await.map_err(io_error)?;
        if metadata.is_dir() {
            return Err(FetchError::Failed("is a directory, not a file".to_string()));
        }
        if metadata.len() > self.max_bytes {
            return Err(self.too_large(&format!("file is {} bytes", metadata.len())));
        }
        let mut bytes = Vec::new();
        file.take(self.max_bytes.saturating_add(1))
            .read_to_end(&mut bytes)
            .await
            .map_err(io_error)?;
        if bytes.len() as u64 > self.max_bytes {
            return Err(self.too_large("file grew while being read"));
        }
        Ok(bytes)
    }

    async fn read_url(&self, url: &Url) -> Result<Vec<u8>, FetchError> {
        let client = self
            .client
            .as_ref()
            .map_err(|e| FetchError::Failed(e.clone()))?;
        let mut response = client
            .get(url.clone())
            .send()
            .await
            .map_err(|e| self.http_error(e))?;
        match response.status() {
            StatusCode::NOT_FOUND | StatusCode::GONE => {
                return Err(FetchError::NotFound(format!("HTTP {}", response.status())))
            }
            status if !status.is_success() => {
                return Err(FetchError::Failed(format!("HTTP {status}")))
            }
            _ => {}
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

    fn http_error(&self, error: reqwest::Error) -> FetchError {
        http_error(self.timeout, error)
    }

    fn too_large(&self, what: &str) -> FetchError {
        FetchError::Failed(format!(
            "{what}, over the limit of {} bytes",
            self.max_bytes
        ))
    }
}

fn http_error(timeout: Duration, error: reqwest::Error) -> FetchError {
    if error.is_timeout() {
        return FetchError::Failed(format!("timed out after {timeout:?}"));
    }
    if error.is_redirect() {
        return FetchError::Failed(format!("too many redirects (more than {MAX_REDIRECTS})"));
    }
    // reqwest's own message is terse ("error sending request"); its sources say why.
    let mut causes = String::new();
    let mut source = std::error::Error::source(&error);
    while let Some(cause) = source {
        causes.push_str(": ");
        causes.push_str(&cause.to_string());
        source = cause.source();
    }
    FetchError::Failed(format!("{}{causes}", error.without_url()))
}
