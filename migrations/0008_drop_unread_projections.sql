-- Since issue 13 every relation hop and walk is answered from the in-memory catalog
-- (readmodel/), and a time-travel row derives the relations it declared from its
-- descriptor (projection::rows::declared_rows): no statement reads `relations` or
-- `relation_edges` any more. The table held about eight rows per entity (both
-- directions of every declaration) under a five-column primary key and two more
-- indexes, most of what each projected batch wrote. Dropped with its view.
--
-- Kept on `entities`: the primary key (ref: whole rows of elided entities, the
-- projector's load), source and origin (ingest state, locations of a location) and
-- entities_type_idx (see 0006: the real database refusal the projector's
-- per-entity fallback is tested with). Dropped: owner_ref's index (ownership walks
-- are the read model's) and the uniqueness of uid (no statement looks a row up by
-- uid; a uid is derived from the ref and its registration's position, so it is
-- unique by construction).
-- On `projection_failures`: every statement names the stream together with
-- stage = 'write', which the partial unique index serves; the plain stream index
-- served nothing.
DROP VIEW IF EXISTS relation_edges;
DROP TABLE IF EXISTS relations;
DROP INDEX IF EXISTS entities_owner_idx;
ALTER TABLE entities DROP CONSTRAINT IF EXISTS entities_uid_key;
DROP INDEX IF EXISTS projection_failures_stream_idx;
