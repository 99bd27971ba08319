//! Where a value may travel: declared injections, HTTPS and the port by
//! default, placeholders in URLs and bodies only where the policy says.

use base64::Engine as _;
use warrant_policy::{InjectInto, Injection};
use warrant_proxy::{ProxiedSecret, ProxyEvent};

use crate::support::{API_KEY, GH_TOKEN, Harness, Options, PLAIN_TOKEN};

fn inject(secret: &str, host: &str, into: InjectInto) -> Injection {
    Injection {
        secret: secret.to_owned(),
        host: host.to_owned(),
        into,
    }
}

/// `gh/token` injected as a bearer header into `api.example.test`, and
/// as Basic credentials into `other.example.test`; `maps/key` injected as
/// `?key=` into `free.test`; all with the defaults otherwise.
async fn injecting() -> Harness {
    let gh = ProxiedSecret {
        inject: vec![
            inject(
                "gh/token",
                "api.example.test",
                InjectInto::Header {
                    name: "Authorization".into(),
                    format: "Bearer {value}".into(),
                },
            ),
            inject(
                "gh/token",
                "other.example.test",
                InjectInto::Basic {
                    credentials: "x-access-token:{value}".into(),
                },
            ),
        ],
        ..ProxiedSecret::new(
            "gh/token",
            &warrant_proxy::placeholder::generate("gh/token"),
            vec!["api.example.test".into(), "other.example.test".into()],
        )
    };
    let maps = ProxiedSecret {
        inject: vec![inject(
            "maps/key",
            "free.test",
            InjectInto::Query {
                param: "key".into(),
            },
        )],
        ..ProxiedSecret::new(
            "maps/key",
            &warrant_proxy::placeholder::generate("maps/key"),
            vec!["free.test".into()],
        )
    };
    Harness::with(Options {
        secrets: Some(vec![(gh, GH_TOKEN), (maps, API_KEY)]),
        ..Options::default()
    })
    .await
}

#[tokio::test]
async fn a_declared_header_goes_on_without_a_placeholder_and_replaces_the_agents_own() {
    let h = injecting().await;
    let response = h
        .client()
        .get("https://api.example.test/user")
        .header("authorization", "Bearer whatever-the-agent-sent")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let seen = h.upstream.seen.last();
    assert_eq!(
        seen["headers"]["authorization"],
        format!("Bearer {GH_TOKEN}")
    );
    let text = response.text().await.unwrap();
    assert!(!text.contains(GH_TOKEN), "{text}");
    assert!(text.contains("Bearer <redacted:gh/token>"), "{text}");
    let asked = h.asked();
    assert_eq!(asked.len(), 1);
    assert_eq!(asked[0].secrets, ["gh/token"]);
    assert_eq!(asked[0].injected, ["gh/token"]);
}

#[tokio::test]
async fn basic_credentials_and_a_query_parameter_are_injected_where_declared() {
    let h = injecting().await;
    let response = h
        .client()
        .get("https://other.example.test/repo.git/info/refs")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let expected =
        base64::engine::general_purpose::STANDARD.encode(format!("x-access-token:{GH_TOKEN}"));
    assert_eq!(
        h.upstream.seen.last()["headers"]["authorization"],
        format!("Basic {expected}")
    );

    // The agent's own `key` goes; the other parameters stay.
    let response = h
        .client()
        .get("https://free.test/geo?q=a%20b&key=mine&n=1")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let path = h.upstream.seen.last()["path"].as_str().unwrap().to_owned();
    assert_eq!(path, format!("/geo?q=a%20b&n=1&key={API_KEY}"));
    let text = response.text().await.unwrap();
    assert!(!text.contains(API_KEY), "{text}");
}

#[tokio::test]
async fn nothing_is_injected_elsewhere_or_on_another_port() {
    let h = injecting().await;
    // A host no injection names, and the right host on another port
    // (another endpoint): their tunnels are refused, nothing reaches the
    // upstream, and no value is asked for.
    for url in ["https://evil.test/", "https://api.example.test:8443/user"] {
        let error = h.client().get(url).send().await.unwrap_err();
        assert!(
            format!("{error:?}").contains("TunnelUnsuccessful"),
            "{url}: {error:?}"
        );
    }
    assert_eq!(h.upstream.seen.requests(), 0);
    assert!(h.asked().is_empty());
    let denied: Vec<String> = h
        .events()
        .into_iter()
        .filter_map(|e| match e {
            ProxyEvent::Denied { host, .. } => Some(host),
            ProxyEvent::Blocked { .. } => None,
        })
        .collect();
    assert_eq!(denied.len(), 2, "{denied:?}");
}

#[tokio::test]
async fn placeholders_stay_out_of_urls_bodies_plain_http_and_other_ports_by_default() {
    let strict = |name: &str, hosts: &[&str]| {
        ProxiedSecret::new(
            name,
            &warrant_proxy::placeholder::generate(name),
            hosts.iter().map(|h| (*h).to_owned()).collect(),
        )
    };
    let h = Harness::with(Options {
        secrets: Some(vec![
            (strict("gh/token", &["api.example.test"]), GH_TOKEN),
            (strict("plain/token", &["plain.example.test"]), PLAIN_TOKEN),
        ]),
        ..Options::default()
    })
    .await;
    let gh = h.placeholder("gh/token").to_owned();

    // In the query: refused, saying how to allow it.
    let response = h
        .client()
        .get(format!("https://api.example.test/search?token={gh}"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403);
    let text = response.text().await.unwrap();
    assert!(text.contains("substitute_in = [\"query\"]"), "{text}");

    // In a body: left as it is (a file that holds a placeholder is not a
    // use of it).
    let response = h
        .client()
        .post("https://api.example.test/upload")
        .body(format!("{{\"t\":\"{gh}\"}}"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        h.upstream.seen.last()["body"],
        format!("{{\"t\":\"{gh}\"}}")
    );

    // Another port of the allowed host: its tunnel is refused.
    let before = h.upstream.seen.requests();
    let error = h
        .client()
        .get("https://api.example.test:8443/")
        .header("authorization", format!("Bearer {gh}"))
        .send()
        .await
        .unwrap_err();
    assert!(
        format!("{error:?}").contains("TunnelUnsuccessful"),
        "{error:?}"
    );
    assert_eq!(h.upstream.seen.requests(), before);

    // Plain HTTP to the allowed host: blocked, saying HTTPS only.
    let plain = h.placeholder("plain/token").to_owned();
    let before = h.plain.seen.requests();
    let response = h
        .client()
        .get("http://plain.example.test/")
        .header("authorization", format!("Bearer {plain}"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403);
    assert_eq!(h.plain.seen.requests(), before);
    let reasons: Vec<String> = h
        .events()
        .into_iter()
        .filter_map(|e| match e {
            ProxyEvent::Blocked { reason, .. } => Some(reason),
            ProxyEvent::Denied { .. } => None,
        })
        .collect();
    assert!(
        reasons.iter().any(|r| r.contains("over HTTPS only")),
        "{reasons:?}"
    );
}
