//! `EntityFilter`, `EntityOrder` and `FacetField` inputs, turned into the
//! catalog's query vocabulary (`almanac_readmodel::query`: filter tree, order
//! keys). User values are checked here (refs parsed, `key=value` split, paths
//! and lists bounded, each refusal naming the input field, e.g.
//! `filter.and[0].path[1].in`); the snapshot evaluates them. The one input that
//! is not the snapshot's, `hasProcessingErrors`, is read from SQL (operational
//! state) by [`compile_in`] and becomes a list of refs.

use crate::error::{ApiError, ErrorCode, Result};
use crate::graphql::loaders::Loaders;
use crate::limits::GraphqlLimits;
use almanac_domain::{EntityRef, RelationType};
use almanac_readmodel::{
    check_count, check_values, FacetField as CatalogFacet, FieldPath, Filter, OrderDirection,
    OrderField, OrderKey, PathTest, TextQuery,
};
use async_graphql::{Context, Enum, InputObject};

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
    /// Relation conditions, each of which must hold (use `or` for any of them):
    /// `{type: "partOf", target: "system:payments"}`. Edges count both ways
    /// (a system `hasPart` each component whose `spec.system` names it).
    pub relation: Option<Vec<RelationFilter>>,
    /// Owned by any of these refs, or (`transitive`) by what is under them.
    pub owned_by: Option<OwnerFilter>,
    /// `spec.system` is any of these refs (the kind defaults to `system`).
    pub system: Option<Vec<String>>,
    /// In any of these domains (the kind defaults to `domain`): a system whose
    /// `spec.domain` is one, or an entity whose system's is.
    pub domain: Option<Vec<String>>,
    /// Conditions on metadata or spec paths, each of which must hold.
    pub path: Option<Vec<PathFilter>>,
    /// The entity is named by a processing error of its source's last read
    /// (or a projection failure): what `errors` lists. `false`: by none.
    pub has_processing_errors: Option<bool>,
    /// The entity declares a relation whose target is no entity of the
    /// catalog (a misspelt or removed ref). `false`: declares none.
    pub has_dangling_relations: Option<bool>,
    pub and: Option<Vec<EntityFilter>>,
    pub or: Option<Vec<EntityFilter>>,
    pub not: Option<Box<EntityFilter>>,
}

/// One relation condition: an edge of `type` (Backstage's spelling, e.g.
/// `partOf`, `consumesApi`, `ownedBy`) to `target`, or to anything when
/// `target` is null.
#[derive(Clone, Debug, InputObject)]
pub struct RelationFilter {
    #[graphql(name = "type")]
    pub relation_type: String,
    /// A ref; the kind defaults where the type implies one (`consumesApi` and
    /// `providesApi`: `api`; `ownedBy`, `memberOf`, `childOf`, `parentOf`:
    /// `group`; `hasMember`: `user`; `apiConsumedBy`, `apiProvidedBy`:
    /// `component`), the namespace to `default`.
    pub target: Option<String>,
}

/// Owners: refs (the kind defaults to `group`, the namespace to `default`).
#[derive(Clone, Debug, InputObject)]
pub struct OwnerFilter {
    pub refs: Vec<String>,
    /// Also what is under each ref: for a group, every group below it; for a
    /// user, every group the user is a member of (as `ownedEntities(transitive:)`).
    #[graphql(default)]
    pub transitive: bool,
}

/// A condition on the value at a dotted `path` of the descriptor; exactly one
/// of `eq`, `in`, `exists`. Paths read as Backstage's entity filters: the keys
/// from the root, joined with dots, ASCII case-insensitively, so a key with
/// dots in it is written as it is (`metadata.annotations.backstage.io/techdocs-ref`);
/// arrays are passed through (`metadata.tags` is each tag). Values compare
/// case-insensitively; numbers and booleans as JSON writes them (`3`, `true`).
/// A spec string over 4 KiB (held elided in memory, such as an inline API
/// `definition`) exists but equals no value.
#[derive(Clone, Debug, InputObject)]
pub struct PathFilter {
    /// E.g. `spec.lifecycle`, `metadata.labels.tier`.
    pub path: String,
    pub eq: Option<String>,
    #[graphql(name = "in")]
    pub any_of: Option<Vec<String>>,
    /// `true`: the path holds a value other than null; `false`: it does not.
    pub exists: Option<bool>,
}

