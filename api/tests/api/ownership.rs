//! Ownership through the group tree and memberships, and a bot's one query.

use super::support::{demo_server, first_code, sorted, strings};
use serde_json::json;

#[tokio::test]
async fn ownership_is_transitive_through_subgroups_and_memberships() {
    let server = demo_server().await;
    let data = server
        .data(
            r#"{
              direct: entity(ref: "group:commerce") { ... on Group { ownedEntities { ref } } }
              all: entity(ref: "group:commerce") {
                ... on Group {
                  ownedEntities(transitive: true) { ref }
                  children { ref }
                  members { ref }
                  everyone: members(transitive: true) { ref }
                }
              }
              team: entity(ref: "group:team-payments") { ... on Group { ownedEntities { ref } } }
              user: entity(ref: "user:ines.carvalho") {
                ... on User { mine: ownedEntities { ref } ours: ownedEntities(transitive: true) { ref } }
              }
              owner: entity(ref: "user:jonas.berg") { ... on User { ownedEntities { ref } } }
            }"#,
            json!({}),
        )
        .await;
    assert_eq!(data["direct"]["ownedEntities"].as_array().unwrap().len(), 1);
    // commerce owns 1, team-storefront 12, team-orders 11, team-payments 16.
    let all = strings(&data["all"]["ownedEntities"], Some("ref"));
    assert_eq!(all.len(), 40);
    assert!(all.contains(&"component:default/payments-gateway".to_string()));
    assert!(all.contains(&"component:default/checkout-service".to_string()));
    assert_eq!(
        sorted(&data["all"]["children"], Some("ref")),
        [
            "group:default/team-orders",
            "group:default/team-payments",
            "group:default/team-storefront"
        ]
    );
    let everyone = strings(&data["all"]["everyone"], Some("ref"));
    assert!(everyone.contains(&"user:default/kavya.iyer".to_string()));
    assert!(everyone.len() > data["all"]["members"].as_array().unwrap().len());
    assert_eq!(data["team"]["ownedEntities"].as_array().unwrap().len(), 16);
    // ines.carvalho owns nothing herself; through team-payments and commerce, 17.
    assert_eq!(data["user"]["mine"], json!([]));
    assert_eq!(data["user"]["ours"].as_array().unwrap().len(), 17);
    assert_eq!(
        strings(&data["owner"]["ownedEntities"], Some("ref")),
        ["component:default/payments-client-js"]
    );
}

#[tokio::test]
async fn members_and_ancestors_follow_both_declaration_sides() {
    let server = demo_server().await;
    let data = server
        .data(
            r#"{
              sre: entity(ref: "group:team-sre") { ... on Group { members { ref } parent { ref } } }
              platform: entity(ref: "group:platform-eng") { ... on Group { members(transitive: true) { ref } } }
              routing: entity(ref: "group:team-routing") { ... on Group { ancestors { ref } } }
            }"#,
            json!({}),
        )
        .await;
    // mateo.alvarez has `memberOf: []`: team-sre's `members` alone puts him there.
    let sre = strings(&data["sre"]["members"], Some("ref"));
    assert_eq!(sre.len(), 5);
    assert!(sre.contains(&"user:default/mateo.alvarez".to_string()));
    // team-sre's parent is declared only in platform-eng's `children`.
    assert_eq!(data["sre"]["parent"]["ref"], "group:default/platform-eng");
    assert!(strings(&data["platform"]["members"], Some("ref"))
        .contains(&"user:default/mateo.alvarez".to_string()));
    assert_eq!(
        strings(&data["routing"]["ancestors"], Some("ref")),
        [
            "group:default/logistics-eng",
            "group:default/engineering",
            "group:default/kestrelmoor"
        ]
    );
}

