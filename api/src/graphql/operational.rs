//! Operational read models as GraphQL types: registered locations and
//! conflicts (two sources claiming one entity). Processing errors reuse
//! `ProcessingError` from the entity types.

use super::entity::Entity;
use super::loaders::Loaders;
use crate::error::Result;
use almanac_store::catalog::ConflictRecord;
use almanac_store::locations::Location;
use async_graphql::{ComplexObject, Context, SimpleObject, ID};
use chrono::{DateTime, Utc};

/// A location the catalog reads (added by configuration or `addLocation`).
/// Not to be confused with the `Location` entity kind.
#[derive(Clone, Debug, SimpleObject)]
pub struct CatalogLocation {
    /// Relay global id; `removeLocation` and `refreshLocation` take it or
    /// `locationId`.
    #[graphql(owned)]
    pub id: ID,
    /// Stable id from type and target (what `id` held before it became a
    /// global id); the stream `location/<locationId>` in the log.
    pub location_id: String,
    #[graphql(name = "type")]
    pub location_type: String,
    pub target: String,
    /// The actor that added it.
    pub added_by: String,
    pub added_at: DateTime<Utc>,
}

impl From<Location> for CatalogLocation {
    fn from(row: Location) -> Self {
        CatalogLocation {
            id: super::nodes::location_id(&row.id),
            location_id: row.id,
            location_type: row.location_type,
            target: row.target,
            added_by: row.added_by,
            added_at: row.added_at,
        }
    }
}

/// Two sources claim one entity: the first keeps it until it lets go.
#[derive(Clone, Debug, SimpleObject)]
#[graphql(complex)]
pub struct EntityConflict {
    pub entity_ref: String,
    pub existing_source: String,
    pub new_source: String,
    pub first_seen: DateTime<Utc>,
    pub last_seen: DateTime<Utc>,
}

#[ComplexObject]
impl EntityConflict {
    /// The entity as the existing source keeps it.
    async fn entity(&self, ctx: &Context<'_>) -> Result<Option<Entity>> {
        Loaders::current(ctx, &self.entity_ref).await
    }
}

impl From<ConflictRecord> for EntityConflict {
    fn from(row: ConflictRecord) -> Self {
        EntityConflict {
            entity_ref: row.entity_ref,
            existing_source: row.existing_source,
            new_source: row.new_source,
            first_seen: row.first_seen,
            last_seen: row.last_seen,
        }
    }
}
