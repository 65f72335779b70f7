//! Almanac's pure core: entity refs, kinds, descriptors and their validation, the relation
//! rules, field-level diffs, the catalog's events, their history (the one fold of a stream
//! into its state), and deciding which events a re-read source produces.
//!
//! Everything here is a function of its inputs: no IO, no async, no database, no clock
//! (times, when needed, are passed in). The `store`, `ingest` and `api` crates build on it;
//! it depends on none of them.

pub mod canonical;
pub mod decide;
pub mod diff;
pub mod document;
pub mod entity;
pub mod entity_ref;
pub mod event;
pub mod history;
pub mod kind;
pub mod relations;
pub mod rules;
pub mod summary;
pub mod validation;

pub use decide::{
    decide, removal, Candidate, Conflict, DecideOptions, Decision, PendingEvent, SourceError,
};
pub use diff::{apply_changes, diff, Change, ChangeOp, PatchError};
pub use document::{parse_documents, DocumentError, DocumentLimits, Position};
pub use entity::Entity;
pub use entity_ref::{EntityRef, RefError};
pub use event::{entity_stream, location_stream, CatalogEvent, EventDecodeError, RemovalReason};
pub use history::{evolve, fold, EntityState, EventChanges, FoldError};
pub use kind::Kind;
pub use relations::{DeclaredRelation, RelationType};
pub use rules::{KindRules, LocationCondition, Rule};
pub use validation::{ValidationError, ValidationErrors};
