//! Full-text and as-you-type search, ranked, with keyset pagination on
//! (score, ref).
//!
//! Matching uses the `search` tsvector (prefix terms) and the trigram index on
//! `search_text` (substrings and misspelt words); see [`TextQuery`].

use super::entities::{columns, EntityRecord};
use super::filter::{push_filter, Filter, TextQuery};
use super::{Catalog, CatalogError};
use sqlx::{Postgres, QueryBuilder};

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct Scored {
    #[sqlx(flatten)]
    pub entity: EntityRecord,
    pub score: f64,
}

impl Catalog {
    /// Best matches first; `after` is the (score, ref) of the previous page's
    /// last row. Returns one row more than `first` when more follow.
    pub async fn search(
        &self,
        text: &TextQuery,
        filter: &Filter,
        first: i64,
        after: Option<(f64, &str)>,
    ) -> Result<Vec<Scored>, CatalogError> {
        let mut qb =
            QueryBuilder::<Postgres>::new(format!("SELECT * FROM (SELECT {}, ", columns("e")));
        text.push_score(&mut qb);
        qb.push(" AS score FROM entities e WHERE ");
        text.push_match(&mut qb);
        qb.push(" AND ");
        push_filter(&mut qb, filter);
        qb.push(") s");
        if let Some((score, after_ref)) = after {
            qb.push(" WHERE (score < ")
                .push_bind(score)
                .push(" OR (score = ")
                .push_bind(score)
                .push(" AND ref > ")
                .push_bind(after_ref.to_string())
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
        text.push_match(&mut qb);
        qb.push(" AND ");
        push_filter(&mut qb, filter);
        let (count,): (i64,) = qb
            .build_query_as()
            .fetch_one(&mut *self.reader().await?)
            .await?;
        Ok(count)
    }
}
