//! `reading:`, the policy for outbound reads: which hosts (and path prefixes) a URL read
//! may reach (`allow`, the shape of Backstage's `backend.reading.allow`), which of them
//! may resolve to loopback, private, link-local or metadata addresses (`private: true`, or
//! an IP literal listed as such), and the headers sent to a host (`credentials`, like
//! Backstage's `integrations`). By default nothing is allowed.
//!
//! It checks URLs and addresses; it does no IO. `fetch` applies it at every hop and on
//! the address each connection really uses.

use std::collections::BTreeMap;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use reqwest::{header::HeaderMap, header::HeaderName, header::HeaderValue, Url};
use serde::Deserialize;

/// The `reading:` section of the configuration.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ReadPolicy {
    /// Hosts URL reads may reach; empty (the default) refuses every URL.
    pub allow: Vec<AllowRule>,
    /// Headers (e.g. a token) sent to one host; never taken from a URL.
    pub credentials: Vec<HostCredentials>,
}

/// One `reading.allow` entry.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AllowRule {
    /// `example.com`, `example.com:8080` (a port other than the scheme's default must be
    /// named), `*.example.com` (any subdomain, not the apex), `*` (any host), or an IP
    /// literal (`10.0.0.5:8080`, `[fd00::1]`).
    pub host: String,
    /// When given, the URL's path must start with one of these (`/catalog/` allows
    /// `/catalog/a.yaml`, not `/catalog2`).
    #[serde(default)]
    pub paths: Vec<String>,
    /// The host may resolve to loopback, private, link-local or metadata addresses
    /// (an internal Git server). An IP literal entry implies it.
    #[serde(default)]
    pub private: bool,
}

/// Headers for one host: `host` (any port) or `host:port` (that port only), exact, no
/// wildcard. `token: ...` sends `Authorization: Bearer ...`; `headers` any others.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HostCredentials {
    pub host: String,
    #[serde(default)]
    pub token: Option<String>,
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
}

// Tokens and header values are secrets: never printed.
impl fmt::Debug for HostCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HostCredentials")
            .field("host", &self.host)
            .field("token", &self.token.as_ref().map(|_| "<set>"))
            .field("headers", &self.headers.keys().collect::<Vec<_>>())
            .finish()
    }
}

/// Why a URL may not be read. The text names the rule, never a credential or a byte
/// fetched.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("refused by reading.allow: host {0} is not listed")]
    HostNotListed(String),
    #[error("refused by reading.allow: path {path} is not under a path listed for {host}")]
    PathNotListed { host: String, path: String },
    #[error(
        "refused: resolves to a private address (loopback, private, link-local or metadata); \
         list the host in reading.allow with private: true to read it"
    )]
    PrivateAddress,
    #[error(
        "refused: the URL carries user info; credentials come from reading.credentials, \
         never from the URL"
    )]
    UserInfo,
}

/// What a URL that passed the allow list may connect to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Permit {
    /// Loopback, private, link-local and metadata addresses too.
    pub(crate) private: bool,
}

impl ReadPolicy {
    /// Checks the entries once, at start-up: host patterns and header names and values.
    pub fn validate(&self) -> Result<(), String> {
        for rule in &self.allow {
            let host = rule.host.trim();
            let pattern = host.strip_prefix("*.").unwrap_or(host);
            if host.is_empty() || (host != "*" && (pattern.contains('*') || pattern.is_empty())) {
                return Err(format!(
                    "reading.allow: host {:?} is not a host, *.domain or *",
                    rule.host
                ));
            }
            if let Some(path) = rule.paths.iter().find(|p| !p.starts_with('/')) {
                return Err(format!(
                    "reading.allow: path {path:?} of host {} must start with /",
                    rule.host
                ));
            }
        }
        for credentials in &self.credentials {
            credentials.header_map()?;
        }
        Ok(())
    }

