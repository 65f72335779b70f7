//! Syntax predicates for the pieces of a descriptor: names, namespaces, kinds, label keys,
//! tags, apiVersions and link URLs, with the rule text that error messages quote.
//!
//! Plain functions over `&str` with hand-written character checks (no regex engine). They do
//! not build errors or know which field they are checking; `validation` does that.

/// `^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$`, 1 to 63 characters.
pub const OBJECT_NAME_RULE: &str =
    "must be 1 to 63 characters of [A-Za-z0-9-_.], starting and ending with a letter or digit";
/// `^[a-z0-9]+(-[a-z0-9]+)*$`, 1 to 63 characters.
pub const DNS_LABEL_RULE: &str = "must be 1 to 63 characters of [a-z0-9-], starting and ending with a letter or digit, without consecutive dashes";
pub const KIND_RULE: &str = "must be 1 to 63 characters of [a-zA-Z0-9], starting with a letter";
pub const LABEL_KEY_RULE: &str = "must be [prefix/]name, where the prefix is a DNS subdomain (dot-separated labels of [a-z0-9-], at most 253 characters) and the name is 1 to 63 characters of [A-Za-z0-9-_.], starting and ending with a letter or digit";
pub const LABEL_VALUE_RULE: &str = "must be empty, or 1 to 63 characters of [A-Za-z0-9-_.], starting and ending with a letter or digit";
pub const TAG_RULE: &str =
    "must be 1 to 63 characters of [a-z0-9:+#] in words joined by single dashes";
pub const API_VERSION_RULE: &str = "must be [prefix/]version, where the prefix is a DNS subdomain and the version is 1 to 63 characters of [a-zA-Z0-9]";
pub const URL_RULE: &str = "must be an absolute URL such as https://example.com/path";

fn is_alnum(c: char) -> bool {
    c.is_ascii_alphanumeric()
}

fn is_lower_alnum(c: char) -> bool {
    c.is_ascii_lowercase() || c.is_ascii_digit()
}

/// Splits `text` into words at single `-`; false when any word is empty (a leading,
/// trailing or doubled dash) or holds a character outside `word_char`.
fn dash_joined_words(text: &str, word_char: fn(char) -> bool) -> bool {
    text.split('-')
        .all(|word| !word.is_empty() && word.chars().all(word_char))
}

pub fn is_object_name(text: &str) -> bool {
    let len_ok = (1..=63).contains(&text.len());
    let ends_ok = text.starts_with(is_alnum) && text.ends_with(is_alnum);
    let chars_ok = text
        .chars()
        .all(|c| is_alnum(c) || matches!(c, '-' | '_' | '.'));
    len_ok && ends_ok && chars_ok
}

pub fn is_dns_label(text: &str) -> bool {
    (1..=63).contains(&text.len()) && dash_joined_words(text, is_lower_alnum)
}

pub fn is_dns_subdomain(text: &str) -> bool {
    (1..=253).contains(&text.len()) && text.split('.').all(is_dns_label)
}

pub fn is_kind(text: &str) -> bool {
    (1..=63).contains(&text.len())
        && text.starts_with(|c: char| c.is_ascii_alphabetic())
        && text.chars().all(is_alnum)
}

/// `suffix` or `prefix/suffix`, each part checked; more than one `/` is invalid.
fn prefix_and_or_suffix(text: &str, prefix: fn(&str) -> bool, suffix: fn(&str) -> bool) -> bool {
    let mut parts = text.split('/');
    match (parts.next(), parts.next(), parts.next()) {
        (Some(only), None, None) => suffix(only),
        (Some(first), Some(second), None) => prefix(first) && suffix(second),
        _ => false,
    }
}

/// Label and annotation keys share this syntax.
pub fn is_label_key(text: &str) -> bool {
    prefix_and_or_suffix(text, is_dns_subdomain, is_object_name)
}

pub fn is_label_value(text: &str) -> bool {
    text.is_empty() || is_object_name(text)
}

pub fn is_tag(text: &str) -> bool {
    (1..=63).contains(&text.len())
        && dash_joined_words(text, |c| is_lower_alnum(c) || matches!(c, ':' | '+' | '#'))
}

/// The apiVersion syntax for custom kinds: `[dns-subdomain/]version`.
pub fn is_api_version(text: &str) -> bool {
    prefix_and_or_suffix(text, is_dns_subdomain, |version| {
        (1..=63).contains(&version.len()) && version.chars().all(is_alnum)
    })
}

