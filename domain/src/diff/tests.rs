//! Tests that `apply_changes(old, diff(old, new))` gives `new`, and of strict patching.

#![allow(clippy::unwrap_used)]

use serde_json::{json, Value};

use super::*;

fn round_trip(old: Value, new: Value) {
    let changes = diff(&old, &new);
    let mut patched = old.clone();
    apply_changes(&mut patched, &changes).unwrap();
    assert_eq!(patched, new, "changes: {changes:?}");
    // The stored form must carry the same changes.
    let stored = serde_json::to_value(&changes).unwrap();
    let read: Vec<Change> = serde_json::from_value(stored).unwrap();
    assert_eq!(read, changes);
}

#[test]
fn apply_of_diff_gives_the_new_document() {
    let cases = [
        (json!({}), json!({})),
        (json!({"a": 1}), json!({"a": 2})),
        (json!({"a": 1}), json!({})),
        (json!({}), json!({"a": {"b": [1, 2]}})),
        (
            json!({"a": {"b": 1, "c": 2}}),
            json!({"a": {"b": 1, "c": 3, "d": null}}),
        ),
        (json!({"a": null}), json!({"a": 0})),
        (json!({"a": 0}), json!({"a": null})),
        (json!({"a": [1, 2, 3]}), json!({"a": [1, 3]})),
        (json!({"a": [1]}), json!({"a": {"0": 1}})),
        (json!({"a": {"x": 1}}), json!({"a": "flat"})),
        (json!(1), json!("root scalar")),
        (json!([1]), json!({"a": 1})),
        (json!({"": 1}), json!({"": 2, " ": 3})),
        (
            json!({"metadata": {"annotations": {"backstage.io/x": "1", "a~b": "2", "~1": "3"}}}),
            json!({"metadata": {"annotations": {"backstage.io/x": "2", "a~b/c": "4", "~01/": "5"}}}),
        ),
        (
            json!({"spec": {"owner": "a", "tags": ["x"], "deep": {"k": {"l": true}}}}),
            json!({"spec": {"owner": "b", "tags": ["x", "y"], "deep": {"k": {"l": false, "m": 1.5}}}}),
        ),
    ];
    for (old, new) in cases {
        round_trip(old.clone(), new.clone());
        round_trip(new, old);
    }
}

#[test]
fn one_changed_field_is_one_change() {
    let old = json!({"spec": {"owner": "team-a", "type": "service"}});
    let new = json!({"spec": {"owner": "team-b", "type": "service"}});
    assert_eq!(
        diff(&old, &new),
        [Change {
            path: "/spec/owner".into(),
            op: ChangeOp::Replace,
            old_value: Some(json!("team-a")),
            new_value: Some(json!("team-b")),
        }]
    );
}

#[test]
fn a_changed_list_is_one_replace_at_its_path() {
    let changes = diff(&json!({"tags": ["a", "b"]}), &json!({"tags": ["a", "c"]}));
    assert_eq!(changes.len(), 1);
    assert_eq!(changes[0].path, "/tags");
    assert_eq!(changes[0].op, ChangeOp::Replace);
}

#[test]
fn keys_are_visited_in_sorted_order_and_escaped() {
    let changes = diff(
        &json!({"b": 1, "a/x": 1, "c~": 1}),
        &json!({"b": 2, "a/x": 2, "c~": 2}),
    );
    let paths: Vec<&str> = changes.iter().map(|c| c.path.as_str()).collect();
    assert_eq!(paths, ["/a~1x", "/b", "/c~0"]);
}

#[test]
fn equal_documents_have_no_changes() {
    let doc = json!({"a": [1, {"b": null}]});
    assert!(diff(&doc, &doc.clone()).is_empty());
}

#[test]
fn serde_form_uses_old_and_new_and_keeps_null() {
    let add = Change {
        path: "/a".into(),
        op: ChangeOp::Add,
        old_value: None,
        new_value: Some(Value::Null),
    };
    let stored = serde_json::to_value(&add).unwrap();
    assert_eq!(stored, json!({"path": "/a", "op": "add", "new": null}));
    let read: Change = serde_json::from_value(stored).unwrap();
    assert_eq!(read, add);
    let remove: Change = serde_json::from_value(json!({"path": "/a", "op": "remove"})).unwrap();
    assert_eq!(remove.old_value, None);
}

#[test]
fn changes_that_do_not_fit_are_errors() {
    let change = |path: &str, op, old: Option<Value>, new: Option<Value>| Change {
        path: path.into(),
        op,
        old_value: old,
        new_value: new,
    };
    let doc = json!({"a": {"b": 1}, "l": [1, 2]});
    let cases = [
        (
            change("a", ChangeOp::Add, None, Some(json!(1))),
            "not a valid JSON pointer",
        ),
        (
            change("/a~2", ChangeOp::Add, None, Some(json!(1))),
            "not a valid JSON pointer",
        ),
        (
            change("/a/b", ChangeOp::Add, None, Some(json!(1))),
            "already there",
        ),
        (
            change("/x/y", ChangeOp::Add, None, Some(json!(1))),
            "nothing there",
        ),
        (
            change("/a/x", ChangeOp::Remove, Some(json!(1)), None),
            "nothing there",
        ),
        (
            change("/a/b", ChangeOp::Replace, Some(json!(2)), Some(json!(3))),
            "not the change's old value",
        ),
        (
            change("/a/b", ChangeOp::Replace, Some(json!(1)), None),
            "needs a new value",
        ),
        (
            change("/a/b/c", ChangeOp::Add, None, Some(json!(1))),
            "not an object or a list",
        ),
        (
            change("/l/5", ChangeOp::Replace, None, Some(json!(1))),
            "nothing there",
        ),
        (
            change("/l/01", ChangeOp::Replace, None, Some(json!(1))),
            "nothing there",
        ),
        (
            change("", ChangeOp::Remove, None, None),
            "root cannot be removed",
        ),
    ];
    for (change, expected) in cases {
        let mut copy = doc.clone();
        let err = apply_changes(&mut copy, std::slice::from_ref(&change)).unwrap_err();
        assert!(err.to_string().contains(expected), "{change:?}: {err}");
    }
}

#[test]
fn list_elements_can_be_patched_by_index() {
    let mut doc = json!({"l": [1, 2, 3]});
    let changes = [
        Change {
            path: "/l/1".into(),
            op: ChangeOp::Replace,
            old_value: Some(json!(2)),
            new_value: Some(json!(20)),
        },
        Change {
            path: "/l/-".into(),
            op: ChangeOp::Add,
            old_value: None,
            new_value: Some(json!(4)),
        },
        Change {
            path: "/l/0".into(),
            op: ChangeOp::Remove,
            old_value: Some(json!(1)),
            new_value: None,
        },
    ];
    apply_changes(&mut doc, &changes).unwrap();
    assert_eq!(doc, json!({"l": [20, 3, 4]}));
}

#[test]
fn escape_round_trips_through_tokens() {
    for key in ["plain", "a/b", "a~b", "~1", "~0/~", ""] {
        let path = format!("/{}", escape(key));
        assert_eq!(tokens(&path).unwrap(), [key.to_string()]);
    }
}
