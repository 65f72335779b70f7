//! URL sources against a real local HTTP server: read, 404, size cap, timeout, and
//! Location targets relative to a URL.

use std::time::Duration;

use almanac_ingest::read::Source;

use super::*;

#[tokio::test]
async fn a_url_source_is_read_with_its_locations() {
    let root = location(
        "remote-root",
        "  targets:\n    - ./team/catalog-info.yaml\n    - ../other.yaml\n",
    );
    let base = serve(&[
        ("/repo/catalog-info.yaml", &root),
        ("/repo/team/catalog-info.yaml", &component("remote-svc")),
        ("/other.yaml", &component("other")),
    ])
    .await;
    let url = format!("{base}/repo/catalog-info.yaml");

    let outcome = read_allowing(&[Source::Url(url.clone())], &[&base]).await;

    assert!(outcome.errors.is_empty(), "{:?}", outcome.errors);
    let origin = format!("url:{url}");
    let team = format!("url:{base}/repo/team/catalog-info.yaml");
    let other = format!("url:{base}/other.yaml");
    // In read order: the root, then its targets as it names them.
    assert_eq!(keys(&outcome), [origin.clone(), team.clone(), other]);
    let svc = valid(outcome.file(&team).expect("team file"))[0];
    assert_eq!(svc.name(), "remote-svc");
    assert_eq!(
        managed_by(svc),
        (Some(team.as_str()), Some(origin.as_str()))
    );
}

#[tokio::test]
async fn a_404_is_a_failure_unless_the_target_is_optional() {
    let optional = location("maybe", "  presence: optional\n  target: ./absent.yaml\n");
    let base = serve(&[("/optional.yaml", &optional)]).await;
    let missing = format!("{base}/missing.yaml");

    let outcome = read_allowing(
        &[
            Source::Url(missing.clone()),
            Source::Url(format!("{base}/optional.yaml")),
        ],
        &[&base],
    )
    .await;

    assert_eq!(keys(&outcome), [format!("url:{base}/optional.yaml")]);
    let errors: Vec<String> = outcome.errors.iter().map(ToString::to_string).collect();
    assert_eq!(errors, [format!("url:{missing}: HTTP status 404")]);
}

#[tokio::test]
async fn a_body_over_the_limit_is_cut_off_even_without_a_content_length() {
    let base = serve(&[]).await;
    let limits = ReadLimits {
        max_file_bytes: 16 * 1024,
        ..ReadLimits::default()
    };

    let outcome = read_sources(
        &[Source::Url(format!("{base}/big"))],
        &limits,
        &allowing(&[&base]),
    )
    .await;

    assert!(outcome.files.is_empty());
    assert_eq!(
        outcome.errors[0].to_string(),
        format!("url:{base}/big: response body is larger, over the limit of 16384 bytes")
    );
}

#[tokio::test]
async fn a_slow_server_times_out() {
    let base = serve(&[]).await;
    let limits = ReadLimits {
        url_timeout: Duration::from_millis(300),
        ..ReadLimits::default()
    };

    let outcome = read_sources(
        &[Source::Url(format!("{base}/slow"))],
        &limits,
        &allowing(&[&base]),
    )
    .await;

    assert_eq!(
        outcome.errors[0].to_string(),
        format!("url:{base}/slow: timed out after 300ms")
    );
}

#[tokio::test]
async fn only_http_urls_are_accepted() {
    let outcome = read(&[
        Source::Url("file:///etc/passwd".into()),
        Source::Url("./relative.yaml".into()),
    ])
    .await;

    let errors: Vec<String> = outcome.errors.iter().map(ToString::to_string).collect();
    assert_eq!(
        errors,
        [
            "url:./relative.yaml: not an absolute http(s) URL",
            "url:file:///etc/passwd: unsupported URL scheme file: in file:///etc/passwd (only http and https)",
        ]
    );
}
