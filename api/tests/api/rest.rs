//! Backstage's catalog REST API under `/api/catalog`, on the demo catalog: filters,
//! fields, orders, cursors, facets, refs, the entity shape, ancestry, locations,
//! validation, refresh and deletion, and Backstage's error shape.

use super::support::{auth, demo_server, server, TestServer, ADMIN, READER, WRITER};
use almanac_api::GraphqlLimits;
use serde_json::{json, Value};

async fn send(
    server: &TestServer,
    method: reqwest::Method,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> (u16, Value) {
    let url = format!("{}/api/catalog{path}", server.url);
    let mut request = reqwest::Client::new().request(method, url);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

async fn get(server: &TestServer, path: &str) -> (u16, Value) {
    send(server, reqwest::Method::GET, path, None, None).await
}

async fn ok(server: &TestServer, path: &str) -> Value {
    let (status, body) = get(server, path).await;
    assert_eq!(status, 200, "{path}: {body:#}");
    body
}

fn names(items: &Value) -> Vec<String> {
    items
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["metadata"]["name"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn by_query_filters_orders_pages_and_counts_as_backstage() {
    let server = demo_server().await;
    let total = |filter: &'static str| {
        let server = &server;
        async move {
            ok(server, &format!("/entities/by-query?limit=0&{filter}")).await["totalItems"]
                .as_i64()
                .unwrap()
        }
    };
    assert_eq!(total("filter=kind=API").await, 23);
    assert_eq!(
        total("filter=kind=component,spec.lifecycle=production").await,
        47
    );
    // Repeated filter strings are any-of; keys and values compare case-insensitively.
    assert_eq!(total("filter=kind=Group&filter=KIND=user").await, 58);
    assert_eq!(total("filter=metadata.namespace=partners").await, 4);
    assert_eq!(total("filter=metadata.tags=go").await, 19);
    // spec.owner compares the text as written, as Backstage's search table does.
    assert_eq!(
        total("filter=kind=component,spec.owner=team-payments").await,
        7
    );
    assert_eq!(
        total("filter=kind=component,relations.ownedBy=group:default/team-payments").await,
        7
    );
    assert_eq!(
        total("filter=metadata.labels.kestrelmoor.io/environment=production").await,
        16
    );
    // A key without a value asks that it exist.
    assert_eq!(
        total("filter=kind=component,metadata.annotations.pagerduty.com/service-id").await,
        29
    );
    assert_eq!(
        total("filter=kind=component,spec.type=service,spec.type=website").await,
        {
            let service = total("filter=kind=component,spec.type=service").await;
            service + total("filter=kind=component,spec.type=website").await
        }
    );

    // fields, orderField and cursors: every system once, in order, pages both ways.
    let first = ok(
        &server,
        "/entities/by-query?filter=kind=system&fields=kind,metadata.name&orderField=metadata.name,desc&limit=4",
    )
    .await;
    assert_eq!(first["totalItems"], 10);
    assert_eq!(
        first["items"][0],
        json!({ "kind": "System", "metadata": { "name": first["items"][0]["metadata"]["name"] } })
    );
    assert!(first["pageInfo"].get("prevCursor").is_none(), "{first:#}");
    let mut all = names(&first["items"]);
    let cursor = first["pageInfo"]["nextCursor"]
        .as_str()
        .unwrap()
        .to_string();
    let second = ok(
        &server,
        &format!("/entities/by-query?cursor={cursor}&limit=4&fields=metadata.name"),
    )
    .await;
    assert_eq!(second["totalItems"], 10);
    all.extend(names(&second["items"]));
    let cursor = second["pageInfo"]["nextCursor"]
        .as_str()
        .unwrap()
        .to_string();
    let third = ok(
        &server,
        &format!("/entities/by-query?cursor={cursor}&limit=4&fields=metadata.name"),
    )
    .await;
    all.extend(names(&third["items"]));
    assert!(third["pageInfo"].get("nextCursor").is_none(), "{third:#}");
    let mut sorted = all.clone();
    sorted.sort();
    sorted.reverse();
    sorted.dedup();
    assert_eq!(all, sorted, "ten systems, descending, none twice");
    assert_eq!(all.len(), 10);
    let back = third["pageInfo"]["prevCursor"]
        .as_str()
        .unwrap()
        .to_string();
    let again = ok(
        &server,
        &format!("/entities/by-query?cursor={back}&limit=4&fields=metadata.name"),
    )
    .await;
    assert_eq!(names(&again["items"]), names(&second["items"]));

    // Full text narrows the filter; offset skips.
    let found = ok(&server, "/entities/by-query?filter=kind=component&fullTextFilterTerm=payments-gateway&fields=metadata.name").await;
    assert!(
        names(&found["items"]).contains(&"payments-gateway".to_string()),
        "{found:#}"
    );
    let skipped = ok(&server, "/entities/by-query?filter=kind=system&orderField=metadata.name,desc&offset=4&limit=4&fields=metadata.name").await;
    assert_eq!(names(&skipped["items"]), all[4..8].to_vec());

    // The legacy list: an array, paged by limit and the Link header.
    let (status, list) = get(&server, "/entities?filter=kind=domain&fields=metadata.name").await;
    assert_eq!((status, list.as_array().unwrap().len()), (200, 4));

    // Refusals in Backstage's error shape.
    let (status, body) = get(&server, "/entities/by-query?filter==x").await;
    assert_eq!(status, 400);
    assert_eq!(body["error"]["name"], "InputError");
    assert_eq!(
        body["request"],
        json!({ "method": "GET", "url": "/api/catalog/entities/by-query?filter==x" })
    );
    assert_eq!(body["response"], json!({ "statusCode": 400 }));
    for (path, says) in [
        ("/entities/by-query?limit=100000", "the largest page is 500"),
        ("/entities/by-query?cursor=bm9wZQ", "Malformed cursor"),
        (
            "/entities/by-query?orderField=metadata.uid,asc",
            "ordering by `metadata.uid` is not supported",
        ),
        (
            "/entities/by-query?orderField=metadata.name,up",
            "must be asc or desc",
        ),
        (
            "/entities/by-query?fields=relations[0]",
            "array type fields are not supported",
        ),
    ] {
        let (status, body) = get(&server, path).await;
        assert_eq!(status, 400, "{path}: {body:#}");
        assert!(
            body["error"]["message"].as_str().unwrap().contains(says),
            "{path}: {body:#}"
        );
    }
    let (status, body) = get(&server, "/no-such-route").await;
    assert_eq!(
        (status, body["error"]["name"].as_str()),
        (404, Some("NotFoundError"))
    );
}

#[tokio::test]
async fn entities_come_back_in_backstage_shape_by_name_uid_refs_with_ancestry_and_facets() {
    let server = demo_server().await;
    let entity = ok(
        &server,
        "/entities/by-name/component/default/checkout-service",
    )
    .await;
    assert_eq!(entity["apiVersion"], "backstage.io/v1alpha1");
    assert_eq!(entity["kind"], "Component");
    assert_eq!(entity["metadata"]["name"], "checkout-service");
    assert_eq!(entity["spec"]["owner"], "team-storefront");
    let uid = entity["metadata"]["uid"].as_str().unwrap().to_string();
    let graphql = server
        .data(
            r#"{ entity(ref: "component:checkout-service") { uid } }"#,
            json!({}),
        )
        .await;
    assert_eq!(graphql["entity"]["uid"], uid);
    assert_eq!(entity["metadata"]["etag"].as_str().unwrap().len(), 40);
    let relations = entity["relations"].as_array().unwrap();
    assert!(
        relations.contains(&json!({
        "type": "ownedBy", "targetRef": "group:default/team-storefront",
        "target": { "kind": "group", "namespace": "default", "name": "team-storefront" } })),
        "{relations:#?}"
    );
    assert!(relations.contains(&json!({
        "type": "partOf", "targetRef": "system:default/storefront",
        "target": { "kind": "system", "namespace": "default", "name": "storefront" } })));
    assert!(
        entity.get("status").is_none(),
        "no processing errors: no status"
    );
    // Names are case-insensitive; by uid gives the same entity.
    assert_eq!(
        ok(
            &server,
            "/entities/by-name/Component/default/Checkout-Service"
        )
        .await,
        entity
    );
    assert_eq!(
        ok(&server, &format!("/entities/by-uid/{uid}")).await,
        entity
    );
    let (status, body) = get(&server, "/entities/by-name/component/default/nope").await;
    assert_eq!(status, 404);
    assert_eq!(
        body["error"],
        json!({ "name": "NotFoundError",
        "message": "No entity named 'nope' found, with kind 'component' in namespace 'default'" })
    );
    let (status, body) = get(
        &server,
        "/entities/by-uid/00000000-0000-0000-0000-000000000000",
    )
    .await;
    assert_eq!(
        (status, body["error"]["name"].as_str()),
        (404, Some("NotFoundError"))
    );

    // by-refs: in order, null for unknown refs, for refs that do not parse and for what
    // the filter drops.
    let refs = json!({ "entityRefs": ["component:default/checkout-service", "component:default/nope",
        "no kind", "Group:default/team-storefront"], "fields": ["metadata.name"] });
    let (status, body) = send(
        &server,
        reqwest::Method::POST,
        "/entities/by-refs",
        None,
        Some(refs.clone()),
    )
    .await;
    assert_eq!(status, 200, "{body:#}");
    assert_eq!(
        body,
        json!({ "items": [{ "metadata": { "name": "checkout-service" } }, null, null,
        { "metadata": { "name": "team-storefront" } }] })
    );
    let (_, body) = send(
        &server,
        reqwest::Method::POST,
        "/entities/by-refs?filter=kind=group",
        None,
        Some(refs),
    )
    .await;
    assert_eq!(
        body,
        json!({ "items": [null, null, null, { "metadata": { "name": "team-storefront" } }] })
    );
    let too_many: Vec<String> = (0..1001)
        .map(|i| format!("component:default/c{i}"))
        .collect();
    let (status, body) = send(
        &server,
        reqwest::Method::POST,
        "/entities/by-refs",
        None,
        Some(json!({ "entityRefs": too_many })),
    )
    .await;
    assert_eq!(status, 400);
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("at most 1000"),
        "{body:#}"
    );

    // Ancestry: the Location that named its file, up to the root.
    let ancestry = ok(
        &server,
        "/entities/by-name/component/default/checkout-service/ancestry",
    )
    .await;
    assert_eq!(
        ancestry["rootEntityRef"],
        "component:default/checkout-service"
    );
    assert_eq!(
        ancestry["items"][0]["entity"]["metadata"]["name"],
        "checkout-service"
    );
    assert_eq!(
        ancestry["items"][0]["parentEntityRefs"],
        json!(["location:default/demo-root"])
    );
    assert_eq!(
        ancestry["items"][1]["entity"]["metadata"]["name"],
        "demo-root"
    );
    assert_eq!(ancestry["items"][1]["parentEntityRefs"], json!([]));
    assert_eq!(ancestry["items"].as_array().unwrap().len(), 2);

    // Facets: per facet asked, most common first.
    let facets = ok(
        &server,
        "/entity-facets?facet=kind&facet=spec.type&filter=kind=component",
    )
    .await;
    assert_eq!(
        facets["facets"]["kind"],
        json!([{ "value": "Component", "count": 61 }])
    );
    assert_eq!(
        facets["facets"]["spec.type"][0],
        json!({ "value": "service", "count": 39 })
    );
    let owners = ok(
        &server,
        "/entity-facets?facet=spec.owner&filter=kind=component,spec.owner=team-payments",
    )
    .await;
    assert_eq!(
        owners["facets"]["spec.owner"],
        json!([{ "value": "team-payments", "count": 7 }])
    );
    let (status, _) = get(&server, "/entity-facets").await;
    assert_eq!(status, 400);
}

const DOC: &str = "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: rest-widget\n  description: DESCRIPTION\nspec:\n  type: service\n  lifecycle: production\n  owner: team-a\n";

#[tokio::test]
async fn writes_need_their_scopes_and_write_as_graphql_does() {
    let limits = GraphqlLimits {
        allow_file_locations: true,
        ..GraphqlLimits::default()
    };
    let server = server(auth(false), limits, false).await;
    let (status, body) = get(&server, "/entities/by-query").await;
    assert_eq!(
        (status, body["error"]["name"].as_str()),
        (401, Some("AuthenticationError"))
    );
    let token = |t| Some(t);
    let get_as = |path: String, t: &'static str| {
        let server = &server;
        async move { send(server, reqwest::Method::GET, &path, Some(t), None).await }
    };

    // validate-entity: 200 for a valid entity, 400 errors otherwise, nothing written.
    let head = server.db.log().head_position().await.unwrap();
    let valid = widget();
    let validate = |entity: Value, location: &str, t: &'static str| {
        let server = &server;
        let body = json!({ "entity": entity, "location": location });
        async move {
            send(
                server,
                reqwest::Method::POST,
                "/validate-entity",
                Some(t),
                Some(body),
            )
            .await
        }
    };
    assert_eq!(
        validate(valid.clone(), "url:https://x.example/c.yaml", WRITER)
            .await
            .0,
        200
    );
    let mut ownerless = valid.clone();
    ownerless["spec"].as_object_mut().unwrap().remove("owner");
    let (status, body) = validate(ownerless, "url:https://x.example/c.yaml", WRITER).await;
    assert_eq!(status, 400, "{body:#}");
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("spec.owner"),
        "{body:#}"
    );
    let (status, body) = validate(valid.clone(), "file:/etc/c.yaml", WRITER).await;
    assert_eq!(
        (status, body["errors"][0]["name"].as_str()),
        (400, Some("TypeError"))
    );
    let (status, body) = validate(valid.clone(), "url:https://x.example/c.yaml", READER).await;
    assert_eq!(
        (status, body["error"]["name"].as_str()),
        (403, Some("NotAllowedError"))
    );
    let (status, body) = send(
        &server,
        reqwest::Method::POST,
        "/analyze-location",
        token(ADMIN),
        Some(json!({ "location": { "type": "url", "target": "https://x.example/c.yaml" } })),
    )
    .await;
    // Analysing reads as addLocation would: here no URL is allowed (reading.allow).
    assert_eq!(
        (status, body["error"]["name"].as_str()),
        (400, Some("InputError")),
        "{body:#}"
    );
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("reading.allow"),
        "{body:#}"
    );
    assert_eq!(
        server.db.log().head_position().await.unwrap(),
        head,
        "nothing was written"
    );

    // Locations: a file location (allowed on this server), read at once.
    let dir = std::env::temp_dir().join(format!("almanac-rest-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("catalog-info.yaml");
    std::fs::write(&file, DOC.replace("DESCRIPTION", "first")).unwrap();
    let target = file.display().to_string();
    let location = json!({ "type": "file", "target": target });
    let (status, dry) = send(
        &server,
        reqwest::Method::POST,
        "/locations?dryRun=true",
        token(ADMIN),
        Some(location.clone()),
    )
    .await;
    assert_eq!(status, 201, "{dry:#}");
    assert_eq!(
        (
            dry["exists"].as_bool(),
            dry["entities"][0]["metadata"]["name"].as_str()
        ),
        (Some(false), Some("rest-widget"))
    );
    assert_eq!(
        server.db.log().head_position().await.unwrap(),
        head,
        "a dry run writes nothing"
    );
    let analyze = json!({ "location": location.clone() });
    let (status, analyzed) = send(
        &server,
        reqwest::Method::POST,
        "/analyze-location",
        token(ADMIN),
        Some(analyze.clone()),
    )
    .await;
    assert_eq!(status, 200, "{analyzed:#}");
    let found = &analyzed["existingEntityFiles"][0];
    assert_eq!(
        (
            found["isRegistered"].as_bool(),
            found["entity"]["metadata"]["name"].as_str()
        ),
        (Some(false), Some("rest-widget"))
    );
    assert_eq!(
        found["location"],
        json!({ "type": "file", "target": target })
    );
    let (status, _) = send(
        &server,
        reqwest::Method::POST,
        "/analyze-location",
        token(WRITER),
        Some(analyze),
    )
    .await;
    assert_eq!(status, 403);
    assert_eq!(
        server.db.log().head_position().await.unwrap(),
        head,
        "an analysis writes nothing"
    );
    let (status, body) = send(
        &server,
        reqwest::Method::POST,
        "/locations",
        token(WRITER),
        Some(location.clone()),
    )
    .await;
    assert_eq!(
        (status, body["error"]["name"].as_str()),
        (403, Some("NotAllowedError"))
    );
    let (status, added) = send(
        &server,
        reqwest::Method::POST,
        "/locations",
        token(ADMIN),
        Some(location.clone()),
    )
    .await;
    assert_eq!(status, 201, "{added:#}");
    let id = added["location"]["id"].as_str().unwrap().to_string();
    assert_eq!(
        added["location"],
        json!({ "id": id, "type": "file", "target": target })
    );
    assert_eq!(added["entities"][0]["metadata"]["description"], "first");
    assert_eq!(
        get_as("/locations".into(), READER).await.1,
        json!([{ "data": added["location"] }])
    );
    assert_eq!(
        get_as(format!("/locations/{id}"), READER).await.1,
        added["location"]
    );
    assert_eq!(
        get_as(
            "/locations/by-entity/component/default/rest-widget".into(),
            READER
        )
        .await
        .1,
        added["location"]
    );

    // Refresh reads it again; an invalid document keeps the entity and shows as status.
    std::fs::write(&file, DOC.replace("DESCRIPTION", "second")).unwrap();
    let refresh = json!({ "entityRef": "component:default/rest-widget" });
    let (status, _) = send(
        &server,
        reqwest::Method::POST,
        "/refresh",
        token(READER),
        Some(refresh.clone()),
    )
    .await;
    assert_eq!(status, 403);
    let (status, body) = send(
        &server,
        reqwest::Method::POST,
        "/refresh",
        token(WRITER),
        Some(refresh.clone()),
    )
    .await;
    assert_eq!(status, 200, "{body:#}");
    let widget = get_as(
        "/entities/by-name/component/default/rest-widget".into(),
        READER,
    )
    .await
    .1;
    assert_eq!(widget["metadata"]["description"], "second");
    std::fs::write(
        &file,
        DOC.replace("DESCRIPTION", "third")
            .replace("  owner: team-a\n", ""),
    )
    .unwrap();
    send(
        &server,
        reqwest::Method::POST,
        "/refresh",
        token(WRITER),
        Some(refresh),
    )
    .await;
    let widget = get_as(
        "/entities/by-name/component/default/rest-widget".into(),
        READER,
    )
    .await
    .1;
    assert_eq!(
        widget["metadata"]["description"], "second",
        "the last good version is kept"
    );
    assert_eq!(
        widget["status"]["items"][0]["type"], "backstage.io/catalog-processing",
        "{widget:#}"
    );
    assert_eq!(widget["status"]["items"][0]["level"], "error");
    assert!(widget["status"]["items"][0]["error"]["message"]
        .as_str()
        .unwrap()
        .contains("spec.owner"));

    // Delete by uid: a writer owns only its pushes; an admin may delete any.
    server
        .push_to(
            "ci-bot",
            &DOC.replace("rest-widget", "pushed-widget")
                .replace("DESCRIPTION", "p"),
        )
        .await;
    let pushed = get_as(
        "/entities/by-name/component/default/pushed-widget".into(),
        READER,
    )
    .await
    .1;
    let path = format!(
        "/entities/by-uid/{}",
        pushed["metadata"]["uid"].as_str().unwrap()
    );
    assert_eq!(
        send(&server, reqwest::Method::DELETE, &path, token(READER), None)
            .await
            .0,
        403
    );
    assert_eq!(
        send(&server, reqwest::Method::DELETE, &path, token(WRITER), None)
            .await
            .0,
        204
    );
    assert_eq!(
        get_as(
            "/entities/by-name/component/default/pushed-widget".into(),
            READER
        )
        .await
        .0,
        404
    );
    let path = format!(
        "/entities/by-uid/{}",
        widget["metadata"]["uid"].as_str().unwrap()
    );
    let (status, body) = send(&server, reqwest::Method::DELETE, &path, token(WRITER), None).await;
    assert_eq!(
        (status, body["error"]["name"].as_str()),
        (403, Some("NotAllowedError"))
    );

    // Removing the location removes what it read.
    let path = format!("/locations/{id}");
    assert_eq!(
        send(&server, reqwest::Method::DELETE, &path, token(WRITER), None)
            .await
            .0,
        403
    );
    assert_eq!(
        send(&server, reqwest::Method::DELETE, &path, token(ADMIN), None)
            .await
            .0,
        204
    );
    assert_eq!(get_as(path, READER).await.0, 404);
    assert_eq!(
        get_as(
            "/entities/by-name/component/default/rest-widget".into(),
            READER
        )
        .await
        .0,
        404
    );
    std::fs::remove_dir_all(&dir).ok();
}

/// `DOC` as the JSON object a client sends.
fn widget() -> Value {
    json!({
        "apiVersion": "backstage.io/v1alpha1",
        "kind": "Component",
        "metadata": { "name": "rest-widget", "description": "v" },
        "spec": { "type": "service", "lifecycle": "production", "owner": "team-a" },
    })
}
