//! Headers, hosts, origins, sessions and CSRF.

use axum::http::header;

use crate::fixture::{APPROVER, Page, get, json, post};

#[tokio::test(flavor = "multi_thread")]
async fn every_answer_carries_the_security_headers() {
    let page = Page::start();
    for path in ["/", "/app.js", "/api/session", "/nowhere"] {
        let response = page.send(get(path, None)).await;
        let headers = response.headers();
        assert_eq!(
            headers["content-security-policy"],
            warrant_web::CSP,
            "{path}"
        );
        assert_eq!(headers["x-frame-options"], "DENY");
        assert_eq!(headers["x-content-type-options"], "nosniff");
        assert_eq!(headers["cache-control"], "no-store");
    }
    let csp = warrant_web::CSP;
    assert!(csp.contains("default-src 'none'") && csp.contains("script-src 'self'"));
    assert!(!csp.contains("unsafe"), "no inline code: {csp}");
    // Nothing fetched from elsewhere: no absolute URL in the page's files.
    for path in ["/", "/app.js", "/app.css"] {
        let body = page.send(get(path, None)).await.into_body();
        let bytes = http_body_util::BodyExt::collect(body)
            .await
            .unwrap()
            .to_bytes();
        let text = String::from_utf8_lossy(&bytes);
        assert!(
            !text.contains("https://") && !text.contains("http://"),
            "{path}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn only_the_loopback_names_are_served() {
    let page = Page::start();
    let mut rebound = get("/", None);
    rebound
        .headers_mut()
        .insert(header::HOST, "attacker.example:7341".parse().unwrap());
    assert_eq!(page.send(rebound).await.status(), 421);
    // WebAuthn needs a name: 127.0.0.1 is sent to localhost.
    let mut by_address = get("/", None);
    by_address
        .headers_mut()
        .insert(header::HOST, "127.0.0.1:7341".parse().unwrap());
    let response = page.send(by_address).await;
    assert_eq!(response.status(), 307);
    assert_eq!(
        response.headers()[header::LOCATION],
        "http://localhost:7341/"
    );
    // So is [::1], the daemon's other listener.
    let mut by_v6 = get("/app.js", None);
    by_v6
        .headers_mut()
        .insert(header::HOST, "[::1]:7341".parse().unwrap());
    let response = page.send(by_v6).await;
    assert_eq!(response.status(), 307);
    assert_eq!(
        response.headers()[header::LOCATION],
        "http://localhost:7341/app.js"
    );
    for other in [
        "[::1]:7342",
        "127.0.0.1:7342",
        "[::2]:7341",
        "[::ffff:127.0.0.1]:7341",
    ] {
        let mut request = get("/", None);
        request
            .headers_mut()
            .insert(header::HOST, other.parse().unwrap());
        assert_eq!(page.send(request).await.status(), 421, "{other}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_change_by_loopback_address_passes_the_guard() {
    let page = Page::start();
    for (host, origin) in [
        ("[::1]:7341", "http://[::1]:7341"),
        ("127.0.0.1:7341", "http://127.0.0.1:7341"),
    ] {
        let mut request = post("/api/session", None, r#"{"passphrase":"not-it"}"#);
        let headers = request.headers_mut();
        headers.insert(header::HOST, host.parse().unwrap());
        headers.insert(header::ORIGIN, origin.parse().unwrap());
        // Past the host and origin checks, the daemon checks the passphrase.
        let code = json(page.send(request).await).await["code"].clone();
        assert!(
            code == "wrong_passphrase" || code == "throttled",
            "{host}: {code}"
        );
    }
    let mut request = post("/api/session", None, r#"{"passphrase":"not-it"}"#);
    request
        .headers_mut()
        .insert(header::ORIGIN, "http://[::1]:7342".parse().unwrap());
    let refused = page.send(request).await;
    assert_eq!(refused.status(), 403);
    assert_eq!(json(refused).await["code"], "forbidden");
}

#[tokio::test(flavor = "multi_thread")]
async fn signing_in_takes_the_passphrase_and_sets_a_strict_cookie() {
    let page = Page::start();
    let wrong = page
        .send(post(
            "/api/session",
            None,
            r#"{"passphrase":"not-the-passphrase"}"#,
        ))
        .await;
    assert_eq!(wrong.status(), 403);
    assert!(wrong.headers().get(header::SET_COOKIE).is_none());
    assert_eq!(json(wrong).await["code"], "wrong_passphrase");
    // Locked for a second after a wrong one, as approvals are.
    let locked = page
        .send(post(
            "/api/session",
            None,
            &format!(r#"{{"passphrase":"{APPROVER}"}}"#),
        ))
        .await;
    assert_eq!(locked.status(), 429);
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let right = page
        .send(post(
            "/api/session",
            None,
            &format!(r#"{{"passphrase":"{APPROVER}"}}"#),
        ))
        .await;
    assert_eq!(right.status(), 200);
    let cookie = right.headers()[header::SET_COOKIE]
        .to_str()
        .unwrap()
        .to_owned();
    for flag in ["HttpOnly", "SameSite=Strict", "Path=/", "Max-Age=3600"] {
        assert!(cookie.contains(flag), "{cookie}");
    }
    let audit = std::fs::read_to_string(page.home().join("audit.jsonl")).unwrap();
    assert!(audit.contains("sign in to the approval page"));
    assert!(!audit.contains(APPROVER));
    // Reads need a session.
    assert_eq!(page.send(get("/api/grants", None)).await.status(), 401);
    let session = cookie.split(';').next().unwrap();
    assert_eq!(
        page.send(get("/api/grants", Some(session))).await.status(),
        200
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn changes_need_the_csrf_token_and_the_page_origin() {
    let page = Page::start();
    let id = page.request("db/dev/url");
    let (cookie, csrf) = page.sign_in().await;
    let deny = format!("/api/grants/{id}/deny");

    let no_token = page.send(post(&deny, Some(&cookie), "{}")).await;
    assert_eq!(no_token.status(), 403);
    let mut wrong_token = post(&deny, Some(&cookie), "{}");
    wrong_token
        .headers_mut()
        .insert("x-csrf-token", "00".repeat(32).parse().unwrap());
    assert_eq!(page.send(wrong_token).await.status(), 403);
    let mut other_origin = post(&deny, Some(&cookie), "{}");
    other_origin
        .headers_mut()
        .insert("x-csrf-token", csrf.parse().unwrap());
    other_origin
        .headers_mut()
        .insert(header::ORIGIN, "http://localhost:3000".parse().unwrap());
    assert_eq!(page.send(other_origin).await.status(), 403);
    let mut form = post(&deny, Some(&cookie), "reason=x");
    form.headers_mut()
        .insert("x-csrf-token", csrf.parse().unwrap());
    form.headers_mut().insert(
        header::CONTENT_TYPE,
        "application/x-www-form-urlencoded".parse().unwrap(),
    );
    assert_eq!(page.send(form).await.status(), 400);
    let grants = json(page.send(get("/api/grants", Some(&cookie))).await).await;
    assert_eq!(grants["grants"][0]["status"], "pending", "nothing changed");

    let mut good = post(&deny, Some(&cookie), r#"{"reason":"use staging"}"#);
    good.headers_mut()
        .insert("x-csrf-token", csrf.parse().unwrap());
    let denied = page.send(good).await;
    assert_eq!(denied.status(), 200);
    assert_eq!(json(denied).await["status"], "denied");
}
