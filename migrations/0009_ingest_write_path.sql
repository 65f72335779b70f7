-- Issue 14, the write path of ingest.
--
-- 1. A Location file can be skipped like any other unchanged source: its
--    targets, as its Location entities write them, are recorded with its digest
--    (ingest follows them from here instead of parsing the file). NULL: the
--    source leads nowhere. Opaque to the database (ingest's `read::location`).
ALTER TABLE source_digests ADD COLUMN targets jsonb;

-- 2. The single-registration guard (0004) fires only for a registration that
--    has an earlier event in its stream. A registration at version 1 is the
--    stream's first event ((stream, version) is unique and versions start at
--    1), so the function could only find nothing there and accept it: the
--    guarantee is the same, and a cold ingest no longer runs one plpgsql call
--    and one index probe per event. The function itself is unchanged.
DROP TRIGGER events_single_registration ON events;
CREATE TRIGGER events_single_registration
    BEFORE INSERT ON events
    FOR EACH ROW WHEN (NEW.event_type = 'EntityRegistered' AND NEW.version > 1)
    EXECUTE FUNCTION events_single_registration();
