//! Hostile input: each case is a failure or an invalid candidate with a message naming
//! the source, never a panic or unbounded memory.

use almanac_ingest::read::Source;
use almanac_ingest::Ingestor;

use super::*;

/// Nine levels of nine aliases each: 9^9 (387 million) strings if expanded.
fn alias_bomb() -> String {
    let mut text = String::from(
        "a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n",
    );
    for (previous, name) in ["a", "b", "c", "d", "e", "f", "g", "h"]
        .iter()
        .zip(["b", "c", "d", "e", "f", "g", "h", "i"])
    {
        let refs = vec![format!("*{previous}"); 9].join(",");
        text.push_str(&format!("{name}: &{name} [{refs}]\n"));
    }
    text
}

#[tokio::test]
async fn an_alias_bomb_is_refused() {
    let dir = tempfile::tempdir().expect("temp dir");
    let text = format!("{}---\n{}", component("before"), alias_bomb());
    let path = write(dir.path(), "catalog-info.yaml", &text);

    let outcome = read_file(&path).await;

    // The bomb trips its own document's expansion guard; the rest of the file lands.
    assert!(outcome.errors.is_empty(), "{:?}", outcome.errors);
    let file = &outcome.files[0];
    assert_eq!(names(file), ["before"]);
    let invalid = invalid(file);
    assert_eq!(invalid.len(), 1);
    assert_eq!(invalid[0].0, "-");
    assert!(
        invalid[0].1.starts_with("document 2 (line ")
            && invalid[0].1.contains("YAML aliases expand to more than"),
        "{}",
        invalid[0].1
    );
    assert!(invalid[0].1.ends_with("refusing a possible alias bomb"));
}

#[tokio::test]
async fn an_alias_bomb_behind_a_yaml_placeholder_is_refused() {
    let dir = tempfile::tempdir().expect("temp dir");
    write(dir.path(), "bomb.yaml", &alias_bomb());
    let text = "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: boom\nspec:\n  \
                type: service\n  lifecycle: production\n  owner: team-a\n  extra:\n    $yaml: ./bomb.yaml\n";
    let path = write(dir.path(), "catalog-info.yaml", text);

    let outcome = read_file(&path).await;

    let invalid = invalid(&outcome.files[0]);
    assert_eq!(invalid[0].0, "component:default/boom");
    assert!(
        invalid[0]
            .1
            .starts_with("spec.extra: cannot read $yaml ./bomb.yaml: "),
        "{}",
        invalid[0].1
    );
    assert!(invalid[0].1.contains("alias"), "{}", invalid[0].1);
}

#[tokio::test]
async fn an_oversized_file_is_a_failure_naming_it() {
    let dir = tempfile::tempdir().expect("temp dir");
    let text = format!("{}# {}\n", component("big"), "x".repeat(5000));
    let path = write(dir.path(), "catalog-info.yaml", &text);
    let limits = ReadLimits {
        max_file_bytes: 4096,
        ..ReadLimits::default()
    };

    let outcome = read_sources(
        &[Source::File(path.clone())],
        &limits,
        &ReadPolicy::default(),
    )
    .await;

    assert!(outcome.files.is_empty());
    assert_eq!(
        outcome.errors[0].to_string(),
        format!(
            "{}: file is {} bytes, over the limit of 4096 bytes",
            file_key(&path),
            text.len()
        )
    );
}

/// Read limits belong to the ingestor that reads, not to the process: two ingestors
/// alive at once read the same file, each under its own limit.
#[tokio::test]
async fn two_ingestors_of_one_process_read_with_their_own_limits() {
    let db = almanac_store::testing::test_db().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let text = format!("{}# {}\n", component("big"), "x".repeat(5000));
    let path = write(dir.path(), "catalog-info.yaml", &text);
    let strict = Ingestor::new(db.log()).with_limits(ReadLimits {
        max_file_bytes: 4096,
        ..ReadLimits::default()
    });
    let lenient = Ingestor::new(db.log());

    let refused = strict.ingest(&Source::File(path.clone())).await.unwrap();
    let read = lenient.ingest(&Source::File(path.clone())).await.unwrap();

    let messages: Vec<&str> = refused.errors.iter().map(|e| e.message.as_str()).collect();
    assert_eq!(
        messages,
        [format!(
            "file is {} bytes, over the limit of 4096 bytes",
            text.len()
        )]
    );
    assert_eq!(refused.registered, 0);
    assert!(read.errors.is_empty(), "{:?}", read.errors);
    assert_eq!(read.registered, 1);
    assert_eq!(strict.limits.max_file_bytes, 4096);
    assert_eq!(lenient.limits, ReadLimits::default());
}

#[tokio::test]
async fn an_oversized_pushed_text_and_too_many_documents_are_failures() {
    let limits = ReadLimits {
        max_file_bytes: 1000,
        max_documents: 2,
        ..ReadLimits::default()
    };
    let sources = [
        Source::Text {
            name: "huge".into(),
            text: "#".repeat(1001),
        },
        Source::Text {
            name: "many".into(),
            text: [component("a"), component("b"), component("c")].join("---\n"),
        },
    ];

    let outcome = read_sources(&sources, &limits, &ReadPolicy::default()).await;

    assert!(outcome.files.is_empty());
    let errors: Vec<String> = outcome.errors.iter().map(ToString::to_string).collect();
    assert_eq!(
        errors,
        [
            "api:huge: input is 1001 bytes, over the limit of 1000",
            "api:many: input holds more than 2 documents",
        ]
    );
}

#[tokio::test]
async fn deep_nesting_is_an_invalid_document() {
    let deep = format!("{}{}", "[".repeat(200), "]".repeat(200));
    let text = format!("{}---\nspec: {deep}\n", component("shallow"));
    let outcome = read(&[Source::Text {
        name: "deep".into(),
        text,
    }])
    .await;

    assert!(outcome.errors.is_empty(), "{:?}", outcome.errors);
    let file = &outcome.files[0];
    assert_eq!(names(file), ["shallow"]);
    let invalid = invalid(file);
    assert!(
        invalid[0].1.contains("nests deeper than"),
        "{}",
        invalid[0].1
    );
}
