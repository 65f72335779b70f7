//! File reads stay inside their roots: placeholders and Location targets of a file source
//! are read only under the directory the source was configured with, after `..` and
//! symbolic links are resolved. Outside, they are refused (a missing file outside too, so
//! nothing outside can be probed); inside, they are read.

use std::os::unix::fs::symlink;
use std::path::Path;

use almanac_ingest::read::Source;

use super::*;

const SECRET: &str = "outside-secret-5521";

/// `<tmp>/root/...` (the source) beside `<tmp>/outside/secret.yaml`, with links inside
/// the root to the outside file and directory, and to a file inside.
fn layout(tmp: &Path) -> std::path::PathBuf {
    let root = tmp.join("root");
    write(
        tmp,
        "outside/secret.yaml",
        &format!("{}# {SECRET}\n", component("stolen")),
    );
    write(&root, "inside/spec.yaml", "openapi: 3.0.0\n");
    write(&root, "inside/catalog-info.yaml", &component("neighbour"));
    symlink(tmp.join("outside/secret.yaml"), root.join("link-out.yaml")).expect("symlink");
    symlink(tmp.join("outside"), root.join("dir-out")).expect("symlink");
    symlink(root.join("inside/spec.yaml"), root.join("link-in.yaml")).expect("symlink");
    root
}

/// Reads `root/catalog-info.yaml`, a Location with `spec`, and checks that it and its one
/// readable target, `inside/catalog-info.yaml` (the neighbour), were read: its path and
/// the outcome.
async fn read_location_reaching_the_neighbour(
    root: &Path,
    spec: &str,
) -> (std::path::PathBuf, ReadOutcome) {
    let path = write(root, "catalog-info.yaml", &location("root", spec));
    let outcome = read_file(&path).await;
    assert_eq!(
        keys(&outcome),
        [
            file_key(&path),
            file_key(&root.join("inside/catalog-info.yaml"))
        ]
    );
    assert_eq!(names(&outcome.files[1]), ["neighbour"]);
    (path, outcome)
}

fn refused(message: &str, root: &Path) -> bool {
    message.contains(&format!(
        "refused: outside the source's root {}",
        root.canonicalize().expect("root").display()
    ))
}

#[tokio::test]
async fn placeholders_outside_the_root_are_refused_and_inside_are_read() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let root = layout(tmp.path());
    let outside = tmp.path().join("outside/secret.yaml");
    let cases = [
        ("up", "../outside/secret.yaml".to_string()),
        ("absolute", outside.display().to_string()),
        ("link", "./link-out.yaml".to_string()),
        ("through-dir-link", "./dir-out/secret.yaml".to_string()),
        ("missing-outside", "../outside/nothing.yaml".to_string()),
        ("etc", "../../../../../../../../etc/hostname".to_string()),
    ];
    let mut text: Vec<String> = cases
        .iter()
        .map(|(name, target)| api_with(name, "$text", target))
        .collect();
    text.push(api_with("inside", "$text", "./inside/spec.yaml"));
    text.push(api_with("link-inside", "$text", "./link-in.yaml"));
    let path = write(&root, "catalog-info.yaml", &text.join("---\n"));

    let outcome = read_file(&path).await;

    assert!(outcome.errors.is_empty(), "{:?}", outcome.errors);
    let file = &outcome.files[0];
    assert_eq!(names(file), ["inside", "link-inside"]);
    for entity in valid(file) {
        assert_eq!(entity.spec_str("definition"), Some("openapi: 3.0.0\n"));
    }
    let invalid = invalid(file);
    assert_eq!(invalid.len(), cases.len(), "{invalid:?}");
    for (entity_ref, message) in &invalid {
        assert!(refused(message, &root), "{entity_ref}: {message}");
        assert!(!message.contains(SECRET));
    }
}

#[tokio::test]
async fn location_targets_outside_the_root_are_refused_and_inside_are_read() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let root = layout(tmp.path());
    let outside = tmp.path().join("outside/secret.yaml");
    let spec = format!(
        "  targets:\n    - ../outside/secret.yaml\n    - {}\n    - ./link-out.yaml\n    \
         - ./dir-out/secret.yaml\n    - ./inside/catalog-info.yaml\n",
        outside.display()
    );
    let (_, outcome) = read_location_reaching_the_neighbour(&root, &spec).await;

    let failed: Vec<&str> = outcome.errors.iter().map(|e| e.key.as_str()).collect();
    assert_eq!(failed.len(), 3, "{:?}", outcome.errors);
    for error in &outcome.errors {
        assert!(refused(&error.message, &root), "{error}");
    }
    assert!(!format!("{outcome:?}").contains(SECRET));
    assert!(!format!("{outcome:?}").contains("stolen"));
}

