//! Deciding what refuses a push whole: a document that does not validate (or no
//! document at all), expected versions that name nothing pushed, and pushed entities not
//! at the version their writer expected. The events of an accepted push are decided by
//! [`super::decide`], like any read.
//!
//! Pure: the caller reads the pushed text and, under the append lock, loads the state of
//! the entities it names. Who may push to a source is authorisation, the API's, not
//! decided here.

use std::collections::HashMap;

use super::Candidate;
use crate::entity_ref::EntityRef;
use crate::history::EntityState;

/// One reason a push is refused as invalid.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PushError {
    /// 0-based index of the document in its text; `None` for the text as a whole or an
    /// argument.
    pub document: Option<usize>,
    /// The ref the document or argument names, when it can be read.
    pub entity_ref: Option<String>,
    /// The offending field's path (`spec.owner`, `expectedVersions`); empty for a whole
    /// document.
    pub field: String,
    pub message: String,
}

/// A push refused before anything is written: what to tell the writer, and each error.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InvalidPush {
    pub message: String,
    pub errors: Vec<PushError>,
}

/// A pushed entity whose version is not the one the writer said it last saw.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct VersionMismatch {
    pub entity_ref: String,
    pub expected: i64,
    /// The live entity's version; 0 when there is no live entity.
    pub actual: i64,
}

/// Refuses a push unless every document validates and there is at least one.
/// `failures`: why texts could not be read at all; `files`: the documents of each text.
pub fn check_documents<'a>(
    failures: impl IntoIterator<Item = &'a str>,
    files: impl IntoIterator<Item = &'a [Candidate]>,
) -> Result<(), InvalidPush> {
    let mut errors: Vec<PushError> = failures
        .into_iter()
        .map(|message| PushError {
            document: None,
            entity_ref: None,
            field: String::new(),
            message: message.to_string(),
        })
        .collect();
    let mut documents = 0;
    for candidates in files {
        for (index, candidate) in candidates.iter().enumerate() {
            documents += 1;
            if let Candidate::Invalid {
                entity_ref,
                errors: invalid,
            } = candidate
            {
                errors.extend(invalid.iter().map(|e| PushError {
                    document: Some(index),
                    entity_ref: entity_ref.as_ref().map(EntityRef::canonical),
                    field: e.field.clone(),
                    message: e.message.clone(),
                }));
            }
        }
    }
    if !errors.is_empty() {
        let message = format!(
            "{} error(s) in the pushed documents; nothing was applied",
            errors.len()
        );
        return Err(InvalidPush { message, errors });
    }
    if documents == 0 {
        return Err(InvalidPush {
            message: "the pushed text holds no documents".into(),
            errors: Vec::new(),
        });
    }
    Ok(())
}

/// Canonical refs of the valid pushed entities, in document order.
pub fn pushed_refs<'a>(files: impl IntoIterator<Item = &'a [Candidate]>) -> Vec<String> {
    files
        .into_iter()
        .flatten()
        .filter_map(|c| match c {
            Candidate::Valid(entity) => Some(entity.entity_ref().canonical()),
            Candidate::Invalid { .. } => None,
        })
        .collect()
}

/// The expected versions of a push (ref as written, version) by canonical ref. Each must
/// name an entity the push holds (`pushed`, canonical), once, at 0 or more; otherwise the
/// push is refused as invalid.
pub fn expected_versions<'a>(
    inputs: impl IntoIterator<Item = (&'a str, i64)>,
    pushed: &[String],
) -> Result<HashMap<String, i64>, InvalidPush> {
    let mut expected = HashMap::new();
    let mut errors = Vec::new();
    for (written, version) in inputs {
        let error = |message: String| PushError {
            document: None,
            entity_ref: Some(written.to_string()),
            field: "expectedVersions".into(),
            message,
        };
        let canonical = match EntityRef::parse(written.trim(), None, "default") {
            Ok(parsed) => parsed.canonical(),
            Err(err) => {
                errors.push(error(err.to_string()));
                continue;
            }
        };
        if version < 0 {
            errors.push(error(format!(
                "expected version of {canonical} must be 0 or more, not {version}"
            )));
        } else if !pushed.contains(&canonical) {
            errors.push(error(format!(
                "expected version given for {canonical}, which the pushed documents do not hold"
            )));
        } else if expected.insert(canonical.clone(), version).is_some() {
            errors.push(error(format!(
                "expected version given twice for {canonical}"
            )));
        }
    }
    if errors.is_empty() {
        return Ok(expected);
    }
    Err(InvalidPush {
        message: format!(
            "{} error(s) in expectedVersions; nothing was applied",
            errors.len()
        ),
        errors,
    })
}

