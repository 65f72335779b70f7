//! The mutation root: push descriptors, delete an entity, add, remove or
//! refresh a location. Every mutation needs a token with the `write` scope;
//! its subject is the actor on the events. A push may go only to a source the
//! token owns (`api:<subject>` or its configured `sources`), and an entity may
//! be deleted only where its source is one the token owns; adding and removing
//! locations (which decide what the server reads) and deleting entities of any
//! source need the `admin` scope too. Each refusal is a top-level `FORBIDDEN`
//! error given before anything is read or written. Each mutation returns once
//! the projector has caught up with its events, so the next query sees the
//! change.

use super::entity::Entity;
use super::loaders::Loaders;
use super::operational::CatalogLocation;
use super::results::*;
use crate::auth::Principal;
use crate::error::{ApiError, Result};
use crate::limits::GraphqlLimits;
use crate::operations::{Added, Deleted};
use almanac_domain::EntityRef;
use almanac_ingest::{
    operations, IngestError, Ingestor, ReadLimits, ReadPolicy, ReconcileOptions, Source,
};
use almanac_store::follow::Followed;
use almanac_store::EventLog;
use async_graphql::{Context, Object};

pub struct Mutation;

fn principal<'a>(ctx: &Context<'a>) -> &'a Principal {
    ctx.data::<Principal>().unwrap_or(&Principal::Anonymous)
}

fn writer(ctx: &Context<'_>) -> Result<String> {
    principal(ctx).writer().map(str::to_string)
}

/// An ingestor that reads URLs only as the server's `reading:` policy allows,
/// within the server's read limits.
fn ingestor(ctx: &Context<'_>) -> Result<Ingestor> {
    let reading = ctx.data::<ReadPolicy>().cloned().unwrap_or_default();
    let limits = ctx.data::<ReadLimits>().cloned().unwrap_or_default();
    let catalog = ctx
        .data::<almanac_ingest::CatalogPolicy>()
        .cloned()
        .unwrap_or_default();
    Ok(Ingestor::new(log(ctx)?.clone())
        .with_reading(reading)
        .with_limits(limits)
        .with_catalog(catalog))
}

/// The log writes append to, with the server's signing key.
fn log<'a>(ctx: &Context<'a>) -> Result<&'a EventLog> {
    ctx.data::<EventLog>()
        .map_err(|_| ApiError::internal(std::io::Error::other("event log missing from schema")))
}

/// The pushed entities (canonical refs, in order) as the in-memory catalog holds them
/// once it reflects the push: at its last position, or at the log's head when nothing
/// was appended (every entity unchanged, possibly written by another server). Waits
/// within the mutation's time budget (the gate's timeout).
async fn written(ctx: &Context<'_>, refs: &[String], position: Option<i64>) -> Result<Vec<Entity>> {
    let position = match position {
        Some(position) => position,
        None => log(ctx)?.head_position().await?,
    };
    let followed = ctx.data::<Followed>().map_err(|_| {
        ApiError::internal(std::io::Error::other(
            "this server does not follow the log into memory (AppState::with_follower)",
        ))
    })?;
    let snapshot = followed.reach(position).await.ok_or_else(|| {
        ApiError::internal(std::io::Error::other(
            "the log follower stopped before reaching a push",
        ))
    })?;
    let found = refs
        .iter()
        .filter_map(|r| snapshot.entity(r).cloned())
        .collect();
    let data = Loaders::of(ctx)?.all(&snapshot, found).await?;
    Ok(data.into_iter().map(Entity::from_data).collect())
}

/// The name of a push's source: `source` without an `api:` prefix, else the actor.
fn source_name(source: Option<String>, actor: &str) -> std::result::Result<String, InvalidInput> {
    let name = source.unwrap_or_else(|| actor.to_string());
    let name = name
        .strip_prefix("api:")
        .unwrap_or(&name)
        .trim()
        .to_string();
    if name.is_empty() || name.len() > 200 || name.chars().any(char::is_control) {
        return Err(InvalidInput::new(
            "source",
            "source must be 1 to 200 printable characters",
        ));
    }
    Ok(name)
}

