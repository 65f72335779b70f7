//! From a file's text to its candidates: parse the documents (with the domain's guards
//! against hostile YAML), resolve placeholders, stamp the managed-by annotations onto
//! each raw document, then validate it into a [`Candidate`].
//!
//! A limit broken by the whole file (size, document count, alias expansion over the
//! whole input) fails the file; a broken document is an invalid candidate of its own and
//! the rest of the file still lands. Parsing and validation are blocking calls: `read_one`
//! runs them on the blocking pool, together with the file's read when nothing is wanted
//! from elsewhere.

use std::path::Path;

use almanac_domain::document::{parse_documents, DocumentError, DocumentLimits};
use almanac_domain::entity::{ref_of_raw, MANAGED_BY_LOCATION, MANAGED_BY_ORIGIN_LOCATION};
use almanac_domain::validation::{ValidationError, ValidationErrors};
use almanac_domain::{Candidate, KindRules};
use serde_json::{Map, Value};

use super::address::Address;
use super::fetch::Fetcher;
use super::placeholder::{self, Resolved, Wanted};
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

/// One file parsed: its documents, and the placeholders they want resolved.
pub(crate) struct Parsed {
    documents: Vec<Result<Value, DocumentError>>,
    wanted: Vec<Wanted>,
}

impl Parsed {
    /// True when the documents read other files or URLs through placeholders.
    pub(crate) fn has_placeholders(&self) -> bool {
        !self.wanted.is_empty()
    }
}

/// Parses one file's text (blocking: CPU only). A limit broken by the whole file fails it.
pub(crate) fn parse(text: &str, limits: &ReadLimits) -> Result<Parsed, String> {
    let documents = parse_documents(text, &document_limits(limits)).map_err(|e| e.to_string())?;
    let wanted = placeholder::wanted(documents.iter().filter_map(|d| d.as_ref().ok()));
    Ok(Parsed { documents, wanted })
}

/// The candidates of a parsed file whose documents want no placeholder (blocking: CPU
/// only, so the caller runs it in the same blocking call as the parse).
pub(crate) fn validate_plain(
    parsed: Parsed,
    key: &str,
    origin: &str,
    rules: &KindRules,
) -> Vec<Candidate> {
    validate(parsed.documents, Resolved::none(), key, origin, rules)
}

/// The candidates of a parsed file: placeholders resolved first (reading their targets),
/// then validation on the blocking pool.
pub(crate) async fn candidates(
    parsed: Parsed,
    from: Origin<'_>,
    fetcher: &Fetcher,
    limits: &ReadLimits,
    rules: std::sync::Arc<KindRules>,
) -> Result<Vec<Candidate>, String> {
    let Parsed { documents, wanted } = parsed;
    let resolved = if wanted.is_empty() {
        Resolved::none()
    } else {
        let budget = limits.max_placeholder_bytes;
        let base = (from.address, from.root);
        placeholder::resolve(wanted, base, fetcher, &document_limits(limits), budget).await
    };
    let key = from.key.to_string();
    let origin = from.origin.to_string();
    tokio::task::spawn_blocking(move || validate(documents, resolved, &key, &origin, &rules))
        .await
        .map_err(|_| "validation stopped unexpectedly".to_string())
}

fn validate(
    documents: Vec<Result<Value, DocumentError>>,
    mut resolved: Resolved,
    key: &str,
    origin: &str,
    rules: &KindRules,
) -> Vec<Candidate> {
    documents
        .into_iter()
        .enumerate()
        .map(|(index, document)| match document {
            Err(error) => Candidate::Invalid {
                entity_ref: None,
                errors: ValidationError::new("", error.to_string()).into(),
            },
            Ok(mut document) => {
                let errors = resolved.substitute(&mut document);
                if errors.is_empty() {
                    annotate(&mut document, key, origin);
                    allowed(Candidate::from_value(document), index + 1, key, rules)
                } else {
                    Candidate::Invalid {
                        entity_ref: ref_of_raw(&document),
                        errors: ValidationErrors(errors),
                    }
                }
            }
        })
        .collect()
}

/// A valid candidate whose kind the rules refuse at `key` becomes invalid, naming the
/// document (1-based) and why. It keeps its ref, so a refused document, like a broken
/// one, removes nothing the catalog holds under that ref.
fn allowed(candidate: Candidate, document: usize, key: &str, rules: &KindRules) -> Candidate {
    let Candidate::Valid(entity) = &candidate else {
        return candidate;
    };
    match rules.check(entity, key) {
        Ok(()) => candidate,
        Err(error) => Candidate::Invalid {
            entity_ref: Some(entity.entity_ref()),
            errors: ValidationError::new(
                error.field,
                format!("document {document}: {}", error.message),
            )
            .into(),
        },
    }
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
