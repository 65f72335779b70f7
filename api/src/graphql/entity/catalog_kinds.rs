//! The software kinds: Component, API, Resource, System, Domain, with their
//! typed spec fields and relation fields in both directions.

use super::Entity;
use crate::error::Result;
use almanac_domain::RelationType;
use async_graphql::Context;

entity_type!(
    /// A piece of software: a service, a website, a library.
    Component, kind = "Component",
    typed = [
        (subcomponents_connection, Component, HasPart, " Its subcomponents, a page by ref, with the total and the declared refs that name no component."),
        (provides_apis_connection, Api, ProvidesApi, " APIs it provides, a page by ref, with the total and the declared refs that name no API (`danglingRefs`)."),
        (consumes_apis_connection, Api, ConsumesApi, " APIs it consumes, a page by ref, with the total and the declared refs that name no API (`danglingRefs`)."),
    ],
    related = [
        (depends_on_connection, DependsOn, " Direct dependencies (from either side's declaration), a page by ref; `kind` keeps those kinds; `danglingRefs` names declared refs no entity has."),
        (dependents_connection, DependencyOf, " What depends on this directly, a page by ref; `kind` keeps those kinds."),
    ],
    {
    /// The component this one is part of (`spec.subcomponentOf`).
    async fn subcomponent_of(&self, ctx: &Context<'_>) -> Result<Option<Component>> {
        self.0.typed_one(ctx, RelationType::PartOf).await
    }
    #[graphql(deprecation = "unbounded; use subcomponentsConnection(first, after)")]
    async fn subcomponents(&self, ctx: &Context<'_>) -> Result<Vec<Component>> {
        self.0.typed(ctx, RelationType::HasPart).await
    }
    #[graphql(deprecation = "unbounded, and hides dangling refs; use providesApisConnection(first, after)")]
    async fn provides_apis(&self, ctx: &Context<'_>) -> Result<Vec<Api>> {
        self.0.typed(ctx, RelationType::ProvidesApi).await
    }
    #[graphql(deprecation = "unbounded, and hides dangling refs; use consumesApisConnection(first, after)")]
    async fn consumes_apis(&self, ctx: &Context<'_>) -> Result<Vec<Api>> {
        self.0.typed(ctx, RelationType::ConsumesApi).await
    }
    /// Direct dependencies (Components and Resources), from either side's declaration.
    #[graphql(deprecation = "unbounded, and hides dangling refs; use dependsOnConnection(kind, first, after)")]
    async fn depends_on(&self, ctx: &Context<'_>) -> Result<Vec<Entity>> {
        self.0.related(ctx, RelationType::DependsOn).await
    }
    /// What depends on this directly.
    #[graphql(deprecation = "unbounded; use dependentsConnection(kind, first, after)")]
    async fn dependents(&self, ctx: &Context<'_>) -> Result<Vec<Entity>> {
        self.0.related(ctx, RelationType::DependencyOf).await
    }
});

entity_type!(
    /// An interface a component provides: OpenAPI, gRPC, AsyncAPI, GraphQL, ...
    Api, kind = "API",
    typed = [
        (providers_connection, Component, ApiProvidedBy, " Components that provide it, a page by ref, with the total."),
        (consumers_connection, Component, ApiConsumedBy, " Components that consume it, a page by ref, with the total."),
    ],
    {
    /// `spec.definition`, the API's description document.
    async fn definition(&self) -> Option<String> {
        self.0.spec_str("definition")
    }
    /// Components that provide it.
    #[graphql(deprecation = "unbounded; use providersConnection(first, after)")]
    async fn providers(&self, ctx: &Context<'_>) -> Result<Vec<Component>> {
        self.0.typed(ctx, RelationType::ApiProvidedBy).await
    }
    /// Components that consume it.
    #[graphql(deprecation = "unbounded; use consumersConnection(first, after)")]
    async fn consumers(&self, ctx: &Context<'_>) -> Result<Vec<Component>> {
        self.0.typed(ctx, RelationType::ApiConsumedBy).await
    }
});

entity_type!(
    /// Infrastructure a component needs: a database, a queue, a bucket.
    Resource, kind = "Resource",
    related = [
        (depends_on_connection, DependsOn, " Direct dependencies, a page by ref; `kind` keeps those kinds; `danglingRefs` names declared refs no entity has."),
        (dependents_connection, DependencyOf, " What depends on this directly, a page by ref; `kind` keeps those kinds."),
    ],
    {
    #[graphql(deprecation = "unbounded, and hides dangling refs; use dependsOnConnection(kind, first, after)")]
    async fn depends_on(&self, ctx: &Context<'_>) -> Result<Vec<Entity>> {
        self.0.related(ctx, RelationType::DependsOn).await
    }
    #[graphql(deprecation = "unbounded; use dependentsConnection(kind, first, after)")]
    async fn dependents(&self, ctx: &Context<'_>) -> Result<Vec<Entity>> {
        self.0.related(ctx, RelationType::DependencyOf).await
    }
});

entity_type!(
    /// A collection of components, APIs and resources that work together.
    System, kind = "System",
    typed = [
        (components_connection, Component, HasPart, " Its components, a page by ref, with the total and the declared refs that name no component."),
        (apis_connection, Api, HasPart, " Its APIs, a page by ref, with the total."),
        (resources_connection, Resource, HasPart, " Its resources, a page by ref, with the total."),
    ],
    {
    async fn domain(&self, ctx: &Context<'_>) -> Result<Option<Domain>> {
        self.0.typed_one(ctx, RelationType::PartOf).await
    }
    #[graphql(deprecation = "unbounded; use componentsConnection(first, after)")]
    async fn components(&self, ctx: &Context<'_>) -> Result<Vec<Component>> {
        self.0.typed(ctx, RelationType::HasPart).await
    }
    #[graphql(deprecation = "unbounded; use apisConnection(first, after)")]
    async fn apis(&self, ctx: &Context<'_>) -> Result<Vec<Api>> {
        self.0.typed(ctx, RelationType::HasPart).await
    }
    #[graphql(deprecation = "unbounded; use resourcesConnection(first, after)")]
    async fn resources(&self, ctx: &Context<'_>) -> Result<Vec<Resource>> {
        self.0.typed(ctx, RelationType::HasPart).await
    }
});

entity_type!(
    /// A business area grouping systems.
    Domain, kind = "Domain",
    typed = [
        (systems_connection, System, HasPart, " Its systems, a page by ref, with the total."),
        (subdomains_connection, Domain, HasPart, " Its subdomains, a page by ref, with the total."),
    ],
    {
    #[graphql(deprecation = "unbounded; use systemsConnection(first, after)")]
    async fn systems(&self, ctx: &Context<'_>) -> Result<Vec<System>> {
        self.0.typed(ctx, RelationType::HasPart).await
    }
    /// The domain this one is part of (`spec.subdomainOf`).
    async fn subdomain_of(&self, ctx: &Context<'_>) -> Result<Option<Domain>> {
        self.0.typed_one(ctx, RelationType::PartOf).await
    }
    #[graphql(deprecation = "unbounded; use subdomainsConnection(first, after)")]
    async fn subdomains(&self, ctx: &Context<'_>) -> Result<Vec<Domain>> {
        self.0.typed(ctx, RelationType::HasPart).await
    }
});
