-- Issue 14: `entities` no longer stores copies of what its own `descriptor`
-- column holds: `title`, `description`, `tags`, `labels`, `annotations`.
--
-- Every row repeated them beside the descriptor: ~1.5 KB a row, 157 MB of heap
-- for the 104,001 rows of the 100k bench catalog (`annotations` alone averaged
-- 270 bytes, a copy of metadata.annotations). The COPY of those rows cost
-- PostgreSQL about as much as the COPY of the event log itself (psql, the 2-core
-- bench machine: 2.3 s without indexes, 3.2-3.4 s with them, for 104k rows),
-- and it runs in every cold ingest.
--
-- No SQL reads them: lists, filters, facets and search are the in-memory
-- catalog's (readmodel/). The catalog's entity row (`EntityRecord`) derives
-- them from the descriptor when it is read, as the projector derived them
-- (`projection::rows`), so readers see the same values.
--
-- Kept: kind, namespace, name, spec_type, lifecycle, owner_ref (small), source
-- and origin (queried by SQL: ingest state, locations).
-- The replay's rebuild tables are created `LIKE entities`: they follow.
ALTER TABLE entities
    DROP COLUMN IF EXISTS title,
    DROP COLUMN IF EXISTS description,
    DROP COLUMN IF EXISTS tags,
    DROP COLUMN IF EXISTS labels,
    DROP COLUMN IF EXISTS annotations;
