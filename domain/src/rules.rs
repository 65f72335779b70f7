//! Which kinds a location may register: Backstage's `catalog.rules` (global rules, each
//! `allow: [Kind, ...]` with optional `locations` conditions) and the per-location
//! `rules` of `catalog.locations`, plus what a custom kind needs besides being allowed.
//!
//! Pure: [`KindRules::check`] judges one valid entity against the location it was read
//! from (its location key, `file:<path>`, `url:<url>` or `api:<name>`). With no rules
//! configured every built-in kind is allowed and nothing else (Backstage's own default
//! is `[Component, API, Location]`; see the README's differences). It does not read
//! configuration files or decide events: ingest turns a refusal into an invalid
//! candidate.

use serde::Deserialize;

use crate::entity::Entity;
use crate::kind::Kind;
use crate::validation::{syntax, ValidationError};

/// One rule, in Backstage's shape: `{ allow: [Component, API], locations: [...] }`.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    /// Kinds this rule allows (compared ignoring case, as Backstage does).
    pub allow: Vec<String>,
    /// Where the rule applies; absent: everywhere. An empty list matches nothing.
    #[serde(default)]
    pub locations: Option<Vec<LocationCondition>>,
}

/// A condition on the location an entity was read from (Backstage's
/// `{ type, exact }` / `{ type, pattern }`; `target` is what per-location rules use).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LocationCondition {
    #[serde(rename = "type")]
    pub location_type: String,
    /// The target, exactly.
    #[serde(default)]
    pub exact: Option<String>,
    /// A glob over the target (`*` within a path segment, `**` across), ignoring case.
    #[serde(default)]
    pub pattern: Option<String>,
    /// A configured location's target: exact, or a glob when it holds one.
    #[serde(default)]
    pub target: Option<String>,
}

/// The rules one catalog reads under.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct KindRules {
    /// `None`: nothing configured (every built-in kind, nothing else).
    rules: Option<Vec<Rule>>,
}

/// Kinds Backstage had and removed: named in the refusal so the fix is obvious.
const REMOVED_KINDS: [(&str, &str); 1] = [("LocationRef", "use kind Location")];

impl KindRules {
    /// Every built-in kind, nothing else: what Almanac reads with no rules configured.
    pub fn builtin() -> Self {
        KindRules { rules: None }
    }

    /// `catalog.rules` (`None` when the key is absent: the built-in kinds) followed by
    /// each configured location's own rules, which apply to what is read from that
    /// location's target (`location_type`, `target`: the resolved target).
    pub fn configured(
        global: Option<Vec<Rule>>,
        per_location: impl IntoIterator<Item = (String, String, Vec<Rule>)>,
    ) -> Self {
        let per_location: Vec<Rule> = per_location
            .into_iter()
            .flat_map(|(location_type, target, rules)| {
                rules.into_iter().map(move |rule| Rule {
                    allow: rule.allow,
                    locations: Some(vec![LocationCondition {
                        location_type: location_type.clone(),
                        exact: None,
                        pattern: None,
                        target: Some(target.clone()),
                    }]),
                })
            })
            .collect();
        if global.is_none() && per_location.is_empty() {
            return KindRules::builtin();
        }
        let mut rules = match global {
            Some(global) => global,
            // Per-location rules add to the default, as Backstage's add to its default.
            None => vec![Rule {
                allow: Kind::BUILTIN
                    .iter()
                    .map(|k| k.as_str().to_string())
                    .collect(),
                locations: None,
            }],
        };
        rules.extend(per_location);
        KindRules { rules: Some(rules) }
    }

    /// A stable text of the rules, for digests: a file decided under other rules is
    /// decided again.
    pub fn fingerprint(&self) -> String {
        format!("{:?}", self.rules)
    }

    /// Whether `entity`, read from `location` (a location key), may be registered; the
    /// error says why not, in the words of Backstage's refusal where it has one.
    pub fn check(&self, entity: &Entity, location: &str) -> Result<(), ValidationError> {
        let kind = entity.kind();
        let allowed = self.allows(kind.as_str(), location);
        let api_version = entity.api_version();
        match (kind.is_builtin(), allowed) {
            (true, true) => Ok(()),
            (true, false) => Err(ValidationError::new(
                "kind",
                format!(
                    "{} is not of an allowed kind for location {location}: catalog.rules \
                     allow {} there",
                    entity.entity_ref(),
                    self.allowed_at(location)
                ),
            )),
            (false, true) if api_version.contains('/') && syntax::is_api_version(api_version) => {
                Ok(())
            }
            (false, true) => Err(ValidationError::new(
                "apiVersion",
                format!(
                    "apiVersion {api_version:?} is not valid for custom kind {kind}: a custom \
                     kind needs <group>/<version>, such as example.com/v1"
                ),
            )),
            (false, false) => Err(ValidationError::new(
                "kind",
                format!(
                    "no processor recognized the entity {} as valid: {}",
                    entity.entity_ref(),
                    foreign_reason(kind, api_version, location)
                ),
            )),
        }
    }

