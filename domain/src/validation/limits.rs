//! The size limits of a descriptor: every bound that keeps a valid descriptor storable and
//! indexable by the read side, in one place, so the README's "Limits" table has one source.
//!
//! Why these numbers: PostgreSQL's btree indexes refuse a key over about 2.7 KB
//! (`entities.spec_type`, `lifecycle`, `owner_ref`, `source`, the `relations` keys), and a
//! tsvector holds at most 1 MB of lexemes. Fields that end up in such an index are bounded
//! well below those; fields that are only stored (a description, an inline API definition)
//! are bounded generously, and the whole document by [`MAX_DESCRIPTOR_BYTES`]. Byte counts
//! are of the UTF-8 text. This module holds numbers only: the rules that apply them live in
//! `validation` and `relations`, and what search indexes of a long text is the store's choice.

/// The whole descriptor, serialised as JSON. Large enough for an inline OpenAPI definition
/// of several megabytes.
pub const MAX_DESCRIPTOR_BYTES: usize = 8 * 1024 * 1024;

/// Each part of an entity ref (`kind`, `namespace`, `name`) in a spec reference field. An
/// entity's own kind, namespace and name are at most 63 characters of ASCII, so a longer
/// part could never name an entity; it bounds the `relations` index keys.
pub const MAX_REF_PART_BYTES: usize = 63;

/// A scalar spec field such as `spec.type`, `spec.lifecycle`, `spec.owner`, `spec.system`
/// (indexed columns and relation keys). Not `spec.definition`, which only the descriptor
/// limit bounds.
pub const MAX_SPEC_TEXT_BYTES: usize = 1024;

/// A URL-like value: `metadata.links[].url`, a Location's `spec.target`/`spec.targets`, and
/// the `backstage.io/managed-by-location` and `-origin-location` annotations (indexed as an
/// entity's source and origin).
pub const MAX_URL_BYTES: usize = 2048;

/// `metadata.title`.
pub const MAX_TITLE_BYTES: usize = 1024;

/// `metadata.description`. Search indexes only its beginning (the store decides how much).
pub const MAX_DESCRIPTION_BYTES: usize = 64 * 1024;

/// Entries of `metadata.tags` (each tag is at most 63 characters by its syntax).
pub const MAX_TAGS: usize = 1000;

/// Entries of `metadata.labels` (keys and values are bounded by their syntax).
pub const MAX_LABELS: usize = 1000;

/// Entries of `metadata.annotations`.
pub const MAX_ANNOTATIONS: usize = 1000;

/// One annotation's value (keys are bounded by their syntax).
pub const MAX_ANNOTATION_VALUE_BYTES: usize = 64 * 1024;

/// Distinct relations one entity's spec declares (`owner`, `dependsOn`, `members`, ...).
/// Each becomes two rows of `relations`.
pub const MAX_RELATIONS: usize = 10_000;

/// `n bytes` in an error message, with KiB/MiB when that reads better.
pub(crate) fn bytes(n: usize) -> String {
    const KIB: usize = 1024;
    if n >= KIB * KIB && n.is_multiple_of(KIB * KIB) {
        format!("{n} bytes ({} MiB)", n / (KIB * KIB))
    } else if n >= KIB && n.is_multiple_of(KIB) {
        format!("{n} bytes ({} KiB)", n / KIB)
    } else {
        format!("{n} bytes")
    }
}
