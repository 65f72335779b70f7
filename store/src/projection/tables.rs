//! Where a projection run writes: the live tables, or session-private copies
//! that a replay builds and compares or swaps in.

use crate::entity_row::EntityRow;

#[derive(Clone, Copy, Debug)]
pub struct Tables {
    pub entities: &'static str,
    pub locations: &'static str,
    pub failures: &'static str,
}

impl Tables {
    pub const LIVE: Tables = Tables {
        entities: "entities",
        locations: "locations",
        failures: "projection_failures",
    };
    /// Temporary tables (pg_temp, dropped at commit) shaped like the live ones.
    pub const REBUILD: Tables = Tables {
        entities: "rebuild_entities",
        locations: "rebuild_locations",
        failures: "rebuild_projection_failures",
    };

    pub fn pairs(&self) -> [(&'static str, &'static str); 3] {
        [
            (Tables::LIVE.entities, self.entities),
            (Tables::LIVE.locations, self.locations),
            (Tables::LIVE.failures, self.failures),
        ]
    }
}

pub const LOCATION_COLUMNS: &str = "id, type, target, added_by, added_at";
pub const FAILURE_COLUMNS: &str =
    "position, stage, stream, version, event_type, message, recorded_at";

/// The columns a projection writes in `live_table` (all but generated ones).
pub fn columns_of(live_table: &str) -> String {
    match live_table {
        "entities" => EntityRow::COLUMNS.join(", "),
        "projection_failures" => FAILURE_COLUMNS.to_string(),
        _ => LOCATION_COLUMNS.to_string(),
    }
}

/// [`columns_of`] as the server compares them (`replay --verify`'s `EXCEPT`), each under its
/// column's name: `entities`' `json` columns as `jsonb`, which has an equality operator.
pub fn compared_columns_of(live_table: &str) -> String {
    match live_table {
        "entities" => EntityRow::compared_sql("")
            .into_iter()
            .zip(EntityRow::COLUMNS)
            .map(|(compared, column)| match compared == *column {
                true => compared,
                false => format!("{compared} AS {column}"),
            })
            .collect::<Vec<_>>()
            .join(", "),
        other => columns_of(other),
    }
}
