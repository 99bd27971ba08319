//! A grant whose policy asks for a security key: refused on the command
//! line, approved on the page with Chromium's virtual authenticator
//! (DevTools WebAuthn domain), and refused without it.

use serde_json::json;

use super::browser::Browser;
use super::{runtime, serve_with_page};
use crate::harness::{APPROVER, Home, fake_value};

const POLICY: &str = r#"
[actors.codex]
kind = "agent"

[[rules]]
actors   = ["codex"]
secrets  = ["db/prod/*"]
commands = ["sh"]
max_ttl  = "30m"
approval = "hardware_key"
"#;

#[test]
fn a_security_key_approves_what_the_policy_guards() {
    let home = Home::with_approver();
    home.set("db/prod/url", &fake_value("prod"));
    home.write_policy(POLICY);
    let (_daemon, url) = serve_with_page(&home);
    runtime().block_on(flow(&home, &url));
}

async fn flow(home: &Home, url: &str) {
    let first = home
        .request_raw("codex", &["db/prod/url"], "10m", &["--json"])
        .id();
    assert_eq!(home.grant(&first)["hardware_key"], true);

    // `warrant approve` refuses it, before asking for a passphrase.
    let cli = home.approve_with(&first, APPROVER, &[]);
    assert_eq!(cli.code, 3, "{cli:?}");
    assert!(
        cli.stderr
            .contains("approve it on the page with your security key"),
        "{cli:?}"
    );

    let b = Browser::start().await;
    b.client.goto(url).await.unwrap();
    b.fill("#signin-pass", APPROVER).await;
    b.click("#signin-form button").await;
    b.text_until("#live", |t| t == "live").await;
    let card = format!("#pending-list [data-grant='{first}']");
    b.text_until(&card, |t| t.contains("security key")).await;

    // No key registered: the page cannot approve it either.
    b.fill(&format!("#pass-{first}"), APPROVER).await;
    b.click(&format!("{card} button.approve")).await;
    b.text_until(&format!("{card} .error"), |t| {
        t.contains("no security key is registered")
    })
    .await;

    // The passphrase alone, straight to the API: the daemon refuses.
    let status = b
        .js_async(&format!(
            "fetch('/api/session').then(r => r.json()).then(s => fetch('/api/grants/{first}/approve', \
             {{method: 'POST', headers: {{'content-type': 'application/json', 'x-csrf-token': s.csrf}}, \
             body: JSON.stringify({{passphrase: '{APPROVER}'}})}})).then(r => r.json())\
             .then(j => arguments[0](j.code))"
        ))
        .await;
    assert_eq!(status, "hardware_key_required");
    assert_eq!(home.grant(&first)["status"], "pending");

    // A virtual authenticator: register it as a key (passphrase needed).
    b.cdp("WebAuthn.enable", json!({ "enableUI": false })).await;
    let added = b
        .cdp(
            "WebAuthn.addVirtualAuthenticator",
            json!({ "options": {
                "protocol": "ctap2",
                "transport": "usb",
                "hasResidentKey": true,
                "hasUserVerification": true,
                "isUserVerified": true,
                "automaticPresenceSimulation": true,
            }}),
        )
        .await;
    let authenticator = added["authenticatorId"].as_str().unwrap().to_owned();
    b.click("[data-view=keys]").await;
    b.fill("#key-name", "virtual key").await;
    b.fill("#key-pass", APPROVER).await;
    b.click("#key-form button").await;
    b.text_until("#keys-list", |t| t.contains("virtual key"))
        .await;
    let keys = home.path().join("security-keys.json");
    let mode =
        std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&keys).unwrap().permissions());
    assert_eq!(mode & 0o777, 0o600);
    assert_eq!(home.audit_events("security_key_added").len(), 1);

    // Approve with the key: active, and the log names the key.
    b.click("[data-view=pending]").await;
    b.fill(&format!("#pass-{first}"), APPROVER).await;
    b.click(&format!("{card} button.approve")).await;
    b.find(&format!("#active-list [data-grant='{first}']"))
        .await;
    let grant = home.grant(&first);
    assert_eq!(grant["status"], "active");
    assert_eq!(
        grant["approved_by"],
        "web:approver (security key virtual key)"
    );
    let (code, out, _) =
        home.run_granted(&first, &["--env", "DB=warrant://db/prod/url"], "echo ran");
    assert_eq!((code, out.trim()), (0, "ran"));

    // A forged answer to a real challenge is refused.
    let second = home
        .request_raw("codex", &["db/prod/url"], "10m", &["--json"])
        .id();
    let second_card = format!("#pending-list [data-grant='{second}']");
    b.find(&second_card).await;
    let forged = b
        .js_async(&format!(
            "(async () => {{ \
             const enc = (b) => btoa(String.fromCharCode(...new Uint8Array(b))).replace(/\\+/g, '-').replace(/\\//g, '_').replace(/=+$/, ''); \
             const s = await (await fetch('/api/session')).json(); \
             const h = {{'content-type': 'application/json', 'x-csrf-token': s.csrf}}; \
             const o = await (await fetch('/api/grants/{second}/challenge', {{method: 'POST', headers: h}})).json(); \
             const id = o.publicKey.allowCredentials[0].id; \
             const rp = new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode('localhost'))); \
             const data = new Uint8Array(37); data.set(rp); data[32] = 0x05; data[36] = 99; \
             const client = new TextEncoder().encode(JSON.stringify({{type: 'webauthn.get', challenge: o.publicKey.challenge, origin: location.origin}})); \
             const fake = {{id, rawId: id, type: 'public-key', extensions: {{}}, response: {{ \
               authenticatorData: enc(data), clientDataJSON: enc(client), \
               signature: enc(crypto.getRandomValues(new Uint8Array(70))), userHandle: null}}}}; \
             const r = await fetch('/api/grants/{second}/approve', {{method: 'POST', headers: h, \
               body: JSON.stringify({{passphrase: '{APPROVER}', assertion: fake}})}}); \
             const j = await r.json(); return j.code + ': ' + j.message; }})().then(arguments[0])"
        ))
        .await;
    let forged = forged.as_str().unwrap_or_default().to_owned();
    assert!(forged.starts_with("security_key: "), "{forged}");
    assert_eq!(home.grant(&second)["status"], "pending");

    // Without the authenticator, the page's approval fails.
    b.cdp(
        "WebAuthn.removeVirtualAuthenticator",
        json!({ "authenticatorId": authenticator }),
    )
    .await;
    b.fill(&format!("#pass-{second}"), APPROVER).await;
    b.click(&format!("{second_card} button.approve")).await;
    tokio::time::sleep(std::time::Duration::from_secs(3)).await;
    assert_eq!(home.grant(&second)["status"], "pending");
    b.close().await;
}
