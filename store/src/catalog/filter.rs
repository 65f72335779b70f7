//! Entity filters compiled to one SQL `WHERE` clause with bind parameters.
//!
//! The tree (`All`/`Any`/`Not` over field conditions) is built by the caller
//! from user input; this module only emits fixed SQL fragments and binds every
//! value. It does not validate refs or label syntax: the caller does, and hands
//! over canonical values.

pub use almanac_readmodel::{
    Filter, TextQuery, TextQueryError, MAX_SEARCH_BYTES, MAX_SEARCH_TERMS,
};
use sqlx::{Postgres, QueryBuilder};

/// Free text as the full-text index (prefix terms, for as-you-type) and the trigram
/// index (substring and fuzzy word match) take it.
struct SqlText {
    raw: String,
    /// `term:* & term:*` over alphanumeric terms only; `None` when there are none.
    tsquery: Option<String>,
    /// `%text%` with LIKE's special characters escaped.
    like: String,
    /// `text%`, lower-cased, escaped: a name prefix.
    prefix: String,
}

impl SqlText {
    fn of(text: &TextQuery) -> SqlText {
        let terms: Vec<String> = text
            .terms()
            .iter()
            .map(|term| format!("{term}:*"))
            .collect();
        let escaped = escape_like(text.lower());
        SqlText {
            raw: text.raw.clone(),
            tsquery: (!terms.is_empty()).then(|| terms.join(" & ")),
            like: format!("%{escaped}%"),
            prefix: format!("{escaped}%"),
        }
    }

    /// Appends the match condition.
    fn push_match(&self, qb: &mut QueryBuilder<'_, Postgres>) {
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
    fn push_score(&self, qb: &mut QueryBuilder<'_, Postgres>) {
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

/// Appends `text`'s match condition.
pub(crate) fn push_text_match(qb: &mut QueryBuilder<'_, Postgres>, text: &TextQuery) {
    SqlText::of(text).push_match(qb);
}

/// Appends `text`'s relevance score: exact and prefix name matches first, then full-text
/// rank and trigram word similarity.
pub(crate) fn push_text_score(qb: &mut QueryBuilder<'_, Postgres>, text: &TextQuery) {
    SqlText::of(text).push_score(qb);
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
        Filter::Text(text) => push_text_match(qb, text),
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
        let sql_text = |text: &str| SqlText::of(&TextQuery::parse(text).unwrap());
        let text = sql_text(" Payments-Gate ");
        assert_eq!(text.tsquery.as_deref(), Some("payments:* & gate:*"));
        assert_eq!(text.like, "%payments-gate%");
        assert_eq!(sql_text("50%_off").like, "%50\\%\\_off%");
        assert_eq!(sql_text("--").tsquery, None);
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
