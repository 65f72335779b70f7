//! Entity references: `[kind:][namespace/]name`, parsed, compared and printed.
//!
//! A ref keeps the author's spelling for display and compares by its lower-cased canonical
//! form `kind:namespace/name`, which is an entity's identity. This module only does syntax:
//! it does not check that the parts are valid names or that the entity exists.

use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A reference to an entity, e.g. `Component:default/payments`.
#[derive(Clone, Debug)]
pub struct EntityRef {
    kind: String,
    namespace: String,
    name: String,
}

/// Why a ref could not be parsed. Each variant names the part at fault.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RefError {
    #[error("entity ref is empty: a name is required")]
    Empty,
    #[error("entity ref {text:?} has an empty kind (before ':')")]
    EmptyKind { text: String },
    #[error("entity ref {text:?} has an empty namespace (between ':' and '/')")]
    EmptyNamespace { text: String },
    #[error("entity ref {text:?} has an empty name")]
    EmptyName { text: String },
    #[error("entity ref {text:?} has no kind, and the kind is required here (write kind:{text})")]
    KindRequired { text: String },
}

impl EntityRef {
    /// Builds a ref from parts as given. It does not validate them: use [`EntityRef::parse`]
    /// for text from users, or `Entity::entity_ref` for a validated entity.
    pub fn new(
        kind: impl Into<String>,
        namespace: impl Into<String>,
        name: impl Into<String>,
    ) -> Self {
        EntityRef {
            kind: kind.into(),
            namespace: namespace.into(),
            name: name.into(),
        }
    }

    /// Parses `[kind:][namespace/]name`.
    ///
    /// The text splits at its first `:` and its first `/`; when the `/` comes first there is
    /// no kind, so the name may itself hold `:` and `/` (`a:b/c/d` names `c/d`).
    pub fn parse(
        text: &str,
        default_kind: Option<&str>,
        default_namespace: &str,
    ) -> Result<EntityRef, RefError> {
        if text.is_empty() {
            return Err(RefError::Empty);
        }
        let owned = || text.to_string();
        let colon = text.find(':');
        let slash = text.find('/');
        let (kind, rest) = match (colon, slash) {
            (Some(c), Some(s)) if c < s => (Some(&text[..c]), &text[c + 1..]),
            (Some(c), None) => (Some(&text[..c]), &text[c + 1..]),
            _ => (None, text),
        };
        let (namespace, name) = match rest.find('/') {
            Some(s) => (Some(&rest[..s]), &rest[s + 1..]),
            None => (None, rest),
        };
        if kind == Some("") {
            return Err(RefError::EmptyKind { text: owned() });
        }
        if namespace == Some("") {
            return Err(RefError::EmptyNamespace { text: owned() });
        }
        if name.is_empty() {
            return Err(RefError::EmptyName { text: owned() });
        }
        let kind = match kind.or(default_kind) {
            Some(kind) => kind,
            None => return Err(RefError::KindRequired { text: owned() }),
        };
        Ok(EntityRef::new(
            kind,
            namespace.unwrap_or(default_namespace),
            name,
        ))
    }

    pub fn kind(&self) -> &str {
        &self.kind
    }

    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// The identity: `kind:namespace/name`, lower-cased.
    pub fn canonical(&self) -> String {
        let parts = [
            self.kind.as_str(),
            self.namespace.as_str(),
            self.name.as_str(),
        ];
        if !parts.iter().all(|part| part.is_ascii()) {
            return self.canonical_chars().collect();
        }
        // ASCII (nearly every ref): lower-cased byte by byte, the same text as char by
        // char, without a char iterator (a start-up fold derives a million of these).
        let mut text = String::with_capacity(parts.iter().map(|p| p.len()).sum::<usize>() + 2);
        for (part, separator) in parts.into_iter().zip([":", "/", ""]) {
            text.push_str(part);
            text.push_str(separator);
        }
        text.make_ascii_lowercase();
        text
    }

    /// Lower-cases char by char (not `str::to_lowercase`, whose final-sigma rule depends on
    /// context) so that `canonical`, `Eq`, `Hash` and `Ord` agree exactly.
    fn canonical_chars(&self) -> impl Iterator<Item = char> + '_ {
        self.kind
            .chars()
            .chain(std::iter::once(':'))
            .chain(self.namespace.chars())
            .chain(std::iter::once('/'))
            .chain(self.name.chars())
            .flat_map(char::to_lowercase)
    }
}

impl fmt::Display for EntityRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}/{}", self.kind, self.namespace, self.name)
    }
}

impl PartialEq for EntityRef {
    fn eq(&self, other: &Self) -> bool {
        self.canonical_chars().eq(other.canonical_chars())
    }
}

impl Eq for EntityRef {}

