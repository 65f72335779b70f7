//! Filtered, ordered pages of entities with keyset pagination, counts, facets and ranked
//! search pages, answered from one snapshot with the store's semantics
//! (`store::catalog::list` and `search`).
//!
//! A page is cut after a keyset (the previous page's last sort keys, then its ref), never
//! an offset; ties are broken by ref. Sort keys are text, as the store returns them
//! (times as RFC 3339 with microseconds, which order as text). Encoding them into an opaque
//! cursor is the API's.

use std::borrow::Cow;
use std::cmp::Ordering;
use std::ops::Bound;
use std::sync::Arc;

use crate::entity::Entity;
use crate::fast::HashMap;
use crate::filter::Compiled;
use crate::names::NameKey;
use crate::path::{values_at, Found};
use crate::query::{
    FacetField, FieldPath, Filter, OrderDirection, OrderField, OrderKey, TextQuery,
};
use crate::search::Keep;
use crate::snapshot::Snapshot;

/// One listed entity with the text values of its sort keys (for its cursor).
#[derive(Clone, Debug)]
pub struct Listed {
    pub entity: Arc<Entity>,
    pub sort_keys: Vec<String>,
}

#[derive(Clone, Debug)]
pub struct ListPage {
    pub rows: Vec<Listed>,
    /// More rows follow the last one.
    pub has_next: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Facet {
    pub value: String,
    pub count: i64,
}

/// A page of search hits, best first, and how many match in all.
#[derive(Clone, Debug)]
pub struct SearchPage {
    pub rows: Vec<Scored>,
    pub has_next: bool,
    /// Every match that passes the filter, whatever the cursor (one pass gives both).
    pub total: usize,
}

/// One search hit.
#[derive(Clone, Debug)]
pub struct Scored {
    pub entity: Arc<Entity>,
    pub score: f64,
}

/// The facet fields whose counts over the whole catalog are kept per batch (the others are
/// counted by a scan when asked).
pub(crate) const FACET_FIELDS: [FacetField; 6] = [
    FacetField::Kind,
    FacetField::Namespace,
    FacetField::Type,
    FacetField::Lifecycle,
    FacetField::Owner,
    FacetField::Tag,
];

/// The values an entity counts for in `field` (none when it has no value). `Domain` is the
/// entity's own `spec.domain` only: [`Snapshot::facet_values`] adds a system's.
pub(crate) fn facet_values(entity: &Entity, field: FacetField) -> Vec<&str> {
    match field {
        FacetField::System => entity.system_ref.as_deref().into_iter().collect(),
        FacetField::Domain => entity.domain_ref().map(|d| &**d).into_iter().collect(),
        FacetField::LabelKey => entity.labels.iter().map(|(k, _)| k).collect(),
        FacetField::AnnotationKey => entity.annotations.iter().map(|(k, _)| k).collect(),
        FacetField::Kind => vec![&*entity.kind],
        FacetField::Namespace => vec![&*entity.namespace],
        FacetField::Type => entity.spec_type.as_deref().into_iter().collect(),
        FacetField::Lifecycle => entity.lifecycle.as_deref().into_iter().collect(),
        FacetField::Owner => entity.owner_ref.as_deref().into_iter().collect(),
        FacetField::Tag => entity.tags.iter().map(|t| &**t).collect(),
    }
}

/// Times as text that sorts as time: RFC 3339, UTC, microseconds.
const TIME_FORMAT: &str = "%Y-%m-%dT%H:%M:%S%.6fZ";

impl OrderField {
    /// The key's text value, never missing (as the store's `coalesce(..., '')`); borrowed
    /// where the entity holds it, so sorting a large set allocates only for times.
    fn value(self, entity: &Entity) -> Cow<'_, str> {
        match self {
            OrderField::Ref => Cow::Borrowed(&entity.entity_ref),
            OrderField::Kind => Cow::Borrowed(entity.key_kind()),
            OrderField::Namespace => Cow::Borrowed(&entity.namespace),
            OrderField::Name => Cow::Borrowed(entity.key_name()),
            OrderField::Title => Cow::Borrowed(entity.key_title()),
            OrderField::Type => text(&entity.spec_type),
            OrderField::Lifecycle => text(&entity.lifecycle),
            OrderField::Owner => text(&entity.owner_ref),
            OrderField::CreatedAt => Cow::Owned(entity.created_at.format(TIME_FORMAT).to_string()),
            OrderField::UpdatedAt => Cow::Owned(entity.updated_at.format(TIME_FORMAT).to_string()),
        }
    }
}