/// The entities of `named` (canonical refs) not at the version `expected` gives them, by
/// ref; `current` holds their streams' states. Any mismatch refuses the push whole.
pub fn version_mismatches(
    current: &HashMap<String, EntityState>,
    named: &[String],
    expected: &HashMap<String, i64>,
) -> Vec<VersionMismatch> {
    let mut mismatches: Vec<VersionMismatch> = named
        .iter()
        .filter_map(|entity_ref| {
            let expected = *expected.get(entity_ref)?;
            let actual = current
                .get(entity_ref)
                .filter(|s| s.descriptor.is_some())
                .map_or(0, |s| s.version);
            (actual != expected).then(|| VersionMismatch {
                entity_ref: entity_ref.clone(),
                expected,
                actual,
            })
        })
        .collect();
    mismatches.sort_by(|a, b| a.entity_ref.cmp(&b.entity_ref));
    mismatches.dedup();
    mismatches
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use serde_json::json;

    fn valid(name: &str) -> Candidate {
        Candidate::from_value(json!({
            "apiVersion": "backstage.io/v1alpha1",
            "kind": "Component",
            "metadata": {"name": name},
            "spec": {"type": "service", "lifecycle": "production", "owner": "team"}
        }))
    }

    fn invalid(name: &str) -> Candidate {
        Candidate::from_value(json!({
            "apiVersion": "backstage.io/v1alpha1",
            "kind": "Component",
            "metadata": {"name": name},
            "spec": {"type": "service", "lifecycle": "production"}
        }))
    }

    #[test]
    fn valid_documents_pass() {
        let docs = [valid("a"), valid("b")];
        assert_eq!(check_documents([], [&docs[..]]), Ok(()));
        assert_eq!(
            pushed_refs([&docs[..]]),
            vec!["component:default/a", "component:default/b"]
        );
    }

    #[test]
    fn one_invalid_document_refuses_the_push() {
        let docs = [valid("a"), invalid("B")];
        let refused = check_documents([], [&docs[..]]).unwrap_err();
        assert_eq!(
            refused.message,
            "1 error(s) in the pushed documents; nothing was applied"
        );
        assert_eq!(refused.errors.len(), 1);
        let error = &refused.errors[0];
        assert_eq!(error.document, Some(1));
        assert_eq!(error.entity_ref.as_deref(), Some("component:default/b"));
        assert_eq!(error.field, "spec.owner");
        // Only valid documents are pushed refs.
        assert_eq!(pushed_refs([&docs[..]]), vec!["component:default/a"]);
    }

    #[test]
    fn an_unreadable_text_or_no_document_refuses_the_push() {
        let refused = check_documents(["YAML: bad indentation at line 3"], []).unwrap_err();
        assert_eq!(
            refused.errors,
            vec![PushError {
                document: None,
                entity_ref: None,
                field: String::new(),
                message: "YAML: bad indentation at line 3".into(),
            }]
        );
        let empty = check_documents([], [&[][..]]).unwrap_err();
        assert_eq!(
            empty,
            InvalidPush {
                message: "the pushed text holds no documents".into(),
                errors: Vec::new(),
            }
        );
    }

    #[test]
    fn expected_versions_must_name_pushed_entities_once() {
        let pushed = vec!["component:default/a".to_string()];
        let expected = expected_versions([(" Component:default/A ", 2)], &pushed).unwrap();
        assert_eq!(expected, HashMap::from([("component:default/a".into(), 2)]));

        let refused = expected_versions(
            [
                ("component:default/a", 1),
                ("component:a", 3),
                ("component:default/b", 0),
                ("component:default/a", -1),
                ("", 1),
            ],
            &pushed,
        )
        .unwrap_err();
        assert_eq!(
            refused.message,
            "4 error(s) in expectedVersions; nothing was applied"
        );
        let messages: Vec<&str> = refused.errors.iter().map(|e| e.message.as_str()).collect();
        assert_eq!(
            messages[..3],
            [
                "expected version given twice for component:default/a",
                "expected version given for component:default/b, which the pushed documents do not hold",
                "expected version of component:default/a must be 0 or more, not -1",
            ]
        );
        assert_eq!(refused.errors[0].entity_ref.as_deref(), Some("component:a"));
        assert!(refused.errors.iter().all(|e| e.field == "expectedVersions"));
    }

    #[test]
    fn entities_not_at_their_expected_version_are_named() {
        let live = |version| EntityState {
            version,
            descriptor: Some(json!({})),
        };
        let current = HashMap::from([
            ("component:default/a".to_string(), live(2)),
            ("component:default/b".to_string(), live(1)),
            (
                "component:default/gone".to_string(),
                EntityState {
                    version: 3,
                    descriptor: None,
                },
            ),
        ]);
        let named: Vec<String> = [
            "component:default/b",
            "component:default/a",
            "component:default/gone",
            "component:default/new",
        ]
        .map(String::from)
        .to_vec();
        let expected = HashMap::from([
            ("component:default/a".to_string(), 2),
            ("component:default/b".to_string(), 2),
            ("component:default/gone".to_string(), 3),
            ("component:default/new".to_string(), 0),
        ]);
        assert_eq!(
            version_mismatches(&current, &named, &expected),
            vec![
                VersionMismatch {
                    entity_ref: "component:default/b".into(),
                    expected: 2,
                    actual: 1,
                },
                // A removed entity is at 0: nothing is live.
                VersionMismatch {
                    entity_ref: "component:default/gone".into(),
                    expected: 3,
                    actual: 0,
                },
            ]
        );
        assert!(version_mismatches(&current, &named, &HashMap::new()).is_empty());
    }
}
