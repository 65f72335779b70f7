//! The catalog query vocabulary: what a caller may ask of the catalog (a filter tree, free
//! text, an order, a facet, a dependency walk), shared by the two engines that answer it:
//! the in-memory [`Snapshot`](crate::Snapshot) and the store's SQL (`store::catalog`).
//! One definition, so the two cannot drift in what they accept.
//!
//! It only describes and bounds a query; it evaluates nothing.

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
