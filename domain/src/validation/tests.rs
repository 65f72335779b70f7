//! Tests of the descriptor rules (envelope, names, spec fields by kind), through `Entity::from_value`.

#![allow(clippy::unwrap_used)]

use serde_json::{json, Value};

use crate::entity::Entity;

fn errors_of(doc: Value) -> Vec<(String, String)> {
    match Entity::from_value(doc) {
        Ok(_) => Vec::new(),
        Err(errors) => errors.0.into_iter().map(|e| (e.field, e.message)).collect(),
    }
}

fn fields_of(doc: Value) -> Vec<String> {
    errors_of(doc).into_iter().map(|(field, _)| field).collect()
}

fn component() -> Value {
    json!({
        "apiVersion": "backstage.io/v1alpha1",
        "kind": "Component",
        "metadata": {"name": "payments"},
        "spec": {"type": "service", "lifecycle": "production", "owner": "team-a"}
    })
}

fn with(mut doc: Value, pointer: &str, value: Value) -> Value {
    *doc.pointer_mut(pointer).unwrap() = value;
    doc
}

fn without(mut doc: Value, parent: &str, key: &str) -> Value {
    doc.pointer_mut(parent)
        .unwrap()
        .as_object_mut()
        .unwrap()
        .remove(key);
    doc
}

#[test]
fn a_minimal_valid_entity_of_every_builtin_kind() {
    let v1 = "backstage.io/v1alpha1";
    let docs = [
        component(),
        json!({"apiVersion": "backstage.io/v1beta1", "kind": "API", "metadata": {"name": "a"},
               "spec": {"type": "openapi", "lifecycle": "production", "owner": "t", "definition": "openapi: 3.0.0"}}),
        json!({"apiVersion": v1, "kind": "Resource", "metadata": {"name": "db"},
               "spec": {"type": "database", "owner": "t"}}),
        json!({"apiVersion": v1, "kind": "System", "metadata": {"name": "s"}, "spec": {"owner": "t"}}),
        json!({"apiVersion": v1, "kind": "Domain", "metadata": {"name": "d"}, "spec": {"owner": "t"}}),
        json!({"apiVersion": v1, "kind": "Group", "metadata": {"name": "g"},
               "spec": {"type": "team", "children": []}}),
        json!({"apiVersion": v1, "kind": "User", "metadata": {"name": "u"}, "spec": {"memberOf": []}}),
        json!({"apiVersion": v1, "kind": "Location", "metadata": {"name": "l"}, "spec": {}}),
        json!({"apiVersion": "scaffolder.backstage.io/v1beta3", "kind": "Template", "metadata": {"name": "t"},
               "spec": {"type": "service", "steps": [{"id": "fetch", "action": "fetch:template"}]}}),
    ];
    for doc in docs {
        assert_eq!(errors_of(doc.clone()), [], "{doc}");
    }
}

#[test]
fn a_bad_name_names_the_field_the_value_and_the_rule() {
    let errors = errors_of(with(component(), "/metadata/name", json!("-bad-")));
    assert_eq!(
        errors,
        [(
            "metadata.name".to_string(),
            "metadata.name \"-bad-\" is not valid: must be 1 to 63 characters of [A-Za-z0-9-_.], starting and ending with a letter or digit".to_string()
        )]
    );
}

#[test]
fn collects_every_error_not_just_the_first() {
    let doc = json!({
        "apiVersion": "backstage.io/v1alpha1",
        "kind": "Component",
        "metadata": {"name": "-bad-", "namespace": "Bad_NS", "tags": ["ok", "Not-OK"]},
        "spec": {"type": "service"},
        "extra": 1
    });
    let fields = fields_of(doc);
    for expected in [
        "extra",
        "metadata.name",
        "metadata.namespace",
        "metadata.tags[1]",
        "spec.lifecycle",
        "spec.owner",
    ] {
        assert!(
            fields.contains(&expected.to_string()),
            "{expected} in {fields:?}"
        );
    }
    assert_eq!(fields.len(), 6, "{fields:?}");
}

#[test]
fn unknown_and_output_only_root_fields_are_rejected() {
    let mut doc = component();
    doc["relations"] = json!([]);
    doc["status"] = json!({});
    doc["colour"] = json!("red");
    let errors = errors_of(doc);
    let messages: Vec<&str> = errors.iter().map(|(_, m)| m.as_str()).collect();
    assert!(messages.contains(&"Unknown field colour"));
    assert!(messages
        .iter()
        .any(|m| m.starts_with("Unknown field relations")));
    assert!(messages
        .iter()
        .any(|m| m.starts_with("Unknown field status")));
}