/// A list field of the filter, its name, and the condition it becomes.
type ListField<'a> = (
    &'a Option<Vec<String>>,
    &'static str,
    fn(Vec<String>) -> Filter,
);

/// Deepest `and`/`or`/`not` nesting accepted.
const MAX_NESTING: usize = 8;

/// The refs named by processing errors, when a filter asks `hasProcessingErrors`.
type Errored<'a> = Option<&'a [String]>;

/// The catalog's filter for `filter` (`max_filter_conditions` applied), with
/// `hasProcessingErrors` answered: the refs that processing errors name are
/// read (one statement) only when the filter asks.
pub async fn compile_in(ctx: &Context<'_>, filter: Option<&EntityFilter>) -> Result<Filter> {
    let max_conditions = ctx
        .data::<GraphqlLimits>()
        .map(|limits| limits.max_filter_conditions)
        .unwrap_or_else(|_| GraphqlLimits::default().max_filter_conditions);
    let errored = match filter {
        Some(filter) if filter.asks_processing_errors() => Some(
            Loaders::of(ctx)?
                .catalog()
                .refs_with_processing_errors()
                .await?,
        ),
        _ => None,
    };
    let compiled = EntityFilter::compile(filter, max_conditions, errored.as_deref())?;
    // Compiled first: the tree's size and nesting are bounded before it is walked.
    if let Some(filter) = filter {
        filter.check_kinds(&Loaders::snapshot(ctx)?, "filter")?;
    }
    Ok(compiled)
}

