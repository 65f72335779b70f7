//! Content negotiation for GraphQL over HTTP: answer in the media type the
//! client's `Accept` header prefers among the two the spec names.

/// The media types a GraphQL response may be sent as.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Media {
    /// `application/graphql-response+json`: the spec's own type.
    GraphqlResponse,
    /// `application/json`: what older clients expect.
    Json,
}

pub const GRAPHQL_RESPONSE: &str = "application/graphql-response+json";
pub const JSON: &str = "application/json";

impl Media {
    pub fn content_type(self) -> &'static str {
        match self {
            Media::GraphqlResponse => "application/graphql-response+json; charset=utf-8",
            Media::Json => "application/json; charset=utf-8",
        }
    }
}

/// (q, specificity) with which `accept` takes `media`: the most specific
/// matching range decides, as in RFC 9110.
pub(super) fn quality(accept: &str, media: &str) -> (f32, u8) {
    let mut best: Option<(u8, f32)> = None;
    for range in accept.split(',') {
        let mut parts = range.split(';');
        let name = parts.next().unwrap_or("").trim().to_ascii_lowercase();
        let specificity = if name == media {
            3
        } else if name == "application/*" {
            2
        } else if name == "*/*" {
            1
        } else {
            continue;
        };
        let q = parts
            .filter_map(|p| p.trim().strip_prefix("q="))
            .find_map(|q| q.trim().parse::<f32>().ok())
            .unwrap_or(1.0);
        if best.is_none_or(|(s, _)| specificity > s) {
            best = Some((specificity, q));
        }
    }
    best.map_or((0.0, 0), |(s, q)| (q, s))
}

/// The media type to answer in, or `None` when the client accepts neither.
/// No (or an empty) `Accept` means `application/json`, as the spec says for
/// clients that predate it; a tie goes to the type the client named exactly,
/// else to `application/json`.
pub fn negotiate(accept: Option<&str>) -> Option<Media> {
    let Some(accept) = accept.map(str::trim).filter(|a| !a.is_empty()) else {
        return Some(Media::Json);
    };
    let (graphql_q, graphql_s) = quality(accept, GRAPHQL_RESPONSE);
    let (json_q, json_s) = quality(accept, JSON);
    if graphql_q <= 0.0 && json_q <= 0.0 {
        return None;
    }
    Some(
        if graphql_q > json_q || (graphql_q == json_q && graphql_s > json_s) {
            Media::GraphqlResponse
        } else {
            Media::Json
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn follows_the_accept_header() {
        assert_eq!(negotiate(None), Some(Media::Json));
        assert_eq!(negotiate(Some("application/json")), Some(Media::Json));
        assert_eq!(
            negotiate(Some(GRAPHQL_RESPONSE)),
            Some(Media::GraphqlResponse)
        );
        assert_eq!(
            negotiate(Some(
                "application/graphql-response+json, application/json;q=0.9"
            )),
            Some(Media::GraphqlResponse)
        );
        assert_eq!(
            negotiate(Some(
                "application/graphql-response+json;q=0.5, application/json"
            )),
            Some(Media::Json)
        );
        assert_eq!(negotiate(Some("*/*")), Some(Media::Json));
        assert_eq!(negotiate(Some("text/html")), None);
        assert_eq!(negotiate(Some("application/json;q=0")), None);
    }
}