#[test]
fn a_mis_cased_builtin_kind_suggests_the_spelling() {
    let errors = errors_of(with(component(), "/kind", json!("component")));
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0].0, "kind");
    assert!(errors[0].1.contains("kinds are case-sensitive"));
    assert!(errors[0].1.contains("\"Component\""));
}

#[test]
fn kind_and_api_version_rules() {
    assert_eq!(
        fields_of(with(component(), "/kind", json!("my-kind"))),
        ["kind"]
    );
    assert_eq!(fields_of(without(component(), "", "kind")), ["kind"]);
    assert_eq!(
        fields_of(with(component(), "/apiVersion", json!("backstage.io/v2"))),
        ["apiVersion"]
    );
    assert_eq!(
        fields_of(without(component(), "", "apiVersion")),
        ["apiVersion"]
    );
    let template = json!({"apiVersion": "backstage.io/v1beta1", "kind": "Template",
        "metadata": {"name": "t"}, "spec": {"type": "x", "steps": []}});
    assert_eq!(fields_of(template), ["apiVersion"]);
}

#[test]
fn custom_kinds_get_envelope_and_metadata_rules_only() {
    let doc = json!({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}});
    assert_eq!(errors_of(doc.clone()), []);
    let with_spec = with(doc.clone(), "/metadata/name", json!("w2"));
    let mut with_spec = with_spec;
    with_spec["spec"] = json!({"owner": 42, "anything": [1, 2]});
    assert_eq!(errors_of(with_spec), []);
    assert_eq!(
        fields_of(with(doc.clone(), "/apiVersion", json!("Example.com/v1"))),
        ["apiVersion"]
    );
    let mut scalar_spec = doc;
    scalar_spec["spec"] = json!("x");
    assert_eq!(fields_of(scalar_spec), ["spec"]);
}

#[test]
fn builtin_kinds_need_their_spec_fields() {
    assert_eq!(fields_of(without(component(), "", "spec")), ["spec"]);
    assert_eq!(fields_of(with(component(), "/spec", json!([]))), ["spec"]);
    let api = json!({"apiVersion": "backstage.io/v1alpha1", "kind": "API", "metadata": {"name": "a"},
        "spec": {"type": "openapi", "lifecycle": "x", "owner": "t", "definition": {"$text": "./api.yaml"}}});
    assert_eq!(fields_of(api), ["spec.definition"]);
    let group = json!({"apiVersion": "backstage.io/v1alpha1", "kind": "Group", "metadata": {"name": "g"},
        "spec": {"type": "team"}});
    assert_eq!(fields_of(group.clone()), ["spec.children"]);
    assert_eq!(
        fields_of(with(
            with(group.clone(), "/spec/type", json!("team")),
            "/spec",
            json!({"type": "team", "children": "x"})
        )),
        ["spec.children"]
    );
    let user = json!({"apiVersion": "backstage.io/v1alpha1", "kind": "User", "metadata": {"name": "u"},
        "spec": {"memberOf": [1], "profile": {"email": 3}}});
    assert_eq!(fields_of(user), ["spec.memberOf[0]", "spec.profile.email"]);
    assert_eq!(
        fields_of(with(component(), "/spec/owner", json!(""))),
        ["spec.owner"]
    );
}

#[test]
fn template_steps_need_an_action() {
    let template = json!({"apiVersion": "scaffolder.backstage.io/v1beta3", "kind": "Template",
        "metadata": {"name": "t"},
        "spec": {"type": "service", "steps": [{"action": "a"}, {"id": "x"}, "y"], "output": 1}});
    assert_eq!(
        fields_of(template),
        ["spec.steps[1].action", "spec.steps[2]", "spec.output"]
    );
}

#[test]
fn location_presence_is_required_or_optional() {
    let location = |presence: &str| {
        json!({"apiVersion": "backstage.io/v1alpha1", "kind": "Location", "metadata": {"name": "l"},
            "spec": {"type": "url", "targets": ["./a.yaml"], "presence": presence}})
    };
    assert_eq!(errors_of(location("optional")), []);
    assert_eq!(errors_of(location("required")), []);
    assert_eq!(fields_of(location("maybe")), ["spec.presence"]);
}

