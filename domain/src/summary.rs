//! What the read side derives from a descriptor for listing and search, written once for
//! both read models (the SQL projection and the in-memory snapshot): the summary fields, the
//! text search indexes and the entity's links.
//!
//! It reads an already validated descriptor and refuses nothing.

use serde_json::Value;

use crate::entity::{managed_by_location, MANAGED_BY_ORIGIN_LOCATION};
use crate::entity_ref::EntityRef;

/// The fields a catalog list shows and filters on, as the descriptor states them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Summary {
    pub kind: String,
    /// `default` when the descriptor names none.
    pub namespace: String,
    pub name: String,
    pub title: Option<String>,
    pub description: Option<String>,
    pub tags: Vec<String>,
    /// `spec.owner` as a canonical ref (a bare name is a group in the entity's namespace);
    /// `None` when absent or not a ref.
    pub owner_ref: Option<String>,
    pub spec_type: Option<String>,
    pub lifecycle: Option<String>,
    /// The managed-by location: the source that holds the entity.
    pub source: Option<String>,
    /// The managed-by origin location.
    pub origin: Option<String>,
}

impl Summary {
    pub fn of(descriptor: &Value) -> Summary {
        let text = |path: &[&str]| text_at(descriptor, path);
        let namespace = text(&["metadata", "namespace"]).unwrap_or_else(|| "default".into());
        let owner_ref = text(&["spec", "owner"]).and_then(|owner| {
            EntityRef::parse(&owner, Some("group"), &namespace)
                .ok()
                .map(|r| r.canonical())
        });
        Summary {
            kind: text(&["kind"]).unwrap_or_default(),
            name: text(&["metadata", "name"]).unwrap_or_default(),
            title: text(&["metadata", "title"]),
            description: text(&["metadata", "description"]),
            tags: descriptor["metadata"]["tags"]
                .as_array()
                .map(|tags| {
                    tags.iter()
                        .filter_map(|t| t.as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default(),
            owner_ref,
            spec_type: text(&["spec", "type"]),
            lifecycle: text(&["spec", "lifecycle"]),
            source: managed_by_location(descriptor).map(str::to_string),
            origin: text(&["metadata", "annotations", MANAGED_BY_ORIGIN_LOCATION]),
            namespace,
        }
    }

    /// This entity's [`search_text`].
    pub fn search_text(&self) -> String {
        search_text(
            &self.name,
            self.title.as_deref(),
            self.description.as_deref(),
            &self.tags,
        )
    }
}

/// The string at `path`, if there is one.
pub fn text_at(value: &Value, path: &[&str]) -> Option<String> {
    path.iter()
        .try_fold(value, |v, key| v.get(key))?
        .as_str()
        .map(str::to_string)
}

/// How much of the title and of the description search indexes.
pub const SEARCH_FIELD_BYTES: usize = 16 * 1024;
/// The most text search indexes for one entity. A tsvector holds at most 1 MB of lexemes,
/// so a text this size can never overflow it, whatever a stored descriptor holds.
pub const MAX_SEARCH_TEXT_BYTES: usize = 128 * 1024;

/// Name, title, description and tags, for full-text and trigram search. A long title or
/// description is indexed by its beginning rather than refused: search finds an entity by
/// what its description starts with, and the whole text is still stored and returned.
pub fn search_text(
    name: &str,
    title: Option<&str>,
    description: Option<&str>,
    tags: &[String],
) -> String {
    let mut text = [
        Some(name),
        title.map(|t| prefix(t, SEARCH_FIELD_BYTES)),
        description.map(|d| prefix(d, SEARCH_FIELD_BYTES)),
    ]
    .into_iter()
    .flatten()
    .chain(tags.iter().map(String::as_str))
    .collect::<Vec<_>>()
    .join(" ");
    let cut = prefix(&text, MAX_SEARCH_TEXT_BYTES).len();
    text.truncate(cut);
    text
}

/// The longest prefix of at most `max` bytes that ends on a character boundary.
pub fn prefix(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// One of `metadata.links`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Link {
    pub url: String,
    pub title: Option<String>,
    pub icon: Option<String>,
    pub link_type: Option<String>,
}

/// `metadata.links`, each with a `url` (one without is passed over).
pub fn links(descriptor: &Value) -> Vec<Link> {
    let text = |v: &Value, key: &str| v.get(key).and_then(Value::as_str).map(str::to_string);
    descriptor["metadata"]["links"]
        .as_array()
        .map(|links| {
            links
                .iter()
                .filter_map(|l| {
                    Some(Link {
                        url: text(l, "url")?,
                        title: text(l, "title"),
                        icon: text(l, "icon"),
                        link_type: text(l, "type"),
                    })
                })
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn long_fields_are_indexed_by_their_beginning_on_a_character_boundary() {
        let title = "é".repeat(SEARCH_FIELD_BYTES);
        let text = search_text("svc", Some(&title), None, &["java".into()]);
        assert!(text.starts_with("svc é"));
        assert!(text.ends_with(" java"));
        assert_eq!(text.len(), 4 + SEARCH_FIELD_BYTES + 5);
        assert_eq!(prefix("aé", 2), "a");
    }

    #[test]
    fn a_summary_reads_the_descriptor_with_backstage_defaults() {
        let summary = Summary::of(&json!({
            "kind": "Component",
            "metadata": {"name": "svc", "tags": ["java", 3], "annotations": {
                "backstage.io/managed-by-location": "file:/a.yaml"}},
            "spec": {"owner": "team-a", "type": "service"}
        }));
        assert_eq!(summary.namespace, "default");
        assert_eq!(summary.owner_ref.as_deref(), Some("group:default/team-a"));
        assert_eq!(summary.tags, vec!["java".to_string()]);
        assert_eq!(summary.source.as_deref(), Some("file:/a.yaml"));
        assert_eq!(summary.lifecycle, None);
        assert_eq!(summary.search_text(), "svc java");
    }

    #[test]
    fn links_need_a_url() {
        let descriptor = json!({"metadata": {"links": [
            {"url": "https://a", "title": "A", "type": "docs"},
            {"title": "no url"}
        ]}});
        assert_eq!(
            links(&descriptor),
            vec![Link {
                url: "https://a".into(),
                title: Some("A".into()),
                icon: None,
                link_type: Some("docs".into()),
            }]
        );
    }
}
