//! The demo catalog (`examples/demo`, facts in its README) read from its root Location.

use std::collections::BTreeMap;
use std::path::PathBuf;

use super::*;

fn demo_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/demo")
}

#[tokio::test]
async fn the_demo_catalog_reads_whole() {
    let dir = std::fs::canonicalize(demo_dir()).expect("examples/demo exists");
    let root = dir.join("catalog-info.yaml");

    let outcome = read_file(&root).await;

    // The optional location's missing target is no failure.
    assert!(outcome.errors.is_empty(), "{:?}", outcome.errors);
    assert!(outcome.is_complete(&file_key(&root)));
    assert_eq!(outcome.files.len(), 73);
    assert!(outcome
        .file(&file_key(&dir.join("optional/not-there/catalog-info.yaml")))
        .is_none());

    let entities: Vec<&Entity> = outcome.files.iter().flat_map(valid).collect();
    assert_eq!(entities.len(), 175);
    let mut by_kind = BTreeMap::new();
    for entity in &entities {
        *by_kind.entry(entity.kind().as_str()).or_insert(0) += 1;
    }
    let expected = [
        ("API", 23),
        ("Component", 61),
        ("Domain", 4),
        ("Group", 18),
        ("Location", 2),
        ("Resource", 16),
        ("System", 10),
        ("Template", 1),
        ("User", 40),
    ];
    assert_eq!(by_kind, BTreeMap::from(expected));

    let invalid: Vec<(String, String)> = outcome.files.iter().flat_map(invalid).collect();
    assert_eq!(invalid.len(), 1);
    assert_eq!(invalid[0].0, "component:default/legacy-invoice-exporter");
    assert!(
        invalid[0].1.contains("spec.owner is required"),
        "{}",
        invalid[0].1
    );
    let renderer = outcome
        .file(&file_key(
            &dir.join("systems/orders/invoice-renderer/catalog-info.yaml"),
        ))
        .expect("invoice-renderer's file");
    assert_eq!(names(renderer), ["invoice-renderer"]);

    let payments_api = entities
        .iter()
        .find(|entity| entity.entity_ref().canonical() == "api:default/payments-api")
        .expect("payments-api");
    let openapi =
        std::fs::read_to_string(dir.join("systems/payments/payments-gateway/openapi.yaml"))
            .expect("openapi.yaml");
    assert_eq!(payments_api.spec_str("definition"), Some(openapi.as_str()));

    for file in &outcome.files {
        for entity in valid(file) {
            assert_eq!(
                managed_by(entity),
                (Some(file.key.as_str()), Some(file_key(&root).as_str()))
            );
        }
    }
}
