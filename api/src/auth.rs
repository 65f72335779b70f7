//! Bearer tokens from the service configuration, and what each may do.
//!
//! The configuration holds only the SHA-256 (hex) of each token, with the
//! token's subject, scopes and the push sources it owns; a request's
//! `Authorization: Bearer <token>` is hashed and looked up. A presented token
//! is authoritative: one that matches nothing, or a malformed header, is
//! refused outright (never downgraded to anonymous), and a token without the
//! `read` scope cannot read even where anonymous clients may. Whether
//! anonymous requests may read is the configuration's choice; writing always
//! needs the `write` scope, and a push may only go to a source the token owns.
//!
//! It does not decide transport matters (HTTP status, WebSocket close codes):
//! `http` maps these errors onto them.

use crate::error::{ApiError, ErrorCode};
use axum::http::{header, HeaderMap};
use serde::Deserialize;
use sha2::{Digest, Sha256};

/// `auth:` in the service configuration.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct AuthConfig {
    /// Requests without a token may run queries.
    pub anonymous_read: bool,
    pub tokens: Vec<TokenConfig>,
    /// `/metrics` needs a token with the `metrics` scope.
    pub metrics_token_required: bool,
    /// A WebSocket must send `connection_init` within this time, or it is
    /// closed with 4408.
    pub connection_init_timeout_ms: u64,
}

impl Default for AuthConfig {
    /// Reads for anyone, writes for no one: safe until tokens are configured.
    fn default() -> Self {
        Self {
            anonymous_read: true,
            tokens: Vec::new(),
            metrics_token_required: false,
            connection_init_timeout_ms: 10_000,
        }
    }
}

#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct TokenConfig {
    /// Who the token stands for; recorded as the actor of what it changes.
    pub subject: String,
    /// Lower-case hex SHA-256 of the token (`printf %s "$TOKEN" | sha256sum`).
    pub sha256: String,
    pub scopes: Vec<Scope>,
    /// Push sources besides `api:<subject>` this token may write to
    /// (`api:shared`, or just `shared`).
    #[serde(default)]
    pub sources: Vec<String>,
}

#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    /// Run GraphQL operations (every operation's answer is catalog data).
    Read,
    /// Run mutations (together with `read`).
    Write,
    /// Scrape `/metrics` when `auth.metrics_token_required` is set.
    Metrics,
    /// Add and remove locations, and delete entities of any source (together
    /// with `read` and `write`).
    Admin,
}

/// Who is asking, as resolvers see it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Principal {
    /// No token; exists only where `anonymous_read` is on.
    Anonymous,
    Token {
        subject: String,
        scopes: Vec<Scope>,
        /// Extra push sources, normalised to `api:<name>`.
        sources: Vec<String>,
    },
}

impl Principal {
    pub fn subject(&self) -> Option<&str> {
        match self {
            Principal::Anonymous => None,
            Principal::Token { subject, .. } => Some(subject),
        }
    }

    /// Whether this principal may run GraphQL operations at all: anonymous
    /// (where allowed) or a token with `read`. A mutation's answer is catalog
    /// data too, so a writer needs `read` as well.
    pub fn reader(&self) -> Result<(), ApiError> {
        match self {
            Principal::Anonymous => Ok(()),
            Principal::Token { scopes, .. } if scopes.contains(&Scope::Read) => Ok(()),
            Principal::Token { subject, .. } => Err(ApiError::new(
                ErrorCode::Forbidden,
                format!(
                    "the token of `{subject}` lacks the read scope, which every GraphQL \
                     operation needs (a writer needs [read, write])"
                ),
            )),
        }
    }

    /// The actor of a write, or why it is refused.
    pub fn writer(&self) -> Result<&str, ApiError> {
        match self {
            Principal::Anonymous => Err(ApiError::new(
                ErrorCode::Unauthenticated,
                "this operation needs a bearer token with the write scope",
            )),
            Principal::Token {
                subject, scopes, ..
            } if scopes.contains(&Scope::Write) => Ok(subject),
            Principal::Token { .. } => Err(ApiError::new(
                ErrorCode::Forbidden,
                "this token lacks the write scope",
            )),
        }
    }

