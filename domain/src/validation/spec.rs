//! Rules for `spec` by kind: which fields each built-in kind requires and what shape each
//! known field has (Backstage's built-in kinds and their required spec fields).
//!
//! Unknown spec keys are allowed and kept. Reference syntax (`owner: user:jdoe`) is not
//! checked here but in `relations`, which owns the reference rules.

use serde_json::Value;

use super::limits::{MAX_SPEC_TEXT_BYTES, MAX_URL_BYTES};
use super::{field_index, ValidationError};
use crate::kind::Kind;

#[derive(Clone, Copy)]
enum Shape {
    /// A non-empty string of at most `MAX_SPEC_TEXT_BYTES`.
    Text,
    /// A list of such strings; the list itself may be empty.
    TextList,
    /// A non-empty string only the descriptor limit bounds (an inline API definition).
    LongText,
    /// A non-empty string of at most `MAX_URL_BYTES`, and a list of them.
    Url,
    UrlList,
    Object,
    ObjectOrList,
    /// `required` or `optional`.
    Presence,
    /// Template steps: a list of objects, each with an `action`.
    Steps,
    /// `{displayName?, email?, picture?}`, all strings.
    Profile,
}

struct Field {
    name: &'static str,
    shape: Shape,
    required: bool,
}

const fn req(name: &'static str, shape: Shape) -> Field {
    Field {
        name,
        shape,
        required: true,
    }
}

const fn opt(name: &'static str, shape: Shape) -> Field {
    Field {
        name,
        shape,
        required: false,
    }
}

use Shape::*;

const COMPONENT: &[Field] = &[
    req("type", Text),
    req("lifecycle", Text),
    req("owner", Text),
    opt("system", Text),
    opt("subcomponentOf", Text),
    opt("providesApis", TextList),
    opt("consumesApis", TextList),
    opt("dependsOn", TextList),
    opt("dependencyOf", TextList),
];
const API: &[Field] = &[
    req("type", Text),
    req("lifecycle", Text),
    req("owner", Text),
    req("definition", LongText),
    opt("system", Text),
];
const RESOURCE: &[Field] = &[
    req("type", Text),
    req("owner", Text),
    opt("system", Text),
    opt("dependsOn", TextList),
    opt("dependencyOf", TextList),
];
const SYSTEM: &[Field] = &[req("owner", Text), opt("domain", Text), opt("type", Text)];
const DOMAIN: &[Field] = &[
    req("owner", Text),
    opt("subdomainOf", Text),
    opt("type", Text),
];
const GROUP: &[Field] = &[
    req("type", Text),
    req("children", TextList),
    opt("parent", Text),
    opt("members", TextList),
    opt("profile", Profile),
];
const USER: &[Field] = &[req("memberOf", TextList), opt("profile", Profile)];
const LOCATION: &[Field] = &[
    opt("type", Text),
    opt("target", Url),
    opt("targets", UrlList),
    opt("presence", Presence),
];
const TEMPLATE: &[Field] = &[
    req("type", Text),
    req("steps", Steps),
    opt("owner", Text),
    opt("parameters", ObjectOrList),
    opt("output", Object),
];

fn fields_of(kind: &Kind) -> &'static [Field] {
    match kind {
        Kind::Component => COMPONENT,
        Kind::Api => API,
        Kind::Resource => RESOURCE,
        Kind::System => SYSTEM,
        Kind::Domain => DOMAIN,
        Kind::Group => GROUP,
        Kind::User => USER,
        Kind::Location => LOCATION,
        Kind::Template => TEMPLATE,
        Kind::Custom(_) => &[],
    }
}

