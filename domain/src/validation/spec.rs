//! Rules for `spec` by kind: which fields each built-in kind requires and what shape each
//! known field has (DESIGN.md section 1, "Built-in kinds and their required spec fields").
//!
//! Unknown spec keys are allowed and kept. Reference syntax (`owner: user:jdoe`) is not
//! checked here but in `relations`, which owns the reference rules.

use serde_json::Value;

use super::{field_index, ValidationError};
use crate::kind::Kind;

#[derive(Clone, Copy)]
enum Shape {
    /// A non-empty string.
    Text,
    /// A list of non-empty strings; the list itself may be empty.
    TextList,
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
    req("definition", Text),
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
    opt("target", Text),
    opt("targets", TextList),
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
    for field in fields_of(kind) {
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
}

fn check_shape(path: &str, shape: Shape, value: &Value, errors: &mut Vec<ValidationError>) {
    match shape {
        Text => check_text(path, value, errors),
        TextList => match value.as_array() {
            None => errors.push(ValidationError::wrong_type(
                path,
                "a list of strings (it may be empty)",
                value,
            )),
            Some(items) => {
                for (i, item) in items.iter().enumerate() {
                    check_text(&field_index(path, i), item, errors);
                }
            }
        },
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

fn check_text(path: &str, value: &Value, errors: &mut Vec<ValidationError>) {
    if value.as_str().is_none_or(str::is_empty) {
        errors.push(ValidationError::wrong_type(
            path,
            "a non-empty string",
            value,
        ));
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
            Some(action) => check_text(&format!("{step_path}.action"), action, errors),
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
