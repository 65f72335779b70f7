//! The in-memory catalog's lists, counts, facets and search on the demo catalog, as
//! values. Recorded from the SQL engine before it was removed (issue 13): on this
//! catalog every list (11 filters × 10 orders, whole and walked 7 at a time), count and
//! facet was equal, and every search matched the same entities (only the order of
//! ties in score differed; see /work/notes/lists.md).

use super::support::demo_server;
use almanac_readmodel::{
    FacetField, Filter, OrderDirection, OrderField, OrderKey, Snapshot, TextQuery,
};

fn filters() -> Vec<(&'static str, Filter)> {
    let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    vec![
        ("all", Filter::all()),
        (
            "service components",
            Filter::All(vec![
                Filter::Kind(s(&["Component"])),
                Filter::Type(s(&["service"])),
            ]),
        ),
        (
            "components not in production",
            Filter::All(vec![
                Filter::Kind(s(&["component"])),
                Filter::Not(Box::new(Filter::Lifecycle(s(&["production"])))),
            ]),
        ),
        (
            "groups or users",
            Filter::Any(vec![
                Filter::Kind(s(&["Group"])),
                Filter::Kind(s(&["User"])),
            ]),
        ),
        (
            "owned by team-payments",
            Filter::Owner(s(&["group:default/team-payments"])),
        ),
        (
            "label",
            Filter::Label(vec![(
                "kestrelmoor.io/environment".into(),
                "production".into(),
            )]),
        ),
        (
            "has pagerduty",
            Filter::HasAnnotation(s(&["pagerduty.com/service-id"])),
        ),
        ("tag go", Filter::Tag(s(&["Go"]))),
        ("namespace partners", Filter::Namespace(s(&["partners"]))),
        (
            "text payments",
            Filter::Text(TextQuery::parse("payments").unwrap()),
        ),
        ("not tag go", Filter::Not(Box::new(Filter::Tag(s(&["go"]))))),
    ]
}

fn orders() -> Vec<Vec<OrderKey>> {
    let k = |field, direction| OrderKey { field, direction };
    use OrderDirection::{Asc, Desc};
    vec![
        vec![k(OrderField::Name, Asc)],
        vec![k(OrderField::Name, Desc)],
        vec![k(OrderField::Ref, Desc)],
        vec![k(OrderField::Title, Asc)],
        vec![k(OrderField::Lifecycle, Desc), k(OrderField::Name, Asc)],
        vec![k(OrderField::Type, Asc), k(OrderField::Kind, Desc)],
        vec![k(OrderField::Owner, Desc)],
        vec![k(OrderField::Namespace, Asc), k(OrderField::Kind, Asc)],
        vec![k(OrderField::CreatedAt, Asc)],
        vec![k(OrderField::UpdatedAt, Desc), k(OrderField::Name, Asc)],
    ]
}

/// Every ref of a list, walked `first` at a time through its own cursors.
fn memory_walk(
    snapshot: &Snapshot,
    filter: &Filter,
    order: &[OrderKey],
    first: usize,
) -> Vec<String> {
    let mut refs = Vec::new();
    let mut after: Option<(Vec<String>, String)> = None;
    loop {
        let page = snapshot.list_entities(
            filter,
            order,
            first,
            after
                .as_ref()
                .map(|(keys, r)| (keys.as_slice(), r.as_str())),
        );
        refs.extend(page.rows.iter().map(|r| r.entity.entity_ref.to_string()));
        let Some(last) = page.rows.last() else { break };
        after = Some((last.sort_keys.clone(), last.entity.entity_ref.to_string()));
        if !page.has_next {
            break;
        }
    }
    refs
}

fn refs(list: &[&str]) -> Vec<String> {
    list.iter().map(|r| r.to_string()).collect()
}

fn facets(snapshot: &Snapshot, field: FacetField, filter: &Filter) -> Vec<(String, i64)> {
    snapshot
        .facets(field, filter, 3)
        .into_iter()
        .map(|f| (f.value, f.count))
        .collect()
}

fn pairs(list: &[(&str, i64)]) -> Vec<(String, i64)> {
    list.iter().map(|(v, c)| (v.to_string(), *c)).collect()
}

