//! Full-text and as-you-type search, ranked, with keyset pagination on
//! (score, ref).
//!
//! Matching uses the `search` tsvector (prefix terms) and the trigram index on
//! `search_text` (substrings and misspelt words); see [`TextQuery`].

use super::entities::{columns, EntityRecord};
use super::filter::{push_filter, push_text_match, push_text_score, Filter, TextQuery};
use super::{Catalog, CatalogError};
use sqlx::{Postgres, QueryBuilder};

/// Where the previous page of results ended: its last row's score and ref.
#[derive(Clone, Copy, Debug)]
pub struct SearchAfter<'a> {
    pub score: f64,
    pub entity_ref: &'a str,
}

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct Scored {
    #[sqlx(flatten)]
    pub entity: EntityRecord,
    pub score: f64,
}

impl Catalog {
    /// Best matches first, after `after` (where the previous page ended).
    /// Returns one row more than `first` when more follow.
    pub async fn search(
        &self,
        text: &TextQuery,
        filter: &Filter,
        first: i64,
        after: Option<SearchAfter<'_>>,
    ) -> Result<Vec<Scored>, CatalogError> {
        let mut qb =
            QueryBuilder::<Postgres>::new(format!("SELECT * FROM (SELECT {}, ", columns("e")));
        push_text_score(&mut qb, text);
        qb.push(" AS score FROM entities e WHERE ");
        push_text_match(&mut qb, text);
        qb.push(" AND ");
        push_filter(&mut qb, filter);
        qb.push(") s");
        if let Some(after) = after {
            qb.push(" WHERE (score < ")
                .push_bind(after.score)
                .push(" OR (score = ")
                .push_bind(after.score)
                .push(" AND ref > ")
                .push_bind(after.entity_ref.to_string())
                .push("))");
        }
        qb.push(" ORDER BY score DESC, ref ASC LIMIT ")
            .push_bind(first + 1);
        Ok(qb
            .build_query_as()
            .fetch_all(&mut *self.reader().await?)
            .await?)
    }

    pub async fn count_search(
        &self,
        text: &TextQuery,
        filter: &Filter,
    ) -> Result<i64, CatalogError> {
        let mut qb = QueryBuilder::<Postgres>::new("SELECT count(*) FROM entities WHERE ");
        push_text_match(&mut qb, text);
        qb.push(" AND ");
        push_filter(&mut qb, filter);
        let (count,): (i64,) = qb
            .build_query_as()
            .fetch_one(&mut *self.reader().await?)
            .await?;
        Ok(count)
    }
}
