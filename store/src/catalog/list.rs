//! Filtered, ordered lists of entities with keyset pagination, their total
//! count, and facet counts.
//!
//! Pages are cut by keyset (`WHERE (keys) > (cursor keys)`), never OFFSET, so a
//! page costs the same at the end of the catalog as at its start and rows
//! inserted meanwhile do not shift later pages. Ties are broken by `ref`.

use super::entities::{columns, EntityRecord};
use super::filter::{push_filter, Filter};
use super::{Catalog, CatalogError};
pub use almanac_readmodel::{FacetField, OrderDirection, OrderField, OrderKey};
use sqlx::{Postgres, QueryBuilder};

/// A non-null SQL expression, so keyset comparisons never meet NULL.
fn expression(field: OrderField) -> &'static str {
    match field {
        OrderField::Ref => "ref",
        OrderField::Kind => "lower(kind)",
        OrderField::Namespace => "namespace",
        OrderField::Name => "lower(name)",
        OrderField::Title => "lower(coalesce(title, name))",
        OrderField::Type => "coalesce(spec_type, '')",
        OrderField::Lifecycle => "coalesce(lifecycle, '')",
        OrderField::Owner => "coalesce(owner_ref, '')",
        OrderField::CreatedAt => "created_at",
        OrderField::UpdatedAt => "updated_at",
    }
}

/// The SQL type a cursor's text value is cast back to.
fn cast(field: OrderField) -> &'static str {
    match field {
        OrderField::CreatedAt | OrderField::UpdatedAt => "timestamptz",
        _ => "text",
    }
}

/// Where the previous page ended: its last row's sort-key values (as text) and ref.
#[derive(Clone, Copy, Debug)]
pub struct ListAfter<'a> {
    pub sort_keys: &'a [String],
    pub entity_ref: &'a str,
}

/// One listed entity with the text values of its sort keys (for its cursor).
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct Listed {
    #[sqlx(flatten)]
    pub entity: EntityRecord,
    pub sort_keys: Vec<String>,
}

#[derive(Clone, Debug)]
pub struct ListPage {
    pub rows: Vec<Listed>,
    /// More rows follow the last one.
    pub has_next: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct Facet {
    pub value: String,
    pub count: i64,
}

impl Catalog {
    /// Up to `first` entities after `after` (where the previous page ended), in
    /// `order` then `ref`.
    pub async fn list_entities(
        &self,
        filter: &Filter,
        order: &[OrderKey],
        first: i64,
        after: Option<ListAfter<'_>>,
    ) -> Result<ListPage, CatalogError> {
        let keys: Vec<String> = order
            .iter()
            .map(|k| format!("({})::text", expression(k.field)))
            .collect();
        let mut qb = QueryBuilder::<Postgres>::new(format!(
            "SELECT {}, ARRAY[{}]::text[] AS sort_keys FROM entities e WHERE ",
            columns("e"),
            keys.join(", ")
        ));
        push_filter(&mut qb, filter);
        if let Some(after) = after {
            qb.push(" AND ");
            push_keyset(&mut qb, order, after.sort_keys, after.entity_ref);
        }
        qb.push(" ORDER BY ");
        for key in order {
            qb.push(expression(key.field)).push(match key.direction {
                OrderDirection::Asc => " ASC, ",
                OrderDirection::Desc => " DESC, ",
            });
        }
        qb.push("ref ASC LIMIT ").push_bind(first + 1);
        let mut rows: Vec<Listed> = qb
            .build_query_as()
            .fetch_all(&mut *self.reader().await?)
            .await?;
        let has_next = rows.len() as i64 > first;
        rows.truncate(first.max(0) as usize);
        Ok(ListPage { rows, has_next })
    }

    pub async fn count_entities(&self, filter: &Filter) -> Result<i64, CatalogError> {
        let mut qb = QueryBuilder::<Postgres>::new("SELECT count(*) FROM entities WHERE ");
        push_filter(&mut qb, filter);
        let (count,): (i64,) = qb
            .build_query_as()
            .fetch_one(&mut *self.reader().await?)
            .await?;
        Ok(count)
    }

    /// Values of `field` among the entities `filter` keeps, most frequent first.
    pub async fn facets(
        &self,
        field: FacetField,
        filter: &Filter,
        limit: i64,
    ) -> Result<Vec<Facet>, CatalogError> {
        let expression = match field {
            FacetField::Kind => "kind",
            FacetField::Namespace => "namespace",
            FacetField::Type => "spec_type",
            FacetField::Lifecycle => "lifecycle",
            FacetField::Owner => "owner_ref",
            FacetField::Tag => "unnest(tags)",
        };
        let mut qb = QueryBuilder::<Postgres>::new(format!(
            "SELECT value, count(*) AS count FROM (SELECT {expression} AS value FROM entities WHERE "
        ));
        push_filter(&mut qb, filter);
        qb.push(") f WHERE value IS NOT NULL GROUP BY value ORDER BY count(*) DESC, value LIMIT ")
            .push_bind(limit);
        Ok(qb
            .build_query_as()
            .fetch_all(&mut *self.reader().await?)
            .await?)
    }
}

/// Rows strictly after the cursor in the page order: for keys k1..kn and the
/// ref tie-breaker, `k1 ⋗ v1 OR (k1 = v1 AND k2 ⋗ v2) OR ...` where ⋗ is `>`
/// for ascending keys and `<` for descending ones (row comparison cannot mix
/// directions).
fn push_keyset(
    qb: &mut QueryBuilder<'_, Postgres>,
    order: &[OrderKey],
    values: &[String],
    after_ref: &str,
) {
    qb.push("(");
    for level in 0..=order.len() {
        if level > 0 {
            qb.push(" OR ");
        }
        qb.push("(");
        for (key, value) in order.iter().zip(values).take(level) {
            qb.push(expression(key.field))
                .push(" = ")
                .push_bind(value.clone())
                .push(format!("::{} AND ", cast(key.field)));
        }
        match (order.get(level), values.get(level)) {
            (Some(key), Some(value)) => {
                let op = match key.direction {
                    OrderDirection::Asc => " > ",
                    OrderDirection::Desc => " < ",
                };
                qb.push(expression(key.field))
                    .push(op)
                    .push_bind(value.clone())
                    .push(format!("::{}", cast(key.field)));
            }
            _ => {
                qb.push("ref > ").push_bind(after_ref.to_string());
            }
        }
        qb.push(")");
    }
    qb.push(")");
}