    fn allows(&self, kind: &str, location: &str) -> bool {
        match &self.rules {
            None => Kind::parse(kind).is_builtin(),
            Some(rules) => rules.iter().any(|rule| {
                rule_applies(rule, location)
                    && rule.allow.iter().any(|k| k.eq_ignore_ascii_case(kind))
            }),
        }
    }

    /// The kinds allowed at `location`, for messages.
    fn allowed_at(&self, location: &str) -> String {
        let kinds: Vec<String> = match &self.rules {
            None => Kind::BUILTIN
                .iter()
                .map(|k| k.as_str().to_string())
                .collect(),
            Some(rules) => {
                let mut kinds: Vec<String> = Vec::new();
                for rule in rules.iter().filter(|rule| rule_applies(rule, location)) {
                    for kind in &rule.allow {
                        if !kinds.iter().any(|k| k.eq_ignore_ascii_case(kind)) {
                            kinds.push(kind.clone());
                        }
                    }
                }
                kinds
            }
        };
        if kinds.is_empty() {
            "no kind".to_string()
        } else {
            kinds.join(", ")
        }
    }
}

fn foreign_reason(kind: &Kind, api_version: &str, location: &str) -> String {
    if let Some((_, fix)) = REMOVED_KINDS.iter().find(|(k, _)| *k == kind.as_str()) {
        return format!("kind {kind} was removed from Backstage ({fix})");
    }
    let group = api_version.split_once('/').map(|(group, _)| group);
    let ecosystem = match group {
        Some(group) if !group.ends_with("backstage.io") => {
            format!(" (apiVersion {api_version} belongs to {group}, not to a catalog)")
        }
        None => format!(" (apiVersion {api_version} is a Kubernetes core version)"),
        Some(_) => String::new(),
    };
    format!(
        "kind {kind} is not a Backstage kind{ecosystem} and no catalog.rules entry allows it \
         for location {location}"
    )
}

fn rule_applies(rule: &Rule, location: &str) -> bool {
    let Some(conditions) = &rule.locations else {
        return true;
    };
    let (location_type, target) = location.split_once(':').unwrap_or(("", location));
    conditions.iter().any(|condition| {
        condition.location_type == location_type
            && condition
                .exact
                .as_deref()
                .is_none_or(|exact| exact == target)
            && condition
                .pattern
                .as_deref()
                .is_none_or(|pattern| glob_matches(pattern, target))
            && condition.target.as_deref().is_none_or(|configured| {
                configured == target || (has_glob(configured) && glob_matches(configured, target))
            })
    })
}

/// True when `text` holds a glob character (`*`, `?`, `[`, `{`).
pub fn has_glob(text: &str) -> bool {
    text.contains(['*', '?', '[', '{'])
}

/// minimatch's core, ignoring case: `**` matches across `/`, `*` and `?` within one
/// segment. Character classes and braces are not supported (they match literally).
pub fn glob_matches(pattern: &str, text: &str) -> bool {
    let pattern: Vec<char> = pattern.to_lowercase().chars().collect();
    let text: Vec<char> = text.to_lowercase().chars().collect();
    matches_from(&pattern, &text)
}

fn matches_from(pattern: &[char], text: &[char]) -> bool {
    match pattern {
        [] => text.is_empty(),
        ['*', '*', rest @ ..] => {
            // `**/` may also match nothing at all.
            let rest_after_slash = match rest {
                ['/', after @ ..] => Some(after),
                _ => None,
            };
            if rest_after_slash.is_some_and(|after| matches_from(after, text)) {
                return true;
            }
            (0..=text.len()).any(|skip| matches_from(rest, &text[skip..]))
        }
        ['*', rest @ ..] => {
            let segment = text.iter().position(|c| *c == '/').unwrap_or(text.len());
            (0..=segment).any(|skip| matches_from(rest, &text[skip..]))
        }
        ['?', rest @ ..] => matches!(text, [c, ..] if *c != '/') && matches_from(rest, &text[1..]),
        [p, rest @ ..] => matches!(text, [c, ..] if c == p) && matches_from(rest, &text[1..]),
    }
}

#[cfg(test)]
mod tests;
