//! Which files or URLs a stored Location entity points at: its targets resolved against
//! the key of the file it was read from, as a read follows them. The REST API's
//! `ancestry` answers "which Location led here" with it. It does no IO, so a glob target
//! names only itself (it is not expanded).

use serde_json::Value;

use super::address::Address;

/// The location keys (`file:<path>`, `url:<url>`) that the targets of a Location entity
/// with `spec`, read from `source_key`, resolve to; the ones that do not resolve are
/// left out.
pub fn location_target_keys(source_key: &str, spec: &Value) -> Vec<String> {
    let parent = if let Some(path) = source_key.strip_prefix("file:") {
        Address::File(std::path::PathBuf::from(path))
    } else if let Some(url) = source_key
        .strip_prefix("url:")
        .and_then(|u| reqwest::Url::parse(u).ok())
    {
        Address::Url(url)
    } else {
        return Vec::new();
    };
    let target_type = spec
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or(parent.default_type());
    let single = spec.get("target").and_then(Value::as_str);
    let many = spec
        .get("targets")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str);
    single
        .into_iter()
        .chain(many)
        .filter_map(|target| parent.resolve_target(target_type, target).ok())
        .map(|address| address.key())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn targets_resolve_against_the_file_or_url_they_were_read_from() {
        let spec = json!({ "targets": ["./teams/a.yaml", "../b.yaml"] });
        assert_eq!(
            location_target_keys("file:/srv/catalog/all.yaml", &spec),
            vec!["file:/srv/catalog/teams/a.yaml", "file:/srv/b.yaml"]
        );
        let spec = json!({ "type": "url", "target": "c.yaml" });
        assert_eq!(
            location_target_keys("url:https://git.example/x/all.yaml", &spec),
            vec!["url:https://git.example/x/c.yaml"]
        );
        assert!(location_target_keys("api:bot", &spec).is_empty());
    }
}
