//! Values go on the wire where allowed; the client only ever sees them redacted.

use base64::Engine as _;
use warrant_proxy::UseRequest;

use crate::support::{API_KEY, GH_TOKEN, Harness};

/// A small response is redacted whole and sent with its new length; a big
/// one streams through the redactor, chunked.
#[tokio::test]
async fn small_and_big_echoes_are_redacted_with_consistent_lengths() {
    let h = Harness::start().await;
    let ph = h.placeholder("github/token").to_owned();
    for (path, big) in [("/small", false), ("/big", true)] {
        let response = h
            .client()
            .get(format!("https://api.example.test{path}"))
            .header("authorization", format!("Bearer {ph}"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        let declared = response.content_length();
        assert_eq!(
            declared.is_none(),
            big,
            "{path}: content-length {declared:?}"
        );
        let text = response.text().await.unwrap();
        if let Some(declared) = declared {
            assert_eq!(declared, text.len() as u64, "{path}");
        }
        assert!(!text.contains(GH_TOKEN), "{path}: the value came back");
        let redacted = text.matches("Bearer <redacted:github/token>").count();
        assert_eq!(redacted, if big { 2 } else { 1 }, "{path}");
    }
}

#[tokio::test]
async fn header_is_substituted_and_echo_redacted() {
    let h = Harness::start().await;
    let ph = h.placeholder("github/token").to_owned();
    let response = h
        .client()
        .get("https://api.example.test/user?page=1")
        .header("authorization", format!("Bearer {ph}"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["x-echo-authorization"],
        "Bearer <redacted:github/token>"
    );
    let text = response.text().await.unwrap();
    assert!(!text.contains(GH_TOKEN), "{text}");
    assert!(text.contains("Bearer <redacted:github/token>"), "{text}");

    let seen = h.upstream.seen.last();
    assert_eq!(
        seen["headers"]["authorization"],
        format!("Bearer {GH_TOKEN}")
    );
    assert_eq!(seen["authority"], "api.example.test");
    assert_eq!(seen["path"], "/user?page=1");
    assert_eq!(
        h.asked(),
        [UseRequest {
            secrets: vec!["github/token".into()],
            host: "api.example.test".into(),
            method: "GET".into(),
            path: "/user".into(),
            scheme: "https".into(),
            port: 443,
        }]
    );
    assert!(h.events().is_empty(), "{:?}", h.events());
}

#[tokio::test]
async fn query_and_path_are_substituted() {
    let h = Harness::start().await;
    let ph = h.placeholder("api/key").to_owned();
    let response = h
        .client()
        .get(format!("https://other.example.test/keys/{ph}?key={ph}&q=1"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let text = response.text().await.unwrap();
    assert!(!text.contains(API_KEY), "{text}");
    assert!(
        text.contains("/keys/<redacted:api/key>?key=<redacted:api/key>&q=1"),
        "{text}"
    );
    let seen = h.upstream.seen.last();
    assert_eq!(seen["path"], format!("/keys/{API_KEY}?key={API_KEY}&q=1"));
}

#[tokio::test]
async fn body_is_substituted_only_for_secrets_allowed_in_bodies() {
    let h = Harness::start().await;
    let key = h.placeholder("api/key").to_owned();
    let gh = h.placeholder("github/token").to_owned();
    let body = format!("{{\"key\":\"{key}\",\"gh\":\"{gh}\"}}");
    let response = h
        .client()
        .post("https://api.example.test/items")
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let seen = h.upstream.seen.last();
    // github/token may not go in bodies: its placeholder passes as it is.
    assert_eq!(
        seen["body"],
        format!("{{\"key\":\"{API_KEY}\",\"gh\":\"{gh}\"}}")
    );
    assert_eq!(
        seen["headers"]["content-length"],
        seen["body"].as_str().unwrap().len().to_string()
    );
    let text = response.text().await.unwrap();
    assert!(!text.contains(API_KEY), "{text}");
    assert_eq!(h.asked()[0].secrets, ["api/key"]);
}

#[tokio::test]
async fn basic_credentials_are_substituted() {
    let h = Harness::start().await;
    let ph = h.placeholder("github/token").to_owned();
    let response = h
        .client()
        .get("https://api.example.test/repo.git/info/refs")
        .basic_auth("x-access-token", Some(&ph))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let b64 = base64::engine::general_purpose::STANDARD;
    let expected = b64.encode(format!("x-access-token:{GH_TOKEN}"));
    assert_eq!(
        h.upstream.seen.last()["headers"]["authorization"],
        format!("Basic {expected}")
    );
    let echoed = response.headers()["x-echo-authorization"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(echoed.contains("<redacted:github/token>"), "{echoed}");
    let text = response.text().await.unwrap();
    assert!(
        !text.contains(&expected) && !text.contains(GH_TOKEN),
        "{text}"
    );
}

#[tokio::test]
async fn values_stay_redacted_on_later_requests_and_connections() {
    let h = Harness::start().await;
    let ph = h.placeholder("api/key").to_owned();
    let client = h.client();
    let stored = client
        .post("https://other.example.test/paste")
        .body(format!("secret={ph}"))
        .send()
        .await
        .unwrap();
    assert_eq!(stored.status(), 200);
    // The server hands back what it stored, to a request with no placeholder,
    // on this connection and on a fresh one.
    for client in [client, h.client()] {
        let text = client
            .get("https://other.example.test/last")
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(text.contains("secret=<redacted:api/key>"), "{text}");
        assert!(!text.contains(API_KEY), "{text}");
    }
}

#[tokio::test]
async fn curl_substitutes_and_sees_redacted_echo() {
    let h = Harness::start().await;
    let ph = h.placeholder("github/token").to_owned();
    let out = h
        .curl(&[
            "--http1.1",
            "-H",
            &format!("Authorization: token {ph}"),
            "https://api.example.test/user",
        ])
        .await;
    assert_eq!(out.status, 200, "{out:?}");
    assert_eq!(out.version, "1.1", "{out:?}");
    assert!(
        out.body.contains("token <redacted:github/token>"),
        "{out:?}"
    );
    assert!(
        !out.body.contains(GH_TOKEN) && !out.headers.contains(GH_TOKEN),
        "{out:?}"
    );
    assert!(
        out.headers
            .contains("x-echo-authorization: token <redacted:github/token>"),
        "{out:?}"
    );
    assert_eq!(
        h.upstream.seen.last()["headers"]["authorization"],
        format!("token {GH_TOKEN}")
    );
}

#[tokio::test]
async fn curl_http2_through_the_interception() {
    let h = Harness::start().await;
    let ph = h.placeholder("api/key").to_owned();
    let out = h
        .curl(&[
            "--http2",
            "-H",
            &format!("X-Api-Key: {ph}"),
            "--data-binary",
            &format!("k={ph}"),
            "https://other.example.test/v2",
        ])
        .await;
    assert_eq!(out.status, 200, "{out:?}");
    assert_eq!(out.version, "2", "{out:?}");
    let seen = h.upstream.seen.last();
    assert_eq!(seen["headers"]["x-api-key"], API_KEY);
    assert_eq!(seen["body"], format!("k={API_KEY}"));
    // The proxy spoke HTTP/2 upstream too (the upstream offers it).
    assert_eq!(seen["version"], "HTTP/2.0");
    assert!(!out.body.contains(API_KEY), "{out:?}");
    assert!(out.body.contains("<redacted:api/key>"), "{out:?}");
}

#[tokio::test]
async fn mixed_case_and_trailing_dot_hosts_are_normalised() {
    let h = Harness::start().await;
    let ph = h.placeholder("github/token").to_owned();
    for url in ["https://API.Example.TEST/x", "https://api.example.test./x"] {
        let out = h
            .curl(&["-H", &format!("Authorization: Bearer {ph}"), url])
            .await;
        assert_eq!(out.status, 200, "{url}: {out:?}");
        assert_eq!(
            h.upstream.seen.last()["headers"]["authorization"],
            format!("Bearer {GH_TOKEN}"),
            "{url}"
        );
    }
    assert!(h.asked().iter().all(|r| r.host == "api.example.test"));
}

#[tokio::test]
async fn ip_literal_host_matches_only_an_ip_pattern() {
    let h = Harness::start().await;
    let ip = h.placeholder("ip/token").to_owned();
    let out = h
        .curl(&[
            "-H",
            &format!("Authorization: Bearer {ip}"),
            "https://127.0.0.1/ip",
        ])
        .await;
    assert_eq!(out.status, 200, "{out:?}");
    assert_eq!(
        h.upstream.seen.last()["headers"]["authorization"],
        format!("Bearer {}", crate::support::IP_TOKEN)
    );
    let before = h.upstream.seen.requests();
    let gh = h.placeholder("github/token").to_owned();
    let out = h
        .curl(&[
            "-H",
            &format!("Authorization: Bearer {gh}"),
            "https://127.0.0.1/ip",
        ])
        .await;
    assert_eq!(out.status, 403, "{out:?}");
    assert_eq!(h.upstream.seen.requests(), before);
}
