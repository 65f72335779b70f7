-- Events the projector could not fold into the catalog. Recorded instead of halting
-- the projector (one bad event would otherwise stop every later one). A projection
-- like the others: written by the projector in the batch's transaction, rebuilt and
-- compared by `almanac replay`, so every column is a function of the log.
--   stage 'decode': the event's type or payload is unknown to this build;
--   stage 'fold':   the event does not apply to the entity's state (kept for good);
--   stage 'write':  the entity's state after the event could not be stored; at most
--                   one per stream, replaced by the next failure and removed once a
--                   later event of the stream is stored.
CREATE TABLE projection_failures (
    position    bigint      NOT NULL,
    stage       text        NOT NULL CHECK (stage IN ('decode', 'fold', 'write')),
    stream      text        NOT NULL,
    version     bigint      NOT NULL,
    event_type  text        NOT NULL,
    message     text        NOT NULL,
    recorded_at timestamptz NOT NULL,      -- the event's, so a replay writes the same row
    PRIMARY KEY (position, stage)
);
CREATE UNIQUE INDEX projection_failures_write_idx ON projection_failures (stream)
    WHERE stage = 'write';
CREATE INDEX projection_failures_stream_idx ON projection_failures (stream);

REVOKE ALL ON projection_failures FROM PUBLIC;
GRANT SELECT, INSERT, UPDATE, DELETE ON projection_failures TO almanac_app;