    /// Whether this principal owns `source`: its own `api:<subject>` or one
    /// listed in its `sources`. The one ownership rule, for pushes and deletes.
    fn owns(&self, source: &str) -> bool {
        match self {
            Principal::Anonymous => false,
            Principal::Token {
                subject, sources, ..
            } => source == push_source(subject) || sources.iter().any(|s| s == source),
        }
    }

    /// What this principal owns, for error messages.
    fn owned(&self) -> String {
        match self {
            Principal::Anonymous => "nothing".into(),
            Principal::Token {
                subject, sources, ..
            } => std::iter::once(push_source(subject))
                .chain(sources.iter().cloned())
                .map(|s| format!("`{s}`"))
                .collect::<Vec<_>>()
                .join(", "),
        }
    }

    fn has(&self, scope: Scope) -> bool {
        matches!(self, Principal::Token { scopes, .. } if scopes.contains(&scope))
    }

    /// Whether a push may write to `source` (`api:<name>`): a source the
    /// token owns.
    pub fn may_push_to(&self, source: &str) -> Result<(), ApiError> {
        let subject = self.writer()?;
        if self.owns(source) {
            return Ok(());
        }
        Err(ApiError::new(
            ErrorCode::Forbidden,
            format!(
                "the token of `{subject}` may not push to source `{source}`: it owns {} \
                 (auth.tokens[].sources lists more)",
                self.owned(),
            ),
        ))
    }

    /// Whether `entity_ref`, managed by `source` (its
    /// `backstage.io/managed-by-location`), may be deleted: a source the token
    /// owns, or any source with the `admin` scope.
    pub fn may_delete(&self, entity_ref: &str, source: Option<&str>) -> Result<(), ApiError> {
        let subject = self.writer()?;
        if self.has(Scope::Admin) || source.is_some_and(|s| self.owns(s)) {
            return Ok(());
        }
        let managed = source.map_or("no source".to_string(), |s| format!("source `{s}`"));
        Err(ApiError::new(
            ErrorCode::Forbidden,
            format!(
                "the token of `{subject}` may not delete {entity_ref}: it belongs to {managed}, \
                 and the token owns {} (remove it at its source, or use a token with the \
                 admin scope)",
                self.owned(),
            ),
        ))
    }

    /// The actor of a location change (`operation`), which needs the
    /// `admin` scope besides `write`: a location decides what the server reads.
    pub fn admin(&self, operation: &str) -> Result<&str, ApiError> {
        let subject = self.writer()?;
        if self.has(Scope::Admin) {
            return Ok(subject);
        }
        Err(ApiError::new(
            ErrorCode::Forbidden,
            format!(
                "{operation} needs the admin scope, which the token of `{subject}` lacks \
                 (a location decides what the server reads)"
            ),
        ))
    }
}

/// The push source a name stands for: `api:<name>`, with or without the prefix.
pub fn push_source(name: &str) -> String {
    format!("api:{}", name.strip_prefix("api:").unwrap_or(name).trim())
}

/// The SHA-256 of `token`, as configured.
pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// The request's `Authorization` header, if any. More than one, or one that
/// is not visible ASCII, is refused rather than ignored: a client that meant
/// to authenticate must not silently become anonymous.
pub fn authorization_header(headers: &HeaderMap) -> Result<Option<&str>, ApiError> {
    let mut values = headers.get_all(header::AUTHORIZATION).iter();
    let Some(value) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(ApiError::new(
            ErrorCode::Unauthenticated,
            "send one Authorization header, not several",
        ));
    }
    value.to_str().map(Some).map_err(|_| {
        ApiError::new(
            ErrorCode::Unauthenticated,
            "the Authorization header must be ASCII: `Bearer <token>`",
        )
    })
}

impl AuthConfig {
    /// The principal behind an `Authorization` header value (or its absence).
    pub fn authenticate(&self, authorization: Option<&str>) -> Result<Principal, ApiError> {
        match authorization {
            Some(header) => self.token(header),
            None if self.anonymous_read => Ok(Principal::Anonymous),
            None => Err(ApiError::new(
                ErrorCode::Unauthenticated,
                "a bearer token is required",
            )),
        }
    }

