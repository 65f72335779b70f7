-- Operational state of ingest, not history (the log stays the only truth of the
-- catalog): per source, a digest of what its last decision was made from (the
-- reader's settings, the origin, the key and the bytes) and the version of every
-- stream that decision depended on (the entities the source claimed or named),
-- as they stood right after it. A later read of the same bytes may skip parsing
-- and deciding only while every one of those streams is still at that version
-- (`store::source_digests::still_valid`). Rewritten or deleted each time the
-- source is decided; losing the table costs one full re-decision, nothing more.
CREATE TABLE source_digests (
    source      text        PRIMARY KEY,
    origin      text        NOT NULL,
    digest      bytea       NOT NULL CHECK (length(digest) = 32),
    -- Entities the source held right after (reported as unchanged when skipped).
    entities    integer     NOT NULL,
    streams     text[]      NOT NULL,
    versions    bigint[]    NOT NULL,
    decided_at  timestamptz NOT NULL,
    CHECK (cardinality(streams) = cardinality(versions))
);
CREATE INDEX source_digests_origin_idx ON source_digests (origin);

REVOKE ALL ON source_digests FROM PUBLIC;
GRANT SELECT, INSERT, UPDATE, DELETE ON source_digests TO almanac_app;
