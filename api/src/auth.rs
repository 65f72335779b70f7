//! Bearer tokens from the service configuration.
//!
//! The configuration holds only the SHA-256 (hex) of each token, with the
//! token's subject and scopes; a request's `Authorization: Bearer <token>` is
//! hashed and looked up. A presented token that matches nothing is refused
//! outright, never downgraded to anonymous. Whether anonymous requests may
//! read is the configuration's choice; writing always needs the `write` scope.

use crate::error::{ApiError, ErrorCode};
use serde::Deserialize;
use sha2::{Digest, Sha256};

/// `auth:` in the service configuration.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct AuthConfig {
    /// Requests without a token may run queries.
    pub anonymous_read: bool,
    pub tokens: Vec<TokenConfig>,
}

impl Default for AuthConfig {
    /// Reads for anyone, writes for no one: safe until tokens are configured.
    fn default() -> Self {
        Self {
            anonymous_read: true,
            tokens: Vec::new(),
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
}

#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    Read,
    Write,
}

/// Who is asking, as resolvers see it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Principal {
    Anonymous,
    Token { subject: String, scopes: Vec<Scope> },
}

impl Principal {
    pub fn subject(&self) -> Option<&str> {
        match self {
            Principal::Anonymous => None,
            Principal::Token { subject, .. } => Some(subject),
        }
    }

    /// The actor of a write, or why it is refused.
    pub fn writer(&self) -> Result<&str, ApiError> {
        match self {
            Principal::Anonymous => Err(ApiError::new(
                ErrorCode::Unauthenticated,
                "this operation needs a bearer token with the write scope",
            )),
            Principal::Token { subject, scopes } if scopes.contains(&Scope::Write) => Ok(subject),
            Principal::Token { .. } => Err(ApiError::new(
                ErrorCode::Forbidden,
                "this token lacks the write scope",
            )),
        }
    }
}

/// The SHA-256 of `token`, as configured.
pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

impl AuthConfig {
    /// The principal behind an `Authorization` header value (or its absence).
    pub fn authenticate(&self, authorization: Option<&str>) -> Result<Principal, ApiError> {
        let Some(header) = authorization.map(str::trim).filter(|h| !h.is_empty()) else {
            return if self.anonymous_read {
                Ok(Principal::Anonymous)
            } else {
                Err(ApiError::new(
                    ErrorCode::Unauthenticated,
                    "a bearer token is required",
                ))
            };
        };
        let token = header
            .split_once(' ')
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, token)| token.trim())
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
            }],
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
    }

    #[test]
    fn configuration_reads_from_yaml_shaped_json() {
        let config: AuthConfig = serde_json::from_value(serde_json::json!({
            "anonymous_read": false,
            "tokens": [{ "subject": "ci", "sha256": "ab", "scopes": ["read", "write"] }]
        }))
        .unwrap();
        assert_eq!(config.tokens[0].scopes, vec![Scope::Read, Scope::Write]);
    }
}
