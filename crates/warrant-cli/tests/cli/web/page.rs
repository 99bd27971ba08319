//! Sign in, see a request arrive live, approve it for less time and fewer
//! uses, watch the use, refuse another origin's post, revoke, read the log.

use std::time::Duration;

use super::browser::Browser;
use super::{hostile_page, runtime, serve_with_page};
use crate::harness::{APPROVER, Home, POLICY, fake_value};

#[test]
fn approve_use_and_revoke_on_the_page() {
    let home = Home::with_approver();
    let value = fake_value("db");
    home.set("db/dev/url", &value);
    home.write_policy(POLICY);
    let (_daemon, url) = serve_with_page(&home);
    runtime().block_on(flow(&home, &url, &value));
}

async fn flow(home: &Home, url: &str, value: &str) {
    let b = Browser::start().await;
    b.client.goto(url).await.unwrap();

    // A wrong passphrase is refused (and audited); the views stay hidden.
    b.fill("#signin-pass", "not-the-approver-passphrase").await;
    b.click("#signin-form button").await;
    b.text_until("#signin-error", |t| t.contains("wrong approver passphrase"))
        .await;
    assert!(!b.find("#tabs").await.is_displayed().await.unwrap());
    assert!(home.audit_text().contains("sign in to the approval page"));

    // The right one, once the 1 s lockout has passed.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    b.fill("#signin-pass", APPROVER).await;
    b.click("#signin-form button").await;
    b.text_until("#live", |t| t == "live").await;
    let cookie = b.js("return document.cookie").await;
    assert_eq!(cookie, "", "the session cookie is HttpOnly");

    // An agent asks; the request appears without a reload.
    b.js("window.__same_page = 42; return null").await;
    let asked = home.run(&[
        "request",
        "--actor",
        "codex",
        "--secret",
        "db/dev/url",
        "--ttl",
        "10m",
        "--json",
        "--reason",
        "run the migration tests against the dev database",
    ]);
    assert_eq!(asked.code, 0, "{asked:?}");
    let id = asked.id();
    let card = format!("#pending-list [data-grant='{id}']");
    b.find(&card).await;
    assert_eq!(b.js("return window.__same_page").await, 42, "no reload");
    b.text_until(&card, |t| {
        t.contains("codex")
            && t.contains("db/dev/url")
            && t.contains("migration tests")
            && t.contains("10m")
    })
    .await;
    b.screenshot("pending.png").await;

    // Approve for 2 minutes instead of 10, and 2 uses instead of 3.
    b.fill(&format!("#ttl-{id}"), "2").await;
    b.fill(&format!("#uses-{id}"), "2").await;
    b.fill(&format!("#pass-{id}"), APPROVER).await;
    b.click(&format!("{card} button.approve")).await;
    let active = format!("#active-list [data-grant='{id}']");
    b.find(&active).await;
    let grant = home.grant(&id);
    assert_eq!(grant["status"], "active");
    assert_eq!(grant["ttl_secs"], 120);
    assert_eq!(grant["max_uses"], 2);
    assert_eq!(grant["approved_by"], "web:approver");

    // The agent's run now works, and the page shows the use.
    let (code, out, _) = home.run_granted(
        &id,
        &["--env", "DB=warrant://db/dev/url"],
        "test -n \"$DB\" && echo ran",
    );
    assert_eq!((code, out.trim()), (0, "ran"));
    b.click("[data-view=active]").await;
    b.text_until(&format!("{active} [data-field=uses]"), |t| {
        t.starts_with("1 of 2 used")
    })
    .await;
    let left = b
        .text_until(&format!("{active} [data-field=left]"), |t| t.contains('m'))
        .await;
    assert!(left.starts_with("1m") || left.starts_with("2m"), "{left}");
    b.screenshot("active.png").await;

    // Changes need the session's CSRF token: the page's own origin with
    // the cookie but without the token is refused...
    let status = b
        .js_async(&format!(
            "fetch('/api/grants/{id}/revoke', {{method: 'POST', headers: \
             {{'content-type': 'application/json'}}, body: '{{}}'}})\
             .then(r => arguments[0](r.status))"
        ))
        .await;
    assert_eq!(status, 403);
    // ...and so is another origin's form post (same site: the cookie goes along).
    let other = hostile_page(format!("{url}api/grants/{id}/revoke"), 2);
    b.client.goto(&other).await.unwrap();
    b.text_until("body", |t| t.contains("forbidden")).await;
    assert_eq!(home.grant(&id)["status"], "active");
    assert!(home.audit_events("grant_revoked").is_empty());
    b.client.goto(&format!("{url}#active")).await.unwrap();

    // Revoke on the page: the agent is refused from then on.
    b.fill(&format!("#revoke-{id}"), "done with the task").await;
    b.click(&format!("{active} button.danger")).await;
    b.text_until("#active-empty", |t| t.contains("No grant"))
        .await;
    assert_eq!(home.grant(&id)["status"], "revoked");
    let (code, _, err) = home.run_granted(&id, &["--env", "DB=warrant://db/dev/url"], "true");
    assert_ne!(code, 0);
    assert!(err.contains("revoked"), "{err}");

    // The audit log: every step, a verified chain, filters.
    b.click("[data-view=audit]").await;
    b.text_until("#chain", |t| t.starts_with("Chain verified"))
        .await;
    b.fill("#f-actor", "codex").await;
    b.click("#audit-filter button").await;
    b.text_until("#audit-table tbody", |t| {
        t.contains("grant_requested") && t.contains("grant_used")
    })
    .await;
    b.fill("#f-actor", "").await;
    b.click("#audit-filter button").await;
    b.text_until("#audit-table tbody", |t| {
        t.contains("grant_revoked") && t.contains("grant_approved") && t.contains("web:approver")
    })
    .await;
    b.screenshot("audit.png").await;

    // The page never showed the value.
    let source = b.client.source().await.unwrap();
    assert!(!source.contains(value));
    b.close().await;
}
