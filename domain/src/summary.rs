//! What the read side derives from a descriptor for listing and search, written once for
//! both read models (the SQL projection and the in-memory snapshot): the text search
//! indexes and the entity's links.
//!
//! It reads an already validated descriptor and refuses nothing.

use serde_json::Value;

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
