-- Operational state, not history: per registered location (by its origin, the
-- redacted form every reader may see), when it was last read, when a read last
-- succeeded, and how many reads in a row have failed since. Written after every
-- read of a location (the scheduler's, a refresh, an add), read by /metrics for
-- the freshness figures an SLO on "a change is visible within N minutes" needs.
-- Losing the table loses only those figures until the next reads.
CREATE TABLE location_reads (
    origin            text        PRIMARY KEY,
    attempted_at      timestamptz NOT NULL,
    succeeded_at      timestamptz,
    failures_in_a_row integer     NOT NULL DEFAULT 0 CHECK (failures_in_a_row >= 0),
    -- Why the last read failed (NULL after a success).
    last_error        text
);

REVOKE ALL ON location_reads FROM PUBLIC;
GRANT SELECT, INSERT, UPDATE, DELETE ON location_reads TO almanac_app;
