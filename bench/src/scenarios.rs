//! The GraphQL scenarios, sent over real HTTP to the running server: each is a
//! query text and the variables of request `i` (refs cycle through the
//! catalog). A scenario the API cannot answer (its query fails validation, or
//! there is no GraphQL endpoint yet) is reported as not available, with the
//! server's reason, instead of being measured.

use crate::catalog::{Catalog, SEARCH_TERM};
use crate::load::{self, Bounds, Measured};
use serde::de::IgnoredAny;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::borrow::Cow;
use std::sync::Arc;

pub struct Scenario {
    pub name: &'static str,
    pub what: &'static str,
    pub query: &'static str,
    /// Variables of request `i`.
    pub variables: Box<dyn Fn(usize) -> Value + Send + Sync>,
}

#[derive(Clone, Debug, Serialize)]
pub struct ScenarioReport {
    pub name: &'static str,
    pub what: &'static str,
    pub available: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub not_available: Option<String>,
    pub runs: Vec<Measured>,
}

pub const ENTITY_BY_REF: &str = "query($ref: String!) { entity(ref: $ref) { ref name description \
    ... on Component { owner { ref name } system { ref name } dependsOn { ref name } } } }";
/// Paged with the total, as issue 13's target row says (the whole list was fetched
/// before `ownedEntitiesConnection` existed).
const OWNED_BY_GROUP: &str = "query($ref: String!) { entity(ref: $ref) { ref \
    ... on Group { ownedEntitiesConnection(transitive: true, first: 100) { totalCount \
    nodes { ref name } } } } }";
const COMPONENT_PAGE: &str = "{ entities(filter: { kind: [\"Component\"] }, first: 100) { \
    nodes { ref name ... on Component { owner { ref name } } } \
    pageInfo { hasNextPage endCursor } } }";
const DEPENDENTS: &str = "query($ref: String!) { entity(ref: $ref) { ref \
    dependencies(direction: INCOMING) { truncated items { ref depth } } } }";
const HISTORY: &str = "query($ref: String!) { entity(ref: $ref) { ref \
    history(first: 20) { nodes { type version actor recordedAt } } } }";
const SEARCH: &str = "query($text: String!) { search(text: $text, first: 20) { \
    totalCount nodes { ref name } } }";
/// Three facets over the whole catalog (no filter) in one request.
const FACETS: &str = "{ kinds: facets(field: KIND) { value count } \
    owners: facets(field: OWNER, first: 20) { value count } \
    tags: facets(field: TAG, first: 20) { value count } }";
/// A team page as issue 13 describes it: the first 100 members and the first 100
/// of what the group owns transitively, each with its total.
const GROUP_PAGE: &str = "query($ref: String!) { entity(ref: $ref) { ref name \
    ... on Group { membersConnection(first: 100) { totalCount nodes { ref name } } \
    ownedEntitiesConnection(transitive: true, first: 100) { totalCount \
    nodes { ref name kind } pageInfo { hasNextPage endCursor } } } } }";

/// The six scenarios of issue 7 and the two of issue 13 over this catalog.
pub fn all(catalog: &Catalog) -> Vec<Scenario> {
    let components: Arc<Vec<String>> = Arc::new(
        (0..catalog.component_count())
            .map(|i| catalog.component_ref(i))
            .collect(),
    );
    let groups: Arc<Vec<String>> = Arc::new(
        catalog
            .mid_level_groups()
            .into_iter()
            .map(|g| catalog.group_ref(g))
            .collect(),
    );
    let resource = catalog.widely_used_resource_ref();
    let by_ref = |refs: Arc<Vec<String>>| -> Box<dyn Fn(usize) -> Value + Send + Sync> {
        Box::new(move |i| json!({ "ref": refs[i.wrapping_mul(7919) % refs.len()] }))
    };
    vec![
        Scenario {
            name: "entity_by_ref",
            what: "a component by ref with owner, system and direct dependencies",
            query: ENTITY_BY_REF,
            variables: by_ref(components.clone()),
        },
        Scenario {
            name: "owned_by_group",
            what: "entities owned by a group three levels down and its subgroups (first 100, with the total)",
            query: OWNED_BY_GROUP,
            variables: by_ref(groups.clone()),
        },
        Scenario {
            name: "component_page",
            what: "the first page of 100 components with their owners",
            query: COMPONENT_PAGE,
            variables: Box::new(|_| json!({})),
        },
        Scenario {
            name: "dependents_of_resource",
            what: "transitive dependents of the most used resource",
            query: DEPENDENTS,
            variables: Box::new(move |_| json!({ "ref": resource })),
        },
        Scenario {
            name: "history_page",
            what: "one page (20) of a component's history",
            query: HISTORY,
            variables: by_ref(components),
        },
        Scenario {
            name: "text_search",
            what: "full-text search for a word in about 4% of entities (first 20)",
            query: SEARCH,
            variables: Box::new(|_| json!({ "text": SEARCH_TERM })),
        },
        Scenario {
            name: "facets",
            what: "kind, owner (top 20) and tag (top 20) facets over the whole catalog",
            query: FACETS,
            variables: Box::new(|_| json!({})),
        },
        Scenario {
            name: "group_page",
            what: "a group three levels down: first 100 members and first 100 of what it owns transitively, with totals",
            query: GROUP_PAGE,
            variables: by_ref(groups),
        },
    ]
}

