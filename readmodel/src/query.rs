//! The catalog query vocabulary: what a caller may ask of the catalog (a filter tree, free
//! text, an order, a facet, a dependency walk). The in-memory [`Snapshot`](crate::Snapshot)
//! is the one engine that answers it: `store::catalog` no longer answers lists, filters or
//! facets in SQL (it reads whole rows by ref and operational state only), so there is no
//! second engine to keep in step. The GraphQL `EntityFilter` and the REST `by-query`
//! filters both become this tree.
//!
//! It only describes and bounds a query; it evaluates nothing. The bounds of the inputs a
//! caller turns into it (paths, value lists) are here too, so every front end refuses the
//! same things with the same message.

use almanac_domain::RelationType;

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
    /// Any of these tags (compared lower-cased).
    Tag(Vec<String>),
    /// `metadata.labels[key] == value` for any of the pairs.
    Label(Vec<(String, String)>),
    Annotation(Vec<(String, String)>),
    /// The annotation key is present, whatever its value.
    HasAnnotation(Vec<String>),
    Text(TextQuery),
    /// Exactly these canonical refs.
    Ref(Vec<String>),
    /// Has a `relation` edge to `target` (a canonical ref), or to anything when `None`.
    /// Edges go both ways, as `Snapshot::relations_from`: a component with `spec.system:
    /// payments` is `partOf` `system:default/payments`, and the system `hasPart` it. The
    /// target need not exist.
    Relation {
        relation: RelationType,
        target: Option<String>,
    },
    /// Owned (`spec.owner`) by any of these canonical refs or by what is under them: a
    /// group and every group below it (`parentOf`, transitively); a user and every group
    /// the user is a direct member of; any other ref alone. The scopes of
    /// `ownedEntities(transitive: true)` on a group and on a user.
    OwnerTransitive(Vec<String>),
    /// `spec.system` is any of these canonical refs.
    System(Vec<String>),
    /// In any of these domains (canonical refs): a system whose `spec.domain` is one, or
    /// an entity whose `spec.system` is such a system.
    Domain(Vec<String>),
    /// A metadata or spec path (see [`FieldPath`]) that exists or holds one of some values.
    Path {
        path: FieldPath,
        test: PathTest,
    },
    /// Declares a relation (in its own spec) whose target is no entity of the catalog.
    HasDanglingRelations,
}

/// What a [`Filter::Path`] asks of the values at its path.
#[derive(Clone, Debug, PartialEq)]
pub enum PathTest {
    /// The path reaches a value other than `null` (an object, an array, an elided leaf
    /// included).
    Exists,
    /// A scalar at the path equals any of these, case-insensitively (numbers and booleans
    /// as JSON writes them, `3`, `true`). Through an array, any element counts. An elided
    /// leaf (a spec string over `ELIDE_BYTES`) equals none: every value here is at most
    /// [`MAX_FILTER_VALUE_BYTES`], shorter than any elided text.
    Equals(Vec<String>),
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

/// Most bytes of a [`FieldPath`].
pub const MAX_PATH_BYTES: usize = 256;
/// Most dot-separated segments of a [`FieldPath`].
pub const MAX_PATH_SEGMENTS: usize = 16;
/// Most values in one list of a filter built from the new inputs (a path's `in`, refs of
/// `system`, `domain`, a transitive owner, relation conditions).
pub const MAX_FILTER_VALUES: usize = 100;
/// Most bytes of one value a path is compared with: a spec scalar's bound
/// (`MAX_SPEC_TEXT_BYTES`), far below `ELIDE_BYTES`, so an elided leaf never equals one.
pub const MAX_FILTER_VALUE_BYTES: usize = almanac_domain::validation::limits::MAX_SPEC_TEXT_BYTES;

/// A path or a value list a caller cannot filter by. Its message names the limit; the
/// caller prefixes the input field it came from.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum FilterInputError {
    #[error("the path must not be empty")]
    EmptyPath,
    #[error("the path is {bytes} bytes; the limit is {MAX_PATH_BYTES}")]
    PathTooLong { bytes: usize },
    #[error("the path has {segments} segments; the limit is {MAX_PATH_SEGMENTS}")]
    PathTooDeep { segments: usize },
    #[error("the path {path:?} has an empty segment (a leading, trailing or doubled dot)")]
    EmptySegment { path: String },
    #[error("the path must not contain control characters")]
    ControlCharacter,
    #[error("the list has {values} values; the limit is {MAX_FILTER_VALUES}")]
    TooManyValues { values: usize },
    #[error("a value is {bytes} bytes; the limit is {MAX_FILTER_VALUE_BYTES}")]
    ValueTooLong { bytes: usize },
    #[error("a value must not contain a NUL character")]
    Nul,
}

