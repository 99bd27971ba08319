//! Hosts no secret needs: tunnelled untouched with passthrough, refused without.

use warrant_proxy::ProxyEvent;

use crate::support::{Harness, Options};

#[tokio::test]
async fn without_passthrough_other_hosts_are_denied() {
    let h = Harness::start().await;
    let out = h.curl(&["https://free.test/x"]).await;
    assert_ne!(out.status, 200, "{out:?}");
    assert!(out.stderr.contains("403"), "{out:?}");
    assert_eq!(h.upstream.seen.connections(), 0);
    assert_eq!(
        h.events(),
        [ProxyEvent::Denied {
            host: "free.test".into(),
            reason: "no secret is allowed for free.test and passthrough is off".into(),
        }]
    );
}

#[tokio::test]
async fn with_passthrough_other_hosts_are_tunnelled_untouched() {
    let h = Harness::with(Options {
        passthrough: true,
        ..Options::default()
    })
    .await;
    // The client sees the upstream's own certificate (from the test CA): the
    // proxy did not intercept.
    let out = h.curl(&["--http2", "https://free.test/x?y=1"]).await;
    assert_eq!(out.status, 200, "{out:?}");
    assert_eq!(out.version, "2", "{out:?}");
    let seen = h.upstream.seen.last();
    assert_eq!(seen["path"], "/x?y=1");
    assert_eq!(seen["version"], "HTTP/2.0");
    assert!(h.events().is_empty());
    let response = h.client().get("https://free.test/z").send().await.unwrap();
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn intercepted_hosts_without_placeholders_are_forwarded() {
    let h = Harness::start().await;
    let response = h
        .client()
        .get("https://api.example.test/public")
        .header("x-plain", "1")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(h.upstream.seen.last()["headers"]["x-plain"], "1");
    assert!(h.asked().is_empty());
}

#[tokio::test]
async fn shutdown_ends_open_tunnels() {
    let h = Harness::start().await;
    let client = h.client();
    assert_eq!(
        client
            .get("https://api.example.test/a")
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let addr = h.proxy.addr();
    h.proxy.shutdown().await;
    assert!(tokio::net::TcpStream::connect(addr).await.is_err());
    assert!(
        client
            .get("https://api.example.test/b")
            .send()
            .await
            .is_err()
    );
}
