//! Approving (the passphrase again; a security key where the policy says
//! so), revoking, live events and the audit log.

use axum::body::Body;
use axum::http::Request;
use http_body_util::BodyExt as _;

use crate::fixture::{APPROVER, Page, get, json, post};

fn with_token(mut request: Request<Body>, csrf: &str) -> Request<Body> {
    request
        .headers_mut()
        .insert("x-csrf-token", csrf.parse().unwrap());
    request
}

#[tokio::test(flavor = "multi_thread")]
async fn approving_needs_the_passphrase_again_and_may_narrow_the_grant() {
    let page = Page::start();
    let id = page.request("db/dev/url");
    let (cookie, csrf) = page.sign_in().await;
    let path = format!("/api/grants/{id}/approve");
    let wrong = page
        .send(with_token(
            post(
                &path,
                Some(&cookie),
                r#"{"passphrase":"not-the-passphrase"}"#,
            ),
            &csrf,
        ))
        .await;
    assert_eq!(wrong.status(), 403);
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let body = format!(r#"{{"passphrase":"{APPROVER}","ttl_secs":120,"max_uses":1}}"#);
    let approved = page
        .send(with_token(post(&path, Some(&cookie), &body), &csrf))
        .await;
    assert_eq!(approved.status(), 200);
    let view = json(approved).await;
    assert_eq!(view["status"], "active");
    assert_eq!(view["ttl_secs"], 120);
    assert_eq!(view["max_uses"], 1);
    assert_eq!(view["approved_by"], "web:approver");

    let revoked = page
        .send(with_token(
            post(&format!("/api/grants/{id}/revoke"), Some(&cookie), "{}"),
            &csrf,
        ))
        .await;
    assert_eq!(json(revoked).await["status"], "revoked");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_hardware_key_grant_is_not_approved_with_the_passphrase_alone() {
    let page = Page::start();
    let id = page.request("db/prod/url");
    let (cookie, csrf) = page.sign_in().await;
    let body = format!(r#"{{"passphrase":"{APPROVER}"}}"#);
    let refused = page
        .send(with_token(
            post(&format!("/api/grants/{id}/approve"), Some(&cookie), &body),
            &csrf,
        ))
        .await;
    assert_eq!(refused.status(), 403);
    assert_eq!(json(refused).await["code"], "hardware_key_required");
    // No key registered: no challenge either.
    let challenge = page
        .send(with_token(
            post(&format!("/api/grants/{id}/challenge"), Some(&cookie), ""),
            &csrf,
        ))
        .await;
    assert_eq!(challenge.status(), 403);
    assert_eq!(json(challenge).await["code"], "security_key");
}

#[tokio::test(flavor = "multi_thread")]
async fn events_carry_new_requests_and_the_audit_log_filters() {
    let page = Page::start();
    let (cookie, _) = page.sign_in().await;
    let events = page.send(get("/api/events", Some(&cookie))).await;
    assert_eq!(events.status(), 200);
    let mut body = events.into_body();
    let first = body.frame().await.unwrap().unwrap().into_data().unwrap();
    assert!(String::from_utf8_lossy(&first).starts_with("event: grants\n"));
    let home = page.home();
    let id = tokio::task::spawn_blocking(move || {
        let mut client = warrant_broker::Client::connect(&home).unwrap();
        client
            .request(warrant_broker::protocol::GrantRequest {
                secrets: vec!["db/dev/url".into()],
                reason: "live".into(),
                ttl_ms: 60_000,
                commands: vec![],
                hosts: vec![],
                actor: Some("codex".into()),
            })
            .unwrap()
            .id
    })
    .await
    .unwrap();
    let next = tokio::time::timeout(std::time::Duration::from_secs(5), body.frame())
        .await
        .expect("an event within 5 s")
        .unwrap()
        .unwrap()
        .into_data()
        .unwrap();
    assert!(String::from_utf8_lossy(&next).contains(&id));

    let audit = json(
        page.send(get("/api/audit?event=grant_requested", Some(&cookie)))
            .await,
    )
    .await;
    assert_eq!(audit["verification"]["ok"], true);
    assert_eq!(audit["matched"], 1);
    assert_eq!(audit["records"][0]["grant"], id.as_str());
    let none = json(
        page.send(get("/api/audit?actor=nobody", Some(&cookie)))
            .await,
    )
    .await;
    assert_eq!(none["matched"], 0);
    let by_secret = json(
        page.send(get("/api/audit?secret=db/dev/*", Some(&cookie)))
            .await,
    )
    .await;
    assert_eq!(by_secret["matched"], 1);
    let bad = page
        .send(get("/api/audit?since=yesterday-ish", Some(&cookie)))
        .await;
    assert_eq!(bad.status(), 400);
}
