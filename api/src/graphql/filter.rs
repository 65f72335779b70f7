//! `EntityFilter`, `EntityOrder` and `FacetField` inputs, turned into the
//! catalog's query vocabulary (`almanac_readmodel::query`: filter tree, order
//! keys). User values are checked here (refs parsed, `key=value` split, size
//! bounded); the snapshot evaluates them.

use crate::error::{ApiError, ErrorCode, Result};
use almanac_domain::EntityRef;
use almanac_readmodel::{
    FacetField as CatalogFacet, Filter, OrderDirection, OrderField, OrderKey, TextQuery,
};
use async_graphql::{Enum, InputObject};

/// Which entities to keep. Each list matches any of its values
/// (case-insensitively); the fields given all must hold; `and`, `or` and
/// `not` combine whole filters.
#[derive(Clone, Debug, Default, InputObject)]
pub struct EntityFilter {
    pub kind: Option<Vec<String>>,
    pub namespace: Option<Vec<String>>,
    pub name: Option<Vec<String>>,
    /// `spec.type`.
    #[graphql(name = "type")]
    pub spec_type: Option<Vec<String>>,
    pub lifecycle: Option<Vec<String>>,
    /// Owner refs; the kind defaults to `group`, the namespace to `default`.
    pub owner: Option<Vec<String>>,
    pub tag: Option<Vec<String>>,
    /// `key=value`.
    pub label: Option<Vec<String>>,
    /// `key=value`.
    pub annotation: Option<Vec<String>>,
    /// Annotation keys that must be present.
    pub has_annotation: Option<Vec<String>>,
    /// Words in the name, title, description or tags (prefixes and close misspellings match).
    pub text: Option<String>,
    pub and: Option<Vec<EntityFilter>>,
    pub or: Option<Vec<EntityFilter>>,
    pub not: Option<Box<EntityFilter>>,
}

/// A list field of the filter and the condition it becomes.
type ListField<'a> = (&'a Option<Vec<String>>, fn(Vec<String>) -> Filter);

/// Deepest `and`/`or`/`not` nesting accepted.
const MAX_NESTING: usize = 8;

impl EntityFilter {
    /// The catalog's filter, refusing trees larger than `max_conditions`.
    pub fn compile(filter: Option<&EntityFilter>, max_conditions: usize) -> Result<Filter> {
        let compiled = match filter {
            Some(filter) => filter.to_filter(0)?,
            None => Filter::all(),
        };
        if compiled.size() > max_conditions {
            return Err(ApiError::invalid(format!(
                "the filter has {} conditions; the limit is {max_conditions}",
                compiled.size()
            )));
        }
        Ok(compiled)
    }

    fn to_filter(&self, nesting: usize) -> Result<Filter> {
        if nesting > MAX_NESTING {
            return Err(ApiError::invalid(format!(
                "filters may nest and/or/not at most {MAX_NESTING} deep"
            )));
        }
        let mut all = Vec::new();
        let lists: [ListField<'_>; 7] = [
            (&self.kind, Filter::Kind),
            (&self.namespace, Filter::Namespace),
            (&self.name, Filter::Name),
            (&self.spec_type, Filter::Type),
            (&self.lifecycle, Filter::Lifecycle),
            (&self.tag, Filter::Tag),
            (&self.has_annotation, Filter::HasAnnotation),
        ];
        for (values, make) in lists {
            if let Some(values) = values {
                all.push(make(values.clone()));
            }
        }
        if let Some(owners) = &self.owner {
            let refs = owners
                .iter()
                .map(|o| owner_ref(o))
                .collect::<Result<Vec<_>>>()?;
            all.push(Filter::Owner(refs));
        }
        if let Some(labels) = &self.label {
            all.push(Filter::Label(pairs(labels, "label")?));
        }
        if let Some(annotations) = &self.annotation {
            all.push(Filter::Annotation(pairs(annotations, "annotation")?));
        }
        if let Some(text) = self.text.as_deref().filter(|t| !t.trim().is_empty()) {
            all.push(Filter::Text(search_text(text)?));
        }
        if let Some(and) = &self.and {
            let items = and
                .iter()
                .map(|f| f.to_filter(nesting + 1))
                .collect::<Result<_>>()?;
            all.push(Filter::All(items));
        }
        if let Some(or) = &self.or {
            let items = or
                .iter()
                .map(|f| f.to_filter(nesting + 1))
                .collect::<Result<_>>()?;
            all.push(Filter::Any(items));
        }
        if let Some(not) = &self.not {
            all.push(Filter::Not(Box::new(not.to_filter(nesting + 1)?)));
        }
        Ok(if all.len() == 1 {
            all.remove(0)
        } else {
            Filter::All(all)
        })
    }
}

