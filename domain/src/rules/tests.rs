//! Rules allowing and refusing kinds, globally and per location, with the messages.

#![allow(clippy::unwrap_used)]

use serde_json::json;

use super::*;

const FILE: &str = "file:/srv/catalog/catalog-info.yaml";
const ORG: &str = "file:/srv/org/org.yaml";

fn entity(api_version: &str, kind: &str, name: &str) -> Entity {
    let spec = match kind {
        "Group" => json!({"type": "team", "children": []}),
        "User" => json!({"memberOf": []}),
        "Component" => json!({"type": "service", "lifecycle": "production", "owner": "team-a"}),
        "Resource" => json!({"type": "database", "owner": "team-a"}),
        "System" | "Domain" => json!({"owner": "team-a"}),
        "Location" => json!({"target": "./a.yaml"}),
        "Template" => json!({"type": "service", "steps": [], "parameters": []}),
        _ => json!({}),
    };
    Entity::from_value(json!({
        "apiVersion": api_version,
        "kind": kind,
        "metadata": {"name": name},
        "spec": spec,
    }))
    .unwrap()
}

fn rules(yaml: &str) -> Vec<Rule> {
    serde_yaml::from_str(yaml).unwrap()
}

#[test]
fn with_no_rules_every_builtin_kind_is_allowed_and_nothing_else() {
    let none = KindRules::builtin();
    for kind in [
        "Component",
        "Group",
        "User",
        "Domain",
        "System",
        "Resource",
        "Location",
    ] {
        let e = entity("backstage.io/v1alpha1", kind, "x");
        assert_eq!(none.check(&e, FILE), Ok(()), "{kind}");
    }
    let template = entity("scaffolder.backstage.io/v1beta3", "Template", "t");
    assert_eq!(none.check(&template, FILE), Ok(()));
    let route = entity("gateway.networking.k8s.io/v1", "HTTPRoute", "web");
    assert_eq!(
        none.check(&route, FILE).unwrap_err().message,
        "no processor recognized the entity HTTPRoute:default/web as valid: kind HTTPRoute is \
         not a Backstage kind (apiVersion gateway.networking.k8s.io/v1 belongs to \
         gateway.networking.k8s.io, not to a catalog) and no catalog.rules entry allows it for \
         location file:/srv/catalog/catalog-info.yaml"
    );
    let custom = entity("example.com/v1", "AiResource", "model");
    assert!(none.check(&custom, FILE).is_err());
    let removed = entity("backstage.io/v1alpha1", "LocationRef", "old");
    assert_eq!(
        none.check(&removed, FILE).unwrap_err().message,
        "no processor recognized the entity LocationRef:default/old as valid: kind LocationRef \
         was removed from Backstage (use kind Location)"
    );
    assert_eq!(KindRules::configured(None, []), KindRules::builtin());
}

#[test]
fn global_rules_allow_only_their_kinds_ignoring_case() {
    let global = KindRules::configured(Some(rules("- allow: [component, API]\n")), []);
    assert_eq!(
        global.check(&entity("backstage.io/v1alpha1", "Component", "c"), FILE),
        Ok(())
    );
    let group = entity("backstage.io/v1alpha1", "Group", "admins");
    let error = global.check(&group, FILE).unwrap_err();
    assert_eq!(error.field, "kind");
    assert_eq!(
        error.message,
        "Group:default/admins is not of an allowed kind for location \
         file:/srv/catalog/catalog-info.yaml: catalog.rules allow component, API there"
    );
}

#[test]
fn per_location_rules_and_location_conditions_allow_only_where_they_match() {
    let global = rules(
        "- allow: [Component]\n- allow: [System]\n  locations:\n    - type: file\n      \
         pattern: /srv/**/systems/*.yaml\n- allow: [Domain]\n  locations:\n    - type: url\n      \
         exact: https://git.example.com/domains.yaml\n",
    );
    let per_location = rules("- allow: [Group, User]\n");
    let configured = KindRules::configured(
        Some(global),
        [(
            "file".to_string(),
            "/srv/org/org.yaml".to_string(),
            per_location,
        )],
    );
    let group = entity("backstage.io/v1alpha1", "Group", "admins");
    assert_eq!(configured.check(&group, ORG), Ok(()));
    assert_eq!(
        configured.check(&group, FILE).unwrap_err().message,
        "Group:default/admins is not of an allowed kind for location \
         file:/srv/catalog/catalog-info.yaml: catalog.rules allow Component there"
    );
    let system = entity("backstage.io/v1alpha1", "System", "s");
    assert_eq!(
        configured.check(&system, "file:/srv/a/b/systems/s.yaml"),
        Ok(())
    );
    assert!(configured
        .check(&system, "file:/srv/a/b/systems/x/s.yaml")
        .is_err());
    let domain = entity("backstage.io/v1alpha1", "Domain", "d");
    assert_eq!(
        configured.check(&domain, "url:https://git.example.com/domains.yaml"),
        Ok(())
    );
    assert!(configured
        .check(&domain, "url:https://git.example.com/other.yaml")
        .is_err());
    // A configured glob target's rules apply to every file it matches.
    let globbed = KindRules::configured(
        None,
        [(
            "file".to_string(),
            "/srv/org/*.yaml".to_string(),
            rules("- allow: [AiResource]\n"),
        )],
    );
    let custom = entity("example.com/v1", "AiResource", "model");
    assert_eq!(globbed.check(&custom, ORG), Ok(()));
    assert!(globbed.check(&custom, FILE).is_err());
    // ... on top of the built-in kinds, as Backstage's per-location rules add to its default.
    assert_eq!(globbed.check(&group, FILE), Ok(()));
}

#[test]
fn an_allowed_custom_kind_needs_a_group_in_its_api_version() {
    let allowed = KindRules::configured(Some(rules("- allow: [AiResource]\n")), []);
    assert_eq!(
        allowed.check(&entity("example.com/v1", "AiResource", "m"), FILE),
        Ok(())
    );
    let error = allowed
        .check(&entity("v1", "AiResource", "m"), FILE)
        .unwrap_err();
    assert_eq!(error.field, "apiVersion");
    assert_eq!(
        error.message,
        "apiVersion \"v1\" is not valid for custom kind AiResource: a custom kind needs \
         <group>/<version>, such as example.com/v1"
    );
}

#[test]
fn globs_match_like_minimatch() {
    assert!(glob_matches("/a/**/c.yaml", "/a/c.yaml"));
    assert!(glob_matches("/a/**/c.yaml", "/a/b/x/c.yaml"));
    assert!(glob_matches("/a/*/c.yaml", "/a/B/C.yaml"));
    assert!(!glob_matches("/a/*/c.yaml", "/a/b/x/c.yaml"));
    assert!(glob_matches(
        "https://h/org/*/blob/*.yaml",
        "https://h/org/r/blob/t.yaml"
    ));
    assert!(!glob_matches("/a/?.yaml", "/a/bc.yaml"));
    assert!(has_glob("./plugins/**/catalog-info.yaml"));
    assert!(!has_glob("./catalog-info.yaml"));
}

#[test]
fn the_fingerprint_changes_with_the_rules() {
    let a = KindRules::configured(Some(rules("- allow: [Component]\n")), []);
    let b = KindRules::configured(Some(rules("- allow: [Component, API]\n")), []);
    assert_ne!(a.fingerprint(), b.fingerprint());
    assert_ne!(a.fingerprint(), KindRules::builtin().fingerprint());
}
