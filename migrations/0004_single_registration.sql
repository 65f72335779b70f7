-- A stream holds at most one live registration: an EntityRegistered must be the
-- stream's first event or come after its removal. The store's append path
-- already decides from stream heads read under the append lock; this makes a
-- second registration impossible even for an INSERT that bypasses the store.
--
-- Cheap: it fires only for EntityRegistered rows (WHEN clause), and looks at one
-- index entry, the stream's latest registration or removal, through the
-- (stream, version) unique index. Inserts are already serialised by the
-- statement trigger's advisory lock, so no concurrent insert can slip between
-- this check and the row. Earlier rows of the same INSERT statement are visible
-- to a row-level BEFORE trigger, so a batch cannot register twice either.
CREATE FUNCTION events_single_registration() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    latest text;
BEGIN
    SELECT event_type INTO latest FROM events
     WHERE stream = NEW.stream AND version < NEW.version
       AND event_type IN ('EntityRegistered', 'EntityRemoved')
     ORDER BY version DESC LIMIT 1;
    IF latest = 'EntityRegistered' THEN
        -- SQLSTATE AL001 is Almanac's "already registered"; the store maps it to
        -- a typed error by code, and DETAIL carries the stream.
        RAISE EXCEPTION 'stream % already holds a live registration', NEW.stream
            USING ERRCODE = 'AL001', DETAIL = NEW.stream;
    END IF;
    RETURN NEW;
END
$$;

CREATE TRIGGER events_single_registration
    BEFORE INSERT ON events
    FOR EACH ROW WHEN (NEW.event_type = 'EntityRegistered')
    EXECUTE FUNCTION events_single_registration();
