//! Tests of reading descriptor files, including the guards against hostile input.

#![allow(clippy::unwrap_used)]

use serde_json::json;

use super::*;
use crate::entity::Entity;

fn parse(text: &str) -> Vec<Result<Value, DocumentError>> {
    parse_documents(text, &DocumentLimits::default()).unwrap()
}

const CATALOG: &str = r#"# the team's catalog
apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: payments
  annotations:
    backstage.io/techdocs-ref: dir:.
spec:
  type: service
  lifecycle: production
  owner: team-a
  providesApis: [payments-api]
---
apiVersion: backstage.io/v1alpha1
kind: API
metadata:
  name: payments-api
spec:
  type: openapi
  lifecycle: production
  owner: team-a
  definition: |
    openapi: 3.0.0
    info:
      title: Payments
---
apiVersion: backstage.io/v1alpha1
kind: Group
metadata:
  name: team-a
spec:
  type: team
  children: []
"#;

#[test]
fn a_multi_document_file_yields_one_value_per_document() {
    let docs = parse(CATALOG);
    assert_eq!(docs.len(), 3);
    let entities: Vec<Entity> = docs
        .into_iter()
        .map(|d| Entity::from_value(d.unwrap()).unwrap())
        .collect();
    assert_eq!(
        entities[1].spec_str("definition").unwrap().lines().count(),
        3
    );
    assert_eq!(entities[2].entity_ref().to_string(), "Group:default/team-a");
}

#[test]
fn empty_documents_are_skipped() {
    let docs = parse("---\n---\n# only a comment\n---\na: 1\n---\n~\n---\n");
    assert_eq!(docs, [Ok(json!({"a": 1}))]);
    assert!(parse("").is_empty());
    assert!(parse("   \n# nothing\n").is_empty());
}