#[test]
fn metadata_rules() {
    let mut doc = component();
    doc["metadata"] = json!({
        "name": "ok",
        "title": 1,
        "description": "fine",
        "labels": {"team": "a", "bad key!": "b", "v": "-x"},
        "annotations": {"backstage.io/techdocs-ref": "dir:.", "n": 5},
        "tags": "java",
        "links": [{"url": "https://example.com", "title": "ok"}, {"url": "not a url"}, {"title": "no url"}],
        "custom": {"kept": true}
    });
    assert_eq!(
        fields_of(doc),
        [
            "metadata.title",
            "metadata.labels[\"bad key!\"]",
            "metadata.labels.v",
            "metadata.annotations.n",
            "metadata.tags",
            "metadata.links[1].url",
            "metadata.links[2].url",
        ]
    );
    assert_eq!(
        fields_of(without(component(), "", "metadata")),
        ["metadata"]
    );
    assert_eq!(
        fields_of(without(component(), "/metadata", "name")),
        ["metadata.name"]
    );
    let mut null_namespace = component();
    null_namespace["metadata"]["namespace"] = Value::Null;
    assert_eq!(fields_of(null_namespace), ["metadata.namespace"]);
}

#[test]
fn nul_characters_are_rejected_naming_the_field() {
    let doc = with(component(), "/spec/lifecycle", json!("prod\u{0}"));
    let errors = errors_of(doc);
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0].0, "spec.lifecycle");
    assert!(errors[0].1.contains("NUL"));
}

#[test]
fn documents_nested_too_deep_are_rejected_first() {
    let mut deep = json!("bottom");
    for _ in 0..70 {
        deep = json!({ "x": deep });
    }
    let mut doc = component();
    doc["spec"]["deep"] = deep;
    doc["extra"] = json!(1);
    let errors = errors_of(doc);
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0].1, "document nests deeper than 64 levels");
}

#[test]
fn a_root_that_is_not_an_object() {
    assert_eq!(fields_of(json!([1])), [""]);
    assert_eq!(fields_of(json!("x")), [""]);
}

#[test]
fn errors_display_joined() {
    let err = Entity::from_value(json!({})).unwrap_err();
    let text = err.to_string();
    assert!(text.contains("kind is required; "), "{text}");
    assert!(text.contains("apiVersion is required"), "{text}");
    assert!(text.contains("metadata is required"), "{text}");
}

#[test]
fn long_values_are_cut_short_in_messages() {
    let long = "x".repeat(500);
    let errors = errors_of(with(component(), "/metadata/name", json!(long)));
    assert!(errors[0].1.len() < 300, "{}", errors[0].1);
}

/// A string of `n` characters that no compression or index could shrink much.
fn noise(n: usize) -> String {
    let mut state = 0x2545_f491_u32;
    (0..n)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            char::from(b'a' + (state % 26) as u8)
        })
        .collect()
}

/// Sets `pointer`, creating its last key.
fn with_new(mut doc: Value, pointer: &str, value: Value) -> Value {
    let (parent, key) = pointer.rsplit_once('/').unwrap();
    doc.pointer_mut(parent)
        .unwrap()
        .as_object_mut()
        .unwrap()
        .insert(key.to_string(), value);
    doc
}

fn only_error(doc: Value) -> (String, String) {
    let errors = errors_of(doc);
    assert_eq!(errors.len(), 1, "{errors:?}");
    errors.into_iter().next().unwrap()
}

#[test]
fn scalar_spec_fields_the_catalog_indexes_are_bounded() {
    for field in ["type", "lifecycle", "owner"] {
        let doc = with(component(), &format!("/spec/{field}"), json!(noise(10_000)));
        let (path, message) = only_error(doc);
        assert_eq!(path, format!("spec.{field}"));
        assert_eq!(
            message,
            format!("spec.{field} is 10000 bytes, over the limit of 1024 bytes (1 KiB)")
        );
    }
    let at_limit = with(component(), "/spec/type", json!(noise(1024)));
    assert_eq!(errors_of(at_limit), []);
}

#[test]
fn a_custom_kind_has_its_indexed_spec_fields_bounded_too() {
    let doc = json!({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"},
                     "spec": {"type": noise(5000), "anything": noise(5000)}});
    let (path, message) = only_error(doc);
    assert_eq!(path, "spec.type");
    assert!(
        message.contains("over the limit of 1024 bytes"),
        "{message}"
    );
}