    /// What in this configuration cannot work as its author likely meant,
    /// for `serve` to log at start (not refused: the server is still safe).
    pub fn warnings(&self) -> Vec<String> {
        let mut warnings = Vec::new();
        for token in &self.tokens {
            let has = |scope| token.scopes.contains(&scope);
            if !has(Scope::Read) && (has(Scope::Write) || !token.sources.is_empty()) {
                warnings.push(format!(
                    "auth.tokens: `{}` has no read scope, so it can run no GraphQL operation \
                     (a writer needs [read, write])",
                    token.subject
                ));
            }
            if has(Scope::Admin) && !has(Scope::Write) {
                warnings.push(format!(
                    "auth.tokens: `{}` has the admin scope without write, so it can change \
                     no location (an admin needs [read, write, admin])",
                    token.subject
                ));
            }
        }
        let scrapers = self
            .tokens
            .iter()
            .any(|t| t.scopes.contains(&Scope::Metrics));
        if self.metrics_token_required && !scrapers {
            warnings.push(
                "auth.metrics_token_required is set but no token has the metrics scope".into(),
            );
        }
        if self.connection_init_timeout_ms == 0 {
            warnings.push(
                "auth.connection_init_timeout_ms is 0: every WebSocket will be closed".into(),
            );
        }
        warnings
    }

    /// Whether a scrape of `/metrics` may proceed.
    pub fn metrics_access(&self, authorization: Option<&str>) -> Result<(), ApiError> {
        if !self.metrics_token_required {
            return Ok(());
        }
        let Some(header) = authorization else {
            return Err(ApiError::new(
                ErrorCode::Unauthenticated,
                "/metrics needs a bearer token with the metrics scope",
            ));
        };
        match self.token(header)? {
            Principal::Token { scopes, .. } if scopes.contains(&Scope::Metrics) => Ok(()),
            _ => Err(ApiError::new(
                ErrorCode::Forbidden,
                "this token lacks the metrics scope",
            )),
        }
    }

    /// The token a present header carries; anything malformed is refused.
    fn token(&self, header: &str) -> Result<Principal, ApiError> {
        let token = header
            .trim()
            .split_once(' ')
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, token)| token.trim())
            .filter(|token| !token.is_empty())
            .ok_or_else(|| {
                ApiError::new(
                    ErrorCode::Unauthenticated,
                    "the Authorization header must be `Bearer <token>`",
                )
            })?;
        let hash = token_hash(token);
        self.tokens
            .iter()
            .find(|t| {
                constant_time_eq(
                    t.sha256.trim().to_ascii_lowercase().as_bytes(),
                    hash.as_bytes(),
                )
            })
            .map(|t| Principal::Token {
                subject: t.subject.clone(),
                scopes: t.scopes.clone(),
                sources: t.sources.iter().map(|s| push_source(s)).collect(),
            })
            .ok_or_else(|| ApiError::new(ErrorCode::Unauthenticated, "unknown bearer token"))
    }
}

