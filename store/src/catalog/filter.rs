//! Entity filters compiled to one SQL `WHERE` clause with bind parameters.
//!
//! The tree (`All`/`Any`/`Not` over field conditions) is built by the caller
//! from user input; this module only emits fixed SQL fragments and binds every
//! value. It does not validate refs or label syntax: the caller does, and hands
//! over canonical values.

use sqlx::{Postgres, QueryBuilder};

#[derive(Clone, Debug, PartialEq)]
pub enum Filter {
    /// Every condition holds (an empty list is true).
    All(Vec<Filter>),
    /// At least one holds (an empty list is false).
    Any(Vec<Filter>),
    Not(Box<Filter>),
    /// Each list below matches any of its values, case-insensitively.
    Kind(Vec<String>),
    Namespace(Vec<String>),
    Name(Vec<String>),
    Type(Vec<String>),
    Lifecycle(Vec<String>),
    /// Canonical owner refs (`group:default/team-a`).
    Owner(Vec<String>),
    /// Tags are lower-case in valid descriptors; compared as given, lower-cased.
    Tag(Vec<String>),
    /// `metadata.labels[key] == value` for any of the pairs.
    Label(Vec<(String, String)>),
    Annotation(Vec<(String, String)>),
    /// The annotation key is present, whatever its value.
    HasAnnotation(Vec<String>),
    Text(TextQuery),
    /// Exactly these canonical refs.
    Ref(Vec<String>),
}

impl Filter {
    pub fn all() -> Filter {
        Filter::All(Vec::new())
    }

    /// How many leaf conditions the tree holds (for a caller's size limit).
    pub fn size(&self) -> usize {
        match self {
            Filter::All(items) | Filter::Any(items) => items.iter().map(Filter::size).sum(),
            Filter::Not(inner) => inner.size(),
            _ => 1,
        }
    }
}

/// Free text, prepared for the full-text index (prefix terms, for as-you-type)
/// and the trigram index (substring and fuzzy word match).
#[derive(Clone, Debug, PartialEq)]
pub struct TextQuery {
    pub raw: String,
    /// `term:* & term:*` over alphanumeric terms only; `None` when there are none.
    pub tsquery: Option<String>,
    /// `%text%` with LIKE's special characters escaped.
    pub like: String,
    /// `text%`, lower-cased, escaped: a name prefix.
    pub prefix: String,
}

/// Most bytes of search text (after trimming and collapsing whitespace): a
/// search is a few words, and a long text costs PostgreSQL far more than it
/// could ever match (a 100k-word text overflowed the tsquery parser's stack).
pub const MAX_SEARCH_BYTES: usize = 256;
/// Most words in one search text: each is one more `&` term of the tsquery.
pub const MAX_SEARCH_TERMS: usize = 16;

/// Search text that cannot become a query. Its message names the limit.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TextQueryError {
    #[error("search text must not be empty")]
    Empty,
    #[error("search text is {bytes} bytes; the limit is {MAX_SEARCH_BYTES}")]
    TooLong { bytes: usize },
    #[error("search text has {terms} words; the limit is {MAX_SEARCH_TERMS}")]
    TooManyTerms { terms: usize },
    #[error("search text must not contain a NUL character")]
    Nul,
}