/// Parses a user's ref (kind and namespace defaulted) into its canonical form.
/// Search text as the catalog takes it, or `INVALID_ARGUMENT` naming the limit
/// (length, words, NUL) it breaks.
pub fn search_text(text: &str) -> Result<TextQuery> {
    TextQuery::parse(text).map_err(|err| ApiError::invalid(err.to_string()))
}

pub fn canonical_ref(text: &str, default_kind: Option<&str>) -> Result<String> {
    EntityRef::parse(text.trim(), default_kind, "default")
        .map(|r| r.canonical())
        .map_err(|err| ApiError::new(ErrorCode::InvalidRef, err.to_string()))
}

fn owner_ref(text: &str) -> Result<String> {
    canonical_ref(text, Some("group"))
}

fn pairs(values: &[String], what: &str) -> Result<Vec<(String, String)>> {
    values
        .iter()
        .map(|v| {
            v.split_once('=')
                .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
                .filter(|(k, _)| !k.is_empty())
                .ok_or_else(|| ApiError::invalid(format!("{what} {v:?} must be written key=value")))
        })
        .collect()
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Enum)]
pub enum EntityOrderField {
    Ref,
    Kind,
    Namespace,
    Name,
    /// The title, or the name when there is none.
    Title,
    Type,
    Lifecycle,
    Owner,
    CreatedAt,
    UpdatedAt,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Enum)]
pub enum SortDirection {
    Asc,
    Desc,
}

/// One sort key; ties are always broken by `ref`.
#[derive(Clone, Copy, Debug, InputObject)]
pub struct EntityOrder {
    pub field: EntityOrderField,
    #[graphql(default_with = "SortDirection::Asc")]
    pub direction: SortDirection,
}

/// Most sort keys in one `orderBy`.
const MAX_ORDER_KEYS: usize = 4;

pub fn order_keys(order: Option<&[EntityOrder]>) -> Result<Vec<OrderKey>> {
    let order = order.unwrap_or(&[]);
    if order.len() > MAX_ORDER_KEYS {
        return Err(ApiError::invalid(format!(
            "orderBy takes at most {MAX_ORDER_KEYS} keys"
        )));
    }
    let keys: Vec<OrderKey> = order
        .iter()
        .map(|o| OrderKey {
            field: match o.field {
                EntityOrderField::Ref => OrderField::Ref,
                EntityOrderField::Kind => OrderField::Kind,
                EntityOrderField::Namespace => OrderField::Namespace,
                EntityOrderField::Name => OrderField::Name,
                EntityOrderField::Title => OrderField::Title,
                EntityOrderField::Type => OrderField::Type,
                EntityOrderField::Lifecycle => OrderField::Lifecycle,
                EntityOrderField::Owner => OrderField::Owner,
                EntityOrderField::CreatedAt => OrderField::CreatedAt,
                EntityOrderField::UpdatedAt => OrderField::UpdatedAt,
            },
            direction: match o.direction {
                SortDirection::Asc => OrderDirection::Asc,
                SortDirection::Desc => OrderDirection::Desc,
            },
        })
        .collect();
    Ok(if keys.is_empty() {
        vec![OrderKey {
            field: OrderField::Name,
            direction: OrderDirection::Asc,
        }]
    } else {
        keys
    })
}

/// The order's signature, stored in cursors.
pub fn order_signature(keys: &[OrderKey]) -> String {
    keys.iter()
        .map(|k| format!("{:?}:{:?}", k.field, k.direction))
        .collect::<Vec<_>>()
        .join(",")
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Enum)]
pub enum FacetField {
    Kind,
    Namespace,
    Type,
    Lifecycle,
    Owner,
    Tag,
}

impl From<FacetField> for CatalogFacet {
    fn from(field: FacetField) -> CatalogFacet {
        match field {
            FacetField::Kind => CatalogFacet::Kind,
            FacetField::Namespace => CatalogFacet::Namespace,
            FacetField::Type => CatalogFacet::Type,
            FacetField::Lifecycle => CatalogFacet::Lifecycle,
            FacetField::Owner => CatalogFacet::Owner,
            FacetField::Tag => CatalogFacet::Tag,
        }
    }
}