impl Hash for EntityRef {
    fn hash<H: Hasher>(&self, state: &mut H) {
        for c in self.canonical_chars() {
            c.hash(state);
        }
    }
}

impl PartialOrd for EntityRef {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for EntityRef {
    fn cmp(&self, other: &Self) -> Ordering {
        self.canonical_chars().cmp(other.canonical_chars())
    }
}

impl Serialize for EntityRef {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for EntityRef {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        EntityRef::parse(&text, None, "default").map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    /// The ASCII fast path writes the same text as lower-casing char by char.
    #[test]
    fn canonical_is_the_same_on_the_ascii_path_and_char_by_char() {
        for (kind, namespace, name) in [
            ("Component", "default", "Payments-API_v2.1"),
            ("API", "Team-X", "ORDERS"),
            ("group", "default", ""),
            ("Component", "default", "Ärger-ΣΑΣ"),
            ("KIND", "naïve", "x"),
        ] {
            let entity_ref = EntityRef::new(kind, namespace, name);
            let by_chars: String = entity_ref.canonical_chars().collect();
            assert_eq!(entity_ref.canonical(), by_chars);
        }
        assert_eq!(
            EntityRef::new("API", "Team-X", "ORDERS").canonical(),
            "api:team-x/orders"
        );
    }

    fn parts(text: &str) -> (String, String, String) {
        let r = EntityRef::parse(text, Some("dk"), "dns").unwrap();
        (r.kind().into(), r.namespace().into(), r.name().into())
    }

    fn p(kind: &str, ns: &str, name: &str) -> (String, String, String) {
        (kind.into(), ns.into(), name.into())
    }

    #[test]
    fn splits_at_the_first_colon_and_the_first_slash() {
        assert_eq!(parts("a:b:c"), p("a", "dns", "b:c"));
        assert_eq!(parts("a/b/c"), p("dk", "a", "b/c"));
        assert_eq!(parts("a/b:c"), p("dk", "a", "b:c"));
        assert_eq!(parts("a:b/c/d"), p("a", "b", "c/d"));
        assert_eq!(parts("a:b/c:d"), p("a", "b", "c:d"));
        assert_eq!(parts("a:c"), p("a", "dns", "c"));
        assert_eq!(parts("c"), p("dk", "dns", "c"));
    }

    #[test]
    fn rejects_empty_parts_naming_the_part() {
        let cases = [
            (":b/c", "empty kind"),
            ("a:/c", "empty namespace"),
            ("a:b/", "empty name"),
            ("/c", "empty namespace"),
            ("b/", "empty name"),
            (":c", "empty kind"),
            ("a:", "empty name"),
            ("", "is empty"),
        ];
        for (text, expected) in cases {
            let err = EntityRef::parse(text, Some("dk"), "default").unwrap_err();
            assert!(
                err.to_string().contains(expected),
                "{text:?}: got {err}, expected {expected}"
            );
        }
    }

    #[test]
    fn a_missing_kind_without_a_default_is_an_error() {
        let err = EntityRef::parse("team-a", None, "default").unwrap_err();
        assert_eq!(
            err,
            RefError::KindRequired {
                text: "team-a".into()
            }
        );
        assert!(err.to_string().contains("kind is required"));
    }

    #[test]
    fn identity_is_case_insensitive_and_display_keeps_case() {
        let a = EntityRef::parse("Component:Default/Payments", None, "default").unwrap();
        let b = EntityRef::parse("component:default/payments", None, "default").unwrap();
        assert_eq!(a, b);
        assert_eq!(a.cmp(&b), Ordering::Equal);
        assert_eq!(a.canonical(), "component:default/payments");
        assert_eq!(a.to_string(), "Component:Default/Payments");
        let mut set = std::collections::HashSet::new();
        set.insert(a);
        assert!(set.contains(&b));
    }

    #[test]
    fn orders_by_canonical_form() {
        let mut refs = [
            EntityRef::new("b", "x", "y"),
            EntityRef::new("A", "z", "z"),
            EntityRef::new("a", "Y", "z"),
        ];
        refs.sort();
        let canon: Vec<String> = refs.iter().map(EntityRef::canonical).collect();
        let mut sorted = canon.clone();
        sorted.sort();
        assert_eq!(canon, sorted);
    }

    #[test]
    fn serde_uses_the_display_string() {
        let r = EntityRef::new("Group", "default", "team:a/b");
        let json = serde_json::to_value(&r).unwrap();
        assert_eq!(json, serde_json::json!("Group:default/team:a/b"));
        let back: EntityRef = serde_json::from_value(json).unwrap();
        assert_eq!(back.kind(), "Group");
        assert_eq!(back.name(), "team:a/b");
    }
}
