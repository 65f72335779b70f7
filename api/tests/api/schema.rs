//! `schema.graphql` at the repository root is the schema the code builds.
//! Regenerate it with `UPDATE_SCHEMA=1 cargo test -p almanac-api schema`.

use std::path::Path;

#[test]
fn checked_in_schema_matches_the_code() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../schema.graphql");
    let generated = almanac_api::schema_sdl();
    if std::env::var_os("UPDATE_SCHEMA").is_some() {
        std::fs::write(&path, &generated).unwrap();
        return;
    }
    let checked_in = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        checked_in == generated,
        "schema.graphql differs from the schema the code builds; review the change and \
         regenerate it with `UPDATE_SCHEMA=1 cargo test -p almanac-api schema`"
    );
}