/// Compares without stopping at the first difference.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn config() -> AuthConfig {
        AuthConfig {
            anonymous_read: false,
            tokens: vec![TokenConfig {
                subject: "ci-bot".into(),
                sha256: token_hash("s3cret"),
                scopes: vec![Scope::Read],
                sources: Vec::new(),
            }],
            ..AuthConfig::default()
        }
    }

    #[test]
    fn tokens_are_matched_by_hash() {
        let principal = config().authenticate(Some("Bearer s3cret")).unwrap();
        assert_eq!(principal.subject(), Some("ci-bot"));
        assert_eq!(
            principal.writer().err().map(|e| e.code()),
            Some(ErrorCode::Forbidden)
        );
        assert!(config().authenticate(Some("Bearer wrong")).is_err());
        assert!(config().authenticate(None).is_err());
        assert!(config().authenticate(Some("Basic s3cret")).is_err());
        for malformed in ["", "  ", "Bearer", "Bearer  ", "s3cret"] {
            assert_eq!(
                config()
                    .authenticate(Some(malformed))
                    .err()
                    .map(|e| e.code()),
                Some(ErrorCode::Unauthenticated),
                "{malformed:?}"
            );
        }
        let anonymous = AuthConfig {
            anonymous_read: true,
            ..config()
        };
        assert!(anonymous.authenticate(Some("")).is_err());
        assert_eq!(
            anonymous.authenticate(None).ok(),
            Some(Principal::Anonymous)
        );
    }

    #[test]
    fn configurations_that_cannot_work_are_warned_about() {
        assert!(config().warnings().is_empty());
        let mut odd = config();
        odd.tokens[0].scopes = vec![Scope::Write];
        odd.metrics_token_required = true;
        let warnings = odd.warnings();
        assert_eq!(warnings.len(), 2, "{warnings:?}");
        assert!(warnings[0].contains("`ci-bot` has no read scope"));
        assert!(warnings[1].contains("no token has the metrics scope"));
        let mut admin = config();
        admin.tokens[0].scopes = vec![Scope::Read, Scope::Admin];
        let warnings = admin.warnings();
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert!(warnings[0].contains("admin scope without write"));
    }

    #[test]
    fn a_push_goes_only_to_a_source_the_token_owns() {
        let principal = Principal::Token {
            subject: "ci-bot".into(),
            scopes: vec![Scope::Read, Scope::Write],
            sources: vec![push_source("shared")],
        };
        assert!(principal.may_push_to("api:ci-bot").is_ok());
        assert!(principal.may_push_to("api:shared").is_ok());
        let refused = principal.may_push_to("api:release-bot").err().unwrap();
        assert_eq!(refused.code(), ErrorCode::Forbidden);
        assert_eq!(push_source("api:x"), push_source("x"));
    }

    #[test]
    fn deletes_follow_source_ownership_and_locations_need_admin() {
        let writer = Principal::Token {
            subject: "ci-bot".into(),
            scopes: vec![Scope::Read, Scope::Write],
            sources: vec![push_source("shared")],
        };
        assert!(writer
            .may_delete("component:default/a", Some("api:ci-bot"))
            .is_ok());
        assert!(writer
            .may_delete("component:default/a", Some("api:shared"))
            .is_ok());
        for source in [
            Some("api:release-bot"),
            Some("file:/srv/catalog-info.yaml"),
            None,
        ] {
            let refused = writer
                .may_delete("component:default/a", source)
                .err()
                .unwrap();
            assert_eq!(refused.code(), ErrorCode::Forbidden);
        }
        assert_eq!(
            writer.admin("addLocation").err().map(|e| e.code()),
            Some(ErrorCode::Forbidden)
        );
        let admin = Principal::Token {
            subject: "platform".into(),
            scopes: vec![Scope::Read, Scope::Write, Scope::Admin],
            sources: Vec::new(),
        };
        assert_eq!(admin.admin("addLocation").ok(), Some("platform"));
        assert!(admin
            .may_delete("component:default/a", Some("url:https://x/y"))
            .is_ok());
        let admin_only = Principal::Token {
            subject: "platform".into(),
            scopes: vec![Scope::Read, Scope::Admin],
            sources: Vec::new(),
        };
        assert!(admin_only.admin("addLocation").is_err());
    }

    #[test]
    fn configuration_reads_from_yaml_shaped_json() {
        let config: AuthConfig = serde_json::from_value(serde_json::json!({
            "anonymous_read": false,
            "tokens": [{ "subject": "ci", "sha256": "ab", "scopes": ["read", "write"] }]
        }))
        .unwrap();
        assert_eq!(config.tokens[0].scopes, vec![Scope::Read, Scope::Write]);
        assert!(config.tokens[0].sources.is_empty());
        assert_eq!(config.connection_init_timeout_ms, 10_000);
        assert!(!config.metrics_token_required);
        let config: AuthConfig = serde_json::from_value(serde_json::json!({
            "metrics_token_required": true,
            "connection_init_timeout_ms": 2000,
            "tokens": [{ "subject": "prom", "sha256": "cd", "scopes": ["metrics"],
                         "sources": ["api:shared"] }]
        }))
        .unwrap();
        assert_eq!(config.tokens[0].scopes, vec![Scope::Metrics]);
        assert_eq!(config.tokens[0].sources, vec!["api:shared".to_string()]);
        assert_eq!(config.connection_init_timeout_ms, 2000);
    }
}
