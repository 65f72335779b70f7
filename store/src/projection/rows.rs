//! What one entity's descriptor becomes in the projection tables: the columns of its row
//! in `entities` read from it (the row's columns are declared in `crate::entity_row`), the
//! fields of the catalog's row no column stores (derived when a row is read),
//! and the relation rows it declared, for time travel (no table holds relations: the
//! in-memory catalog answers every hop).

use crate::catalog::RelationRecord;
use crate::entity_row::{DescriptorColumns, DescriptorFields, EntityRow, LoggedEntity};
use almanac_domain::relations::{self, DeclaredRelation, Edge};
use almanac_domain::summary::Summary;
use serde_json::{json, Value};
use uuid::Uuid;

/// Namespace of the deterministic entity uids: a uid is derived from the ref and
/// the position of its registration, so a replay yields the same uids.
const UID_NAMESPACE: Uuid = Uuid::from_u128(0x6a1d_5c3e_0b7f_4e0a_9f4c_2d8e_7b1a_0c01);

pub fn entity_uid(entity_ref: &str, registered_at_position: i64) -> Uuid {
    Uuid::new_v5(
        &UID_NAMESPACE,
        format!("{entity_ref}@{registered_at_position}").as_bytes(),
    )
}

impl EntityRow {
    /// The row of an entity the log states: the columns its descriptor holds added.
    pub fn derive(logged: LoggedEntity) -> EntityRow {
        let derived = descriptor_columns(&logged.descriptor);
        EntityRow::assemble(logged, derived)
    }
}

/// The columns of a row read straight from its descriptor.
pub fn descriptor_columns(descriptor: &Value) -> DescriptorColumns {
    let Summary {
        kind,
        namespace,
        name,
        owner_ref,
        spec_type,
        lifecycle,
        source,
        origin,
        // Stored in no column: `descriptor_fields`, when a row is read.
        title: _,
        description: _,
        tags: _,
    } = Summary::of(descriptor);
    DescriptorColumns {
        spec_type,
        lifecycle,
        owner_ref,
        source,
        origin,
        kind,
        namespace,
        name,
    }
}

/// What the catalog's row reads from its descriptor beyond the stored columns (migration
/// 0017 dropped their copies): the values the projector stored before.
pub fn descriptor_fields(descriptor: &Value) -> DescriptorFields {
    let Summary {
        title,
        description,
        tags,
        ..
    } = Summary::of(descriptor);
    DescriptorFields {
        title,
        description,
        tags,
        labels: object_or_empty(&descriptor["metadata"]["labels"]),
        annotations: object_or_empty(&descriptor["metadata"]["annotations"]),
    }
}

fn object_or_empty(value: &Value) -> Value {
    if value.is_object() {
        value.clone()
    } else {
        json!({})
    }
}

/// The relations the descriptor declares as its entity states them (no inverses), in
/// declaration order: what an entity as it was (time travel) declared then. None when
/// the descriptor no longer validates.
pub fn declared_rows(descriptor: &Value) -> Vec<RelationRecord> {
    relations::of_descriptor(descriptor)
        .unwrap_or_default()
        .iter()
        .map(|declared| {
            let edge = (
                declared.source.clone(),
                declared.relation,
                declared.target.clone(),
            );
            relation_row(declared, edge)
        })
        .collect()
}

/// One direction of a declared relation as a row; the declaring entity is recorded on both.
fn relation_row(declared: &DeclaredRelation, (from, relation, to): Edge) -> RelationRecord {
    RelationRecord {
        source_ref: from.canonical(),
        relation,
        target_ref: to.canonical(),
        declared_by: declared.source.canonical(),
        field: declared.field.to_string(),
    }
}