    /// Whether `url` may be read, and with which addresses. Checks the user info, the
    /// allow list and, for an IP literal, the address itself.
    pub(crate) fn check(&self, url: &Url) -> Result<Permit, Refusal> {
        if !url.username().is_empty() || url.password().is_some() {
            return Err(Refusal::UserInfo);
        }
        let host = authority(url);
        let literal = literal_ip(url);
        let mut host_listed = false;
        for rule in &self.allow {
            let pattern = rule.host.trim().to_ascii_lowercase();
            let exact = pattern == host;
            let matches = exact
                || pattern == "*"
                || pattern
                    .strip_prefix('*')
                    .is_some_and(|suffix| suffix.starts_with('.') && host.ends_with(suffix));
            if !matches {
                continue;
            }
            host_listed = true;
            if !rule.paths.is_empty() && !rule.paths.iter().any(|p| url.path().starts_with(p)) {
                continue;
            }
            // An IP literal named exactly is explicit: its address is the entry.
            let permit = Permit {
                private: rule.private || (exact && literal.is_some()),
            };
            if let Some(ip) = literal {
                if !permit.private && !is_public(ip) {
                    return Err(Refusal::PrivateAddress);
                }
            }
            return Ok(permit);
        }
        if host_listed {
            return Err(Refusal::PathNotListed {
                host,
                path: url.path().to_string(),
            });
        }
        Err(Refusal::HostNotListed(host))
    }

    /// The configured headers for `url`'s host (`host` or `host:port`).
    pub(crate) fn headers_for(&self, url: &Url) -> Result<HeaderMap, String> {
        let host = authority(url);
        let bare = url.host_str().unwrap_or_default().to_ascii_lowercase();
        let mut headers = HeaderMap::new();
        for credentials in &self.credentials {
            let name = credentials.host.trim().to_ascii_lowercase();
            if name == host || name == bare {
                headers.extend(credentials.header_map()?);
            }
        }
        Ok(headers)
    }
}

impl HostCredentials {
    fn header_map(&self) -> Result<HeaderMap, String> {
        let bad = |what: &str| format!("reading.credentials: {what} for host {}", self.host);
        let mut headers = HeaderMap::new();
        if let Some(token) = &self.token {
            let mut value = HeaderValue::from_str(&format!("Bearer {token}"))
                .map_err(|_| bad("the token is not a valid header value"))?;
            value.set_sensitive(true);
            headers.insert(reqwest::header::AUTHORIZATION, value);
        }
        for (name, value) in &self.headers {
            let name = HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| bad(&format!("{name:?} is not a header name")))?;
            let mut value = HeaderValue::from_str(value)
                .map_err(|_| bad(&format!("the value of {name} is not a valid header value")))?;
            value.set_sensitive(true);
            headers.insert(name, value);
        }
        Ok(headers)
    }
}

/// `host` or `host:port` as Backstage compares it: lower case, the port only when it is
/// not the scheme's default, IPv6 in brackets.
fn authority(url: &Url) -> String {
    let host = url.host_str().unwrap_or_default().to_ascii_lowercase();
    match url.port() {
        Some(port) => format!("{host}:{port}"),
        None => host,
    }
}

/// The address of an IP-literal host. The URL parser has already turned every IPv4
/// spelling (`2130706433`, `0x7f.1`) into dotted form, so a domain never parses here.
fn literal_ip(url: &Url) -> Option<IpAddr> {
    let host = url.host_str()?;
    host.trim_start_matches('[')
        .trim_end_matches(']')
        .parse()
        .ok()
}

/// `text` with the user info of every URL in it removed (`scheme://user:pass@host` becomes
/// `scheme://host`), for every message and key: a credential must never reach an output.
/// Works on text that does not parse as a URL too.
pub fn redact(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(index) = rest.find("://") {
        let (head, tail) = rest.split_at(index + 3);
        out.push_str(head);
        let end = tail
            .find(|c: char| matches!(c, '/' | '?' | '#') || c.is_whitespace())
            .unwrap_or(tail.len());
        let authority = &tail[..end];
        out.push_str(
            authority
                .rfind('@')
                .map_or(authority, |at| &authority[at + 1..]),
        );
        rest = &tail[end..];
    }
    out.push_str(rest);
    out
}

