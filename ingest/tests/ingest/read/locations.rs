//! Location entities: relative targets, presence, cycles, the depth limit.

use almanac_ingest::read::Source;

use super::*;

#[tokio::test]
async fn location_targets_resolve_relative_to_their_file_and_are_read() {
    let dir = tempfile::tempdir().expect("temp dir");
    let root = dir.path();
    let spec =
        "  targets:\n    - ./services/catalog-info.yaml\n    - ./team/../shared/catalog-info.yaml\n    \
                - ./not-there.yaml\n  presence: optional\n";
    let parent = write(root, "repo/catalog-info.yaml", &location("root", spec));
    let services = write(root, "repo/services/catalog-info.yaml", &component("svc"));
    // `..` is fine while the target stays under the root file's directory.
    let shared = write(root, "repo/shared/catalog-info.yaml", &component("lib"));

    let outcome = read_file(&parent).await;

    assert!(outcome.errors.is_empty(), "{:?}", outcome.errors);
    let mut expected = [file_key(&parent), file_key(&services), file_key(&shared)];
    expected.sort();
    assert_eq!(keys(&outcome), expected);
    let origin = file_key(&parent);
    assert!(outcome.files.iter().all(|file| file.origin == origin));
    // The Location is itself an entity of its own file.
    let root_file = outcome.file(&origin).expect("root file");
    assert_eq!(names(root_file), ["root"]);
    let svc = valid(outcome.file(&file_key(&services)).expect("services"))[0];
    assert_eq!(
        managed_by(svc),
        (Some(file_key(&services).as_str()), Some(origin.as_str()))
    );
    assert!(outcome.is_complete(&origin));
}

#[tokio::test]
async fn a_missing_required_target_is_a_failure_naming_it() {
    let dir = tempfile::tempdir().expect("temp dir");
    let spec = "  target: ./gone/catalog-info.yaml\n";
    let parent = write(dir.path(), "catalog-info.yaml", &location("needs-it", spec));

    let outcome = read_file(&parent).await;

    assert_eq!(keys(&outcome), [file_key(&parent)]);
    let missing = file_key(&dir.path().join("gone/catalog-info.yaml"));
    assert_eq!(outcome.errors.len(), 1);
    let error = &outcome.errors[0];
    assert_eq!(error.key, missing);
    assert_eq!(error.origin, file_key(&parent));
    assert_eq!(
        error.to_string(),
        format!(
            "{missing}: no such file (target of Location:default/needs-it in {})",
            file_key(&parent)
        )
    );
    assert!(!outcome.is_complete(&file_key(&parent)));
}

#[tokio::test]
async fn a_location_cycle_ends_with_each_file_read_once() {
    let dir = tempfile::tempdir().expect("temp dir");
    let a = write(dir.path(), "a.yaml", &location("a", "  target: ./b.yaml\n"));
    let b = write(
        dir.path(),
        "b.yaml",
        &location("b", "  targets: [./a.yaml, ./b.yaml]\n"),
    );

    let outcome = read_file(&a).await;

    assert!(outcome.errors.is_empty(), "{:?}", outcome.errors);
    assert_eq!(keys(&outcome), [file_key(&a), file_key(&b)]);
}

#[tokio::test]
async fn a_chain_deeper_than_the_limit_stops_with_a_failure() {
    let dir = tempfile::tempdir().expect("temp dir");
    for level in 0..5 {
        let next = format!("  target: ./{}.yaml\n", level + 1);
        write(
            dir.path(),
            &format!("{level}.yaml"),
            &location(&format!("l{level}"), &next),
        );
    }
    let limits = ReadLimits {
        max_location_depth: 2,
        ..ReadLimits::default()
    };

    let outcome = read_sources(
        &[Source::File(dir.path().join("0.yaml"))],
        &limits,
        &ReadPolicy::default(),
    )
    .await;

    let read: Vec<String> = (0..3)
        .map(|l| file_key(&dir.path().join(format!("{l}.yaml"))))
        .collect();
    assert_eq!(keys(&outcome), read);
    assert_eq!(outcome.errors.len(), 1);
    assert_eq!(outcome.errors[0].key, file_key(&dir.path().join("3.yaml")));
    assert!(outcome.errors[0]
        .message
        .starts_with("Location entities nest deeper than 2 levels"));
}

