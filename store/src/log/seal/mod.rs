//! Signed checkpoints: tamper evidence that holds against the database's owner.
//!
//! The per-stream chain (`hash.rs`) shows that a stream's stored rows agree with
//! each other, but anyone who can write to the table can recompute it. Here a
//! second chain runs over the whole log in position order (the *global head*,
//! `head.rs`), and every append writes, in its own transaction and under the
//! append lock, a checkpoint row: the events it sealed, the head after them, and
//! an Ed25519 signature by a key that lives in a file, not in the database
//! (`key.rs`). `check.rs` compares the log with its checkpoints and names what
//! was altered, removed or inserted; `file.rs` is the small JSON file an auditor
//! keeps, which also catches a rollback of the whole database.
//!
//! It does not protect the key file, rotate keys, or stop anyone from writing:
//! it makes a change visible to whoever holds the public key.

mod check;
mod file;
mod head;
mod key;
mod write;

pub use check::{Finding, FindingKind, SealReport, Trust};
pub use file::{CheckpointFile, CheckpointFileError, CHECKPOINT_FORMAT};
pub use head::{fold_head, next_head, Checkpoint, Entry, Origin, GENESIS};
pub use key::{KeyError, Sealer, TrustedKey};
pub use write::SealError;
pub(super) use write::{seal_append, seal_backlog};

/// How many events one backlog checkpoint holds at most, so that a row stays
/// small however large an imported log is.
pub const BACKLOG_CHUNK: usize = 1_000;
