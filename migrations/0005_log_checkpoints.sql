-- Signed checkpoints: tamper evidence that does not trust the database.
--
-- Every append also writes one row here, in the same transaction and under the
-- same append lock: the global head (a hash chain over the whole log in position
-- order, see store/src/log/seal/) after the append's events, signed with an
-- Ed25519 key that lives in a file outside the database. The row lists the
-- events it seals (position, stream, version, hash), so `almanac verify` can name
-- an altered, removed or inserted event exactly. Someone who can write to the
-- database but cannot read the key can append rows, but not sign them.
CREATE TABLE log_checkpoints (
    -- The last log position this checkpoint seals.
    position           bigint      PRIMARY KEY,
    -- The checkpoint it chains onto (0 and 32 zero bytes for the first).
    previous_position  bigint      NOT NULL CHECK (previous_position >= 0),
    previous_head      bytea       NOT NULL CHECK (length(previous_head) = 32),
    -- The global head after this checkpoint's events, and how many events the
    -- log holds up to `position`.
    head               bytea       NOT NULL CHECK (length(head) = 32),
    event_count        bigint      NOT NULL CHECK (event_count > 0),
    -- The sealed events, in position order: parallel arrays.
    positions          bigint[]    NOT NULL,
    streams            text[]      NOT NULL,
    versions           bigint[]    NOT NULL,
    hashes             bytea[]     NOT NULL,
    -- 'append': the events one append wrote, sealed as it wrote them.
    -- 'backlog': events read back from the table and sealed afterwards: a log
    -- from before checkpoints existed, or an import (trust on first use).
    origin             text        NOT NULL CHECK (origin IN ('append', 'backlog')),
    signed_at          timestamptz NOT NULL,
    -- The first 16 hex digits of sha-256 over the Ed25519 public key.
    key_id             text        NOT NULL,
    signature          bytea       NOT NULL CHECK (length(signature) = 64),
    CHECK (position > previous_position),
    CHECK (cardinality(positions) > 0
           AND cardinality(positions) = cardinality(streams)
           AND cardinality(positions) = cardinality(versions)
           AND cardinality(positions) = cardinality(hashes))
);

-- Append-only like the events themselves (the same trigger function).
CREATE TRIGGER log_checkpoints_no_update_delete
    BEFORE UPDATE OR DELETE ON log_checkpoints
    FOR EACH STATEMENT EXECUTE FUNCTION events_reject_change();
CREATE TRIGGER log_checkpoints_no_truncate
    BEFORE TRUNCATE ON log_checkpoints
    FOR EACH STATEMENT EXECUTE FUNCTION events_reject_change();

REVOKE ALL ON log_checkpoints FROM PUBLIC;
GRANT SELECT, INSERT ON log_checkpoints TO almanac_app;