impl TextQuery {
    /// Normalises `text` (trimmed, runs of whitespace made one space) and
    /// checks it against [`MAX_SEARCH_BYTES`] and [`MAX_SEARCH_TERMS`] before
    /// anything reaches SQL.
    pub fn parse(text: &str) -> Result<TextQuery, TextQueryError> {
        if text.contains('\0') {
            return Err(TextQueryError::Nul);
        }
        // Checked before normalising too, so a huge input is not copied.
        if text.len() > MAX_SEARCH_BYTES * 4 {
            return Err(TextQueryError::TooLong { bytes: text.len() });
        }
        let raw = text.split_whitespace().collect::<Vec<_>>().join(" ");
        if raw.is_empty() {
            return Err(TextQueryError::Empty);
        }
        if raw.len() > MAX_SEARCH_BYTES {
            return Err(TextQueryError::TooLong { bytes: raw.len() });
        }
        let terms: Vec<String> = raw
            .split(|c: char| !c.is_alphanumeric())
            .filter(|term| !term.is_empty())
            .map(|term| format!("{}:*", term.to_lowercase()))
            .collect();
        if terms.len() > MAX_SEARCH_TERMS {
            return Err(TextQueryError::TooManyTerms { terms: terms.len() });
        }
        let escaped = escape_like(&raw.to_lowercase());
        Ok(TextQuery {
            tsquery: (!terms.is_empty()).then(|| terms.join(" & ")),
            like: format!("%{escaped}%"),
            prefix: format!("{escaped}%"),
            raw,
        })
    }

    /// Appends the match condition.
    pub(crate) fn push_match(&self, qb: &mut QueryBuilder<'_, Postgres>) {
        qb.push("(search_text ILIKE ")
            .push_bind(self.like.clone())
            .push(" ESCAPE '\\' OR search_text %> ")
            .push_bind(self.raw.clone());
        if let Some(tsquery) = &self.tsquery {
            qb.push(" OR search @@ to_tsquery('simple', ")
                .push_bind(tsquery.clone())
                .push(")");
        }
        qb.push(")");
    }

    /// Appends the relevance score: exact and prefix name matches first, then
    /// full-text rank and trigram word similarity.
    pub(crate) fn push_score(&self, qb: &mut QueryBuilder<'_, Postgres>) {
        qb.push("(CASE WHEN lower(name) = lower(")
            .push_bind(self.raw.clone())
            .push(") THEN 3 ELSE 0 END + CASE WHEN lower(name) LIKE ")
            .push_bind(self.prefix.clone())
            .push(" ESCAPE '\\' THEN 1 ELSE 0 END + word_similarity(")
            .push_bind(self.raw.clone())
            .push(", search_text)");
        if let Some(tsquery) = &self.tsquery {
            qb.push(" + ts_rank(search, to_tsquery('simple', ")
                .push_bind(tsquery.clone())
                .push("))");
        }
        qb.push(")::float8");
    }
}

fn escape_like(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

fn lower_all(values: &[String]) -> Vec<String> {
    values.iter().map(|v| v.to_lowercase()).collect()
}

/// Appends `filter` as a boolean SQL expression over the `entities` columns.
pub(crate) fn push_filter(qb: &mut QueryBuilder<'_, Postgres>, filter: &Filter) {
    match filter {
        Filter::All(items) => push_joined(qb, items, " AND ", "TRUE"),
        Filter::Any(items) => push_joined(qb, items, " OR ", "FALSE"),
        Filter::Not(inner) => {
            // NOT over a NULL comparison would be NULL: coalesce to keep "not X" total.
            qb.push("NOT coalesce(");
            push_filter(qb, inner);
            qb.push(", FALSE)");
        }
        Filter::Kind(values) => push_any(qb, "lower(kind)", lower_all(values)),
        Filter::Namespace(values) => push_any(qb, "lower(namespace)", lower_all(values)),
        Filter::Name(values) => push_any(qb, "lower(name)", lower_all(values)),
        Filter::Type(values) => push_any(qb, "lower(spec_type)", lower_all(values)),
        Filter::Lifecycle(values) => push_any(qb, "lower(lifecycle)", lower_all(values)),
        Filter::Owner(values) => push_any(qb, "owner_ref", lower_all(values)),
        Filter::Ref(values) => push_any(qb, "ref", lower_all(values)),
        Filter::Tag(values) => {
            qb.push("tags && ")
                .push_bind(lower_all(values))
                .push("::text[]");
        }
        Filter::Label(pairs) => push_pairs(qb, "labels", pairs),
        Filter::Annotation(pairs) => push_pairs(qb, "annotations", pairs),
        Filter::HasAnnotation(keys) => {
            qb.push("annotations ?| ")
                .push_bind(keys.clone())
                .push("::text[]");
        }
        Filter::Text(text) => text.push_match(qb),
    }
}

fn push_joined(qb: &mut QueryBuilder<'_, Postgres>, items: &[Filter], op: &str, empty: &str) {
    if items.is_empty() {
        qb.push(empty);
        return;
    }
    qb.push("(");
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            qb.push(op);
        }
        push_filter(qb, item);
    }
    qb.push(")");
}

