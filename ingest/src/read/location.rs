//! The targets of the Location entities in a file: `spec.target` and `spec.targets[]`,
//! of `spec.type` (default: the type of the file they were read from), resolved against
//! that file or URL, with `spec.presence` (`required` by default, or `optional`).
//!
//! Only valid Location entities lead anywhere. This module reads nothing; the driver in
//! `mod.rs` follows the targets, with the depth limit and cycle detection. A target is
//! kept as written ([`Written`]) with a skippable file's digest, and resolved again
//! against the file's address when the file is skipped.

use almanac_domain::{Candidate, Kind};
use serde::{Deserialize, Serialize};
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

/// A target as its Location entity writes it, before it is resolved: what a skipped
/// Location file is recorded with (`digest.rs`), so that its targets are followed
/// without parsing it. Resolving depends only on this and the file's address.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Written {
    #[serde(rename = "type")]
    pub(crate) target_type: String,
    pub(crate) target: String,
    pub(crate) optional: bool,
    pub(crate) declared_by: String,
}

impl Written {
    pub(crate) fn resolve(&self, parent: &Address) -> Target {
        let address = parent.resolve_target(&self.target_type, &self.target);
        let key = match &address {
            Ok(address) => address.key(),
            Err(_) => redact(&format!("{}:{}", self.target_type, self.target)),
        };
        Target {
            address: address.map_err(|error| error.0),
            key,
            optional: self.optional,
            declared_by: self.declared_by.clone(),
        }
    }
}

/// Every target the valid Location entities of `candidates` write, in order.
pub(crate) fn written(candidates: &[Candidate], parent: &Address) -> Vec<Written> {
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
            out.push(Written {
                target_type: target_type.to_string(),
                target: target.to_string(),
                optional,
                declared_by: entity.entity_ref().to_string(),
            });
        }
    }
    out
}
