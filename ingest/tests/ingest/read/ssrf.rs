//! Outbound reads are allowed, not assumed: every URL a source, a placeholder or a
//! Location target names is checked against `reading.allow` and against the address it
//! resolves to, before any connection. The target is a real listener on 127.0.0.1 that
//! counts its connections, so "refused" means "never connected".

use almanac_ingest::read::Source;

use super::target::{Answer, Target};
use super::*;

const SECRET: &str = "metadata-secret-7731";

async fn secret_target() -> Target {
    Target::start(&[
        ("/latest/meta-data/", Answer::ok(SECRET)),
        ("/metrics", Answer::ok(SECRET)),
        ("/catalog-info.yaml", Answer::ok(&component("inside"))),
    ])
    .await
}

/// Every loopback spelling of the target, as a URL source.
fn loopback_shapes(target: &Target) -> Vec<String> {
    let port = target.port;
    vec![
        target.url("/metrics"),
        format!("http://localhost:{port}/metrics"),
        format!("http://2130706433:{port}/metrics"),
        format!("http://0x7f.1:{port}/metrics"),
        format!("http://[::ffff:127.0.0.1]:{port}/metrics"),
    ]
}

#[tokio::test]
async fn by_default_no_url_is_read_and_nothing_connects() {
    let target = secret_target().await;
    let mut sources: Vec<Source> = loopback_shapes(&target)
        .into_iter()
        .map(Source::Url)
        .collect();
    sources.push(Source::Url(
        "http://169.254.169.254/latest/meta-data/".into(),
    ));

    let outcome = read(&sources).await;

    assert!(outcome.files.is_empty(), "{:?}", keys(&outcome));
    // Every spelling fails (several share the key of 127.0.0.1, so are one failure).
    for source in &sources {
        assert!(outcome.error(&source.origin()).is_some(), "{source:?}");
    }
    for error in &outcome.errors {
        assert!(
            error.message.starts_with("refused by reading.allow"),
            "{error}"
        );
        assert!(!error.to_string().contains(SECRET), "{error}");
    }
    assert_eq!(target.connections(), 0);
}

/// `host: '*'`: any host, but only at public addresses.
fn any_public_host() -> ReadPolicy {
    ReadPolicy {
        allow: vec![AllowRule {
            host: "*".into(),
            paths: Vec::new(),
            private: false,
        }],
        ..ReadPolicy::default()
    }
}

async fn read_with(sources: &[Source], policy: &ReadPolicy) -> ReadOutcome {
    read_sources(sources, &ReadLimits::default(), policy).await
}

#[tokio::test]
async fn private_addresses_are_refused_without_connecting_even_when_any_host_is_allowed() {
    let target = secret_target().await;
    let mut urls = loopback_shapes(&target);
    urls.extend([
        "http://169.254.169.254/latest/meta-data/".to_string(),
        "http://10.0.0.1/".to_string(),
        "http://[fd00:ec2::254]/".to_string(),
        format!("http://0.0.0.0:{}/metrics", target.port),
    ]);
    let sources: Vec<Source> = urls.iter().cloned().map(Source::Url).collect();

    let outcome = read_with(&sources, &any_public_host()).await;

    assert!(outcome.files.is_empty(), "{:?}", keys(&outcome));
    for source in &sources {
        assert!(outcome.error(&source.origin()).is_some(), "{source:?}");
    }
    for error in &outcome.errors {
        assert!(
            error
                .message
                .starts_with("refused: resolves to a private address"),
            "{error}"
        );
    }
    assert_eq!(target.connections(), 0);
}

#[tokio::test]
async fn placeholders_and_location_targets_of_a_push_are_held_to_the_same_rules() {
    let target = secret_target().await;
    let metrics = target.url("/metrics");
    let port = target.port;
    let text = format!(
        "{}---\n{}",
        api_with("probe", "$text", &metrics),
        location(
            "probe-location",
            &format!("  type: url\n  target: http://2130706433:{port}/catalog-info.yaml\n"),
        )
    );
    let pushed = Source::Text {
        name: "push".into(),
        text,
    };

    for policy in [ReadPolicy::default(), any_public_host()] {
        let outcome = read_with(std::slice::from_ref(&pushed), &policy).await;

        let file = outcome.file("api:push").expect("the push is read");
        let invalid = invalid(file);
        assert_eq!(invalid.len(), 1, "{invalid:?}");
        assert_eq!(invalid[0].0, "api:default/probe");
        assert!(
            invalid[0].1.starts_with(&format!(
                "spec.definition: cannot read $text {metrics}: url:{metrics}: refused"
            )),
            "{}",
            invalid[0].1
        );
        let failure = outcome
            .error(&format!("url:http://127.0.0.1:{port}/catalog-info.yaml"))
            .expect("the Location target fails");
        assert!(failure.message.starts_with("refused"), "{failure}");
        assert!(!format!("{:?}", outcome).contains(SECRET));
    }
    assert_eq!(target.connections(), 0);
}

