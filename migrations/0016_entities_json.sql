-- Issue 14: the `entities` projection's JSON columns as `json`, not `jsonb`.
--
-- PostgreSQL parses a `jsonb` value into its binary form on every row written,
-- and that was a third of the projection's database cost in a cold ingest:
-- COPY of the 100k bench catalog's entity rows (104,001 rows, no indexes) took
-- 2.57 s into `descriptor jsonb`, 1.73 s into `descriptor json` (psql, the
-- 2-core bench machine). `json` only checks the text and stores it as written.
--
-- Nothing queries inside these values: lists, filters, facets and search are
-- answered from the in-memory catalog (readmodel/), and SQL reads only whole
-- descriptors by ref, source or origin (ingest state, elided descriptors, time
-- travel). No index or operator uses them (their GIN indexes went in 0006).
-- Where rows are compared on the server (`replay --verify`'s EXCEPT, a swap's
-- full join) these columns are cast to `jsonb` there: `json` has no equality.
--
-- The projector writes serde_json's compact text into them by both of its paths
-- (COPY and the bulk upsert), which is also the text a replay's row fingerprints
-- hash. Rows converted here keep `jsonb`'s output text (`{"a": 1}`), so the first
-- `replay` after this migration finds them different by fingerprint and rewrites
-- them once (never wrongly: the values are equal, only the text differs).
-- The replay's rebuild tables are created `LIKE entities`: they follow.
ALTER TABLE entities
    ALTER COLUMN labels DROP DEFAULT,
    ALTER COLUMN annotations DROP DEFAULT,
    ALTER COLUMN labels TYPE json USING labels::json,
    ALTER COLUMN annotations TYPE json USING annotations::json,
    ALTER COLUMN descriptor TYPE json USING descriptor::json,
    ALTER COLUMN labels SET DEFAULT '{}'::json,
    ALTER COLUMN annotations SET DEFAULT '{}'::json;