#[Object]
impl Mutation {
    /// Pushes descriptors (YAML, several documents allowed, or JSON) as the
    /// source `api:<source>` (default: the token's subject). All or nothing,
    /// also when writers race: one invalid document, one entity another source
    /// manages, or one entity not at its expected version, and nothing is
    /// applied. Entities the source pushed before and does not push now are
    /// kept (pushes only upsert). `expectedVersions` lists the version an
    /// entity must be at (its `version` as last read; 0: not in the catalog)
    /// for read-modify-write: a mismatch gives `VersionConflict`. The token
    /// must own the source (`api:<its subject>` or one of its configured
    /// `sources`); any other is a `FORBIDDEN` error naming it, and nothing is
    /// written.
    async fn apply_entities(
        &self,
        ctx: &Context<'_>,
        documents: String,
        source: Option<String>,
        expected_versions: Option<Vec<ExpectedVersion>>,
    ) -> Result<ApplyEntitiesResult> {
        let actor = writer(ctx)?;
        let name = match source_name(source, &actor) {
            Ok(name) => name,
            Err(invalid) => {
                return Ok(ApplyEntitiesResult::InvalidDescriptors(
                    InvalidDescriptors {
                        message: invalid.message.clone(),
                        errors: Vec::new(),
                    },
                ))
            }
        };
        // Before anything is read: a refused push writes nothing.
        principal(ctx).may_push_to(&format!("api:{name}"))?;
        let ingestor = ingestor(ctx)?;
        let pushed = Source::Text {
            name,
            text: documents,
        };
        let key = pushed.origin();
        let outcome = ingestor.read(std::slice::from_ref(&pushed)).await;
        if let Err(invalid) = super::push::check_documents(&outcome) {
            return Ok(ApplyEntitiesResult::InvalidDescriptors(invalid));
        }
        let refs = super::push::pushed_refs(&outcome);
        let expected_versions = match super::push::expected_versions(
            expected_versions.as_deref().unwrap_or_default(),
            &refs,
        ) {
            Ok(expected) => expected,
            Err(invalid) => return Ok(ApplyEntitiesResult::InvalidDescriptors(invalid)),
        };
        let options = ReconcileOptions {
            actor,
            remove_missing: false,
            correlation_id: Some(uuid::Uuid::new_v4()),
            origins: Vec::new(),
            all_or_nothing: true,
            expected_versions,
        };
        let report = match ingestor.reconcile(&outcome, &options).await {
            Ok(report) => report,
            Err(err) => return super::push::refused_push(&err).ok_or_else(|| err.into()),
        };
        ingestor.wait_visible(report.last_position).await?;
        let entities = written(ctx, &refs, report.last_position).await?;
        Ok(ApplyEntitiesResult::ApplySuccess(ApplySuccess {
            source: key,
            registered: count(report.registered),
            updated: count(report.updated),
            unchanged: count(report.unchanged),
            entities,
        }))
    }

    /// A dry run of `applyEntities` (Backstage's `validate-entity`): every check
    /// a push of `documents` to `source` with `expectedVersions` makes, with
    /// nothing written. The same token rules as a push (`FORBIDDEN` for a
    /// source it does not own). Claims and versions are checked against the
    /// catalog as this server holds it now.
    async fn validate_entities(
        &self,
        ctx: &Context<'_>,
        documents: String,
        source: Option<String>,
        expected_versions: Option<Vec<ExpectedVersion>>,
    ) -> Result<super::dry_run::EntityValidation> {
        let actor = writer(ctx)?;
        let name =
            source_name(source, &actor).map_err(|invalid| ApiError::invalid(invalid.message))?;
        principal(ctx).may_push_to(&format!("api:{name}"))?;
        let pushed = Source::Text {
            name,
            text: documents,
        };
        let key = pushed.origin();
        let outcome = ingestor(ctx)?.read(std::slice::from_ref(&pushed)).await;
        Ok(super::dry_run::validate(
            &Loaders::snapshot(ctx)?,
            &outcome,
            &key,
            expected_versions.as_deref().unwrap_or_default(),
        ))
    }

    /// A dry run of `addLocation` (Backstage's `analyze-location`): what reading
    /// the location would register, update and remove, and the documents it would
    /// reject with why; nothing is registered or written. The same token rules as
    /// `addLocation` (`admin`, and `file` only where the server allows file
    /// locations); an unreadable type or target is an `INVALID_ARGUMENT` error.
    async fn analyze_location(
        &self,
        ctx: &Context<'_>,
        #[graphql(name = "type")] location_type: String,
        target: String,
    ) -> Result<super::dry_run::LocationAnalysisResult> {
        principal(ctx).admin("analyzeLocation")?;
        let allow_files = ctx
            .data::<GraphqlLimits>()
            .is_ok_and(|l| l.allow_file_locations);
        if location_type == "file" && !allow_files {
            return Err(ApiError::invalid(
                "file locations cannot be read through the API on this server \
                 (configure them, or set graphql.allow_file_locations); use a url location",
            ));
        }
        match almanac_ingest::analyze_location(&ingestor(ctx)?, &location_type, &target).await {
            Ok(analysis) => Ok(analysis.into()),
            Err(IngestError::Invalid(message)) => Err(ApiError::invalid(message)),
            Err(other) => Err(other.into()),
        }
    }