#[test]
fn references_are_bounded_by_what_an_entity_ref_can_be() {
    let long = with_new(
        component(),
        "/spec/dependsOn",
        json!([format!("resource:{}", noise(10_000))]),
    );
    let (path, message) = only_error(long);
    assert_eq!(path, "spec.dependsOn[0]");
    assert!(
        message.contains("over the limit of 1024 bytes"),
        "{message}"
    );

    let name = noise(64);
    let doc = with_new(
        component(),
        "/spec/dependsOn",
        json!([format!("resource:{name}")]),
    );
    let (path, message) = only_error(doc);
    assert_eq!(path, "spec.dependsOn[0]");
    assert!(
        message.ends_with(
            "is not a valid entity ref: its name is 64 bytes, over the limit of 63 bytes"
        ),
        "{message}"
    );
    let doc = with(
        component(),
        "/spec/owner",
        json!(format!("{}/team", noise(64))),
    );
    assert!(only_error(doc).1.contains("its namespace is 64 bytes"));
    let fits = with_new(
        component(),
        "/spec/dependsOn",
        json!([format!("resource:{}", noise(63))]),
    );
    assert_eq!(errors_of(fits), []);
}

#[test]
fn title_and_description_are_bounded_generously() {
    let doc = with_new(component(), "/metadata/title", json!(noise(1025)));
    assert_eq!(
        only_error(doc),
        (
            "metadata.title".to_string(),
            "metadata.title is 1025 bytes, over the limit of 1024 bytes (1 KiB)".to_string()
        )
    );
    let words: Vec<String> = (0..200_000).map(|i| format!("w{i}")).collect();
    let doc = with_new(component(), "/metadata/description", json!(words.join(" ")));
    let (path, message) = only_error(doc);
    assert_eq!(path, "metadata.description");
    assert!(
        message.contains("over the limit of 65536 bytes (64 KiB)"),
        "{message}"
    );
    let fits = with_new(
        component(),
        "/metadata/description",
        json!(noise(64 * 1024)),
    );
    assert_eq!(errors_of(fits), []);
}

#[test]
fn tags_labels_and_annotations_are_counted() {
    let tags: Vec<String> = (0..200_000).map(|i| format!("t{i}")).collect();
    let doc = with_new(component(), "/metadata/tags", json!(tags));
    assert_eq!(
        only_error(doc),
        (
            "metadata.tags".to_string(),
            "metadata.tags holds 200000 tags, over the limit of 1000".to_string()
        )
    );
    let many: serde_json::Map<String, Value> =
        (0..1001).map(|i| (format!("k{i}"), json!("v"))).collect();
    let doc = with_new(component(), "/metadata/labels", Value::Object(many.clone()));
    assert_eq!(
        only_error(doc).1,
        "metadata.labels holds 1001 entries, over the limit of 1000"
    );
    let doc = with_new(component(), "/metadata/annotations", Value::Object(many));
    assert_eq!(only_error(doc).0, "metadata.annotations");
}

#[test]
fn annotation_values_are_bounded_and_the_indexed_ones_tightly() {
    let doc = with_new(
        component(),
        "/metadata/annotations",
        json!({"example.com/notes": noise(65 * 1024)}),
    );
    let (path, message) = only_error(doc);
    assert_eq!(path, "metadata.annotations[\"example.com/notes\"]");
    assert!(
        message.contains("over the limit of 65536 bytes"),
        "{message}"
    );
    let url = format!("url:https://example.com/{}", noise(3000));
    let doc = with_new(
        component(),
        "/metadata/annotations",
        json!({"backstage.io/managed-by-location": url}),
    );
    assert!(only_error(doc).1.contains("over the limit of 2048 bytes"));
}

#[test]
fn relations_per_entity_are_counted() {
    // spec.owner is one relation, the 10,001 dependsOn refs the rest.
    let refs: Vec<String> = (0..10_001).map(|i| format!("resource:r{i}")).collect();
    let doc = with_new(component(), "/spec/dependsOn", json!(refs));
    assert_eq!(
        only_error(doc),
        (
            "spec".to_string(),
            "spec holds 10002 relations (distinct entity refs in its reference fields), \
             over the limit of 10000"
                .to_string()
        )
    );
}

#[test]
fn an_inline_definition_of_megabytes_is_fine_but_the_document_is_bounded() {
    let api = |definition: String| {
        json!({"apiVersion": "backstage.io/v1alpha1", "kind": "API", "metadata": {"name": "a"},
               "spec": {"type": "openapi", "lifecycle": "production", "owner": "t",
                        "definition": definition}})
    };
    assert_eq!(errors_of(api("openapi: 3.0.0\n".repeat(300_000))), []); // 4.5 MB
    let (path, message) = only_error(api("x".repeat(9 * 1024 * 1024)));
    assert_eq!(path, "");
    assert!(
        message.starts_with("the document is 94373") // 9 MiB of text plus the rest
            && message.ends_with("over the limit of 8388608 bytes (8 MiB)"),
        "{message}"
    );
}
