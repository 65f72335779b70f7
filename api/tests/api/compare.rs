//! The in-memory catalog answers lists, counts, facets and search as the SQL did, on the
//! demo catalog (issue 13): every filter × order as whole pages and walked through
//! keyset cursors, counts, facets, and the set of matches and the best hit of searches.

use super::support::demo_server;
use almanac_readmodel::{
    FacetField, Filter, OrderDirection, OrderField, OrderKey, Snapshot, TextQuery,
};
use almanac_store::catalog::{Catalog, ListAfter};

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

/// Every ref of a list, walked `first` at a time through the engine's own cursors.
async fn sql_walk(
    catalog: &Catalog,
    filter: &Filter,
    order: &[OrderKey],
    first: i64,
) -> Vec<String> {
    let mut refs = Vec::new();
    let mut after: Option<(Vec<String>, String)> = None;
    loop {
        let page = catalog
            .list_entities(
                filter,
                order,
                first,
                after.as_ref().map(|(keys, r)| ListAfter {
                    sort_keys: keys,
                    entity_ref: r,
                }),
            )
            .await
            .unwrap();
        refs.extend(page.rows.iter().map(|r| r.entity.entity_ref.clone()));
        let Some(last) = page.rows.last() else { break };
        after = Some((last.sort_keys.clone(), last.entity.entity_ref.clone()));
        if !page.has_next {
            break;
        }
    }
    refs
}

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

#[tokio::test]
async fn the_snapshot_answers_lists_counts_facets_and_search_as_the_sql_did() {
    let server = demo_server().await;
    let catalog = Catalog::new(server.db.pool.clone());
    let snapshot = server.state.followed.as_ref().unwrap().pin();
    let mut differences = Vec::new();
    let mut compared = 0;

    for (name, filter) in filters() {
        let sql = catalog.count_entities(&filter).await.unwrap();
        let memory = snapshot.count_entities(&filter);
        compared += 1;
        if sql != memory {
            differences.push(format!("count {name}: sql {sql}, memory {memory}"));
        }
        for order in orders() {
            let sql = sql_walk(&catalog, &filter, &order, 1000).await;
            let memory = memory_walk(&snapshot, &filter, &order, 1000);
            let sql_paged = sql_walk(&catalog, &filter, &order, 7).await;
            let memory_paged = memory_walk(&snapshot, &filter, &order, 7);
            compared += 4;
            if sql != memory {
                differences.push(format!(
                    "list {name} by {order:?}:\n sql    {sql:?}\n memory {memory:?}"
                ));
            }
            if sql != sql_paged {
                differences.push(format!("sql paging {name} by {order:?}"));
            }
            if memory != memory_paged {
                differences.push(format!("memory paging {name} by {order:?}"));
            }
        }
        for field in [
            FacetField::Kind,
            FacetField::Namespace,
            FacetField::Type,
            FacetField::Lifecycle,
            FacetField::Owner,
            FacetField::Tag,
        ] {
            let sql = catalog.facets(field, &filter, 100).await.unwrap();
            let memory = snapshot.facets(field, &filter, 100);
            compared += 1;
            let sql: Vec<(String, i64)> = sql.into_iter().map(|f| (f.value, f.count)).collect();
            let memory: Vec<(String, i64)> =
                memory.into_iter().map(|f| (f.value, f.count)).collect();
            if sql != memory {
                differences.push(format!(
                    "facets {field:?} of {name}:\n sql    {sql:?}\n memory {memory:?}"
                ));
            }
        }
    }

    for text in [
        "payments",
        "payments-gatew",
        "paymets",
        "service",
        "team",
        "kafka",
        "order",
        "checkout service",
        "db",
        "identity",
    ] {
        let query = TextQuery::parse(text).unwrap();
        for (name, filter) in filters().into_iter().take(3) {
            let sql = catalog.search(&query, &filter, 1000, None).await.unwrap();
            let memory = snapshot.search(&query, &filter, 1000, None);
            let count = catalog.count_search(&query, &filter).await.unwrap();
            compared += 1;
            let mut sql_set: Vec<&str> = sql.iter().map(|r| r.entity.entity_ref.as_str()).collect();
            let mut memory_set: Vec<&str> =
                memory.rows.iter().map(|r| &*r.entity.entity_ref).collect();
            let sql_first = sql_set.first().copied();
            let memory_first = memory_set.first().copied();
            let sql_order = sql_set.clone();
            let memory_order = memory_set.clone();
            sql_set.sort();
            memory_set.sort();
            if sql_set != memory_set
                || count != memory.total as i64
                || snapshot.count_search(&query, &filter) != count
            {
                let only_sql: Vec<_> = sql_set.iter().filter(|r| !memory_set.contains(r)).collect();
                let only_memory: Vec<_> =
                    memory_set.iter().filter(|r| !sql_set.contains(r)).collect();
                differences.push(format!(
                    "search {text:?} in {name}: sql {} (count {count}), memory {} (total {}); only sql {only_sql:?}; only memory {only_memory:?}",
                    sql_set.len(),
                    memory_set.len(),
                    memory.total
                ));
            }
            // Ranking is the same in kind, not in its ties: the SQL added ts_rank (which
            // weighs a word by the document's length), memory adds a flat 0.1.
            if sql_first != memory_first {
                println!(
                    "search {text:?} in {name}: best sql {sql_first:?}, memory {memory_first:?}"
                );
            }
            if sql_order != memory_order {
                println!(
                    "search {text:?} in {name}: order differs (same best hit: {})\n sql    {:?}\n memory {:?}",
                    sql_first == memory_first,
                    sql.iter().map(|r| (r.entity.entity_ref.as_str(), (r.score * 1000.0).round() / 1000.0)).collect::<Vec<_>>(),
                    memory.rows.iter().map(|r| (&*r.entity.entity_ref, (r.score * 1000.0).round() / 1000.0)).collect::<Vec<_>>(),
                );
            }
        }
    }
    println!("compared {compared} answers; {} differ", differences.len());
    for d in &differences {
        println!("{d}");
    }
    assert!(differences.is_empty(), "{} differences", differences.len());
}
