//! What one ingest did: counts by outcome, and every error with its source.

use almanac_domain::Conflict;
use serde::Serialize;

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct IngestReport {
    pub sources_read: usize,
    pub registered: usize,
    pub updated: usize,
    pub removed: usize,
    /// Entities kept as orphans (`orphanStrategy: keep`).
    pub orphaned: usize,
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

/// A [`Conflict`] as reported (and as the `conflicts` table records it): by canonical
/// ref, an existing claim without a source as `""`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ConflictReport {
    pub entity_ref: String,
    pub existing_source: String,
    pub new_source: String,
}

impl From<&Conflict> for ConflictReport {
    fn from(conflict: &Conflict) -> Self {
        ConflictReport {
            entity_ref: conflict.entity_ref.canonical(),
            existing_source: conflict.existing_source.clone().unwrap_or_default(),
            new_source: conflict.new_source.clone(),
        }
    }
}

impl IngestReport {
    pub fn events(&self) -> usize {
        self.registered + self.updated + self.removed + self.orphaned
    }

    pub fn merge(&mut self, other: IngestReport) {
        self.sources_read += other.sources_read;
        self.registered += other.registered;
        self.updated += other.updated;
        self.removed += other.removed;
        self.orphaned += other.orphaned;
        self.unchanged += other.unchanged;
        self.conflicts.extend(other.conflicts);
        self.errors.extend(other.errors);
        self.last_position = self.last_position.max(other.last_position);
    }
}
