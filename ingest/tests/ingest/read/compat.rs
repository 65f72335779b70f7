//! Backstage compatibility of a read: kinds refused unless built in or allowed by the
//! rules, Kubernetes manifests beside catalog files, glob Location targets.

use almanac_domain::rules::Rule;
use almanac_domain::KindRules;
use almanac_ingest::read::{read_sources_with, ReadWith};

use super::*;

const HTTP_ROUTE: &str = "apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\n\
    metadata:\n  name: web\nspec:\n  parentRefs:\n    - name: gateway\n";
const DESTINATION: &str = "apiVersion: platform.kratix.io/v1alpha1\nkind: Destination\n\
    metadata:\n  name: worker\nspec:\n  path: dev\n";
const AI_RESOURCE: &str =
    "apiVersion: example.com/v1\nkind: AiResource\nmetadata:\n  name: model\nspec: {}\n";
const GROUP: &str = "apiVersion: backstage.io/v1alpha1\nkind: Group\nmetadata:\n  name: admins\n\
    spec:\n  type: team\n  children: []\n";

async fn read_with_rules(path: &Path, rules: &KindRules) -> ReadOutcome {
    let with = ReadWith {
        rules: Some(rules),
        ..ReadWith::default()
    };
    let sources = [Source::File(path.to_path_buf())];
    read_sources_with(
        &sources,
        &ReadLimits::default(),
        &ReadPolicy::default(),
        with,
    )
    .await
}

fn rules(yaml: &str) -> Vec<Rule> {
    serde_yaml::from_str(yaml).expect("rules")
}

#[tokio::test]
async fn a_kubernetes_manifest_beside_a_catalog_file_is_refused_saying_why() {
    let dir = tempfile::tempdir().expect("temp dir");
    let text = [component("web"), HTTP_ROUTE.into(), DESTINATION.into()].join("---\n");
    let path = write(dir.path(), "catalog-info.yaml", &text);

    let outcome = read_file(&path).await;

    let file = &outcome.files[0];
    assert_eq!(names(file), ["web"]);
    let key = file_key(&path);
    assert_eq!(
        invalid(file),
        [
            (
                "httproute:default/web".to_string(),
                format!(
                    "document 2: no processor recognized the entity HTTPRoute:default/web as \
                     valid: kind HTTPRoute is not a Backstage kind (apiVersion \
                     gateway.networking.k8s.io/v1 belongs to gateway.networking.k8s.io, not to \
                     a catalog) and no catalog.rules entry allows it for location {key}"
                )
            ),
            (
                "destination:default/worker".to_string(),
                format!(
                    "document 3: no processor recognized the entity Destination:default/worker \
                     as valid: kind Destination is not a Backstage kind (apiVersion \
                     platform.kratix.io/v1alpha1 belongs to platform.kratix.io, not to a \
                     catalog) and no catalog.rules entry allows it for location {key}"
                )
            ),
        ]
    );
}

#[tokio::test]
async fn rules_allow_and_refuse_kinds_globally_and_per_location() {
    let dir = tempfile::tempdir().expect("temp dir");
    let team = write(
        dir.path(),
        "team/catalog-info.yaml",
        &[component("svc"), GROUP.into(), AI_RESOURCE.into()].join("---\n"),
    );
    let org = write(
        dir.path(),
        "org/org.yaml",
        &[GROUP, AI_RESOURCE].join("---\n"),
    );
    let configured = KindRules::configured(
        Some(rules("- allow: [Component, API, Location]\n")),
        [(
            "file".to_string(),
            org.display().to_string(),
            rules("- allow: [Group, AiResource]\n"),
        )],
    );

    let outcome = read_with_rules(&team, &configured).await;
    let file = &outcome.files[0];
    assert_eq!(names(file), ["svc"]);
    let refused = invalid(file);
    assert_eq!(refused[0].0, "group:default/admins");
    assert_eq!(
        refused[0].1,
        format!(
            "document 2: Group:default/admins is not of an allowed kind for location {}: \
             catalog.rules allow Component, API, Location there",
            file_key(&team)
        )
    );
    assert_eq!(refused[1].0, "airesource:default/model");
    assert!(
        refused[1]
            .1
            .starts_with("document 3: no processor recognized"),
        "{}",
        refused[1].1
    );

    let outcome = read_with_rules(&org, &configured).await;
    assert!(invalid(&outcome.files[0]).is_empty());
    assert_eq!(names(&outcome.files[0]), ["admins", "model"]);
}

#[tokio::test]
async fn a_glob_location_reads_nested_files_inside_its_root_only() {
    let dir = tempfile::tempdir().expect("temp dir");
    let repo = dir.path().join("repo");
    let root = write(
        &repo,
        "catalog-info.yaml",
        &location(
            "plugins",
            "  type: file\n  targets:\n    - ./plugins/**/catalog-info.yaml\n    - ../*.yaml\n",
        ),
    );
    write(&repo, "plugins/a/catalog-info.yaml", &component("a"));
    write(&repo, "plugins/b/deep/catalog-info.yaml", &component("b"));
    write(&repo, "plugins/b/other.yaml", &component("other"));
    write(dir.path(), "outside.yaml", &component("outside"));

    let outcome = read_file(&root).await;

    let read: Vec<String> = outcome
        .files
        .iter()
        .flat_map(|file| names(file).into_iter().map(str::to_string))
        .collect();
    assert_eq!(read, ["plugins", "a", "b"]);
    let escape = outcome.errors.iter().find(|e| e.key.ends_with("/*.yaml"));
    let escape = escape.expect("the glob outside the root fails");
    assert!(
        escape
            .message
            .starts_with("refused: outside the source's root"),
        "{}",
        escape.message
    );
    assert!(escape.message.ends_with(&format!(
        "(target of Location:default/plugins in {})",
        file_key(&root)
    )));
}

#[tokio::test]
async fn a_glob_matching_too_many_files_fails_naming_the_limit() {
    let dir = tempfile::tempdir().expect("temp dir");
    let root = write(
        dir.path(),
        "catalog-info.yaml",
        &location("all", "  type: file\n  target: ./teams/*.yaml\n"),
    );
    for name in ["a", "b", "c"] {
        write(dir.path(), &format!("teams/{name}.yaml"), &component(name));
    }
    let limits = ReadLimits {
        max_glob_matches: 2,
        ..ReadLimits::default()
    };
    let sources = [Source::File(root.clone())];
    let outcome = read_sources(&sources, &limits, &ReadPolicy::default()).await;
    assert_eq!(outcome.errors.len(), 1);
    assert_eq!(
        outcome.errors[0].message,
        format!(
            "the glob matches more than 2 files (limits.max_glob_matches); narrow it or raise \
             the limit (target of Location:default/all in {})",
            file_key(&root)
        )
    );
    assert!(!outcome.is_complete(&file_key(&root)));
}