    /// Removes an entity. The token must own the entity's `source` (its
    /// `backstage.io/managed-by-location`: `api:<its subject>` or one of its
    /// configured `sources`), or have the `admin` scope; otherwise a
    /// `FORBIDDEN` error naming the entity and its source, and nothing is
    /// written. A file or URL source that still holds it registers it again at
    /// its next read; remove it there too.
    async fn delete_entity(
        &self,
        ctx: &Context<'_>,
        #[graphql(name = "ref")] entity_ref: String,
    ) -> Result<DeleteEntityResult> {
        // Refs compare by their lower-cased canonical form, which names the stream.
        let parsed = match EntityRef::parse(entity_ref.trim(), None, "default") {
            Ok(parsed) => parsed,
            Err(err) => {
                writer(ctx)?;
                return Ok(DeleteEntityResult::InvalidInput(InvalidInput::new(
                    "ref",
                    err.to_string(),
                )));
            }
        };
        let ingestor = Ingestor::new(log(ctx)?.clone());
        let catalog = Loaders::of(ctx)?.catalog();
        match crate::operations::delete_entity(&ingestor, catalog, principal(ctx), &parsed).await? {
            Deleted::Removed(canonical) => Ok(DeleteEntityResult::DeleteSuccess(DeleteSuccess {
                id: super::nodes::entity_id(&canonical),
                entity_ref: canonical,
            })),
            Deleted::NotFound(canonical) => Ok(DeleteEntityResult::NotFound(NotFound {
                message: format!("no entity {canonical}"),
            })),
            Deleted::Stale(detail) => Ok(DeleteEntityResult::InvalidInput(InvalidInput::new(
                "ref",
                format!("{detail}; nothing was deleted, try again"),
            ))),
        }
    }

    /// Registers a location (`url`, or `file` where the server allows it) and
    /// reads it now. Adding the same type and target again reads it again.
    /// Needs the `admin` scope (with `read` and `write`); without it a
    /// `FORBIDDEN` error, and nothing is read or written.
    async fn add_location(
        &self,
        ctx: &Context<'_>,
        #[graphql(name = "type")] location_type: String,
        target: String,
    ) -> Result<AddLocationResult> {
        let allow_files = ctx
            .data::<GraphqlLimits>()
            .is_ok_and(|l| l.allow_file_locations);
        let added = crate::operations::add_location(
            &ingestor(ctx)?,
            allow_files,
            principal(ctx),
            &location_type,
            &target,
        )
        .await?;
        match added {
            Added::Read(id, report) => Ok(AddLocationResult::AddLocationSuccess(LocationSuccess {
                location: location(ctx, &id).await?,
                summary: IngestSummary::from(&report),
            })),
            Added::Invalid(field, message) => Ok(AddLocationResult::InvalidInput(
                InvalidInput::new(field, message),
            )),
        }
    }

    /// Unregisters a location and removes every entity read through it.
    /// `id`: the location's global `id` or its `locationId`.
    /// Needs the `admin` scope (with `read` and `write`); without it a
    /// `FORBIDDEN` error, and nothing is written.
    async fn remove_location(&self, ctx: &Context<'_>, id: String) -> Result<RemoveLocationResult> {
        let actor = principal(ctx).admin("removeLocation")?.to_string();
        let id = super::nodes::location_key(&id);
        match operations::remove_location(log(ctx)?, &id, &actor).await {
            Ok(Some(removed)) => Ok(RemoveLocationResult::RemoveLocationSuccess(
                RemoveLocationSuccess {
                    id: super::nodes::location_id(&id),
                    location_id: id,
                    removed_entities: count(removed),
                },
            )),
            Ok(None) => Ok(RemoveLocationResult::NotFound(NotFound {
                message: format!("no location {id}"),
            })),
            Err(IngestError::Invalid(message)) => Ok(RemoveLocationResult::InvalidInput(
                InvalidInput::new("id", message),
            )),
            Err(other) => Err(other.into()),
        }
    }

    /// Reads a registered location again now (`id`: its global `id` or its
    /// `locationId`). Needs `write` only (no
    /// `FORBIDDEN` for a writer): it reads what an admin registered, as the
    /// scheduler would.
    async fn refresh_location(
        &self,
        ctx: &Context<'_>,
        id: String,
    ) -> Result<RefreshLocationResult> {
        let actor = writer(ctx)?;
        let id = super::nodes::location_key(&id);
        match operations::refresh_location(&ingestor(ctx)?, &id, &actor).await {
            Ok(Some(report)) => Ok(RefreshLocationResult::RefreshLocationSuccess(
                LocationSuccess {
                    location: location(ctx, &id).await?,
                    summary: IngestSummary::from(&report),
                },
            )),
            Ok(None) => Ok(RefreshLocationResult::NotFound(NotFound {
                message: format!("no location {id}"),
            })),
            Err(IngestError::Invalid(message)) => Ok(RefreshLocationResult::InvalidInput(
                InvalidInput::new("id", message),
            )),
            Err(other) => Err(other.into()),
        }
    }
}

async fn location(ctx: &Context<'_>, id: &str) -> Result<Option<CatalogLocation>> {
    let rows = Loaders::of(ctx)?
        .catalog()
        .locations_by_id(&[id.to_string()])
        .await?;
    Ok(rows.into_iter().next().map(CatalogLocation::from))
}
