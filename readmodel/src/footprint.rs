//! Where a snapshot's bytes go: copies of a snapshot with one part taken out, so a
//! measuring process (the `measure` example, with a counting allocator) can attribute
//! the bytes each part holds alone.
//!
//! Each step of [`STEPS`] strips one more part from the previous copy; what the
//! allocator frees when the previous copy is dropped is what that part held and no
//! other part shared. This module measures nothing itself (it has no allocator) and is
//! not used by queries: a stripped snapshot answers them wrongly.

use std::sync::Arc;

use crate::entity::{Entity, Keys};
use crate::snapshot::Snapshot;

/// One part of a snapshot, in the order [`Snapshot::stripped`] takes them out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Part {
    /// Words -> entities and trigrams -> words.
    SearchIndex,
    /// Relation rows by source (the `relations` table).
    RelationIndex,
    /// Owner -> owned entities.
    OwnerIndex,
    /// The name and ref orders.
    OrderIndexes,
    /// Whole-catalog facet counts.
    FacetCounts,
    /// Each entity's held descriptor text.
    DescriptorJson,
    /// Each entity's declared relation rows.
    DeclaredRows,
    /// Each entity's lower-cased keys and search text.
    Keys,
    /// Everything left: the entity map, the entity structs and their summary fields.
    Entities,
}

/// Every part, in stripping order.
pub const STEPS: [Part; 9] = [
    Part::SearchIndex,
    Part::RelationIndex,
    Part::OwnerIndex,
    Part::OrderIndexes,
    Part::FacetCounts,
    Part::DescriptorJson,
    Part::DeclaredRows,
    Part::Keys,
    Part::Entities,
];

impl Snapshot {
    /// A copy without `part` (and sharing everything else with `self`). For
    /// measurement only: queries on it are not the catalog's answers.
    #[doc(hidden)]
    pub fn stripped(&self, part: Part) -> Snapshot {
        let mut state = (*self.state).clone();
        let each = |state: &mut crate::snapshot::State, f: &dyn Fn(&mut Entity)| {
            for (_, entity) in state.entities.iter_mut() {
                let mut copy = (**entity).clone();
                f(&mut copy);
                *entity = Arc::new(copy);
            }
        };
        match part {
            Part::SearchIndex => state.search = Default::default(),
            Part::RelationIndex => state.edges = Default::default(),
            Part::OwnerIndex => state.owned = Default::default(),
            Part::OrderIndexes => {
                state.by_name = Default::default();
                state.by_ref = Default::default();
            }
            Part::FacetCounts => state.facets = Default::default(),
            Part::DescriptorJson => each(&mut state, &|e| e.descriptor_json = Arc::from("")),
            Part::DeclaredRows => each(&mut state, &|e| e.declared = Box::default()),
            Part::Keys => each(&mut state, &|e| e.keys = Keys::default()),
            Part::Entities => state.entities = Default::default(),
        }
        Snapshot {
            state: Arc::new(state),
        }
    }
}
