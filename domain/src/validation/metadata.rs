//! Rules for `metadata`: name, namespace, title, description, labels, annotations, tags and
//! links. Other metadata keys are allowed and kept, as in Backstage.
//!
//! It only reports; the namespace default is written by `Entity::from_value`.

use serde_json::{Map, Value};

use super::limits::{
    MAX_ANNOTATIONS, MAX_ANNOTATION_VALUE_BYTES, MAX_DESCRIPTION_BYTES, MAX_LABELS, MAX_TAGS,
    MAX_TITLE_BYTES, MAX_URL_BYTES,
};
use super::{field_index, field_key, syntax, ValidationError};
use crate::entity::{MANAGED_BY_LOCATION, MANAGED_BY_ORIGIN_LOCATION};

pub(super) fn check(metadata: Option<&Value>, errors: &mut Vec<ValidationError>) {
    let Some(value) = metadata else {
        errors.push(ValidationError::missing("metadata", ""));
        return;
    };
    let Some(metadata) = value.as_object() else {
        errors.push(ValidationError::wrong_type("metadata", "an object", value));
        return;
    };
    match metadata.get("name") {
        None => errors.push(ValidationError::missing("metadata.name", "")),
        Some(name) => check_text(
            "metadata.name",
            name,
            syntax::is_object_name,
            syntax::OBJECT_NAME_RULE,
            errors,
        ),
    }
    if let Some(namespace) = metadata.get("namespace") {
        check_text(
            "metadata.namespace",
            namespace,
            syntax::is_dns_label,
            syntax::DNS_LABEL_RULE,
            errors,
        );
    }
    for (key, max) in [
        ("title", MAX_TITLE_BYTES),
        ("description", MAX_DESCRIPTION_BYTES),
    ] {
        let field = format!("metadata.{key}");
        match metadata.get(key) {
            Some(Value::String(text)) if text.len() > max => {
                errors.push(ValidationError::too_long(&field, text.len(), max));
            }
            Some(value) if !value.is_string() => {
                errors.push(ValidationError::wrong_type(&field, "a string", value));
            }
            _ => {}
        }
    }
    if let Some(labels) = metadata.get("labels") {
        check_map("metadata.labels", labels, true, errors);
    }
    if let Some(annotations) = metadata.get("annotations") {
        check_map("metadata.annotations", annotations, false, errors);
    }
    if let Some(tags) = metadata.get("tags") {
        check_tags(tags, errors);
    }
    if let Some(links) = metadata.get("links") {
        check_links(links, errors);
    }
}

fn check_text(
    field: &str,
    value: &Value,
    valid: fn(&str) -> bool,
    rule: &str,
    errors: &mut Vec<ValidationError>,
) {
    match value.as_str() {
        None => errors.push(ValidationError::wrong_type(field, "a string", value)),
        Some(text) if !valid(text) => errors.push(ValidationError::invalid(field, value, rule)),
        Some(_) => {}
    }
}

/// Labels and annotations: keys `[dns-subdomain/]name`, string values; label values are
/// further restricted to the name syntax (or empty).
fn check_map(field: &str, value: &Value, is_labels: bool, errors: &mut Vec<ValidationError>) {
    let Some(map) = value.as_object() else {
        errors.push(ValidationError::wrong_type(
            field,
            "a map of strings",
            value,
        ));
        return;
    };
    let max = if is_labels {
        MAX_LABELS
    } else {
        MAX_ANNOTATIONS
    };
    if map.len() > max {
        errors.push(ValidationError::too_many(field, "entries", map.len(), max));
        return;
    }
    for (key, member) in map {
        // The path is built only for an entry that has an error (most have none).
        let member_field = || field_key(field, key);
        if !syntax::is_label_key(key) {
            errors.push(ValidationError::new(
                member_field(),
                format!(
                    "{field} key {key:?} is not valid: {}",
                    syntax::LABEL_KEY_RULE
                ),
            ));
        }
        if is_labels {
            if member.as_str().is_some_and(syntax::is_label_value) {
                continue;
            }
            check_text(
                &member_field(),
                member,
                syntax::is_label_value,
                syntax::LABEL_VALUE_RULE,
                errors,
            );
        } else {
            match member.as_str() {
                None => errors.push(ValidationError::wrong_type(
                    &member_field(),
                    "a string",
                    member,
                )),
                Some(text) if text.len() > annotation_limit(key) => errors.push(
                    ValidationError::too_long(&member_field(), text.len(), annotation_limit(key)),
                ),
                Some(_) => {}
            }
        }
    }
}

/// The location annotations are indexed (an entity's source and origin), so they are held
/// to the URL limit; other values only to the generous annotation limit.
fn annotation_limit(key: &str) -> usize {
    if key == MANAGED_BY_LOCATION || key == MANAGED_BY_ORIGIN_LOCATION {
        MAX_URL_BYTES
    } else {
        MAX_ANNOTATION_VALUE_BYTES
    }
}

fn check_tags(value: &Value, errors: &mut Vec<ValidationError>) {
    let Some(tags) = value.as_array() else {
        errors.push(ValidationError::wrong_type(
            "metadata.tags",
            "a list of strings",
            value,
        ));
        return;
    };
    if tags.len() > MAX_TAGS {
        errors.push(ValidationError::too_many(
            "metadata.tags",
            "tags",
            tags.len(),
            MAX_TAGS,
        ));
        return;
    }
    for (i, tag) in tags.iter().enumerate() {
        let field = field_index("metadata.tags", i);
        check_text(&field, tag, syntax::is_tag, syntax::TAG_RULE, errors);
    }
}

fn check_links(value: &Value, errors: &mut Vec<ValidationError>) {
    let Some(links) = value.as_array() else {
        errors.push(ValidationError::wrong_type(
            "metadata.links",
            "a list of links",
            value,
        ));
        return;
    };
    for (i, link) in links.iter().enumerate() {
        let field = field_index("metadata.links", i);
        match link.as_object() {
            None => errors.push(ValidationError::wrong_type(
                &field,
                "an object with a url",
                link,
            )),
            Some(link) => check_link(&field, link, errors),
        }
    }
}

fn check_link(field: &str, link: &Map<String, Value>, errors: &mut Vec<ValidationError>) {
    let url_field = format!("{field}.url");
    match link.get("url") {
        None => errors.push(ValidationError::missing(&url_field, "")),
        Some(Value::String(url)) if url.len() > MAX_URL_BYTES => {
            errors.push(ValidationError::too_long(
                &url_field,
                url.len(),
                MAX_URL_BYTES,
            ));
        }
        Some(url) => check_text(
            &url_field,
            url,
            syntax::is_absolute_url,
            syntax::URL_RULE,
            errors,
        ),
    }
    for key in ["title", "icon", "type"] {
        if let Some(value) = link.get(key).filter(|v| !v.is_string()) {
            errors.push(ValidationError::wrong_type(
                &format!("{field}.{key}"),
                "a string",
                value,
            ));
        }
    }
}
