//! Entity kinds: the nine built into Backstage's model, and any custom kind.
//!
//! Parsing is case-sensitive, as in Backstage (`component` is not `Component`). This module
//! does not validate kind syntax or report errors; `validation` does that, using
//! [`Kind::builtin_ignoring_case`] to suggest the right spelling.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    Component,
    Api,
    Resource,
    System,
    Domain,
    Group,
    User,
    Location,
    Template,
    /// Any other kind, spelled as written.
    Custom(String),
}

impl Kind {
    /// The built-in kinds, in the order of Backstage's documentation.
    pub const BUILTIN: [Kind; 9] = [
        Kind::Component,
        Kind::Api,
        Kind::Resource,
        Kind::System,
        Kind::Domain,
        Kind::Group,
        Kind::User,
        Kind::Location,
        Kind::Template,
    ];

    /// Exact, case-sensitive match on the built-in spellings; anything else is `Custom`.
    pub fn parse(text: &str) -> Kind {
        Kind::BUILTIN
            .iter()
            .find(|kind| kind.as_str() == text)
            .cloned()
            .unwrap_or_else(|| Kind::Custom(text.to_string()))
    }

    /// The spelling used in descriptors (`API` for [`Kind::Api`]).
    pub fn as_str(&self) -> &str {
        match self {
            Kind::Component => "Component",
            Kind::Api => "API",
            Kind::Resource => "Resource",
            Kind::System => "System",
            Kind::Domain => "Domain",
            Kind::Group => "Group",
            Kind::User => "User",
            Kind::Location => "Location",
            Kind::Template => "Template",
            Kind::Custom(text) => text,
        }
    }

    pub fn is_builtin(&self) -> bool {
        !matches!(self, Kind::Custom(_))
    }

    /// The built-in kind that `text` spells, ignoring case (`component` -> `Component`).
    /// Used to point out a mis-cased kind rather than silently accept it as custom.
    pub fn builtin_ignoring_case(text: &str) -> Option<Kind> {
        Kind::BUILTIN
            .iter()
            .find(|kind| kind.as_str().eq_ignore_ascii_case(text))
            .cloned()
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Kind {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Kind {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Ok(Kind::parse(&text))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_is_case_sensitive() {
        assert_eq!(Kind::parse("Component"), Kind::Component);
        assert_eq!(Kind::parse("API"), Kind::Api);
        assert_eq!(Kind::parse("Api"), Kind::Custom("Api".into()));
        assert_eq!(Kind::parse("component"), Kind::Custom("component".into()));
        assert_eq!(Kind::parse("Widget"), Kind::Custom("Widget".into()));
    }

    #[test]
    fn round_trips_every_builtin() {
        for kind in Kind::BUILTIN {
            assert_eq!(Kind::parse(kind.as_str()), kind);
            assert!(kind.is_builtin());
        }
        assert!(!Kind::parse("Widget").is_builtin());
    }

    #[test]
    fn suggests_the_builtin_spelling() {
        assert_eq!(
            Kind::builtin_ignoring_case("component"),
            Some(Kind::Component)
        );
        assert_eq!(Kind::builtin_ignoring_case("api"), Some(Kind::Api));
        assert_eq!(Kind::builtin_ignoring_case("Widget"), None);
    }
}