#[test]
fn json_objects_and_arrays_are_accepted() {
    assert_eq!(parse(r#"{"a": 1}"#), [Ok(json!({"a": 1}))]);
    assert_eq!(
        parse(r#"[{"a": 1}, {"b": "\ud83d\ude00"}, null]"#),
        [Ok(json!({"a": 1})), Ok(json!({"b": "😀"}))]
    );
    let broken = parse(r#"[{"a": 1}, 2]"#);
    assert_eq!(
        broken[1],
        Err(DocumentError::NotAnObject {
            position: Position {
                document: 2,
                line: None
            },
            found: "2".into()
        })
    );
}

#[test]
fn a_yaml_flow_mapping_that_is_not_json_still_parses() {
    assert_eq!(
        parse("{a: 1, b: [x, y]}"),
        [Ok(json!({"a": 1, "b": ["x", "y"]}))]
    );
}

#[test]
fn a_broken_document_does_not_hide_the_others() {
    let text = "a: 1\n---\nb: [unclosed\nc: 2\n---\nd: 4\n";
    let docs = parse(text);
    assert_eq!(docs.len(), 3);
    assert_eq!(docs[0], Ok(json!({"a": 1})));
    assert_eq!(docs[2], Ok(json!({"d": 4})));
    let Err(DocumentError::Syntax { position, message }) = &docs[1] else {
        panic!("expected a syntax error, got {:?}", docs[1]);
    };
    assert_eq!(position.document, 2);
    assert!(matches!(position.line, Some(3..=4)), "{position:?}");
    assert!(
        message.contains("line 3") || message.contains("line 4"),
        "{message}"
    );
}

#[test]
fn a_stream_that_cannot_parse_is_one_error_with_its_line() {
    let docs = parse("a: 1\nb: : :\n  - x\n");
    assert_eq!(docs.len(), 1);
    let err = docs[0].clone().unwrap_err();
    assert!(
        matches!(
            err,
            DocumentError::Syntax {
                position: Position { line: Some(2), .. },
                ..
            }
        ),
        "{err}"
    );
    assert!(
        err.to_string()
            .starts_with("document 1 (line 2): invalid YAML:"),
        "{err}"
    );
}

#[test]
fn a_root_that_is_not_a_mapping_is_an_error_in_its_slot() {
    let docs = parse("just a string\n---\na: 1\n");
    assert!(matches!(docs[0], Err(DocumentError::NotAnObject { .. })));
    assert_eq!(docs[1], Ok(json!({"a": 1})));
}

#[test]
fn duplicate_keys_and_tags_are_errors_keys_become_strings() {
    let docs = parse("a: 1\na: 2\n---\nx: !Ref y\n---\n1: one\ntrue: yes\n");
    let first = docs[0].clone().unwrap_err().to_string();
    assert!(first.contains("duplicate key \"a\""), "{first}");
    let second = docs[1].clone().unwrap_err().to_string();
    assert!(second.contains("tags"), "{second}");
    assert_eq!(docs[2], Ok(json!({"1": "one", "true": "yes"})));
}

const BILLION_LAUGHS: &str = r#"a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]
"#;

#[test]
fn a_billion_laughs_fails_fast_with_a_clear_error() {
    let text = format!("ok: 1\n---\n{BILLION_LAUGHS}---\nfine: 2\n");
    let docs = parse(&text);
    assert_eq!(docs[0], Ok(json!({"ok": 1})));
    assert_eq!(docs[2], Ok(json!({"fine": 2})));
    let err = docs[1].clone().unwrap_err();
    assert!(matches!(err, DocumentError::AliasExpansion { .. }), "{err}");
    assert!(err.to_string().contains("alias bomb"), "{err}");
}

#[test]
fn a_wide_alias_bomb_that_serde_yaml_allows_is_stopped() {
    // One big anchor used many times: few alias jumps, so serde_yaml's repetition limit
    // never fires, yet it decodes to millions of values.
    let mut text = String::from("big: &big\n");
    for i in 0..2000 {
        text.push_str(&format!("  k{i}: v\n"));
    }
    text.push_str("copies:\n");
    for _ in 0..3000 {
        text.push_str("  - *big\n");
    }
    let docs = parse(&text);
    assert!(
        matches!(docs[0], Err(DocumentError::AliasExpansion { .. })),
        "{:?}",
        docs[0].as_ref().err()
    );
}

#[test]
fn modest_alias_use_is_fine() {
    let text = "defaults: &d {type: service, lifecycle: production}\na: *d\nb: *d\n";
    let docs = parse(text);
    assert_eq!(docs[0].as_ref().unwrap()["b"]["type"], json!("service"));
}

#[test]
fn the_whole_input_has_a_value_budget() {
    let limits = DocumentLimits {
        max_values: 100,
        ..DocumentLimits::default()
    };
    let text = "l: [1, 2, 3, 4, 5, 6, 7, 8, 9]\n---\n".repeat(20);
    assert_eq!(
        parse_documents(&text, &limits),
        Err(DocumentError::TooManyValues { max: 100 })
    );
}

fn nested_yaml(levels: usize) -> String {
    format!("{}1{}", "[".repeat(levels), "]".repeat(levels))
}

#[test]
fn nesting_is_limited_to_64_levels() {
    let ok = format!("a: {}\n", nested_yaml(63));
    assert!(parse(&ok)[0].is_ok());
    let deep = format!("a: {}\n---\nb: 1\n", nested_yaml(64));
    let docs = parse(&deep);
    assert!(
        matches!(docs[0], Err(DocumentError::TooDeep { max: 64, .. })),
        "{:?}",
        docs[0]
    );
    assert_eq!(docs[1], Ok(json!({"b": 1})));
    let very_deep = format!("a: {}\n", nested_yaml(10_000));
    assert!(matches!(
        parse(&very_deep)[0],
        Err(DocumentError::TooDeep { .. })
    ));
    let deep_json = format!("{{\"a\": {}}}", nested_yaml(64));
    assert!(matches!(
        parse(&deep_json)[0],
        Err(DocumentError::TooDeep { .. })
    ));
}

#[test]
fn size_and_count_limits_reject_the_whole_input() {
    let limits = DocumentLimits {
        max_bytes: 10,
        ..DocumentLimits::default()
    };
    assert_eq!(
        parse_documents("a: 123456789", &limits),
        Err(DocumentError::TooLarge { bytes: 12, max: 10 })
    );
    let limits = DocumentLimits {
        max_documents: 2,
        ..DocumentLimits::default()
    };
    assert_eq!(
        parse_documents("a: 1\n---\nb: 1\n---\nc: 1\n", &limits),
        Err(DocumentError::TooManyDocuments { max: 2 })
    );
    assert_eq!(
        parse_documents("[{}, {}, {}]", &limits),
        Err(DocumentError::TooManyDocuments { max: 2 })
    );
}

#[test]
fn a_byte_order_mark_is_ignored() {
    assert_eq!(parse("\u{feff}a: 1\n"), [Ok(json!({"a": 1}))]);
}

#[test]
fn deep_flow_nesting_is_refused_before_libyaml_reads_it() {
    // libyaml's time grows with the square of flow depth: unguarded, this takes hours.
    let plain = format!("a: {}1\n", "[".repeat(1_000_000));
    // The same depth hidden behind `]` characters that sit inside quoted scalars.
    let disguised = format!("a: {}1\n", "[\"]\", ".repeat(100_000));
    for text in [plain, disguised] {
        let docs = parse(&text);
        assert!(
            matches!(docs[0], Err(DocumentError::TooDeep { max: 64, .. })),
            "{:?}",
            docs[0]
        );
    }
}

#[test]
fn a_large_ordinary_catalog_parses() {
    let text = format!("{CATALOG}---\n").repeat(700);
    let docs = parse(&text);
    assert_eq!(docs.len(), 2100);
    assert!(docs.iter().all(Result::is_ok));
}

#[test]
fn json_duplicate_keys_are_refused_like_yaml_ones() {
    let docs = parse("{\"kind\": \"Component\",\n \"spec\": {\"owner\": \"a\", \"owner\": \"b\"}}");
    assert_eq!(docs.len(), 1);
    let err = docs[0].clone().unwrap_err();
    assert!(
        matches!(&err, DocumentError::InvalidJson { position, .. } if position.line == Some(2)),
        "{err:?}"
    );
    assert!(
        err.to_string()
            .starts_with("document 1 (line 2): invalid JSON: duplicate key \"owner\""),
        "{err}"
    );
    let list = parse("[{\"a\": 1}, {\"b\": 1, \"b\": 2}]");
    assert!(list[0]
        .as_ref()
        .unwrap_err()
        .to_string()
        .contains("duplicate key \"b\""));
    // Equal keys in different objects are no duplicates.
    assert_eq!(
        parse("[{\"a\": 1}, {\"a\": {\"a\": 2}}]"),
        [Ok(json!({"a": 1})), Ok(json!({"a": {"a": 2}}))]
    );
}