/// An absolute URL: a scheme, then for the schemes that have hosts (http, https, ws, wss,
/// ftp) `//` and a non-empty host, for others (mailto:, tel:) a non-empty remainder.
/// Written by hand because the crate takes no URL dependency. Lenient where the WHATWG URL
/// parser (which Backstage uses) is: surrounding spaces, and spaces past the host.
pub fn is_absolute_url(text: &str) -> bool {
    let text = text.trim_matches(|c: char| c == ' ' || c.is_ascii_control());
    if text.chars().any(char::is_control) {
        return false;
    }
    let Some((scheme, rest)) = text.split_once(':') else {
        return false;
    };
    let scheme_ok = scheme.starts_with(|c: char| c.is_ascii_alphabetic())
        && scheme
            .chars()
            .all(|c| is_alnum(c) || matches!(c, '+' | '-' | '.'));
    if !scheme_ok || rest.is_empty() {
        return false;
    }
    let needs_host = ["http", "https", "ws", "wss", "ftp"]
        .iter()
        .any(|special| scheme.eq_ignore_ascii_case(special));
    match rest.strip_prefix("//") {
        Some(after) => is_authority(after),
        None => !needs_host,
    }
}

/// `[userinfo@]host[:port]`, up to the first `/`, `?` or `#`.
fn is_authority(after_slashes: &str) -> bool {
    let end = after_slashes
        .find(['/', '?', '#'])
        .unwrap_or(after_slashes.len());
    let authority = &after_slashes[..end];
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let (host, port) = if let Some(inner) = host_port.strip_prefix('[') {
        // IPv6 literal: `[::1]` with an optional `:port` after the bracket.
        match inner.split_once(']') {
            Some((addr, tail)) => (addr, tail.strip_prefix(':')),
            None => return false,
        }
    } else {
        match host_port.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (host_port, None),
        }
    };
    let port_ok = port.is_none_or(|p| p.is_empty() || p.parse::<u16>().is_ok());
    let host_ok = !host.is_empty()
        && !host
            .chars()
            .any(|c| matches!(c, ' ' | '<' | '>' | '\\' | '^' | '|' | '[' | ']' | '@'));
    host_ok && port_ok
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn object_names() {
        for ok in ["a", "A1", "my-service_2.0", "x.y", "0"] {
            assert!(is_object_name(ok), "{ok}");
        }
        let long = "a".repeat(64);
        for bad in ["", "-bad-", "a-", "_a", "a b", "ä", long.as_str()] {
            assert!(!is_object_name(bad), "{bad}");
        }
    }

    #[test]
    fn namespaces_are_dns_labels() {
        assert!(is_dns_label("default"));
        assert!(is_dns_label("team-a-1"));
        for bad in ["", "Default", "a--b", "-a", "a-", "a_b", "a.b"] {
            assert!(!is_dns_label(bad), "{bad}");
        }
    }

    #[test]
    fn kinds() {
        assert!(is_kind("Component"));
        assert!(is_kind("myKind2"));
        for bad in ["", "2Kind", "my-kind", "my kind"] {
            assert!(!is_kind(bad), "{bad}");
        }
    }

    #[test]
    fn label_keys_and_values() {
        assert!(is_label_key("backstage.io/managed-by-location"));
        assert!(is_label_key("simple"));
        assert!(!is_label_key("a/b/c"));
        assert!(!is_label_key("Bad_Prefix/x"));
        assert!(!is_label_key("/x"));
        assert!(is_label_value(""));
        assert!(is_label_value("v1.2"));
        assert!(!is_label_value("-v"));
    }

    #[test]
    fn tags() {
        for ok in ["java", "c++", "c#", "web-app", "k8s:prod"] {
            assert!(is_tag(ok), "{ok}");
        }
        for bad in ["", "Java", "a--b", "-a", "a b", "a_b"] {
            assert!(!is_tag(bad), "{bad}");
        }
    }

    #[test]
    fn api_versions() {
        assert!(is_api_version("backstage.io/v1alpha1"));
        assert!(is_api_version("v1"));
        assert!(is_api_version("my-company.net/v2"));
        for bad in ["", "a/b/c", "Bad.io/v1", "x/", "/v1", "x/v-1"] {
            assert!(!is_api_version(bad), "{bad}");
        }
    }

    #[test]
    fn urls() {
        for ok in [
            "https://example.com",
            "https://example.com/a/b?c#d",
            "http://user@host:8080/x",
            "http://[::1]:80/",
            "mailto:team@example.com",
            "slack://channel",
            "https://example.com/a b",
            " https://example.com ",
        ] {
            assert!(is_absolute_url(ok), "{ok}");
        }
        for bad in [
            "",
            "example.com",
            "/relative/path",
            "https:",
            "https:example.com",
            "https:///path",
            "https://host:99999/",
            "https://exa mple.com",
            "https://example.com/a\u{7}b",
            "ht tp://example.com",
            "1http://x",
        ] {
            assert!(!is_absolute_url(bad), "{bad}");
        }
    }
}