#[tokio::test]
async fn the_snapshot_answers_lists_counts_facets_and_search_as_the_sql_did() {
    let server = demo_server().await;
    let snapshot = server.state.followed.as_ref().unwrap().pin();

    // Counts, as the SQL counted them; every order lists exactly those, and walking
    // through cursors 7 at a time gives the whole page's order.
    let counts = [175, 39, 14, 58, 16, 16, 29, 19, 4, 11, 156];
    for ((name, filter), count) in filters().into_iter().zip(counts) {
        assert_eq!(snapshot.count_entities(&filter), count, "{name}");
        for order in orders() {
            let whole = memory_walk(&snapshot, &filter, &order, 1000);
            assert_eq!(whole.len() as i64, count, "{name} by {order:?}");
            assert_eq!(
                memory_walk(&snapshot, &filter, &order, 7),
                whole,
                "{name} by {order:?}"
            );
        }
    }

    // The first rows of some orders, as the SQL gave them.
    let all = Filter::all();
    let services = filters().swap_remove(1).1;
    let orders = orders();
    let first = |filter: &Filter, order: &[OrderKey]| {
        let mut rows = memory_walk(&snapshot, filter, order, 1000);
        rows.truncate(4);
        rows
    };
    assert_eq!(
        first(&all, &orders[0]),
        refs(&[
            "user:default/ada.okafor",
            "user:default/amara.nwosu",
            "component:default/analytics-api-service",
            "api:default/analytics-graphql"
        ])
    );
    assert_eq!(
        first(&all, &orders[4]),
        refs(&[
            "component:default/analytics-api-service",
            "component:default/api-gateway",
            "api:default/auth-api",
            "component:default/auth-client-lib"
        ])
    );
    assert_eq!(
        first(&all, &orders[6]),
        refs(&[
            "component:default/platform-cli",
            "component:default/payments-client-js",
            "api:default/inventory-api",
            "api:default/inventory-events"
        ])
    );
    assert_eq!(
        first(&all, &orders[7]),
        refs(&[
            "api:default/analytics-graphql",
            "api:default/auth-api",
            "api:default/cart-api",
            "api:default/eta-api"
        ])
    );
    assert_eq!(
        first(&services, &orders[1]),
        refs(&[
            "component:default/user-profile-service",
            "component:default/traffic-feed-ingestor",
            "component:default/telemetry-ingest",
            "component:default/storefront-bff"
        ])
    );
    assert_eq!(
        first(&services, &orders[2]),
        refs(&[
            "component:partners/carrier-webhook-receiver",
            "component:partners/carrier-gateway",
            "component:default/user-profile-service",
            "component:default/traffic-feed-ingestor"
        ])
    );
    assert_eq!(
        first(&services, &orders[6]),
        refs(&[
            "component:default/inventory-service",
            "component:default/label-printer-service",
            "component:default/pick-pack-service",
            "component:default/slotting-optimizer"
        ])
    );

    // Facets, most frequent first.
    assert_eq!(
        facets(&snapshot, FacetField::Kind, &all),
        pairs(&[("Component", 61), ("User", 40), ("API", 23)])
    );
    assert_eq!(
        facets(&snapshot, FacetField::Namespace, &all),
        pairs(&[("default", 171), ("partners", 4)])
    );
    assert_eq!(
        facets(&snapshot, FacetField::Type, &all),
        pairs(&[("service", 40), ("library", 12), ("team", 12)])
    );
    assert_eq!(
        facets(&snapshot, FacetField::Lifecycle, &all),
        pairs(&[("production", 68), ("experimental", 12), ("deprecated", 4)])
    );
    assert_eq!(
        facets(&snapshot, FacetField::Owner, &all),
        pairs(&[
            ("group:default/team-payments", 16),
            ("group:default/team-routing", 14),
            ("group:default/team-warehouse", 13)
        ])
    );
    assert_eq!(
        facets(&snapshot, FacetField::Tag, &all),
        pairs(&[("go", 19), ("typescript", 16), ("grpc", 9)])
    );
    assert_eq!(
        facets(&snapshot, FacetField::Lifecycle, &services),
        pairs(&[("production", 30), ("experimental", 6), ("deprecated", 3)])
    );
    assert_eq!(
        facets(&snapshot, FacetField::Tag, &services),
        pairs(&[("go", 15), ("tier-1", 7), ("kotlin", 6)])
    );

    // Search: how many match (in all, service components, components not in
    // production), as the SQL matched them, and the best hit where the score has no tie.
    let searches: [(&str, [i64; 3], Option<&str>); 10] = [
        ("payments", [11, 3, 1], None),
        (
            "payments-gatew",
            [11, 3, 1],
            Some("component:default/payments-gateway"),
        ),
        ("paymets", [11, 3, 1], None),
        ("service", [21, 17, 2], None),
        ("team", [12, 0, 0], None),
        ("kafka", [4, 0, 0], None),
        ("order", [10, 3, 0], None),
        (
            "checkout service",
            [1, 1, 0],
            Some("component:default/checkout-service"),
        ),
        ("db", [6, 0, 0], None),
        ("identity", [5, 0, 0], Some("system:default/identity")),
    ];
    for (text, totals, best) in searches {
        let query = TextQuery::parse(text).unwrap();
        for ((name, filter), total) in filters().into_iter().take(3).zip(totals) {
            let page = snapshot.search(&query, &filter, 1000, None);
            assert_eq!(page.total as i64, total, "{text:?} in {name}");
            assert_eq!(page.rows.len() as i64, total, "{text:?} in {name}");
            assert_eq!(
                snapshot.count_search(&query, &filter),
                total,
                "{text:?} in {name}"
            );
        }
        if let Some(best) = best {
            let page = snapshot.search(&query, &Filter::all(), 1, None);
            assert_eq!(&*page.rows[0].entity.entity_ref, best, "{text:?}");
        }
    }
}
