-- Lists, filters, counts, facets and search are answered from the in-memory
-- catalog (readmodel/, issue 13): nothing reads the SQL search or the indexes
-- that served only filters and orders any more. Dropping them makes every
-- projected row cheaper to write (no tsvector, no trigram or GIN entries) and
-- removes the database limit (a tsvector or index row too large) that used to
-- refuse some rows.
--
-- Kept: the primary key (ref), owner_ref (ownership walks), source and origin
-- (ingest state, locations), the relations indexes (hops, walks), and
-- entities_type_idx: no query needs it, but its btree row limit is the real
-- database refusal the projector's per-entity fallback is tested with
-- (store/tests/store/poison.rs, api projection_failures); drop it when those
-- tests poison a row another way.
-- pg_trgm stays installed: dropping an extension is not this migration's
-- business, and nothing here depends on it any more.
DROP INDEX IF EXISTS entities_search_trgm_idx;
DROP INDEX IF EXISTS entities_search_idx;
DROP INDEX IF EXISTS entities_kind_idx;
DROP INDEX IF EXISTS entities_name_idx;
DROP INDEX IF EXISTS entities_lifecycle_idx;
DROP INDEX IF EXISTS entities_tags_idx;
DROP INDEX IF EXISTS entities_labels_idx;
DROP INDEX IF EXISTS entities_annotations_idx;

-- The generated tsvector depends on search_text: drop it first.
ALTER TABLE entities DROP COLUMN IF EXISTS search;
ALTER TABLE entities DROP COLUMN IF EXISTS search_text;