#[tokio::test]
async fn a_listed_host_is_read_within_its_paths() {
    let target = secret_target().await;
    let mut policy = allowing(&[&target.url("")]);
    policy.allow[0].paths = vec!["/catalog-info".into()];

    let outcome = read_with(
        &[
            Source::Url(target.url("/catalog-info.yaml")),
            Source::Url(target.url("/metrics")),
        ],
        &policy,
    )
    .await;

    assert_eq!(
        keys(&outcome),
        [format!("url:{}", target.url("/catalog-info.yaml"))]
    );
    assert_eq!(names(&outcome.files[0]), ["inside"]);
    let errors: Vec<String> = outcome.errors.iter().map(ToString::to_string).collect();
    assert_eq!(
        errors,
        [format!(
            "url:{}: refused by reading.allow: path /metrics is not under a path listed for {}",
            target.url("/metrics"),
            target.authority
        )]
    );
    assert_eq!(target.connections(), 1);
}

#[tokio::test]
async fn a_redirect_to_an_unlisted_host_or_path_is_refused_before_connecting() {
    let elsewhere = secret_target().await;
    let listed = Target::start(&[
        (
            "/public/other-host",
            Answer::redirect(&elsewhere.url("/metrics")),
        ),
        ("/public/other-path", Answer::redirect("/metrics")),
        (
            "/public/localhost",
            Answer::redirect(&format!("http://localhost:{}/public/x", elsewhere.port)),
        ),
        (
            "/public/fine",
            Answer::redirect("/public/catalog-info.yaml"),
        ),
        ("/public/catalog-info.yaml", Answer::ok(&component("fine"))),
        ("/metrics", Answer::ok(SECRET)),
    ])
    .await;
    let mut policy = allowing(&[&listed.url("")]);
    policy.allow[0].paths = vec!["/public/".into()];
    let paths = ["other-host", "other-path", "localhost", "fine"];
    let sources: Vec<Source> = paths
        .iter()
        .map(|p| Source::Url(listed.url(&format!("/public/{p}"))))
        .collect();

    let outcome = read_with(&sources, &policy).await;

    assert_eq!(names(&outcome.files[0]), ["fine"]);
    let message = |outcome: &ReadOutcome, path: &str| {
        outcome
            .error(&format!("url:{}", listed.url(&format!("/public/{path}"))))
            .map(|e| e.message.clone())
            .unwrap_or_default()
    };
    assert_eq!(
        message(&outcome, "other-host"),
        format!(
            "refused by reading.allow: host {} is not listed",
            elsewhere.authority
        )
    );
    assert_eq!(
        message(&outcome, "localhost"),
        format!(
            "refused by reading.allow: host localhost:{} is not listed",
            elsewhere.port
        )
    );
    assert_eq!(
        message(&outcome, "other-path"),
        format!(
            "refused by reading.allow: path /metrics is not under a path listed for {}",
            listed.authority
        )
    );

    // With any public host allowed, the hop to localhost is refused on its address.
    policy.allow.push(AllowRule {
        host: "*".into(),
        paths: Vec::new(),
        private: false,
    });
    let outcome = read_with(&sources[2..3], &policy).await;
    assert!(
        message(&outcome, "localhost").starts_with("refused: resolves to a private address"),
        "{:?}",
        outcome.errors
    );

    assert_eq!(elsewhere.connections(), 0);
    // Four first hops, the one allowed second hop, the localhost first hop again.
    assert_eq!(listed.connections(), 6);
    assert!(listed.requests().iter().all(|r| !r.contains("/metrics")));
}