/// True for an address on the public internet; false for loopback, private, shared
/// (CGNAT), link-local (cloud metadata), unspecified, documentation, benchmarking,
/// multicast, reserved and the IPv6 forms that embed such an IPv4 address.
pub(crate) fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => is_public_v6(v6),
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    !(a == 0
        || a == 10
        || a == 127
        || (a == 100 && (64..128).contains(&b))
        || (a == 169 && b == 254)
        || (a == 172 && (16..32).contains(&b))
        || (a == 192 && b == 0 && (c == 0 || c == 2))
        || (a == 192 && b == 88 && c == 99)
        || (a == 192 && b == 168)
        || (a == 198 && (b == 18 || b == 19))
        || (a == 198 && b == 51 && c == 100)
        || (a == 203 && b == 0 && c == 113)
        || a >= 224)
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    if let Some(v4) = ip.to_ipv4_mapped() {
        return is_public_v4(v4);
    }
    let s = ip.segments();
    // NAT64 (64:ff9b::/96) and 6to4 (2002::/16) reach an IPv4 address: judge that one.
    if s[0] == 0x64 && s[1] == 0xff9b && s[2..6] == [0, 0, 0, 0] {
        return is_public_v4(embedded_v4(s[6], s[7]));
    }
    if s[0] == 0x2002 {
        return is_public_v4(embedded_v4(s[1], s[2]));
    }
    !(ip.is_unspecified()
        || ip.is_loopback()
        || s[0..6] == [0, 0, 0, 0, 0, 0] // IPv4-compatible (deprecated)
        || (s[0] & 0xfe00) == 0xfc00 // unique local, incl. fd00:ec2::254
        || (s[0] & 0xffc0) == 0xfe80 // link-local
        || (s[0] & 0xffc0) == 0xfec0 // site-local (deprecated)
        || (s[0] & 0xff00) == 0xff00 // multicast
        || (s[0] == 0x2001 && s[1] == 0x0db8) // documentation
        || (s[0] == 0x2001 && s[1] == 0) // Teredo
        || (s[0] == 0x0100 && s[1..4] == [0, 0, 0])) // discard
}

