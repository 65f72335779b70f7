-- The event log: the only source of truth. Everything else is a projection of it.
--
-- Roles: migrations run as the schema owner; the server connects as a member of
-- `almanac_app`, which may only read and append here.
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'almanac_app') THEN
        CREATE ROLE almanac_app NOLOGIN;
    END IF;
END
$$;

CREATE TABLE events (
    position        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    transaction_id  xid8        NOT NULL DEFAULT pg_current_xact_id(),
    stream          text        NOT NULL,
    version         bigint      NOT NULL CHECK (version > 0),
    event_type      text        NOT NULL,
    schema_version  integer     NOT NULL CHECK (schema_version > 0),
    payload         jsonb       NOT NULL,
    actor           text        NOT NULL,
    source          text,
    correlation_id  uuid,
    causation_id    uuid,
    recorded_at     timestamptz NOT NULL,
    hash            bytea       NOT NULL CHECK (length(hash) = 32),
    CONSTRAINT events_stream_version_key UNIQUE (stream, version)
);

CREATE INDEX events_recorded_at_idx ON events (recorded_at);
CREATE INDEX events_actor_idx ON events (actor, position);

-- Retried appends carrying the same key return the positions of the first one.
CREATE TABLE append_requests (
    idempotency_key text        PRIMARY KEY,
    positions       bigint[]    NOT NULL,
    recorded_at     timestamptz NOT NULL DEFAULT now()
);

-- Append-only, enforced by the database for every role that is not a superuser
-- disabling triggers on purpose. Statement-level, so even a zero-row UPDATE fails.
CREATE FUNCTION events_reject_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the event log is append-only: % on % is not allowed', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END
$$;

CREATE TRIGGER events_no_update_delete
    BEFORE UPDATE OR DELETE ON events
    FOR EACH STATEMENT EXECUTE FUNCTION events_reject_change();
CREATE TRIGGER events_no_truncate
    BEFORE TRUNCATE ON events
    FOR EACH STATEMENT EXECUTE FUNCTION events_reject_change();
CREATE TRIGGER append_requests_no_update_delete
    BEFORE UPDATE OR DELETE ON append_requests
    FOR EACH STATEMENT EXECUTE FUNCTION events_reject_change();
CREATE TRIGGER append_requests_no_truncate
    BEFORE TRUNCATE ON append_requests
    FOR EACH STATEMENT EXECUTE FUNCTION events_reject_change();

-- Position order is commit order: every insert into the log first takes one
-- transaction-scoped advisory lock, so appends commit one after another and a
-- reader that sees position N has already seen every position below N.
-- The trigger makes this hold even for an INSERT that bypasses the store's code.
-- Key 7_006_001 is Almanac's "event log append" lock (see store/src/log/append.rs).
CREATE FUNCTION events_serialise_appends() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(7006001);
    RETURN NULL;
END
$$;

CREATE TRIGGER events_serialise_appends
    BEFORE INSERT ON events
    FOR EACH STATEMENT EXECUTE FUNCTION events_serialise_appends();

REVOKE ALL ON events, append_requests FROM PUBLIC;
GRANT SELECT, INSERT ON events, append_requests TO almanac_app;
GRANT SELECT ON _sqlx_migrations TO almanac_app;
