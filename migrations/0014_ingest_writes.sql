-- Issue 14: a checkpoint's arrays (one entry per event it seals: 2,000 per
-- ingest chunk, ~150 kB a row) were offered to pglz on every append, which
-- found next to nothing to gain on hashes and positions yet cost more than the
-- row's insert (a tenth of a second per 50 checkpoints on the 2-core bench
-- machine, measured with psql on the 100k catalog's own checkpoints: pglz
-- 92 ms, uncompressed out of line 10 ms, same size on disk). Stored out of line
-- without compression from now on; rows already written keep their form (both
-- read the same).
ALTER TABLE log_checkpoints
    ALTER COLUMN positions SET STORAGE EXTERNAL,
    ALTER COLUMN streams SET STORAGE EXTERNAL,
    ALTER COLUMN versions SET STORAGE EXTERNAL,
    ALTER COLUMN hashes SET STORAGE EXTERNAL;

-- `source_reads` (0002) was written for every source of every read (54,000 upserts
-- on a cold ingest of the 100k bench catalog, 0.6-0.8 s of PostgreSQL's time) and read
-- by nothing: a read failure's text is in `processing_errors`, when a source was last
-- decided in `source_digests.decided_at`, and the freshness of each location in
-- `location_reads` (0013). Dropped.
DROP TABLE IF EXISTS source_reads;
