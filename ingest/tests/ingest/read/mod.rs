//! Tests of `almanac_ingest::read`: real files in temporary directories, and a real HTTP
//! server on 127.0.0.1:0 for URL sources.

mod compat;
mod demo;
mod files;
mod hostile;
mod locations;
mod placeholders;
mod roots;
mod ssrf;
mod target;
mod urls;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use almanac_domain::entity::{MANAGED_BY_LOCATION, MANAGED_BY_ORIGIN_LOCATION};
use almanac_domain::{Candidate, Entity};
use almanac_ingest::read::{
    read_sources, AllowRule, ReadFile, ReadLimits, ReadOutcome, ReadPolicy, Source,
};
use axum::body::Body;
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

/// Writes `text` at `relative` under `root`, creating directories; returns the path.
pub fn write(root: &Path, relative: &str, text: &str) -> PathBuf {
    let path = root.join(relative);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).expect("create test directories");
    }
    std::fs::write(&path, text).expect("write test file");
    path
}

/// The key the reader gives a file: `file:<absolute path>`.
pub fn file_key(path: &Path) -> String {
    format!("file:{}", path.display())
}

pub fn component(name: &str) -> String {
    format!(
        "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: {name}\n\
         spec:\n  type: service\n  lifecycle: production\n  owner: team-a\n"
    )
}

/// An API entity whose definition is `{placeholder: target}`.
pub fn api_with(name: &str, placeholder: &str, target: &str) -> String {
    format!(
        "apiVersion: backstage.io/v1alpha1\nkind: API\nmetadata:\n  name: {name}\nspec:\n  \
         type: openapi\n  lifecycle: production\n  owner: team-a\n  definition:\n    {placeholder}: {target}\n"
    )
}

pub fn location(name: &str, spec: &str) -> String {
    format!("apiVersion: backstage.io/v1alpha1\nkind: Location\nmetadata:\n  name: {name}\nspec:\n{spec}")
}

/// Reads with the default limits and the default policy (no URL allowed).
pub async fn read(sources: &[Source]) -> ReadOutcome {
    read_sources(sources, &ReadLimits::default(), &ReadPolicy::default()).await
}

/// A policy listing exactly the authorities of `bases` (`http://127.0.0.1:<port>`).
pub fn allowing(bases: &[&str]) -> ReadPolicy {
    ReadPolicy {
        allow: bases
            .iter()
            .map(|base| AllowRule {
                host: base.trim_start_matches("http://").to_string(),
                paths: Vec::new(),
                private: false,
            })
            .collect(),
        ..ReadPolicy::default()
    }
}

/// Reads with the default limits, allowing the test servers at `bases`.
pub async fn read_allowing(sources: &[Source], bases: &[&str]) -> ReadOutcome {
    read_sources(sources, &ReadLimits::default(), &allowing(bases)).await
}

pub async fn read_file(path: &Path) -> ReadOutcome {
    read(&[Source::File(path.to_path_buf())]).await
}

pub fn valid(file: &ReadFile) -> Vec<&Entity> {
    file.candidates
        .iter()
        .filter_map(|candidate| match candidate {
            Candidate::Valid(entity) => Some(entity),
            Candidate::Invalid { .. } => None,
        })
        .collect()
}

pub fn names(file: &ReadFile) -> Vec<&str> {
    valid(file).into_iter().map(Entity::name).collect()
}

/// `(ref or "-", message)` for each invalid candidate of a file.
pub fn invalid(file: &ReadFile) -> Vec<(String, String)> {
    file.candidates
        .iter()
        .filter_map(|candidate| match candidate {
            Candidate::Valid(_) => None,
            Candidate::Invalid { entity_ref, errors } => Some((
                entity_ref
                    .as_ref()
                    .map_or("-".to_string(), |r| r.canonical()),
                errors.to_string(),
            )),
        })
        .collect()
}

pub fn keys(outcome: &ReadOutcome) -> Vec<&str> {
    outcome.files.iter().map(|file| file.key.as_str()).collect()
}

pub fn managed_by(entity: &Entity) -> (Option<&str>, Option<&str>) {
    (
        entity.annotation(MANAGED_BY_LOCATION),
        entity.annotation(MANAGED_BY_ORIGIN_LOCATION),
    )
}

/// A test HTTP server: each path in `files` answers 200 with its text; `/big` streams
/// 64 KiB in chunks with no Content-Length; `/slow` answers after 10 s; anything else 404.
pub async fn serve(files: &[(&str, &str)]) -> String {
    let files: HashMap<String, String> = files
        .iter()
        .map(|(path, text)| (path.to_string(), text.to_string()))
        .collect();
    let files = Arc::new(files);
    let app = Router::new()
        .route("/big", get(big))
        .route("/slow", get(slow))
        .fallback(move |uri: Uri| {
            let files = Arc::clone(&files);
            async move {
                match files.get(uri.path()) {
                    Some(text) => text.clone().into_response(),
                    None => StatusCode::NOT_FOUND.into_response(),
                }
            }
        });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind the test server");
    let address = listener.local_addr().expect("test server address");
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{address}")
}

async fn big() -> Response {
    let chunks = (0..64).map(|_| Ok::<_, std::io::Error>(vec![b'#'; 1024]));
    Body::from_stream(futures::stream::iter(chunks)).into_response()
}

async fn slow() -> &'static str {
    tokio::time::sleep(Duration::from_secs(10)).await;
    "too late"
}