#[tokio::test]
async fn unsupported_or_forbidden_targets_are_failures() {
    let dir = tempfile::tempdir().expect("temp dir");
    let spec = "  type: github-discovery\n  target: https://github.com/org\n";
    let path = write(dir.path(), "catalog-info.yaml", &location("odd", spec));
    let pushed = Source::Text {
        name: "push".into(),
        text: location("sneaky", "  type: file\n  target: /etc/passwd\n"),
    };

    let outcome = read(&[Source::File(path), pushed]).await;

    let errors: Vec<(&str, &str)> = outcome
        .errors
        .iter()
        .map(|e| (e.key.as_str(), e.message.as_str()))
        .collect();
    assert_eq!(errors.len(), 2, "{errors:?}");
    assert_eq!(errors[0].0, "file:/etc/passwd");
    assert!(errors[0]
        .1
        .starts_with("a pushed document may not read files from the server"));
    assert_eq!(errors[1].0, "github-discovery:https://github.com/org");
    assert!(errors[1]
        .1
        .starts_with("unsupported location type github-discovery"));
}

/// A Location naming `./z.yaml` then `./a.yaml`, one component each: the Location's
/// path, then z's, then a's.
fn z_then_a() -> (tempfile::TempDir, [std::path::PathBuf; 3]) {
    let dir = tempfile::tempdir().expect("temp dir");
    let root = dir.path();
    let spec = "  targets:\n    - ./z.yaml\n    - ./a.yaml\n";
    let parent = write(root, "catalog-info.yaml", &location("root", spec));
    let z = write(root, "z.yaml", &component("zed"));
    let a = write(root, "a.yaml", &component("ay"));
    (dir, [parent, z, a])
}

#[tokio::test]
async fn files_come_out_in_read_order_a_locations_targets_as_it_names_them() {
    let (_dir, [parent, z, a]) = z_then_a();

    let outcome = read_file(&parent).await;

    assert!(outcome.errors.is_empty(), "{:?}", outcome.errors);
    assert_eq!(
        keys(&outcome),
        [file_key(&parent), file_key(&z), file_key(&a)]
    );
    assert_eq!(names(outcome.file(&file_key(&a)).expect("a.yaml")), ["ay"]);
}

/// With a sink, the files go there in read order and not into the outcome; a sink
/// nobody takes from any more ends the read instead of holding it.
#[tokio::test]
async fn a_sink_takes_the_files_in_read_order_and_a_closed_one_ends_the_read() {
    use almanac_ingest::read::{read_sources_with, ReadWith};
    let (_dir, [parent, z, a]) = z_then_a();
    let sources = [Source::File(parent.clone())];
    let (limits, policy) = (ReadLimits::default(), ReadPolicy::default());

    let (sink, mut files) = tokio::sync::mpsc::channel(8);
    let with = ReadWith {
        sink: Some(&sink),
        ..ReadWith::default()
    };
    let outcome = read_sources_with(&sources, &limits, &policy, with).await;
    drop(sink);
    assert!(outcome.files.is_empty());
    assert!(outcome.errors.is_empty(), "{:?}", outcome.errors);
    let mut sent = Vec::new();
    while let Some(read) = files.recv().await {
        sent.extend(read.into_iter().map(|file| file.key));
    }
    assert_eq!(sent, [file_key(&parent), file_key(&z), file_key(&a)]);

    let (sink, files) = tokio::sync::mpsc::channel(8);
    drop(files);
    let with = ReadWith {
        sink: Some(&sink),
        ..ReadWith::default()
    };
    let outcome = read_sources_with(&sources, &limits, &policy, with).await;
    assert!(outcome.files.is_empty() && outcome.errors.is_empty());
}
