-- Projections: read models folded from the event log by the projector.
-- They can be dropped and rebuilt from the log at any time (`almanac replay`).

CREATE EXTENSION IF NOT EXISTS pg_trgm;

-- One row per projector: the last log position folded into its tables, written
-- in the same transaction as the rows themselves.
CREATE TABLE projection_checkpoints (
    projector   text        PRIMARY KEY,
    position    bigint      NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now()
);

-- The current descriptor of every live entity.
CREATE TABLE entities (
    ref             text        PRIMARY KEY,   -- canonical: lower-case kind:namespace/name
    uid             uuid        NOT NULL UNIQUE,
    kind            text        NOT NULL,      -- as written (Component, API, ...)
    namespace       text        NOT NULL,
    name            text        NOT NULL,
    title           text,
    description     text,
    spec_type       text,
    lifecycle       text,
    owner_ref       text,                      -- canonical ref of spec.owner
    tags            text[]      NOT NULL DEFAULT '{}',
    labels          jsonb       NOT NULL DEFAULT '{}',
    annotations     jsonb       NOT NULL DEFAULT '{}',
    descriptor      jsonb       NOT NULL,
    source          text,                      -- backstage.io/managed-by-location
    origin          text,                      -- backstage.io/managed-by-origin-location
    version         bigint      NOT NULL,
    last_position   bigint      NOT NULL,
    created_at      timestamptz NOT NULL,
    updated_at      timestamptz NOT NULL,
    search_text     text        NOT NULL DEFAULT '',
    search          tsvector    GENERATED ALWAYS AS (to_tsvector('simple', search_text)) STORED
);
CREATE INDEX entities_kind_idx ON entities (lower(kind), namespace, lower(name));
CREATE INDEX entities_name_idx ON entities (lower(name));
CREATE INDEX entities_owner_idx ON entities (owner_ref);
CREATE INDEX entities_type_idx ON entities (spec_type);
CREATE INDEX entities_lifecycle_idx ON entities (lifecycle);
CREATE INDEX entities_source_idx ON entities (source);
CREATE INDEX entities_origin_idx ON entities (origin);
CREATE INDEX entities_tags_idx ON entities USING gin (tags);
CREATE INDEX entities_labels_idx ON entities USING gin (labels jsonb_path_ops);
CREATE INDEX entities_annotations_idx ON entities USING gin (annotations jsonb_path_ops);
CREATE INDEX entities_search_idx ON entities USING gin (search);
CREATE INDEX entities_search_trgm_idx ON entities USING gin (search_text gin_trgm_ops);

-- One row per declaration of an edge, in both directions: the relation a spec
-- field declares and its inverse seen from the target. `declared_by`/`field`
-- keep provenance; the same fact declared from both sides is two rows here and
-- one edge in `relation_edges`. Targets need not exist (dangling edges).
CREATE TABLE relations (
    source_ref  text NOT NULL,
    type        text NOT NULL,
    target_ref  text NOT NULL,
    declared_by text NOT NULL,
    field       text NOT NULL,
    PRIMARY KEY (source_ref, type, target_ref, declared_by, field)
);
CREATE INDEX relations_target_idx ON relations (target_ref, type);
CREATE INDEX relations_declared_by_idx ON relations (declared_by);

CREATE VIEW relation_edges AS
    SELECT DISTINCT ON (source_ref, type, target_ref)
           source_ref, type, target_ref, declared_by, field
    FROM relations
    ORDER BY source_ref, type, target_ref, declared_by, field;

-- Locations the catalog reads, from LocationAdded / LocationRemoved events.
CREATE TABLE locations (
    id          text        PRIMARY KEY,
    type        text        NOT NULL,
    target      text        NOT NULL,
    added_by    text        NOT NULL,
    added_at    timestamptz NOT NULL
);

-- Operational state written by ingest with each read, not history: the last
-- read of each source and what it could not accept. Refreshed by the next read.
CREATE TABLE source_reads (
    source      text        PRIMARY KEY,
    origin      text,
    read_at     timestamptz NOT NULL,
    failure     text                        -- the source could not be read at all
);

CREATE TABLE processing_errors (
    source      text        NOT NULL,
    entity_ref  text,                       -- canonical, when the document named one
    message     text        NOT NULL,
    recorded_at timestamptz NOT NULL
);
CREATE INDEX processing_errors_source_idx ON processing_errors (source);
CREATE INDEX processing_errors_ref_idx ON processing_errors (entity_ref);

-- Two sources claiming one entity: the first keeps it.
CREATE TABLE conflicts (
    entity_ref      text        NOT NULL,
    existing_source text        NOT NULL,
    new_source      text        NOT NULL,
    first_seen      timestamptz NOT NULL,
    last_seen       timestamptz NOT NULL,
    PRIMARY KEY (entity_ref, new_source)
);

REVOKE ALL ON projection_checkpoints, entities, relations, locations,
    source_reads, processing_errors, conflicts FROM PUBLIC;
GRANT SELECT, INSERT, UPDATE, DELETE ON projection_checkpoints, entities, relations,
    locations, source_reads, processing_errors, conflicts TO almanac_app;
GRANT SELECT ON relation_edges TO almanac_app;