fn push_any(qb: &mut QueryBuilder<'_, Postgres>, column: &str, values: Vec<String>) {
    qb.push(column)
        .push(" = ANY(")
        .push_bind(values)
        .push("::text[])");
}

/// `column @> {"k": "v"}` for any pair: the GIN (jsonb_path_ops) index serves it.
fn push_pairs(qb: &mut QueryBuilder<'_, Postgres>, column: &str, pairs: &[(String, String)]) {
    if pairs.is_empty() {
        qb.push("FALSE");
        return;
    }
    qb.push("(");
    for (i, (key, value)) in pairs.iter().enumerate() {
        if i > 0 {
            qb.push(" OR ");
        }
        let object = serde_json::json!({ key.as_str(): value.as_str() });
        qb.push(column).push(" @> ").push_bind(object);
    }
    qb.push(")");
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn sql(filter: &Filter) -> String {
        let mut qb = QueryBuilder::<Postgres>::new("");
        push_filter(&mut qb, filter);
        qb.sql().to_string()
    }

    #[test]
    fn values_are_bound_never_spliced() {
        let filter = Filter::All(vec![
            Filter::Name(vec!["x'; DROP TABLE entities; --".into()]),
            Filter::Not(Box::new(Filter::Tag(vec!["java".into()]))),
            Filter::Any(vec![Filter::Label(vec![("a".into(), "b".into())])]),
        ]);
        let text = sql(&filter);
        assert!(!text.contains("DROP"), "{text}");
        assert_eq!(
            text,
            "(lower(name) = ANY($1::text[]) AND NOT coalesce(tags && $2::text[], FALSE) AND ((labels @> $3)))"
        );
    }

    #[test]
    fn text_terms_become_prefix_queries() {
        let text = TextQuery::parse(" Payments-Gate ").unwrap();
        assert_eq!(text.tsquery.as_deref(), Some("payments:* & gate:*"));
        assert_eq!(text.like, "%payments-gate%");
        assert_eq!(TextQuery::parse("50%_off").unwrap().like, "%50\\%\\_off%");
        assert_eq!(TextQuery::parse("--").unwrap().tsquery, None);
    }

    #[test]
    fn text_is_normalised_and_bounded_before_sql() {
        assert_eq!(TextQuery::parse("  a \t\n b ").unwrap().raw, "a b");
        assert_eq!(TextQuery::parse(" \t"), Err(TextQueryError::Empty));
        assert_eq!(TextQuery::parse("a\0b"), Err(TextQueryError::Nul));
        let long = "x".repeat(MAX_SEARCH_BYTES + 1);
        assert_eq!(
            TextQuery::parse(&long),
            Err(TextQueryError::TooLong {
                bytes: MAX_SEARCH_BYTES + 1
            })
        );
        assert!(matches!(
            TextQuery::parse(&"w ".repeat(100_000)),
            Err(TextQueryError::TooLong { .. })
        ));
        let words = vec!["w"; MAX_SEARCH_TERMS + 1].join(" ");
        assert_eq!(
            TextQuery::parse(&words),
            Err(TextQueryError::TooManyTerms {
                terms: MAX_SEARCH_TERMS + 1
            })
        );
        assert!(TextQuery::parse(&vec!["w"; MAX_SEARCH_TERMS].join(" ")).is_ok());
    }

    #[test]
    fn empty_combinations_are_constants() {
        assert_eq!(sql(&Filter::all()), "TRUE");
        assert_eq!(sql(&Filter::Any(vec![])), "FALSE");
    }
}