impl EntityFilter {
    /// The catalog's filter, refusing trees larger than `max_conditions`;
    /// `errored` answers `hasProcessingErrors` (see [`compile_in`]).
    fn compile(
        filter: Option<&EntityFilter>,
        max_conditions: usize,
        errored: Errored<'_>,
    ) -> Result<Filter> {
        let compiled = match filter {
            Some(filter) => filter.to_filter(0, "filter", errored)?,
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

    /// Whether this filter, or one nested in it, asks `hasProcessingErrors`.
    /// Every `kind` in the tree is one the catalog knows, else `UNKNOWN_VALUE` with
    /// a "did you mean" (a misspelt kind would otherwise match nothing, silently).
    fn check_kinds(&self, snapshot: &almanac_readmodel::Snapshot, at: &str) -> Result<()> {
        super::closed::kinds(snapshot, &format!("{at}.kind"), self.kind.as_deref())?;
        for (name, list) in [("and", &self.and), ("or", &self.or)] {
            for (i, inner) in list.iter().flatten().enumerate() {
                inner.check_kinds(snapshot, &format!("{at}.{name}[{i}]"))?;
            }
        }
        if let Some(inner) = self.not.as_deref() {
            inner.check_kinds(snapshot, &format!("{at}.not"))?;
        }
        Ok(())
    }

    fn asks_processing_errors(&self) -> bool {
        self.has_processing_errors.is_some()
            || [&self.and, &self.or]
                .into_iter()
                .flatten()
                .flatten()
                .any(EntityFilter::asks_processing_errors)
            || self
                .not
                .as_deref()
                .is_some_and(EntityFilter::asks_processing_errors)
    }

    fn to_filter(&self, nesting: usize, at: &str, errored: Errored<'_>) -> Result<Filter> {
        if nesting > MAX_NESTING {
            return Err(ApiError::invalid(format!(
                "filters may nest and/or/not at most {MAX_NESTING} deep"
            )));
        }
        let mut all = Vec::new();
        let lists: [ListField<'_>; 7] = [
            (&self.kind, "kind", Filter::Kind),
            (&self.namespace, "namespace", Filter::Namespace),
            (&self.name, "name", Filter::Name),
            (&self.spec_type, "type", Filter::Type),
            (&self.lifecycle, "lifecycle", Filter::Lifecycle),
            (&self.tag, "tag", Filter::Tag),
            (&self.has_annotation, "hasAnnotation", Filter::HasAnnotation),
        ];
        for (values, _, make) in lists {
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
        if let Some(relations) = &self.relation {
            bounded_list(&format!("{at}.relation"), relations.len())?;
            for (i, relation) in relations.iter().enumerate() {
                all.push(relation.to_filter(&format!("{at}.relation[{i}]"))?);
            }
        }
        if let Some(owned_by) = &self.owned_by {
            let refs = refs(&owned_by.refs, &format!("{at}.ownedBy.refs"), "group")?;
            all.push(if owned_by.transitive {
                Filter::OwnerTransitive(refs)
            } else {
                Filter::Owner(refs)
            });
        }
        if let Some(systems) = &self.system {
            all.push(Filter::System(refs(
                systems,
                &format!("{at}.system"),
                "system",
            )?));
        }
        if let Some(domains) = &self.domain {
            all.push(Filter::Domain(refs(
                domains,
                &format!("{at}.domain"),
                "domain",
            )?));
        }
        if let Some(paths) = &self.path {
            bounded_list(&format!("{at}.path"), paths.len())?;
            for (i, path) in paths.iter().enumerate() {
                all.push(path.to_filter(&format!("{at}.path[{i}]"))?);
            }
        }
        if let Some(wanted) = self.has_processing_errors {
            // `compile_in` reads them whenever the tree asks: never reached without.
            let errored = errored.ok_or_else(|| {
                ApiError::invalid(format!("{at}.hasProcessingErrors cannot be asked here"))
            })?;
            all.push(negated(Filter::Ref(errored.to_vec()), wanted));
        }
        if let Some(wanted) = self.has_dangling_relations {
            all.push(negated(Filter::HasDanglingRelations, wanted));
        }
        if let Some(and) = &self.and {
            let items = and
                .iter()
                .enumerate()
                .map(|(i, f)| f.to_filter(nesting + 1, &format!("{at}.and[{i}]"), errored))
                .collect::<Result<_>>()?;
            all.push(Filter::All(items));
        }
        if let Some(or) = &self.or {
            let items = or
                .iter()
                .enumerate()
                .map(|(i, f)| f.to_filter(nesting + 1, &format!("{at}.or[{i}]"), errored))
                .collect::<Result<_>>()?;
            all.push(Filter::Any(items));
        }
        if let Some(not) = &self.not {
            all.push(Filter::Not(Box::new(not.to_filter(
                nesting + 1,
                &format!("{at}.not"),
                errored,
            )?)));
        }
        Ok(if all.len() == 1 {
            all.remove(0)
        } else {
            Filter::All(all)
        })
    }
}

impl RelationFilter {
    fn to_filter(&self, at: &str) -> Result<Filter> {
        let relation = relation_type(&self.relation_type, &format!("{at}.type"))?;
        let target = match &self.target {
            Some(target) => Some(
                canonical_ref(target, default_target_kind(relation))
                    .map_err(|err| in_field(err, &format!("{at}.target")))?,
            ),
            None => None,
        };
        Ok(Filter::Relation { relation, target })
    }
}

impl PathFilter {
    fn to_filter(&self, at: &str) -> Result<Filter> {
        let path = FieldPath::parse(&self.path)
            .map_err(|err| ApiError::invalid(format!("{at}.path: {err}")))?;
        let test = match (&self.eq, &self.any_of, self.exists) {
            (Some(value), None, None) => {
                let values = vec![value.clone()];
                check_values(&values)
                    .map_err(|err| ApiError::invalid(format!("{at}.eq: {err}")))?;
                PathTest::Equals(values)
            }
            (None, Some(values), None) => {
                check_values(values).map_err(|err| ApiError::invalid(format!("{at}.in: {err}")))?;
                PathTest::Equals(values.clone())
            }
            (None, None, Some(exists)) => {
                let filter = Filter::Path {
                    path,
                    test: PathTest::Exists,
                };
                return Ok(negated(filter, exists));
            }
            _ => {
                return Err(ApiError::invalid(format!(
                    "{at} takes exactly one of eq, in and exists"
                )))
            }
        };
        Ok(Filter::Path { path, test })
    }
}

/// `filter` when `wanted`, else its negation.
fn negated(filter: Filter, wanted: bool) -> Filter {
    if wanted {
        filter
    } else {
        Filter::Not(Box::new(filter))
    }
}

/// A list of conditions at `at`, if within the read model's bound.
fn bounded_list(at: &str, count: usize) -> Result<()> {
    check_count(count).map_err(|err| ApiError::invalid(format!("{at}: {err}")))
}

/// Canonical refs of a bounded list at `at`, the kind defaulting to `kind`.
fn refs(values: &[String], at: &str, kind: &str) -> Result<Vec<String>> {
    bounded_list(at, values.len())?;
    values
        .iter()
        .map(|v| canonical_ref(v, Some(kind)).map_err(|err| in_field(err, at)))
        .collect()
}

/// `err` with the input field it came from in front of its message.
fn in_field(err: ApiError, at: &str) -> ApiError {
    match err {
        ApiError::Known {
            code,
            message,
            did_you_mean,
        } => ApiError::new(code, format!("{at}: {message}")).with_did_you_mean(did_you_mean),
        internal => internal,
    }
}

/// A relation type by Backstage's spelling, or `INVALID_ARGUMENT` naming the
/// field, suggesting the type spelt alike but for case, and listing them all.
fn relation_type(text: &str, at: &str) -> Result<RelationType> {
    if let Some(relation) = RelationType::parse(text) {
        return Ok(relation);
    }
    let all: Vec<&str> = RelationType::ALL.iter().map(|r| r.as_str()).collect();
    let hint = RelationType::ALL
        .iter()
        .find(|r| r.as_str().eq_ignore_ascii_case(text.trim()))
        .map(|r| format!(" did you mean {:?}?", r.as_str()))
        .unwrap_or_default();
    Err(ApiError::invalid(format!(
        "{at}: {text:?} is no relation type;{hint} the types are {}",
        all.join(", ")
    )))
}

/// The kind a relation's target has when the type implies one.
fn default_target_kind(relation: RelationType) -> Option<&'static str> {
    match relation {
        RelationType::ConsumesApi | RelationType::ProvidesApi => Some("api"),
        RelationType::OwnedBy
        | RelationType::MemberOf
        | RelationType::ChildOf
        | RelationType::ParentOf => Some("group"),
        RelationType::HasMember => Some("user"),
        RelationType::ApiConsumedBy | RelationType::ApiProvidedBy => Some("component"),
        RelationType::OwnerOf
        | RelationType::PartOf
        | RelationType::HasPart
        | RelationType::DependsOn
        | RelationType::DependencyOf => None,
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
    /// `spec.system`, as a ref.
    System,
    /// The domain (a system's `spec.domain`, or its system's), as a ref.
    Domain,
    /// The keys of `metadata.labels` in use (a label's values: `path:
    /// "metadata.labels.<key>"`).
    LabelKey,
    /// The keys of `metadata.annotations` in use.
    AnnotationKey,
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
            FacetField::System => CatalogFacet::System,
            FacetField::Domain => CatalogFacet::Domain,
            FacetField::LabelKey => CatalogFacet::LabelKey,
            FacetField::AnnotationKey => CatalogFacet::AnnotationKey,
        }
    }
}
