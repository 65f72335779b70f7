//! The targets of the Location entities in a file: `spec.target` and `spec.targets[]`,
//! of `spec.type` (default: the type of the file they were read from), resolved against
//! that file or URL, with `spec.presence` (`required` by default, or `optional`).
//!
//! Only valid Location entities lead anywhere. This module reads nothing; the driver in
//! `mod.rs` follows the targets, with the depth limit and cycle detection.

use almanac_domain::{Candidate, Kind};
use serde_json::Value;

use super::address::Address;
use super::allow::redact;

/// One target of one Location entity.
#[derive(Clone, Debug)]
pub(crate) struct Target {
    /// The resolved address, or why the target cannot be followed.
    pub(crate) address: Result<Address, String>,
    /// The key to report a failure under: the resolved key, or `<type>:<target>` as written.
    pub(crate) key: String,
    pub(crate) optional: bool,
    /// The Location entity that names it (`location:default/x`).
    pub(crate) declared_by: String,
}

pub(crate) fn targets(candidates: &[Candidate], parent: &Address) -> Vec<Target> {
    let mut out = Vec::new();
    for candidate in candidates {
        let Candidate::Valid(entity) = candidate else {
            continue;
        };
        if *entity.kind() != Kind::Location {
            continue;
        }
        let spec = entity.spec();
        let target_type = spec
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or(parent.default_type());
        let optional = spec.get("presence").and_then(Value::as_str) == Some("optional");
        let single = spec.get("target").and_then(Value::as_str);
        let many = spec
            .get("targets")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str);
        for target in single.into_iter().chain(many) {
            let address = parent.resolve_target(target_type, target);
            let key = match &address {
                Ok(address) => address.key(),
                Err(_) => redact(&format!("{target_type}:{target}")),
            };
            out.push(Target {
                address: address.map_err(|error| error.0),
                key,
                optional,
                declared_by: entity.entity_ref().to_string(),
            });
        }
    }
    out
}