#[tokio::test]
async fn a_bot_asks_who_owns_something_and_how_to_reach_them() {
    let server = demo_server().await;
    let data = server
        .data(
            r#"{ ownership(ref: "component:payments-gateway") {
                   entity { ref }
                   ownerRef
                   owner { ref ... on Group { profile { displayName } } }
                   chain { ref }
                   contacts { ref name email role }
                 } }"#,
            json!({}),
        )
        .await;
    let ownership = &data["ownership"];
    assert_eq!(
        ownership["entity"]["ref"],
        "component:default/payments-gateway"
    );
    assert_eq!(ownership["ownerRef"], "group:default/team-payments");
    assert_eq!(ownership["owner"]["profile"]["displayName"], "Payments");
    assert_eq!(
        strings(&ownership["chain"], Some("ref")),
        [
            "group:default/commerce",
            "group:default/engineering",
            "group:default/kestrelmoor"
        ]
    );
    let contacts = ownership["contacts"].as_array().unwrap();
    assert_eq!(
        contacts[0],
        json!({ "ref": "group:default/team-payments", "name": "Payments",
                "email": "team-payments@kestrelmoor.example", "role": "OWNER" })
    );
    let members: Vec<_> = contacts.iter().filter(|c| c["role"] == "MEMBER").collect();
    let emails: Vec<&str> = members
        .iter()
        .map(|c| c["email"].as_str().unwrap())
        .collect();
    // Members declared on either side: the group's `members` and users' `memberOf`.
    assert_eq!(
        emails,
        [
            "ines.carvalho@kestrelmoor.example",
            "jonas.berg@kestrelmoor.example",
            "kavya.iyer@kestrelmoor.example",
            "oscar.mendes@kestrelmoor.example"
        ]
    );
    let escalation: Vec<&str> = contacts
        .iter()
        .filter(|c| c["role"] == "ESCALATION")
        .map(|c| c["ref"].as_str().unwrap())
        .collect();
    assert_eq!(
        escalation,
        [
            "group:default/commerce",
            "group:default/engineering",
            "group:default/kestrelmoor"
        ]
    );

    // A user-owned entity: the owner is the contact, and there is no chain.
    let data = server
        .data(r#"{ ownership(ref: "component:platform-cli") { owner { ref } chain { ref } contacts { email role } } }"#, json!({}))
        .await;
    assert_eq!(
        data["ownership"]["owner"]["ref"],
        "user:default/quentin.fabre"
    );
    assert_eq!(data["ownership"]["chain"], json!([]));
    assert_eq!(data["ownership"]["contacts"][0]["role"], "OWNER");
    assert!(server
        .data(
            r#"{ ownership(ref: "component:nope") { ownerRef } }"#,
            json!({})
        )
        .await["ownership"]
        .is_null());
}

const OWNED_PAGE: &str = r#"query ($after: String) { entity(ref: "group:commerce") { ... on Group {
    ownedEntitiesConnection(transitive: true, first: 15, after: $after) {
      totalCount
      pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
      edges { cursor node { ref } }
      nodes { ref }
    }
    ownedEntities(transitive: true) { ref }
} } }"#;

#[tokio::test]
async fn owned_entities_and_members_come_in_pages_by_ref_with_their_totals() {
    let server = demo_server().await;
    let mut after = json!(null);
    let mut paged = Vec::new();
    let mut pages = Vec::new();
    let everything = loop {
        let data = server.data(OWNED_PAGE, json!({ "after": after })).await;
        let group = &data["entity"];
        let page = &group["ownedEntitiesConnection"];
        assert_eq!(page["totalCount"], 40, "{page:#}");
        assert_eq!(page["pageInfo"]["hasPreviousPage"], json!(!after.is_null()));
        assert_eq!(page["edges"][0]["cursor"], page["pageInfo"]["startCursor"]);
        assert_eq!(
            strings(&page["nodes"], Some("ref")),
            page["edges"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["node"]["ref"].as_str().unwrap().to_string())
                .collect::<Vec<_>>()
        );
        let refs = strings(&page["nodes"], Some("ref"));
        pages.push(refs.len());
        paged.extend(refs);
        if page["pageInfo"]["hasNextPage"] == json!(false) {
            break sorted(&group["ownedEntities"], Some("ref"));
        }
        after = page["pageInfo"]["endCursor"].clone();
    };
    assert_eq!(pages, [15, 15, 10]);
    // By ref, every entity once: the unpaged list, sorted.
    assert_eq!(paged, everything);

    let data = server
        .data(
            r#"{ team: entity(ref: "group:team-payments") { ... on Group {
                   membersConnection(first: 3) { totalCount pageInfo { hasNextPage endCursor } nodes { ref profile { email } } }
                   everyone: membersConnection(transitive: true, first: 0) { totalCount nodes { ref } pageInfo { hasNextPage } }
                   ownedEntitiesConnection { totalCount }
                 } }
                 user: entity(ref: "user:ines.carvalho") { ... on User {
                   mine: ownedEntitiesConnection { totalCount nodes { ref } }
                   ours: ownedEntitiesConnection(transitive: true, first: 5) { totalCount nodes { ref } }
                 } } }"#,
            json!({}),
        )
        .await;
    let members = &data["team"]["membersConnection"];
    assert_eq!(members["totalCount"], 4);
    assert_eq!(
        strings(&members["nodes"], Some("ref")),
        [
            "user:default/ines.carvalho",
            "user:default/jonas.berg",
            "user:default/kavya.iyer"
        ]
    );
    assert_eq!(
        members["nodes"][0]["profile"]["email"],
        "ines.carvalho@kestrelmoor.example"
    );
    assert_eq!(members["pageInfo"]["hasNextPage"], true);
    assert_eq!(data["team"]["everyone"]["totalCount"], 4);
    assert_eq!(data["team"]["everyone"]["nodes"], json!([]));
    assert_eq!(data["team"]["everyone"]["pageInfo"]["hasNextPage"], true);
    assert_eq!(data["team"]["ownedEntitiesConnection"]["totalCount"], 16);
    assert_eq!(
        data["user"]["mine"],
        json!({ "totalCount": 0, "nodes": [] })
    );
    assert_eq!(data["user"]["ours"]["totalCount"], 17);
    assert_eq!(data["user"]["ours"]["nodes"].as_array().unwrap().len(), 5);

    let rest = server
        .data(
            r#"query ($after: String) { entity(ref: "group:team-payments") { ... on Group {
                 membersConnection(first: 3, after: $after) { totalCount pageInfo { hasNextPage hasPreviousPage } nodes { ref } } } } }"#,
            json!({ "after": members["pageInfo"]["endCursor"] }),
        )
        .await;
    assert_eq!(
        rest["entity"]["membersConnection"],
        json!({ "totalCount": 4, "pageInfo": { "hasNextPage": false, "hasPreviousPage": true },
                "nodes": [{ "ref": "user:default/oscar.mendes" }] })
    );
}