/// A dotted path into an entity's descriptor: `spec.lifecycle`, `metadata.labels.tier`,
/// `metadata.annotations.backstage.io/techdocs-ref`.
///
/// Keys are matched as Backstage's entity filters match them: the path names a value when
/// the keys from the root down to it, joined with dots, spell the path (ASCII
/// case-insensitively). A key containing dots is therefore written as it is, with no
/// escaping: `metadata.annotations.backstage.io/techdocs-ref` is the annotation
/// `backstage.io/techdocs-ref`. Where two readings exist (a key `a.b`, and a key `a`
/// holding `b`), both are read. An array is passed through: `metadata.tags` names each
/// tag, `spec.targets` each target, with no index in the path.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct FieldPath {
    text: String,
}

impl FieldPath {
    pub fn parse(text: &str) -> Result<FieldPath, FilterInputError> {
        if text.is_empty() {
            return Err(FilterInputError::EmptyPath);
        }
        if text.len() > MAX_PATH_BYTES {
            return Err(FilterInputError::PathTooLong { bytes: text.len() });
        }
        if text.chars().any(char::is_control) {
            return Err(FilterInputError::ControlCharacter);
        }
        let segments = text.split('.').count();
        if segments > MAX_PATH_SEGMENTS {
            return Err(FilterInputError::PathTooDeep { segments });
        }
        if text.split('.').any(str::is_empty) {
            return Err(FilterInputError::EmptySegment {
                path: text.to_string(),
            });
        }
        Ok(FieldPath {
            text: text.to_string(),
        })
    }

    /// The path as given.
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

/// `values` if it is within [`MAX_FILTER_VALUES`] entries of at most
/// [`MAX_FILTER_VALUE_BYTES`] each.
pub fn check_values(values: &[String]) -> Result<(), FilterInputError> {
    check_count(values.len())?;
    for value in values {
        if value.len() > MAX_FILTER_VALUE_BYTES {
            return Err(FilterInputError::ValueTooLong { bytes: value.len() });
        }
        if value.contains('\0') {
            return Err(FilterInputError::Nul);
        }
    }
    Ok(())
}

/// A list of `count` entries, if within [`MAX_FILTER_VALUES`].
pub fn check_count(count: usize) -> Result<(), FilterInputError> {
    if count > MAX_FILTER_VALUES {
        return Err(FilterInputError::TooManyValues { values: count });
    }
    Ok(())
}

/// Most bytes of search text (after trimming and collapsing whitespace).
pub const MAX_SEARCH_BYTES: usize = 256;
/// Most words in one search text.
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

/// Free text, normalised and bounded before either engine sees it.
#[derive(Clone, Debug, PartialEq)]
pub struct TextQuery {
    /// Trimmed, runs of whitespace made one space.
    pub raw: String,
    pub(crate) lower: String,
    /// The alphanumeric words of the text, lower-cased: each must prefix a word.
    pub(crate) terms: Vec<String>,
}

impl TextQuery {
    pub fn parse(text: &str) -> Result<TextQuery, TextQueryError> {
        if text.contains('\0') {
            return Err(TextQueryError::Nul);
        }
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
        let lower = raw.to_lowercase();
        let terms: Vec<String> = words(&lower).map(str::to_string).collect();
        if terms.len() > MAX_SEARCH_TERMS {
            return Err(TextQueryError::TooManyTerms { terms: terms.len() });
        }
        Ok(TextQuery { raw, lower, terms })
    }

    /// The normalised text, lower-cased.
    pub fn lower(&self) -> &str {
        &self.lower
    }

    /// Its alphanumeric words, lower-cased (each must prefix a word of a match).
    pub fn terms(&self) -> &[String] {
        &self.terms
    }
}

/// The alphanumeric tokens of an already lower-cased text.
pub(crate) fn words(text: &str) -> impl Iterator<Item = &str> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum OrderField {
    Ref,
    Kind,
    Namespace,
    Name,
    /// The title, or the name where there is none.
    Title,
    Type,
    Lifecycle,
    Owner,
    CreatedAt,
    UpdatedAt,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum OrderDirection {
    Asc,
    Desc,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct OrderKey {
    pub field: OrderField,
    pub direction: OrderDirection,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FacetField {
    Kind,
    Namespace,
    Type,
    Lifecycle,
    Owner,
    Tag,
    /// `spec.system` (a canonical ref).
    System,
    /// The domain as [`Filter::Domain`] reads it (a canonical ref).
    Domain,
    /// The keys of `metadata.labels` (each entity counts once per key).
    LabelKey,
    /// The keys of `metadata.annotations`.
    AnnotationKey,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Direction {
    /// What the root depends on.
    Outgoing,
    /// What depends on the root (impact).
    Incoming,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct WalkLimits {
    pub max_depth: u32,
    /// Most entities one walk may reach.
    pub max_nodes: usize,
}

/// Whose ownership counts as the root's.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum OwnedScope {
    /// Only entities whose `spec.owner` is the root.
    Direct,
    /// The root group and every group below it (`parentOf`, transitively).
    Subgroups,
    /// The root user and every group the user is a direct member of.
    Memberships,
}
