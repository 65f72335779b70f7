//! Where a projection run writes: the live tables, or session-private copies
//! that a replay builds and compares or swaps in.

#[derive(Clone, Copy, Debug)]
pub struct Tables {
    pub entities: &'static str,
    pub relations: &'static str,
    pub locations: &'static str,
    pub failures: &'static str,
}

impl Tables {
    pub const LIVE: Tables = Tables {
        entities: "entities",
        relations: "relations",
        locations: "locations",
        failures: "projection_failures",
    };
    /// Temporary tables (pg_temp, dropped at commit) shaped like the live ones.
    pub const REBUILD: Tables = Tables {
        entities: "rebuild_entities",
        relations: "rebuild_relations",
        locations: "rebuild_locations",
        failures: "rebuild_projection_failures",
    };

    pub fn pairs(&self) -> [(&'static str, &'static str); 4] {
        [
            (Tables::LIVE.entities, self.entities),
            (Tables::LIVE.relations, self.relations),
            (Tables::LIVE.locations, self.locations),
            (Tables::LIVE.failures, self.failures),
        ]
    }
}

/// Every column of `entities` a projection writes (all but the generated one).
pub const ENTITY_COLUMNS: &str = "ref, uid, kind, namespace, name, title, description, spec_type, \
     lifecycle, owner_ref, tags, labels, annotations, descriptor, source, origin, version, last_position, \
     created_at, updated_at, search_text";
pub const RELATION_COLUMNS: &str = "source_ref, type, target_ref, declared_by, field";
pub const LOCATION_COLUMNS: &str = "id, type, target, added_by, added_at";
pub const FAILURE_COLUMNS: &str =
    "position, stage, stream, version, event_type, message, recorded_at";

pub fn columns_of(live_table: &str) -> &'static str {
    match live_table {
        "entities" => ENTITY_COLUMNS,
        "relations" => RELATION_COLUMNS,
        "projection_failures" => FAILURE_COLUMNS,
        _ => LOCATION_COLUMNS,
    }
}