#[tokio::test]
async fn a_cursor_from_elsewhere_is_refused_by_name() {
    let server = demo_server().await;
    let page = |field: &str, after: &str| {
        format!(
            r#"{{ entity(ref: "group:commerce") {{ ... on Group {{ {field}(first: 2, after: "{after}") {{ totalCount }} }} }} }}"#
        )
    };
    let data = server
        .data(
            r#"{ entity(ref: "group:commerce") { ... on Group { ownedEntitiesConnection(first: 2) { pageInfo { endCursor } } } }
                 entities(first: 1) { pageInfo { endCursor } } }"#,
            json!({}),
        )
        .await;
    let owned = data["entity"]["ownedEntitiesConnection"]["pageInfo"]["endCursor"]
        .as_str()
        .unwrap()
        .to_string();
    let listed = data["entities"]["pageInfo"]["endCursor"]
        .as_str()
        .unwrap()
        .to_string();

    let garbage = server
        .call(
            &page("ownedEntitiesConnection", "not-a-cursor"),
            json!({}),
            None,
        )
        .await;
    assert_eq!(first_code(&garbage), "INVALID_CURSOR");
    assert_eq!(
        garbage["errors"][0]["message"],
        "the cursor is not one this query returned"
    );
    for (field, cursor, signature) in [
        ("membersConnection", &owned, "members:direct"),
        ("ownedEntitiesConnection", &listed, "owned:direct"),
    ] {
        let body = server.call(&page(field, cursor), json!({}), None).await;
        assert_eq!(first_code(&body), "INVALID_CURSOR", "{body:#}");
        assert_eq!(
            body["errors"][0]["message"],
            json!(format!(
                "the cursor belongs to another list, not to this {signature} page \
                 (a cursor resumes only the field and `transitive` it came from)"
            ))
        );
    }
    // The same field with another `transitive` is another list.
    let transitive = server
        .call(
            r#"query ($after: String) { entity(ref: "group:commerce") { ... on Group {
                 ownedEntitiesConnection(transitive: true, after: $after) { totalCount } } } }"#,
            json!({ "after": owned }),
            None,
        )
        .await;
    assert_eq!(first_code(&transitive), "INVALID_CURSOR", "{transitive:#}");
    let too_many = server
        .call(
            r#"{ entity(ref: "group:commerce") { ... on Group { ownedEntitiesConnection(first: 100000) { totalCount } } } }"#,
            json!({}),
            None,
        )
        .await;
    assert!(too_many.get("errors").is_some(), "{too_many:#}");
}