fn embedded_v4(high: u16, low: u16) -> Ipv4Addr {
    let [a, b] = high.to_be_bytes();
    let [c, d] = low.to_be_bytes();
    Ipv4Addr::new(a, b, c, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(yaml: &str) -> ReadPolicy {
        serde_yaml::from_str(yaml).expect("test policy")
    }

    fn check(policy: &ReadPolicy, url: &str) -> Result<Permit, Refusal> {
        policy.check(&Url::parse(url).expect("test URL"))
    }

    #[test]
    fn hosts_match_like_backstage() {
        let p = policy(
            "allow:\n  - host: example.com\n  - host: '*.corp.example'\n  - host: ports.example:8080\n  \
             - host: docs.example\n    paths: [/catalog/]\n",
        );
        let allowed = [
            "https://example.com/x",
            "https://EXAMPLE.com:443/x",
            "https://a.corp.example/x",
            "https://a.b.corp.example/x",
            "http://ports.example:8080/x",
            "https://docs.example/catalog/a.yaml",
        ];
        for url in allowed {
            assert_eq!(check(&p, url), Ok(Permit { private: false }), "{url}");
        }
        let refused = [
            (
                "https://example.com:8443/x",
                "host example.com:8443 is not listed",
            ),
            ("https://corp.example/x", "host corp.example is not listed"),
            (
                "https://evilcorp.example/x",
                "host evilcorp.example is not listed",
            ),
            ("http://ports.example/x", "host ports.example is not listed"),
            (
                "https://example.com.evil/x",
                "host example.com.evil is not listed",
            ),
            (
                "https://docs.example/catalog2/a.yaml",
                "path /catalog2/a.yaml is not under a path listed for docs.example",
            ),
            (
                "https://docs.example/catalog/../secret",
                "path /secret is not under a path listed for docs.example",
            ),
        ];
        for (url, message) in refused {
            let refusal = check(&p, url).expect_err(url);
            assert_eq!(
                refusal.to_string(),
                format!("refused by reading.allow: {message}")
            );
        }
    }

    #[test]
    fn private_literals_need_an_explicit_entry() {
        let any = policy("allow:\n  - host: '*'\n");
        for url in [
            "http://127.0.0.1/",
            "http://2130706433/",
            "http://0x7f.1/",
            "http://10.1.2.3/",
            "http://169.254.169.254/latest/meta-data/",
            "http://[::1]/",
            "http://[::ffff:127.0.0.1]/",
            "http://[fd00:ec2::254]/",
            "http://100.100.100.200/",
            "http://0.0.0.0/",
        ] {
            assert_eq!(check(&any, url), Err(Refusal::PrivateAddress), "{url}");
        }
        assert_eq!(
            check(&any, "http://93.184.215.14/"),
            Ok(Permit { private: false })
        );
        let listed = policy(
            "allow:\n  - host: 127.0.0.1:8080\n  - host: intra.example\n    private: true\n",
        );
        assert_eq!(
            check(&listed, "http://127.0.0.1:8080/"),
            Ok(Permit { private: true })
        );
        assert_eq!(
            check(&listed, "http://intra.example/"),
            Ok(Permit { private: true })
        );
    }

    #[test]
    fn user_info_is_refused_and_redacted() {
        let any = policy("allow:\n  - host: '*'\n");
        assert_eq!(
            check(&any, "https://user:pass@example.com/"),
            Err(Refusal::UserInfo)
        );
        assert_eq!(
            check(&any, "https://token@example.com/"),
            Err(Refusal::UserInfo)
        );
        assert_eq!(
            redact("https://user:p@ss@example.com/a@b?c=@"),
            "https://example.com/a@b?c=@"
        );
        assert_eq!(redact("./relative@x.yaml"), "./relative@x.yaml");
        assert_eq!(
            redact("cannot resolve x against http://a:b@h.example/ or ftp://c@d.example"),
            "cannot resolve x against http://h.example/ or ftp://d.example"
        );
    }

    #[test]
    fn credentials_go_to_their_host_only_and_stay_secret() {
        let p = policy(
            "credentials:\n  - host: git.example\n    token: s3cret\n  - host: other.example:8443\n    \
             headers: { X-Api-Key: k3y }\n",
        );
        assert!(p.validate().is_ok());
        let url = |u: &str| Url::parse(u).expect("test URL");
        let git = p
            .headers_for(&url("https://git.example/a"))
            .expect("headers");
        assert_eq!(git["authorization"], "Bearer s3cret");
        assert!(p
            .headers_for(&url("https://elsewhere.example/"))
            .expect("headers")
            .is_empty());
        let other = p
            .headers_for(&url("https://other.example:8443/"))
            .expect("headers");
        assert_eq!(other["x-api-key"], "k3y");
        let printed = format!("{p:?}");
        assert!(
            !printed.contains("s3cret") && !printed.contains("k3y"),
            "{printed}"
        );
    }

    #[test]
    fn bad_entries_are_refused_at_start() {
        assert!(policy("allow:\n  - host: 'a.*.example'\n")
            .validate()
            .is_err());
        assert!(policy("allow:\n  - host: x\n    paths: [catalog]\n")
            .validate()
            .is_err());
        assert!(
            policy("credentials:\n  - host: x\n    headers: { 'bad name': v }\n")
                .validate()
                .is_err()
        );
    }
}
