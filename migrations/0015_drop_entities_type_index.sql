-- entities_type_idx served no query (lists, filters and facets are the read model's,
-- issue 13); it was kept only because its btree row limit was the real database
-- refusal the poison tests project against. Every projected row paid for it: a
-- COPY of the 100k bench catalog's 104,001 entity rows took 4.5 s with it and 4.0 s
-- without (psql, 2026-12-02). The poison tests now create the same kind of index in
-- their own database (almanac_store::testing::refuse_long_spec_types).
DROP INDEX IF EXISTS entities_type_idx;
