//! From a file's text to its candidates: parse the documents (with the domain's guards
//! against hostile YAML), resolve placeholders, stamp the managed-by annotations onto
//! each raw document, then validate it into a [`Candidate`].
//!
//! A limit broken by the whole file (size, document count, alias expansion over the
//! whole input) fails the file; a broken document is an invalid candidate of its own and
//! the rest of the file still lands. Parsing and validation run on the blocking pool.

use std::path::Path;

use almanac_domain::document::{parse_documents, DocumentLimits};
use almanac_domain::entity::{ref_of_raw, MANAGED_BY_LOCATION, MANAGED_BY_ORIGIN_LOCATION};
use almanac_domain::validation::{ValidationError, ValidationErrors};
use almanac_domain::Candidate;
use serde_json::{Map, Value};

use super::address::Address;
use super::fetch::Fetcher;
use super::placeholder::{self, Resolved};
use super::source::ReadLimits;

/// Where the documents came from, for placeholders and annotations.
pub(crate) struct Origin<'a> {
    pub(crate) address: &'a Address,
    /// The location key (`backstage.io/managed-by-location`).
    pub(crate) key: &'a str,
    /// The root's key (`backstage.io/managed-by-origin-location`).
    pub(crate) origin: &'a str,
    /// The directory the source's files must stay under; `None` for URLs and pushes.
    pub(crate) root: Option<&'a Path>,
}

pub(crate) fn document_limits(limits: &ReadLimits) -> DocumentLimits {
    DocumentLimits {
        max_bytes: usize::try_from(limits.max_file_bytes).unwrap_or(usize::MAX),
        max_documents: limits.max_documents,
        ..DocumentLimits::default()
    }
}

/// The candidates of one file, or why none of it can be used.
pub(crate) async fn candidates(
    text: String,
    from: Origin<'_>,
    fetcher: &Fetcher,
    limits: &ReadLimits,
) -> Result<Vec<Candidate>, String> {
    let document_limits = document_limits(limits);
    let parse_limits = document_limits.clone();
    let documents = tokio::task::spawn_blocking(move || parse_documents(&text, &parse_limits))
        .await
        .map_err(|_| "the YAML parser stopped unexpectedly".to_string())?
        .map_err(|error| error.to_string())?;

    let wanted = placeholder::wanted(documents.iter().filter_map(|d| d.as_ref().ok()));
    let mut resolved = if wanted.is_empty() {
        Resolved::none()
    } else {
        let budget = limits.max_placeholder_bytes;
        let base = (from.address, from.root);
        placeholder::resolve(wanted, base, fetcher, &document_limits, budget).await
    };

    let key = from.key.to_string();
    let origin = from.origin.to_string();
    tokio::task::spawn_blocking(move || {
        documents
            .into_iter()
            .map(|document| match document {
                Err(error) => Candidate::Invalid {
                    entity_ref: None,
                    errors: ValidationError::new("", error.to_string()).into(),
                },
                Ok(mut document) => {
                    let errors = resolved.substitute(&mut document);
                    if errors.is_empty() {
                        annotate(&mut document, &key, &origin);
                        Candidate::from_value(document)
                    } else {
                        Candidate::Invalid {
                            entity_ref: ref_of_raw(&document),
                            errors: ValidationErrors(errors),
                        }
                    }
                }
            })
            .collect()
    })
    .await
    .map_err(|_| "validation stopped unexpectedly".to_string())
}

/// Sets both managed-by annotations, overwriting any the author wrote: Almanac owns them.
/// A document whose metadata (or annotations) is not a mapping is left alone; validation
/// rejects it anyway.
fn annotate(document: &mut Value, key: &str, origin: &str) {
    let Some(metadata) = document.get_mut("metadata").and_then(Value::as_object_mut) else {
        return;
    };
    let annotations = metadata
        .entry("annotations")
        .or_insert_with(|| Value::Object(Map::new()));
    if let Some(annotations) = annotations.as_object_mut() {
        annotations.insert(
            MANAGED_BY_LOCATION.to_string(),
            Value::String(key.to_string()),
        );
        annotations.insert(
            MANAGED_BY_ORIGIN_LOCATION.to_string(),
            Value::String(origin.to_string()),
        );
    }
}