#[tokio::test]
async fn a_directory_source_is_held_to_its_root_and_its_root_may_be_a_link() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let root = layout(tmp.path());
    write(
        &root,
        "team/catalog-info.yaml",
        &location(
            "team",
            "  targets:\n    - ../inside/catalog-info.yaml\n    - ../../outside/secret.yaml\n",
        ),
    );
    let linked_root = tmp.path().join("linked-root");
    symlink(&root, &linked_root).expect("symlink");

    let outcome = read(&[Source::directory(&linked_root)]).await;

    let names: Vec<&str> = outcome.files.iter().flat_map(names).collect();
    assert!(names.contains(&"neighbour"), "{names:?}");
    assert!(!names.contains(&"stolen"));
    assert_eq!(outcome.errors.len(), 1, "{:?}", outcome.errors);
    assert!(
        refused(&outcome.errors[0].message, &root),
        "{}",
        outcome.errors[0]
    );
}

/// Files of one directory are resolved through that directory's resolution (kept for
/// the read): a link among plain files of a directory already resolved is still
/// followed and refused when it leads outside, and a directory that is a link to the
/// outside is refused for every file in it.
#[tokio::test]
async fn a_link_beside_plain_files_of_a_resolved_directory_is_still_refused() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let root = layout(tmp.path());
    write(&root, "inside/second.yaml", &component("second"));
    symlink(
        tmp.path().join("outside/secret.yaml"),
        root.join("inside/link-out.yaml"),
    )
    .expect("symlink");
    write(tmp.path(), "outside/other.yaml", &component("other"));
    let spec = "  targets:\n    - ./inside/catalog-info.yaml\n    - ./inside/second.yaml\n    \
                - ./inside/link-out.yaml\n    - ./dir-out/secret.yaml\n    \
                - ./dir-out/other.yaml\n";
    let path = write(&root, "catalog-info.yaml", &location("root", spec));

    let outcome = read_file(&path).await;

    assert_eq!(
        keys(&outcome),
        [
            file_key(&path),
            file_key(&root.join("inside/catalog-info.yaml")),
            file_key(&root.join("inside/second.yaml")),
        ]
    );
    let failed: Vec<&str> = outcome.errors.iter().map(|e| e.key.as_str()).collect();
    assert_eq!(
        failed,
        [
            file_key(&root.join("dir-out/other.yaml")),
            file_key(&root.join("dir-out/secret.yaml")),
            file_key(&root.join("inside/link-out.yaml")),
        ],
        "{:?}",
        outcome.errors
    );
    for error in &outcome.errors {
        assert!(refused(&error.message, &root), "{error}");
    }
    assert!(!format!("{outcome:?}").contains(SECRET));
}

#[tokio::test]
async fn directories_resolved_through_their_parents_still_refuse_a_linked_directory() {
    // Directories below one already resolved are resolved through it (one lstat each):
    // a plain one is read, a link to the outside is refused, a link inside is read.
    let tmp = tempfile::tempdir().expect("temp dir");
    let root = layout(tmp.path());
    write(&root, "inside/deeper/third.yaml", &component("third"));
    write(
        &root,
        "inside/deeper/down/fourth.yaml",
        &component("fourth"),
    );
    symlink(tmp.path().join("outside"), root.join("inside/deeper/out")).expect("symlink");
    symlink(root.join("inside/deeper"), root.join("inside/again")).expect("symlink");
    let spec =
        "  targets:\n    - ./inside/catalog-info.yaml\n    - ./inside/deeper/third.yaml\n    \
                - ./inside/deeper/down/fourth.yaml\n    - ./inside/deeper/out/secret.yaml\n    \
                - ./inside/again/down/fourth.yaml\n";
    let path = write(&root, "catalog-info.yaml", &location("root", spec));

    let outcome = read_file(&path).await;

    let mut read = keys(&outcome);
    read.sort();
    let mut expected = [
        file_key(&path),
        file_key(&root.join("inside/catalog-info.yaml")),
        file_key(&root.join("inside/deeper/third.yaml")),
        file_key(&root.join("inside/deeper/down/fourth.yaml")),
        file_key(&root.join("inside/again/down/fourth.yaml")),
    ];
    expected.sort();
    assert_eq!(read, expected);
    let failed: Vec<&str> = outcome.errors.iter().map(|e| e.key.as_str()).collect();
    assert_eq!(
        failed,
        [file_key(&root.join("inside/deeper/out/secret.yaml"))],
        "{:?}",
        outcome.errors
    );
    assert!(
        refused(&outcome.errors[0].message, &root),
        "{:?}",
        outcome.errors
    );
    assert!(!format!("{outcome:?}").contains(SECRET));
}

#[tokio::test]
async fn a_target_that_is_a_pipe_fails_at_once_and_the_rest_is_read() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let root = layout(tmp.path());
    // Opening a FIFO for reading waits for a writer: a read that did so would never end.
    let made = std::process::Command::new("mkfifo")
        .arg(root.join("pipe.yaml"))
        .status()
        .expect("mkfifo");
    assert!(made.success());
    let spec = "  targets:\n    - ./pipe.yaml\n    - ./inside/catalog-info.yaml\n";
    let (path, outcome) = read_location_reaching_the_neighbour(&root, spec).await;

    let errors: Vec<String> = outcome.errors.iter().map(ToString::to_string).collect();
    assert_eq!(
        errors,
        [format!(
            "{}: not a regular file (a pipe, socket or device) \
             (target of Location:default/root in {})",
            file_key(&root.join("pipe.yaml")),
            file_key(&path)
        )]
    );
}
