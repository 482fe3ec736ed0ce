use super::*;
use crate::outcome::StopReason;
use crate::retry::Retry;

fn url(s: &str) -> Url {
    Url::parse(s).expect("test URL")
}

fn hop(current: &str, location: &str, earlier: &[Url]) -> Result<Url, FetchError> {
    let config = FetcherConfig {
        max_url_len: 100,
        max_redirects: 3,
        ..FetcherConfig::default()
    };
    let location = HeaderValue::from_str(location).expect("header value");
    next_hop(&url(current), &location, earlier, &config)
}

#[test]
fn location_is_resolved_against_the_current_url_without_fragment() {
    let target = hop("http://a.example/x/y", "../z?q=1#frag", &[]).expect("valid");
    assert_eq!(target.as_str(), "http://a.example/z?q=1");
    let target = hop("http://a.example/x", "//b.example/p", &[]).expect("valid");
    assert_eq!(target.as_str(), "http://b.example/p");
    let target = hop("https://a.example/x", "HTTP://B.example:80/", &[]).expect("valid");
    assert_eq!(target.as_str(), "http://b.example/");
}

#[test]
fn hop_rules() {
    let kind = |result: Result<Url, FetchError>| result.map_err(|error| error.kind);
    assert_eq!(
        kind(hop("http://a.example/x", "/x", &[])),
        Err(ErrorKind::TooManyRedirects)
    );
    let earlier = [url("http://a.example/0")];
    assert_eq!(
        kind(hop("http://a.example/x", "/0", &earlier)),
        Err(ErrorKind::TooManyRedirects)
    );
    let three: Vec<Url> = (0..3)
        .map(|i| url(&format!("http://a.example/{i}")))
        .collect();
    assert_eq!(
        kind(hop("http://a.example/x", "/next", &three)),
        Err(ErrorKind::TooManyRedirects)
    );
    assert!(kind(hop("http://a.example/x", "/next", &three[..2])).is_ok());
    assert_eq!(
        kind(hop("http://a.example/x", "ftp://a.example/", &[])),
        Err(ErrorKind::UnsupportedScheme)
    );
    assert_eq!(
        kind(hop("http://a.example/x", "mailto:someone@a.example", &[])),
        Err(ErrorKind::UnsupportedScheme)
    );
    assert_eq!(
        kind(hop("http://a.example/x", "http://[::1", &[])),
        Err(ErrorKind::InvalidUrl)
    );
    let long = format!("/{}", "a".repeat(200));
    assert_eq!(
        kind(hop("http://a.example/x", &long, &[])),
        Err(ErrorKind::UrlTooLong)
    );
}

#[test]
fn loop_message_says_loop() {
    let error = hop("http://a.example/x", "/x", &[]).expect_err("loop");
    assert!(error.message.contains("redirect loop"), "{}", error.message);
}

#[test]
fn only_http_and_https_are_requestable() {
    assert!(check_requestable(&url("http://a.example/"), 100).is_ok());
    assert!(check_requestable(&url("https://a.example/"), 100).is_ok());
    for bad in [
        "ftp://a.example/",
        "file:///etc/passwd",
        "data:text/plain,hi",
    ] {
        let error = check_requestable(&url(bad), 100).expect_err(bad);
        assert_eq!(error.kind, ErrorKind::UnsupportedScheme);
    }
    let long = url(&format!("http://a.example/{}", "b".repeat(5000)));
    let error = check_requestable(&long, 2048).expect_err("too long");
    assert_eq!(error.kind, ErrorKind::UrlTooLong);
    assert!(error.message.len() < 400, "message stays short");
}

#[test]
fn stop_reasons_have_stable_names() {
    assert_eq!(StopReason::OutOfScope.as_str(), "out_of_scope");
    assert_eq!(StopReason::AlreadySeen.as_str(), "already_seen");
    assert_eq!(StopReason::Disallowed.as_str(), "disallowed");
}

#[test]
fn default_config_is_polite_and_names_the_version() {
    let config = FetcherConfig::default();
    assert_eq!(
        config.user_agent,
        format!("trawl/{}", env!("CARGO_PKG_VERSION"))
    );
    assert_eq!(config.max_body_bytes, 10 * 1024 * 1024);
    assert_eq!(config.max_redirects, 10);
    assert_eq!(config.max_url_len, 2048);
}

#[test]
fn retry_advice_follows_the_outcome() {
    let mut fetched = Fetched::empty(&url("http://a.example/"));
    assert_eq!(fetched.retry(), None);
    fetched.status = Some(503);
    fetched.error = Some(FetchError::new(ErrorKind::Http, "HTTP 503"));
    assert_eq!(fetched.retry(), Some(Retry::Backoff));
    fetched.status = Some(404);
    assert_eq!(fetched.retry(), Some(Retry::GiveUp));
}