#[tokio::test]
async fn user_info_is_refused_and_never_shown() {
    let target = secret_target().await;
    let with_credential = format!("http://probe:hunter2@{}/metrics", target.authority);
    let pushed = Source::Text {
        name: "push".into(),
        text: format!(
            "{}---\n{}",
            location(
                "creds",
                &format!(
                    "  type: url\n  target: http://probe:hunter2@{}/catalog-info.yaml\n",
                    target.authority
                )
            ),
            api_with("creds", "$text", &with_credential)
        ),
    };
    let policy = allowing(&[&target.url("")]);

    let outcome = read_with(&[Source::Url(with_credential.clone()), pushed], &policy).await;

    let printed = format!("{outcome:?}");
    let keys: Vec<&str> = outcome.errors.iter().map(|e| e.key.as_str()).collect();
    let (listing, metrics) = (
        format!("url:{}", target.url("/catalog-info.yaml")),
        format!("url:{}", target.url("/metrics")),
    );
    assert_eq!(keys, [listing.as_str(), metrics.as_str()]);
    for error in &outcome.errors {
        assert!(
            error
                .message
                .starts_with("refused: the URL carries user info"),
            "{error}"
        );
    }
    let invalid = invalid(outcome.file("api:push").expect("push read"));
    assert!(invalid[0].1.contains("refused: the URL carries user info"));
    // The Location entity itself holds what its author wrote; nothing Almanac says does.
    let said: Vec<String> = outcome
        .errors
        .iter()
        .map(ToString::to_string)
        .chain(invalid.iter().map(|(_, message)| message.clone()))
        .collect();
    assert!(said.iter().all(|s| !s.contains("hunter2")), "{said:?}");
    assert!(!printed.contains(SECRET));
    assert_eq!(target.connections(), 0);
}

#[tokio::test]
async fn configured_headers_go_to_their_host_only() {
    let other = Target::start(&[("/next.yaml", Answer::ok(&component("second")))]).await;
    let target = Target::start(&[
        ("/first.yaml", Answer::ok(&component("first"))),
        ("/hop", Answer::redirect(&other.url("/next.yaml"))),
    ])
    .await;
    let mut policy = allowing(&[&target.url(""), &other.url("")]);
    policy.credentials = serde_yaml::from_str(&format!(
        "- host: {}\n  token: t0ken-for-target\n  headers: {{ X-Team: storefront }}\n",
        target.authority
    ))
    .expect("credentials");

    let outcome = read_with(
        &[
            Source::Url(target.url("/first.yaml")),
            Source::Url(target.url("/hop")),
        ],
        &policy,
    )
    .await;

    assert!(outcome.errors.is_empty(), "{:?}", outcome.errors);
    let sent = target.requests();
    assert_eq!(sent.len(), 2);
    for head in &sent {
        let head = head.to_ascii_lowercase();
        assert!(
            head.contains("authorization: bearer t0ken-for-target"),
            "{head}"
        );
        assert!(head.contains("x-team: storefront"), "{head}");
    }
    let forwarded = other.requests();
    assert_eq!(forwarded.len(), 1);
    assert!(!forwarded[0].to_ascii_lowercase().contains("authorization"));
    assert!(!format!("{outcome:?}").contains("t0ken"));
}

#[tokio::test]
async fn failures_say_what_failed_and_never_what_came_back() {
    let target = Target::start(&[
        ("/private", Answer::status(401, SECRET)),
        ("/broken", Answer::status(500, SECRET)),
        ("/not-json", Answer::ok(SECRET)),
        (
            "/catalog-info.yaml",
            Answer::ok(&api_with("j", "$json", "./not-json")),
        ),
    ])
    .await;
    // A listed port with nothing behind it.
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let closed_base = format!("http://{}", closed.local_addr().expect("address"));
    drop(closed);
    let policy = allowing(&[&target.url(""), &closed_base]);

    let outcome = read_with(
        &[
            Source::Url(target.url("/private")),
            Source::Url(target.url("/broken")),
            Source::Url(target.url("/catalog-info.yaml")),
            Source::Url(format!("{closed_base}/x")),
        ],
        &policy,
    )
    .await;

    let mut errors: Vec<String> = outcome.errors.iter().map(ToString::to_string).collect();
    errors.sort();
    let mut expected = [
        format!("url:{closed_base}/x: connection failed"),
        format!("url:{}: HTTP status 500", target.url("/broken")),
        format!("url:{}: HTTP status 401", target.url("/private")),
    ];
    expected.sort();
    assert_eq!(errors, expected);
    let invalid = invalid(
        outcome
            .file(&format!("url:{}", target.url("/catalog-info.yaml")))
            .expect("read"),
    );
    assert!(invalid[0].1.contains("invalid JSON"), "{}", invalid[0].1);
    assert!(!format!("{outcome:?}").contains(SECRET));
}
