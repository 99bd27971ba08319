//! The page and the socket are two doors to one operation: the same caller
//! gets the same answer through either, and neither decides on its own.

use warrant_broker::Client;
use warrant_broker::protocol::ErrorCode;
use warrant_secret::SecretValue;

use crate::fixture::{APPROVER, Page, json, post};

fn with_token(
    mut request: axum::http::Request<axum::body::Body>,
    csrf: &str,
) -> axum::http::Request<axum::body::Body> {
    request
        .headers_mut()
        .insert("x-csrf-token", csrf.parse().unwrap());
    request
}

fn audit_lines(page: &Page, event: &str) -> Vec<serde_json::Value> {
    let text = std::fs::read_to_string(page.home().join("audit.jsonl")).unwrap();
    text.lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|r| r["event"] == event)
        .collect()
}

/// This test process becomes the root of an agent's task: every request it
/// sends afterwards, over the socket or over the page's TCP connection, is
/// an agent's. It signed in before (as a person would have), and it knows
/// the approver passphrase (as an agent that read it somewhere would).
#[tokio::test(flavor = "multi_thread")]
async fn inside_a_task_the_page_refuses_what_the_socket_refuses() {
    let page = Page::start();
    let (cookie, csrf) = page.sign_in().await;
    let home = page.home();
    let (task, _) = tokio::task::spawn_blocking(move || {
        Client::connect(&home)
            .unwrap()
            .task_start("codex", "tests", "agent", "none", false)
            .unwrap()
    })
    .await
    .unwrap();
    let id = page.request("db/dev/url");

    let body = format!(r#"{{"passphrase":"{APPROVER}"}}"#);
    let signed_in = page.send(post("/api/session", None, &body)).await;
    assert_eq!(signed_in.status(), 403);
    let signed_in = json(signed_in).await;
    assert_eq!(signed_in["code"], "forbidden");
    assert!(
        signed_in["message"]
            .as_str()
            .unwrap()
            .contains("inside task"),
        "{signed_in}"
    );

    let path = format!("/api/grants/{id}/approve");
    let on_page = page
        .send(with_token(post(&path, Some(&cookie), &body), &csrf))
        .await;
    assert_eq!(on_page.status(), 403);
    let on_page = json(on_page).await;

    let home = page.home();
    let grant = id.clone();
    let on_socket = tokio::task::spawn_blocking(move || {
        let passphrase = SecretValue::from(APPROVER.as_bytes().to_vec());
        Client::connect(&home)
            .unwrap()
            .approve(&grant, None, None, &passphrase)
    })
    .await
    .unwrap();
    let Err(warrant_broker::Error::Daemon(on_socket)) = on_socket else {
        panic!("approved over the socket from inside a task: {on_socket:?}");
    };
    assert_eq!(on_socket.code, ErrorCode::Forbidden);
    assert_eq!(on_page["code"], on_socket.code.as_str());
    assert_eq!(on_page["message"], on_socket.message.as_str());

    // Both approvals and the sign-in are on record as refused for being
    // inside the task, before any passphrase was checked: an agent's tries
    // never feed the lockout a person would then be stuck behind.
    let refused = audit_lines(&page, "approval_refused");
    assert_eq!(refused.len(), 3, "{refused:?}");
    assert!(
        refused
            .iter()
            .all(|r| r["reason"].as_str().unwrap().contains("inside task")),
        "{refused:?}"
    );
    assert!(
        audit_lines(&page, "grant_approved").is_empty(),
        "nothing was approved"
    );
    drop(task);
}
