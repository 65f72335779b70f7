//! The GraphQL explorer: `GET /graphql` from a browser serves a page whose every
//! asset comes from this server, with no URL to any other host.

use super::support::demo_server;

const BROWSER_ACCEPT: &str =
    "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,*/*;q=0.8";

/// The values of every `src="..."` and `href="..."` in `html`.
fn linked(html: &str) -> Vec<String> {
    let mut links = Vec::new();
    for attribute in ["src=\"", "href=\""] {
        let mut rest = html;
        while let Some(at) = rest.find(attribute) {
            rest = &rest[at + attribute.len()..];
            let end = rest.find('"').unwrap();
            links.push(rest[..end].to_string());
        }
    }
    links
}

/// Every `http://` or `https://` URL in `text`.
fn absolute_urls(text: &str) -> Vec<String> {
    let mut urls = Vec::new();
    for scheme in ["http://", "https://"] {
        let mut rest = text;
        while let Some(at) = rest.find(scheme) {
            let url: String = rest[at..]
                .chars()
                .take_while(|c| !c.is_whitespace() && !"\"'`)<>".contains(*c))
                .collect();
            urls.push(url);
            rest = &rest[at + scheme.len()..];
        }
    }
    urls
}

#[tokio::test]
async fn the_explorer_page_and_its_assets_come_from_this_server_only() {
    let server = demo_server().await;
    let client = reqwest::Client::new();
    let page = client
        .get(server.graphql_url())
        .header("accept", BROWSER_ACCEPT)
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    assert_eq!(
        page.headers()["content-type"].to_str().unwrap(),
        "text/html; charset=utf-8"
    );
    let html = page.text().await.unwrap();
    assert!(html.contains("GraphQL explorer"), "{html}");
    for needed in [
        "id=\"query\"",
        "id=\"variables\"",
        "id=\"headers\"",
        "id=\"token\"",
        "id=\"run\"",
        "id=\"result\"",
        "id=\"docs\"",
    ] {
        assert!(html.contains(needed), "the page has no {needed}");
    }
    let links = linked(&html);
    assert_eq!(links.len(), 2, "{links:?}");
    let mut texts = vec![html.clone()];
    for link in &links {
        assert!(
            link.starts_with('/') && !link.starts_with("//"),
            "{link} is not a path on this server"
        );
        let asset = client
            .get(format!("{}{link}", server.url))
            .send()
            .await
            .unwrap();
        assert_eq!(asset.status(), 200, "{link}");
        let content_type = asset.headers()["content-type"]
            .to_str()
            .unwrap()
            .to_string();
        assert!(
            content_type.starts_with("text/javascript") || content_type.starts_with("text/css"),
            "{link}: {content_type}"
        );
        texts.push(asset.text().await.unwrap());
    }
    // The script reads the schema by introspection and calls only its own endpoint.
    assert!(texts[1..].iter().any(|t| t.contains("__schema")));
    for text in &texts {
        let urls = absolute_urls(text);
        assert!(urls.is_empty(), "URLs to other hosts: {urls:?}");
        assert!(!text.contains("//cdn") && !text.contains("@import"));
    }

    // JSON clients are unaffected: a GET with `*/*` or a JSON type runs the query.
    let response = client
        .get(server.graphql_url())
        .query(&[("query", "{ __typename }")])
        .header("accept", "*/*")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["data"]["__typename"], "Query");
}