fn text(value: &Option<Arc<str>>) -> Cow<'_, str> {
    Cow::Borrowed(value.as_deref().unwrap_or(""))
}

/// Compares two rows' keys in the page order, then by ref.
fn compare<X: AsRef<str>, Y: AsRef<str>>(
    order: &[OrderKey],
    a: (&[X], &str),
    b: (&[Y], &str),
) -> Ordering {
    for (key, (x, y)) in order.iter().zip(a.0.iter().zip(b.0)) {
        let (x, y) = (x.as_ref(), y.as_ref());
        let ordering = match key.direction {
            OrderDirection::Asc => x.cmp(y),
            OrderDirection::Desc => y.cmp(x),
        };
        if ordering != Ordering::Equal {
            return ordering;
        }
    }
    a.1.cmp(b.1)
}

/// The first `first` of `rows` in order (and whether more follow), without sorting all.
fn top<T>(mut rows: Vec<T>, first: usize, cmp: impl Fn(&T, &T) -> Ordering) -> (Vec<T>, bool) {
    let has_next = rows.len() > first;
    if has_next && first > 0 {
        rows.select_nth_unstable_by(first - 1, &cmp);
    }
    rows.truncate(first);
    rows.sort_by(cmp);
    (rows, has_next)
}

impl Snapshot {
    fn matching<'s>(&'s self, filter: &Filter) -> impl Iterator<Item = &'s Arc<Entity>> + 's {
        let compiled = Compiled::new(filter, self);
        self.entities().filter(move |e| compiled.test(e))
    }

    /// The values `entity` counts for in `field`: its domain through its system too.
    pub(crate) fn facet_values<'a>(
        &'a self,
        entity: &'a Entity,
        field: FacetField,
    ) -> Vec<&'a str> {
        match field {
            FacetField::Domain => self.domain_of(entity).map(|d| &**d).into_iter().collect(),
            _ => facet_values(entity, field),
        }
    }

    /// Up to `first` entities after `after` (the sort keys of the previous page's last row,
    /// then its ref), in `order` then ref.
    ///
    /// Ordered by name (the API's default) or by ref alone, the page is read from the
    /// snapshot's ordered index, starting at the cursor and stopping once the page is full;
    /// any other order sorts the filtered set.
    pub fn list_entities(
        &self,
        filter: &Filter,
        order: &[OrderKey],
        first: usize,
        after: Option<(&[String], &str)>,
    ) -> ListPage {
        if let Some(page) = self.list_by_index(filter, order, first, after) {
            return page;
        }
        self.list_by_sort(filter, order, first, after)
    }

    /// A page from `by_name` or `by_ref`, or `None` when `order` is not one of those.
    fn list_by_index(
        &self,
        filter: &Filter,
        order: &[OrderKey],
        first: usize,
        after: Option<(&[String], &str)>,
    ) -> Option<ListPage> {
        let [key] = order else {
            return None;
        };
        let descending = key.direction == OrderDirection::Desc;
        if descending && key.field == OrderField::Name {
            // Names descending but refs ascending within a name: the index's reverse order
            // does not give that, so this order is sorted instead.
            return None;
        }
        let refs: Box<dyn Iterator<Item = &Arc<str>> + '_> = match (key.field, after) {
            (OrderField::Name, None) => {
                Box::new(self.state.by_name.iter().map(NameKey::entity_ref))
            }
            (OrderField::Name, Some((values, after_ref))) => {
                let at = NameKey::at(values.first()?, after_ref);
                Box::new(
                    self.state
                        .by_name
                        .range((Bound::Excluded(at), Bound::Unbounded))
                        .map(NameKey::entity_ref),
                )
            }
            (OrderField::Ref, None) if descending => Box::new(self.state.by_ref.iter().rev()),
            (OrderField::Ref, None) => Box::new(self.state.by_ref.iter()),
            (OrderField::Ref, Some((_, after_ref))) => {
                let at: Arc<str> = Arc::from(after_ref);
                if descending {
                    Box::new(self.state.by_ref.range(..at).rev())
                } else {
                    Box::new(
                        self.state
                            .by_ref
                            .range((Bound::Excluded(at), Bound::Unbounded)),
                    )
                }
            }
            _ => return None,
        };
        let compiled = Compiled::new(filter, self);
        let mut rows = Vec::with_capacity(first.min(1_000) + 1);
        for r in refs {
            let Some(entity) = self.entity(r) else {
                continue;
            };
            if !compiled.test(entity) {
                continue;
            }
            if rows.len() == first {
                return Some(ListPage {
                    rows,
                    has_next: true,
                });
            }
            rows.push(Listed {
                sort_keys: vec![key.field.value(entity).into_owned()],
                entity: entity.clone(),
            });
        }
        Some(ListPage {
            rows,
            has_next: false,
        })
    }

    /// A page by filtering every entity and selecting the first rows in `order`.
    fn list_by_sort(
        &self,
        filter: &Filter,
        order: &[OrderKey],
        first: usize,
        after: Option<(&[String], &str)>,
    ) -> ListPage {
        let rows: Vec<(&Arc<Entity>, Vec<Cow<'_, str>>)> = self
            .matching(filter)
            .map(|entity| {
                let keys: Vec<Cow<'_, str>> = order.iter().map(|k| k.field.value(entity)).collect();
                (entity, keys)
            })
            .filter(|(entity, keys)| match after {
                Some(cursor) => {
                    compare(order, (keys.as_slice(), &entity.entity_ref), cursor)
                        == Ordering::Greater
                }
                None => true,
            })
            .collect();
        let (rows, has_next) = top(rows, first, |a, b| {
            compare(order, (&a.1, &a.0.entity_ref), (&b.1, &b.0.entity_ref))
        });
        let rows = rows
            .into_iter()
            .map(|(entity, keys)| Listed {
                entity: entity.clone(),
                sort_keys: keys.into_iter().map(Cow::into_owned).collect(),
            })
            .collect();
        ListPage { rows, has_next }
    }

    /// How many entities `filter` keeps. The whole catalog, or one single-valued field
    /// (kind, namespace, type, lifecycle, owner), is answered from the facet counts kept
    /// per batch; anything else counts a scan.
    pub fn count_entities(&self, filter: &Filter) -> i64 {
        let (field, values) = match filter {
            Filter::All(items) if items.is_empty() => return self.len() as i64,
            Filter::Kind(values) => (FacetField::Kind, values),
            Filter::Namespace(values) => (FacetField::Namespace, values),
            Filter::Type(values) => (FacetField::Type, values),
            Filter::Lifecycle(values) => (FacetField::Lifecycle, values),
            Filter::Owner(values) => (FacetField::Owner, values),
            _ => return self.matching(filter).count() as i64,
        };
        // Each entity holds at most one value of these fields, so the counts of the values
        // the list matches (case-insensitively, as the filter does) add up exactly.
        let wanted: Vec<String> = values.iter().map(|v| v.to_lowercase()).collect();
        self.state
            .facets
            .get(&field)
            .into_iter()
            .flat_map(|counts| counts.iter())
            .filter(|(value, _)| wanted.contains(&value.to_lowercase()))
            .map(|(_, count)| *count)
            .sum()
    }

    /// Values of `field` among the entities `filter` keeps, most frequent first, then by
    /// value; entities without a value are not counted. Over the whole catalog (an empty
    /// `All`) the counts kept per batch answer without a scan.
    pub fn facets(&self, field: FacetField, filter: &Filter, limit: usize) -> Vec<Facet> {
        let most_frequent =
            |a: &(&str, i64), b: &(&str, i64)| b.1.cmp(&a.1).then_with(|| a.0.cmp(b.0));
        let counts: Vec<(&str, i64)> = if *filter == Filter::all() && FACET_FIELDS.contains(&field)
        {
            self.state
                .facets
                .get(&field)
                .into_iter()
                .flat_map(|counts| counts.iter())
                .map(|(value, count)| (&**value, *count))
                .collect()
        } else {
            let mut counts: HashMap<&str, i64> = HashMap::default();
            for entity in self.matching(filter) {
                for value in self.facet_values(entity, field) {
                    *counts.entry(value).or_insert(0) += 1;
                }
            }
            counts.into_iter().collect()
        };
        // Thousands of owners, twenty asked: select those, then sort and copy them only.
        let (counts, _) = top(counts, limit, most_frequent);
        counts
            .into_iter()
            .map(|(value, count)| Facet {
                value: value.to_string(),
                count,
            })
            .collect()
    }

    /// Values at `path` (see [`FieldPath`]) among the entities `filter` keeps, most frequent
    /// first, then by value: strings as written, numbers and booleans as JSON writes them,
    /// each counted once per entity; objects, arrays (their elements count) and elided
    /// leaves (spec strings over `ELIDE_BYTES`, whose text is not in memory) are not
    /// values. A scan of the filtered set.
    pub fn path_facets(&self, path: &FieldPath, filter: &Filter, limit: usize) -> Vec<Facet> {
        let mut counts: HashMap<String, i64> = HashMap::default();
        for entity in self.matching(filter) {
            let mut texts: Vec<String> = values_at(entity, path)
                .into_iter()
                .filter_map(|found| match found {
                    Found::Text(text) | Found::Scalar(text) => Some(text),
                    Found::Elided | Found::Node => None,
                })
                .collect();
            texts.sort_unstable();
            texts.dedup();
            for text in texts {
                *counts.entry(text).or_insert(0) += 1;
            }
        }
        let counts: Vec<(&str, i64)> = counts.iter().map(|(v, c)| (v.as_str(), *c)).collect();
        let (counts, _) = top(counts, limit, |a, b| {
            b.1.cmp(&a.1).then_with(|| a.0.cmp(b.0))
        });
        counts
            .into_iter()
            .map(|(value, count)| Facet {
                value: value.to_string(),
                count,
            })
            .collect()
    }

    /// The entities `text` matches, with their scores (see `search`).
    #[cfg(test)]
    pub(crate) fn text_scores(&self, text: &TextQuery) -> Vec<(Arc<Entity>, f64)> {
        self.state
            .search
            .matching(&self.state.entities, &self.state.by_name, text)
            .scores()
    }

    /// The entities `text` matches (unscored).
    pub(crate) fn text_matches(&self, text: &TextQuery) -> Vec<Arc<Entity>> {
        self.state
            .search
            .matching(&self.state.entities, &self.state.by_name, text)
            .matches(None)
    }

    /// Best matches first (score, then ref); `after` is the (score, ref) of the previous
    /// page's last row. Up to `first` rows, whether more follow, and the total.
    pub fn search(
        &self,
        text: &TextQuery,
        filter: &Filter,
        first: usize,
        after: Option<(f64, &str)>,
    ) -> SearchPage {
        let compiled = Compiled::new(filter, self);
        let test = |entity: &Entity| compiled.test(entity);
        let keep: Keep<'_> = (*filter != Filter::all()).then_some(&test);
        let (rows, has_next, total) = self
            .state
            .search
            .matching(&self.state.entities, &self.state.by_name, text)
            .top(keep, first, after);
        SearchPage {
            rows: rows
                .into_iter()
                .map(|(entity, score)| Scored { entity, score })
                .collect(),
            has_next,
            total,
        }
    }

    pub fn count_search(&self, text: &TextQuery, filter: &Filter) -> i64 {
        let compiled = Compiled::new(filter, self);
        let test = |entity: &Entity| compiled.test(entity);
        let keep: Keep<'_> = (*filter != Filter::all()).then_some(&test);
        self.state
            .search
            .matching(&self.state.entities, &self.state.by_name, text)
            .count(keep) as i64
    }
}
