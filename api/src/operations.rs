//! The API's writes that both GraphQL and the REST routes offer, each once: who may
//! (`auth.rs`), then `almanac_ingest::operations`, which decides and appends. Each
//! transport maps the outcome onto its own shapes (a GraphQL result union, an HTTP
//! status); nothing here knows either.

use crate::auth::Principal;
use crate::error::ApiError;
use almanac_domain::EntityRef;
use almanac_ingest::{operations, IngestError, IngestReport, Ingestor};
use almanac_store::catalog::Catalog;

/// What a delete did.
#[derive(Debug)]
pub enum Deleted {
    /// Removed; its canonical ref.
    Removed(String),
    /// No live entity has that ref.
    NotFound(String),
    /// The entity changed between the check and the append; nothing was deleted.
    Stale(String),
}

/// Removes `entity_ref` for `principal`: a writer owning the entity's source, or an
/// admin (else `FORBIDDEN`, before anything is written).
pub async fn delete_entity(
    ingestor: &Ingestor,
    catalog: &Catalog,
    principal: &Principal,
    entity_ref: &EntityRef,
) -> Result<Deleted, ApiError> {
    let actor = principal.writer()?.to_string();
    let canonical = entity_ref.canonical();
    // The source is judged as projected; pinning the version it was judged at keeps a
    // concurrent change of hands from being deleted unseen.
    ingestor.reconciler().sync_projection().await?;
    let rows = catalog
        .entities_by_ref(std::slice::from_ref(&canonical))
        .await?;
    let Some(row) = rows.into_iter().next() else {
        return Ok(Deleted::NotFound(canonical));
    };
    principal.may_delete(&canonical, row.source.as_deref())?;
    match operations::delete_entity(ingestor.log(), entity_ref, Some(row.version), &actor).await {
        Ok(Some(_)) => Ok(Deleted::Removed(canonical)),
        Ok(None) => Ok(Deleted::NotFound(canonical)),
        Err(IngestError::Conflict(detail)) => Ok(Deleted::Stale(detail)),
        Err(other) => Err(other.into()),
    }
}

/// What adding a location did.
#[derive(Debug)]
pub enum Added {
    /// Registered (or already registered) and read: its id and the read's report.
    Read(String, IngestReport),
    /// Refused before anything was written: the input field and why.
    Invalid(&'static str, String),
}

/// Registers a location for an admin and reads it now. A `file` location only where
/// the server allows them (`graphql.allow_file_locations`): it reads the server's disk.
pub async fn add_location(
    ingestor: &Ingestor,
    allow_files: bool,
    principal: &Principal,
    location_type: &str,
    target: &str,
) -> Result<Added, ApiError> {
    let actor = principal.admin("addLocation")?.to_string();
    if location_type == "file" && !allow_files {
        return Ok(Added::Invalid(
            "type",
            "file locations cannot be added through the API on this server \
             (configure them, or set graphql.allow_file_locations); use a url location"
                .into(),
        ));
    }
    match operations::add_location(ingestor, location_type, target, &actor).await {
        Ok((id, report)) => Ok(Added::Read(id, report)),
        Err(IngestError::Invalid(message)) => Ok(Added::Invalid("target", message)),
        Err(other) => Err(other.into()),
    }
}
