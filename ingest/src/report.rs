//! What one ingest did: counts by outcome, and every error with its source.

use serde::Serialize;

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct IngestReport {
    pub sources_read: usize,
    pub registered: usize,
    pub updated: usize,
    pub removed: usize,
    pub unchanged: usize,
    pub conflicts: Vec<ConflictReport>,
    pub errors: Vec<ErrorReport>,
    /// The log position of the last event appended, for read-your-writes.
    pub last_position: Option<i64>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ErrorReport {
    pub source: String,
    pub entity_ref: Option<String>,
    pub message: String,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ConflictReport {
    pub entity_ref: String,
    pub existing_source: String,
    pub new_source: String,
}

impl IngestReport {
    pub fn events(&self) -> usize {
        self.registered + self.updated + self.removed
    }

    pub fn merge(&mut self, other: IngestReport) {
        self.sources_read += other.sources_read;
        self.registered += other.registered;
        self.updated += other.updated;
        self.removed += other.removed;
        self.unchanged += other.unchanged;
        self.conflicts.extend(other.conflicts);
        self.errors.extend(other.errors);
        self.last_position = self.last_position.max(other.last_position);
    }
}

/// A pushed entity whose version is not the one the writer said it last saw.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct VersionMismatch {
    pub entity_ref: String,
    pub expected: i64,
    /// The live entity's version; 0 when there is no live entity.
    pub actual: i64,
}
