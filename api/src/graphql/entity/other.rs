//! Location and Template entities, and `GenericEntity` for custom kinds.

entity_type!(
    /// A descriptor that points at more descriptors.
    Location, kind = "Location", {
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
});

entity_type!(@object
    /// An entity of a kind Almanac has no type for; read its `spec` as JSON.
    GenericEntity, [] [] [] [], {
});
