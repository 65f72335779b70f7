//! The software kinds: Component, API, Resource, System, Domain, with their
//! typed spec fields and relation fields in both directions.

use super::Entity;
use crate::error::Result;
use almanac_domain::RelationType;
use async_graphql::Context;

entity_type!(
    /// A piece of software: a service, a website, a library.
    Component, kind = "Component", {
    /// The component this one is part of (`spec.subcomponentOf`).
    async fn subcomponent_of(&self, ctx: &Context<'_>) -> Result<Option<Component>> {
        self.0.typed_one(ctx, RelationType::PartOf).await
    }
    async fn subcomponents(&self, ctx: &Context<'_>) -> Result<Vec<Component>> {
        self.0.typed(ctx, RelationType::HasPart).await
    }
    async fn provides_apis(&self, ctx: &Context<'_>) -> Result<Vec<Api>> {
        self.0.typed(ctx, RelationType::ProvidesApi).await
    }
    async fn consumes_apis(&self, ctx: &Context<'_>) -> Result<Vec<Api>> {
        self.0.typed(ctx, RelationType::ConsumesApi).await
    }
    /// Direct dependencies (Components and Resources), from either side's declaration.
    async fn depends_on(&self, ctx: &Context<'_>) -> Result<Vec<Entity>> {
        self.0.related(ctx, RelationType::DependsOn).await
    }
    /// What depends on this directly.
    async fn dependents(&self, ctx: &Context<'_>) -> Result<Vec<Entity>> {
        self.0.related(ctx, RelationType::DependencyOf).await
    }
});

entity_type!(
    /// An interface a component provides: OpenAPI, gRPC, AsyncAPI, GraphQL, ...
    Api, kind = "API", {
    /// `spec.definition`, the API's description document.
    async fn definition(&self) -> Option<String> {
        self.0.spec_str("definition")
    }
    /// Components that provide it.
    async fn providers(&self, ctx: &Context<'_>) -> Result<Vec<Component>> {
        self.0.typed(ctx, RelationType::ApiProvidedBy).await
    }
    /// Components that consume it.
    async fn consumers(&self, ctx: &Context<'_>) -> Result<Vec<Component>> {
        self.0.typed(ctx, RelationType::ApiConsumedBy).await
    }
});

entity_type!(
    /// Infrastructure a component needs: a database, a queue, a bucket.
    Resource, kind = "Resource", {
    async fn depends_on(&self, ctx: &Context<'_>) -> Result<Vec<Entity>> {
        self.0.related(ctx, RelationType::DependsOn).await
    }
    async fn dependents(&self, ctx: &Context<'_>) -> Result<Vec<Entity>> {
        self.0.related(ctx, RelationType::DependencyOf).await
    }
});

entity_type!(
    /// A collection of components, APIs and resources that work together.
    System, kind = "System", {
    async fn domain(&self, ctx: &Context<'_>) -> Result<Option<Domain>> {
        self.0.typed_one(ctx, RelationType::PartOf).await
    }
    async fn components(&self, ctx: &Context<'_>) -> Result<Vec<Component>> {
        self.0.typed(ctx, RelationType::HasPart).await
    }
    async fn apis(&self, ctx: &Context<'_>) -> Result<Vec<Api>> {
        self.0.typed(ctx, RelationType::HasPart).await
    }
    async fn resources(&self, ctx: &Context<'_>) -> Result<Vec<Resource>> {
        self.0.typed(ctx, RelationType::HasPart).await
    }
});

entity_type!(
    /// A business area grouping systems.
    Domain, kind = "Domain", {
    async fn systems(&self, ctx: &Context<'_>) -> Result<Vec<System>> {
        self.0.typed(ctx, RelationType::HasPart).await
    }
    /// The domain this one is part of (`spec.subdomainOf`).
    async fn subdomain_of(&self, ctx: &Context<'_>) -> Result<Option<Domain>> {
        self.0.typed_one(ctx, RelationType::PartOf).await
    }
    async fn subdomains(&self, ctx: &Context<'_>) -> Result<Vec<Domain>> {
        self.0.typed(ctx, RelationType::HasPart).await
    }
});
