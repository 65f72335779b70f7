//! Plain files and directories: candidates per file, invalid documents, globs, the
//! managed-by annotations.

use almanac_ingest::read::Source;

use super::*;

#[tokio::test]
async fn a_file_with_three_entities_gives_three_valid_candidates() {
    let dir = tempfile::tempdir().expect("temp dir");
    let text = [component("a"), component("b"), component("c")].join("---\n");
    let path = write(dir.path(), "catalog-info.yaml", &text);

    let outcome = read_file(&path).await;

    assert!(outcome.errors.is_empty(), "{:?}", outcome.errors);
    assert_eq!(keys(&outcome), [file_key(&path)]);
    let file = &outcome.files[0];
    assert_eq!(file.origin, file_key(&path));
    assert_eq!(names(file), ["a", "b", "c"]);
    assert!(outcome.is_complete(&file.origin));
}

#[tokio::test]
async fn an_invalid_document_does_not_stop_the_rest_of_the_file() {
    let dir = tempfile::tempdir().expect("temp dir");
    let no_owner =
        "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: broken\n\
                    spec:\n  type: service\n  lifecycle: production\n";
    let bad_yaml = "kind: [unclosed\n";
    let text = [
        component("first"),
        no_owner.into(),
        bad_yaml.into(),
        component("last"),
    ]
    .join("---\n");
    let path = write(dir.path(), "catalog-info.yaml", &text);

    let outcome = read_file(&path).await;

    assert!(outcome.errors.is_empty(), "{:?}", outcome.errors);
    let file = &outcome.files[0];
    assert_eq!(names(file), ["first", "last"]);
    let invalid = invalid(file);
    assert_eq!(invalid.len(), 2);
    assert_eq!(invalid[0].0, "component:default/broken");
    assert!(
        invalid[0].1.contains("spec.owner is required"),
        "{}",
        invalid[0].1
    );
    assert_eq!(invalid[1].0, "-");
    assert!(
        invalid[1].1.starts_with("document 3 (line "),
        "{}",
        invalid[1].1
    );
    assert!(invalid[1].1.contains("invalid YAML"), "{}", invalid[1].1);
}

#[tokio::test]
async fn a_directory_source_reads_the_files_matching_its_glob_sorted() {
    let dir = tempfile::tempdir().expect("temp dir");
    let root = dir.path();
    write(root, "catalog-info.yaml", &component("top"));
    write(root, "b/catalog-info.yaml", &component("b"));
    write(root, "a/deep/er/catalog-info.yaml", &component("deep"));
    write(root, "a/other.yaml", &component("other"));
    write(root, "a/catalog-info.yml", &component("yml"));
    write(root, "notes.txt", "not yaml: [");
    #[cfg(unix)]
    std::os::unix::fs::symlink(root.join("b"), root.join("link")).expect("symlink");

    let outcome = read(&[Source::directory(root)]).await;

    assert!(outcome.errors.is_empty(), "{:?}", outcome.errors);
    let expected = [
        "a/deep/er/catalog-info.yaml",
        "b/catalog-info.yaml",
        "catalog-info.yaml",
    ]
    .map(|relative| file_key(&root.join(relative)));
    assert_eq!(keys(&outcome), expected);
    let origin = format!("file:{}/**/catalog-info.yaml", root.display());
    assert!(outcome.files.iter().all(|file| file.origin == origin));
    let file = outcome.file(&expected[0]).expect("deep file");
    assert_eq!(names(file), ["deep"]);
    assert_eq!(
        managed_by(valid(file)[0]),
        (Some(expected[0].as_str()), Some(origin.as_str()))
    );

    let yaml_only = Source::Directory {
        root: root.to_path_buf(),
        glob: "a/*.yaml".into(),
    };
    let outcome = read(&[yaml_only]).await;
    assert_eq!(keys(&outcome), [file_key(&root.join("a/other.yaml"))]);
}

#[tokio::test]
async fn a_directory_with_more_files_than_the_limit_fails_whole() {
    let dir = tempfile::tempdir().expect("temp dir");
    for name in ["a", "b", "c"] {
        write(
            dir.path(),
            &format!("{name}/catalog-info.yaml"),
            &component(name),
        );
    }
    let limits = ReadLimits {
        max_files: 2,
        ..ReadLimits::default()
    };
    let source = Source::directory(dir.path());

    let outcome = read_sources(
        std::slice::from_ref(&source),
        &limits,
        &ReadPolicy::default(),
    )
    .await;

    assert!(outcome.files.is_empty());
    assert_eq!(outcome.errors.len(), 1);
    assert_eq!(outcome.errors[0].key, source.origin());
    assert!(outcome.errors[0]
        .message
        .contains("more than 2 files match **/catalog-info.yaml"));
    assert!(!outcome.is_complete(&source.origin()));
}

#[tokio::test]
async fn a_missing_file_or_directory_is_a_failure_not_an_empty_file() {
    let dir = tempfile::tempdir().expect("temp dir");
    let missing = dir.path().join("nope.yaml");
    let sources = [
        Source::File(missing.clone()),
        Source::directory(dir.path().join("nodir")),
    ];

    let outcome = read(&sources).await;

    assert!(outcome.files.is_empty());
    let errors: Vec<String> = outcome.errors.iter().map(ToString::to_string).collect();
    assert_eq!(
        errors,
        [
            format!(
                "file:{}/nodir/**/catalog-info.yaml: no such directory",
                dir.path().display()
            ),
            format!("{}: no such file", file_key(&missing)),
        ]
    );
}

#[tokio::test]
async fn managed_by_annotations_are_set_and_an_authors_own_are_overwritten() {
    let dir = tempfile::tempdir().expect("temp dir");
    let text = "apiVersion: backstage.io/v1alpha1\nkind: Group\nmetadata:\n  name: team-a\n  annotations:\n    \
                backstage.io/managed-by-location: url:https://elsewhere.example/x.yaml\n    \
                backstage.io/managed-by-origin-location: url:https://elsewhere.example/root.yaml\n    \
                example.com/kept: yes-it-is\nspec:\n  type: team\n  children: []\n";
    // A relative path with `..` becomes an absolute, clean key.
    let path = write(dir.path(), "team/catalog-info.yaml", text);
    let relative = dir.path().join("team/../team/./catalog-info.yaml");

    let outcome = read_file(&relative).await;

    let key = file_key(&path);
    assert_eq!(keys(&outcome), [key.as_str()]);
    let group = valid(&outcome.files[0])[0];
    assert_eq!(managed_by(group), (Some(key.as_str()), Some(key.as_str())));
    assert_eq!(group.annotation("example.com/kept"), Some("yes-it-is"));
}

#[tokio::test]
async fn a_pushed_text_is_keyed_by_its_name() {
    let source = Source::Text {
        name: "ci-push".into(),
        text: [component("pushed"), component("also")].join("---\n"),
    };

    let outcome = read(&[source]).await;

    assert!(outcome.errors.is_empty(), "{:?}", outcome.errors);
    assert_eq!(keys(&outcome), ["api:ci-push"]);
    let file = &outcome.files[0];
    assert_eq!(file.origin, "api:ci-push");
    assert_eq!(names(file), ["pushed", "also"]);
    assert_eq!(
        managed_by(valid(file)[0]),
        (Some("api:ci-push"), Some("api:ci-push"))
    );
}