pub(super) fn check(kind: &Kind, spec: Option<&Value>, errors: &mut Vec<ValidationError>) {
    let spec = match (spec, kind.is_builtin()) {
        (None, true) => {
            errors.push(ValidationError::missing(
                "spec",
                &format!(" for kind {kind}"),
            ));
            return;
        }
        (None, false) => return,
        (Some(spec), _) => spec,
    };
    let Some(members) = spec.as_object() else {
        errors.push(ValidationError::wrong_type("spec", "an object", spec));
        return;
    };
    let fields = fields_of(kind);
    for field in fields {
        let path = format!("spec.{}", field.name);
        match members.get(field.name) {
            None if field.required => {
                errors.push(ValidationError::missing(
                    &path,
                    &format!(" for kind {kind}"),
                ));
            }
            None => {}
            Some(value) => check_shape(&path, field.shape, value, errors),
        }
    }
    // The catalog indexes these of every kind, so a kind without rules for them (a custom
    // kind) still has them bounded.
    for name in INDEXED {
        if fields.iter().any(|field| field.name == name) {
            continue;
        }
        if let Some(Value::String(text)) = members.get(name) {
            check_length(&format!("spec.{name}"), text, MAX_SPEC_TEXT_BYTES, errors);
        }
    }
}

/// Spec fields the projection copies into indexed columns, whatever the kind.
const INDEXED: [&str; 3] = ["type", "lifecycle", "owner"];

fn check_shape(path: &str, shape: Shape, value: &Value, errors: &mut Vec<ValidationError>) {
    match shape {
        Text => check_text(path, value, Some(MAX_SPEC_TEXT_BYTES), errors),
        LongText => check_text(path, value, None, errors),
        Url => check_text(path, value, Some(MAX_URL_BYTES), errors),
        TextList | UrlList => {
            let max = match shape {
                UrlList => MAX_URL_BYTES,
                _ => MAX_SPEC_TEXT_BYTES,
            };
            match value.as_array() {
                None => errors.push(ValidationError::wrong_type(
                    path,
                    "a list of strings (it may be empty)",
                    value,
                )),
                Some(items) => {
                    for (i, item) in items.iter().enumerate() {
                        check_text(&field_index(path, i), item, Some(max), errors);
                    }
                }
            }
        }
        Object if !value.is_object() => {
            errors.push(ValidationError::wrong_type(path, "an object", value));
        }
        ObjectOrList if !value.is_object() && !value.is_array() => {
            errors.push(ValidationError::wrong_type(
                path,
                "an object or a list",
                value,
            ));
        }
        Presence if !matches!(value.as_str(), Some("required" | "optional")) => {
            errors.push(ValidationError::invalid(
                path,
                value,
                "must be \"required\" or \"optional\"",
            ));
        }
        Steps => check_steps(path, value, errors),
        Profile => check_profile(path, value, errors),
        Object | ObjectOrList | Presence => {}
    }
}

fn check_text(path: &str, value: &Value, max: Option<usize>, errors: &mut Vec<ValidationError>) {
    match (value.as_str(), max) {
        (None | Some(""), _) => errors.push(ValidationError::wrong_type(
            path,
            "a non-empty string",
            value,
        )),
        (Some(text), Some(max)) => check_length(path, text, max, errors),
        (Some(_), None) => {}
    }
}

fn check_length(path: &str, text: &str, max: usize, errors: &mut Vec<ValidationError>) {
    if text.len() > max {
        errors.push(ValidationError::too_long(path, text.len(), max));
    }
}

fn check_steps(path: &str, value: &Value, errors: &mut Vec<ValidationError>) {
    let Some(steps) = value.as_array() else {
        errors.push(ValidationError::wrong_type(path, "a list of steps", value));
        return;
    };
    for (i, step) in steps.iter().enumerate() {
        let step_path = field_index(path, i);
        match step.get("action") {
            _ if !step.is_object() => errors.push(ValidationError::wrong_type(
                &step_path,
                "an object with an action",
                step,
            )),
            None => errors.push(ValidationError::missing(&format!("{step_path}.action"), "")),
            Some(action) => check_text(
                &format!("{step_path}.action"),
                action,
                Some(MAX_SPEC_TEXT_BYTES),
                errors,
            ),
        }
    }
}

fn check_profile(path: &str, value: &Value, errors: &mut Vec<ValidationError>) {
    let Some(profile) = value.as_object() else {
        errors.push(ValidationError::wrong_type(path, "an object", value));
        return;
    };
    for key in ["displayName", "email", "picture"] {
        if let Some(member) = profile.get(key).filter(|v| !v.is_string()) {
            errors.push(ValidationError::wrong_type(
                &format!("{path}.{key}"),
                "a string",
                member,
            ));
        }
    }
}