/// What the client reads of a response: whether `data` is there and the first
/// error's message. The rest is checked to be JSON and skipped, not built: a
/// tree of every value (2,000 dependents are 117 KB) cost the client as much
/// CPU as the server spent answering, on the same two cores.
#[derive(Deserialize)]
struct Reply<'a> {
    #[serde(default)]
    data: Option<IgnoredAny>,
    #[serde(default, borrow)]
    errors: Option<Vec<ReplyError<'a>>>,
}

#[derive(Deserialize)]
struct ReplyError<'a> {
    #[serde(default, borrow)]
    message: Option<Cow<'a, str>>,
}

/// Posts one query; an HTTP error, a body that is not JSON, or any entry in
/// `errors` is a failure carrying the first message.
pub async fn post(
    client: &reqwest::Client,
    url: &str,
    query: &str,
    variables: Value,
) -> Result<(), String> {
    let response = client
        .post(url)
        .header(
            "accept",
            "application/graphql-response+json, application/json",
        )
        .json(&json!({ "query": query, "variables": variables }))
        .send()
        .await
        .map_err(|err| format!("request failed: {err}"))?;
    let status = response.status();
    let body = response
        .bytes()
        .await
        .map_err(|err| format!("body: {err}"))?;
    judge(status, &body)
}

/// A response's verdict: `Ok` when it is JSON with `data` and no `errors`.
fn judge(status: reqwest::StatusCode, body: &[u8]) -> Result<(), String> {
    let reply: Reply = serde_json::from_slice(body).map_err(|_| {
        format!(
            "HTTP {status}: {}",
            String::from_utf8_lossy(body)
                .chars()
                .take(200)
                .collect::<String>()
        )
    })?;
    if let Some(first) = reply.errors.as_deref().and_then(<[_]>::first) {
        return Err(first.message.as_deref().unwrap_or("error").to_string());
    }
    if !status.is_success() || reply.data.is_none() {
        return Err(format!("HTTP {status} without data"));
    }
    Ok(())
}

/// Probes a scenario once, then measures it at each concurrency.
pub async fn measure(
    client: &reqwest::Client,
    url: &str,
    scenario: Scenario,
    concurrencies: &[usize],
    bounds: Bounds,
) -> ScenarioReport {
    let mut report = ScenarioReport {
        name: scenario.name,
        what: scenario.what,
        available: true,
        not_available: None,
        runs: Vec::new(),
    };
    if let Err(reason) = post(client, url, scenario.query, (scenario.variables)(0)).await {
        report.available = false;
        report.not_available = Some(reason);
        return report;
    }
    let scenario = Arc::new(scenario);
    for &concurrency in concurrencies {
        let (client, url, scenario) = (client.clone(), url.to_string(), scenario.clone());
        let measured = load::run(concurrency, bounds, move |i| {
            let (client, url, scenario) = (client.clone(), url.clone(), scenario.clone());
            async move { post(&client, &url, scenario.query, (scenario.variables)(i)).await }
        })
        .await;
        report.runs.push(measured);
    }
    report
}

#[cfg(test)]
mod tests {
    use super::judge;
    use reqwest::StatusCode;

    #[test]
    fn a_response_is_judged_by_its_data_and_first_error() {
        let ok = StatusCode::OK;
        assert_eq!(judge(ok, br#"{"data":{"a":[1,{"b":"c\"d"}]}}"#), Ok(()));
        assert_eq!(
            judge(
                ok,
                br#"{"data":null,"errors":[{"message":"no \"x\"","path":["a"]},{"message":"2"}]}"#
            ),
            Err("no \"x\"".to_string())
        );
        assert_eq!(
            judge(ok, br#"{"data":null}"#),
            Err("HTTP 200 OK without data".to_string())
        );
        assert_eq!(
            judge(StatusCode::TOO_MANY_REQUESTS, br#"{"data":{}}"#),
            Err("HTTP 429 Too Many Requests without data".to_string())
        );
        // Broken JSON anywhere in the body fails, though the values are skipped.
        assert_eq!(
            judge(ok, br#"{"data":{"a":[1,}}"#),
            Err(r#"HTTP 200 OK: {"data":{"a":[1,}}"#.to_string())
        );
    }
}
