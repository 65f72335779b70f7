//! Location and Template entities, and `GenericEntity` for custom kinds.

use super::Entity;
use crate::error::Result;
use async_graphql::Context;

entity_type!(
    /// A descriptor that points at more descriptors.
    Location, kind = "Location", {
    /// `spec.type` (url, file, ...).
    #[graphql(name = "type")]
    async fn location_type(&self) -> Option<String> {
        self.0.spec_type()
    }
    async fn target(&self) -> Option<String> {
        self.0.spec_str("target")
    }
    async fn targets(&self) -> Vec<String> {
        self.0.spec_strings("targets")
    }
    /// `required` (default) or `optional`.
    async fn presence(&self) -> Option<String> {
        self.0.spec_str("presence")
    }
});

entity_type!(
    /// A software template (scaffolder).
    Template, kind = "Template", {
    #[graphql(name = "type")]
    async fn template_type(&self) -> Option<String> {
        self.0.spec_type()
    }
    async fn owner_ref(&self) -> Option<String> {
        self.0.owner_ref().map(str::to_string)
    }
    async fn owner(&self, ctx: &Context<'_>) -> Result<Option<Entity>> {
        self.0.owner(ctx).await
    }
});

entity_type!(@object
    /// An entity of a kind Almanac has no type for; read its `spec` as JSON.
    GenericEntity, [] [], {
    /// `spec.type`, if any.
    #[graphql(name = "type")]
    async fn generic_type(&self) -> Option<String> {
        self.0.spec_type()
    }
});
