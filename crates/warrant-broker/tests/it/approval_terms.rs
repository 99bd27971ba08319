//! Approval terms: fewer uses than the policy allows, and grants whose
//! policy asks for a security key (only the approval page can approve them).

use std::sync::Arc;

use warrant_broker::protocol::{ErrorCode, GrantRequest};
use warrant_broker::{ApprovalTerms, Broker, Caller, Verifier};
use warrant_dynamic::stores::Stores;
use warrant_sandbox::proc;
use warrant_secret::{SecretName, SecretValue};
use warrant_store::{KeyProtection, LocalStore, SecretStore};

const POLICY: &str = r#"
[actors.codex]
kind = "agent"

[[rules]]
actors   = ["codex"]
secrets  = ["db/dev/*"]
max_ttl  = "30m"
approval = "required"
max_uses = 5

[[rules]]
actors   = ["codex"]
secrets  = ["db/prod/*"]
max_ttl  = "30m"
approval = "hardware_key"
"#;

fn broker(dir: &std::path::Path) -> Broker {
    let home = dir.join("home");
    let store = LocalStore::init(&home, KeyProtection::KeyFile).unwrap();
    for name in ["db/dev/url", "db/prod/url"] {
        let value = SecretValue::from(format!("fake-{name}-value-000000").into_bytes());
        store
            .set(&SecretName::new(name).unwrap(), &value, None)
            .unwrap();
    }
    Verifier::create(b"approver-passphrase", true)
        .unwrap()
        .save(&home)
        .unwrap();
    let policy = dir.join("warrant.toml");
    std::fs::write(&policy, POLICY).unwrap();
    let stores = Arc::new(Stores::local_only(Arc::new(store)));
    Broker::start(&home, stores, Some(policy)).unwrap().0
}

fn me() -> Caller {
    Caller {
        uid: 0,
        pid: std::process::id(),
        ancestry: proc::ancestors(std::process::id()).unwrap(),
        user: "tester".into(),
    }
}

fn ask(secret: &str) -> GrantRequest {
    GrantRequest {
        secrets: vec![secret.into()],
        reason: "tests".into(),
        ttl_ms: 600_000,
        commands: vec![],
        hosts: vec![],
        actor: Some("codex".into()),
    }
}

#[test]
fn an_approver_can_grant_fewer_uses_but_never_more() {
    let dir = tempfile::tempdir().unwrap();
    let mut b = broker(dir.path());
    let c = me();
    for (asked, granted) in [(Some(2), Some(2)), (Some(9), Some(5)), (None, Some(5))] {
        let g = b.request(&c, ask("db/dev/url")).unwrap().unwrap();
        assert!(!g.hardware_key);
        let terms = ApprovalTerms {
            ttl_ms: Some(60_000),
            max_uses: asked,
            security_key: None,
        };
        let v = b
            .approve_finish_with(&c, &g.id, terms, true)
            .unwrap()
            .unwrap();
        assert_eq!(
            (v.status.as_str(), v.max_uses, v.ttl_secs),
            ("active", granted, 60)
        );
    }
    let g = b.request(&c, ask("db/dev/url")).unwrap().unwrap();
    let zero = ApprovalTerms {
        max_uses: Some(0),
        ..ApprovalTerms::default()
    };
    let refused = b.approve_finish_with(&c, &g.id, zero, true).unwrap();
    assert_eq!(refused.unwrap_err().code, ErrorCode::BadRequest);
}

/// Regression for issue 8: the daemon itself refuses a hardware-key grant
/// approved without a key, whoever asks and whatever the passphrase.
#[test]
fn a_hardware_key_grant_needs_a_verified_key() {
    let dir = tempfile::tempdir().unwrap();
    let mut b = broker(dir.path());
    let c = me();
    let g = b.request(&c, ask("db/prod/url")).unwrap().unwrap();
    assert!(g.hardware_key);
    assert_eq!(g.status, "pending");

    // Over the socket (`warrant approve`): refused before any passphrase.
    let early = b.approve_check(&c, &g.id).unwrap().unwrap_err();
    assert_eq!(early.code, ErrorCode::HardwareKeyRequired);
    assert!(early.hint.unwrap().contains("security key"), "a hint");
    // Even with the right passphrase and no key.
    let late = b
        .approve_finish_with(&c, &g.id, ApprovalTerms::default(), true)
        .unwrap()
        .unwrap_err();
    assert_eq!(late.code, ErrorCode::HardwareKeyRequired);
    assert_eq!(b.show(&g.id).unwrap().unwrap().status, "pending");

    // With a key the page verified: approved, and the log says which key.
    assert!(b.approve_check_with(&c, &g.id, true).unwrap().is_ok());
    let terms = ApprovalTerms {
        security_key: Some("yubikey".into()),
        ..ApprovalTerms::default()
    };
    let v = b
        .approve_finish_with(&c, &g.id, terms, true)
        .unwrap()
        .unwrap();
    assert_eq!(v.status, "active");
    assert_eq!(
        v.approved_by.as_deref(),
        Some("tester (security key yubikey)")
    );
}
