//! `$text`, `$json` and `$yaml` placeholders, relative to a file and to a URL.

use almanac_ingest::read::Source;
use serde_json::json;

use super::*;

fn api(name: &str, definition: &str) -> String {
    format!(
        "apiVersion: backstage.io/v1alpha1\nkind: API\nmetadata:\n  name: {name}\nspec:\n  type: openapi\n  \
         lifecycle: production\n  owner: team-a\n  definition:\n    {definition}\n"
    )
}

const OPENAPI: &str = "openapi: 3.0.3\ninfo:\n  title: Pets\npaths:\n  /pets:\n    get:\n      \
                       responses:\n        200:\n          description: ok\n";

fn with_extra(name: &str, extra: &str) -> String {
    format!(
        "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: {name}\nspec:\n  type: service\n  \
         lifecycle: production\n  owner: team-a\n  extra:\n    {extra}\n"
    )
}

#[tokio::test]
async fn text_and_yaml_placeholders_resolve_relative_to_the_file() {
    let dir = tempfile::tempdir().expect("temp dir");
    write(dir.path(), "specs/openapi.yaml", OPENAPI);
    write(dir.path(), "specs/data.json", r#"{"list": [1, 2]}"#);
    let text = [
        api("pets", "$text: ./specs/openapi.yaml"),
        with_extra("parsed", "$yaml: specs/openapi.yaml"),
        with_extra("json", "$json: ./specs/../specs/data.json"),
    ]
    .join("---\n");
    let path = write(dir.path(), "catalog-info.yaml", &text);

    let outcome = read_file(&path).await;

    assert!(outcome.errors.is_empty(), "{:?}", outcome.errors);
    let entities = valid(&outcome.files[0]);
    assert_eq!(entities.len(), 3, "{:?}", invalid(&outcome.files[0]));
    assert_eq!(entities[0].spec_str("definition"), Some(OPENAPI));
    let responses = json!({"200": {"description": "ok"}});
    let parsed = json!({"openapi": "3.0.3", "info": {"title": "Pets"}, "paths": {"/pets": {"get": {"responses": responses}}}});
    assert_eq!(entities[1].spec()["extra"], parsed);
    assert_eq!(entities[2].spec()["extra"], json!({"list": [1, 2]}));
}

#[tokio::test]
async fn an_unresolvable_placeholder_makes_its_entity_invalid_naming_the_field() {
    let dir = tempfile::tempdir().expect("temp dir");
    write(dir.path(), "broken.json", "{not json");
    let text = [
        api("missing", "$text: ./openapi.yaml"),
        with_extra("bad-json", "$json: ./broken.json"),
        component("fine"),
    ]
    .join("---\n");
    let path = write(dir.path(), "catalog-info.yaml", &text);

    let outcome = read_file(&path).await;

    assert!(outcome.errors.is_empty(), "{:?}", outcome.errors);
    let file = &outcome.files[0];
    assert_eq!(names(file), ["fine"]);
    let missing = file_key(&dir.path().join("openapi.yaml"));
    let broken = file_key(&dir.path().join("broken.json"));
    assert_eq!(
        invalid(file),
        [
            (
                "api:default/missing".to_string(),
                format!(
                    "spec.definition: cannot read $text ./openapi.yaml: {missing}: no such file"
                )
            ),
            (
                "component:default/bad-json".to_string(),
                format!(
                    "spec.extra: cannot read $json ./broken.json: {broken}: invalid JSON: \
                     key must be a string at line 1 column 2"
                )
            ),
        ]
    );
}

#[tokio::test]
async fn placeholders_of_a_url_resolve_against_the_url() {
    let catalog = [
        api("remote", "$text: ../specs/openapi.yaml"),
        with_extra("remote-yaml", "$yaml: /specs/openapi.yaml"),
    ]
    .join("---\n");
    let base = serve(&[
        ("/repo/catalog-info.yaml", &catalog),
        ("/specs/openapi.yaml", OPENAPI),
    ])
    .await;
    let url = format!("{base}/repo/catalog-info.yaml");

    let outcome = read_allowing(&[Source::Url(url.clone())], &[&base]).await;

    assert!(outcome.errors.is_empty(), "{:?}", outcome.errors);
    assert_eq!(keys(&outcome), [format!("url:{url}")]);
    let entities = valid(&outcome.files[0]);
    assert_eq!(entities.len(), 2, "{:?}", invalid(&outcome.files[0]));
    assert_eq!(entities[0].spec_str("definition"), Some(OPENAPI));
    assert_eq!(entities[1].spec()["extra"]["info"]["title"], "Pets");
}

#[tokio::test]
async fn a_pushed_text_may_not_read_the_servers_files() {
    let dir = tempfile::tempdir().expect("temp dir");
    let secret = write(dir.path(), "secret.yaml", "password: hunter2\n");
    let absolute = format!("$text: {}", secret.display());
    let text = [
        api("relative", "$text: ./openapi.yaml"),
        api("absolute", &absolute),
    ]
    .join("---\n");
    let source = Source::Text {
        name: "push".into(),
        text,
    };

    let outcome = read(&[source]).await;

    assert!(outcome.errors.is_empty(), "{:?}", outcome.errors);
    let invalid = invalid(&outcome.files[0]);
    assert_eq!(invalid.len(), 2);
    assert_eq!(invalid[0].0, "api:default/relative");
    assert!(invalid[0].1.starts_with(
        "spec.definition: cannot read $text ./openapi.yaml: a pushed document may not read files from the server"
    ), "{}", invalid[0].1);
    assert!(
        invalid[1]
            .1
            .contains("a pushed document may not read files"),
        "{}",
        invalid[1].1
    );
    assert!(!invalid[1].1.contains("hunter2"));
}

#[tokio::test]
async fn placeholders_are_held_to_the_size_limits() {
    let dir = tempfile::tempdir().expect("temp dir");
    write(dir.path(), "big.txt", &"x".repeat(3000));
    write(dir.path(), "small.txt", &"y".repeat(600));
    let text = [
        api("too-big", "$text: ./big.txt"),
        api("one", "$text: ./small.txt"),
        api("two", "$text: ./small.txt"),
    ]
    .join("---\n");
    let path = write(dir.path(), "catalog-info.yaml", &text);
    let limits = ReadLimits {
        max_file_bytes: 2000,
        max_placeholder_bytes: 1000,
        ..ReadLimits::default()
    };

    let outcome = read_sources(&[Source::File(path)], &limits, &ReadPolicy::default()).await;

    let file = &outcome.files[0];
    assert_eq!(names(file), ["one"]);
    let invalid = invalid(file);
    assert!(
        invalid[0]
            .1
            .ends_with("file is 3000 bytes, over the limit of 2000 bytes"),
        "{}",
        invalid[0].1
    );
    assert!(
        invalid[1].1.ends_with("add more than 1000 bytes in total"),
        "{}",
        invalid[1].1
    );
}
