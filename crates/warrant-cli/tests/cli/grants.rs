//! Grants through the real binary and a real daemon.

use crate::harness::{Home, POLICY, contains, fake_value};

#[test]
fn pending_grant_cannot_be_used_until_approved() {
    let home = Home::with_approver();
    let value = fake_value("db");
    home.set("db/dev/url", &value);
    home.write_policy(POLICY);
    let _daemon = home.serve();

    let (id, status) = home.request("codex", &["db/dev/url"], &[]);
    assert_eq!(status, "pending");
    let (code, out, err) = home.run_granted(&id, &["-e", "DB=warrant://db/dev/url"], "echo $DB");
    assert_ne!(code, 0);
    assert!(out.is_empty(), "{out}");
    assert!(err.contains("pending approval"), "{err}");

    home.approve(&id);
    let (code, out, _) = home.run_granted(&id, &["-e", "DB=warrant://db/dev/url"], "echo $DB; echo $DB | wc -c");
    assert_eq!(code, 0);
    assert!(out.contains("<redacted:db/dev/url>"), "{out}");
    assert!(out.contains(&format!("{}", value.len() + 1)), "the child held the real value: {out}");
    assert!(!contains(out.as_bytes(), value.as_bytes()));
    assert!(!contains(&home.all_bytes(), value.as_bytes()), "a value reached the disk");
    let audit = home.audit_text();
    assert!(audit.contains("\"event\":\"grant_used\""));
    assert!(!audit.contains(&value));
}
