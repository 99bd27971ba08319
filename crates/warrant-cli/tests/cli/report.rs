//! `warrant report`: exposure per secret and per actor, from the audit log.

use crate::harness::{Home, contains, fake_value, run_sh};

fn row<'a>(
    report: &'a serde_json::Value,
    table: &str,
    key: &str,
    name: &str,
) -> &'a serde_json::Value {
    report[table]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r[key] == name)
        .unwrap_or_else(|| panic!("no {name} in {table}: {report:#}"))
}

/// Two direct runs, three granted runs for bot (one with a file), each
/// printing the value; a denied request and a refused use for codex.
fn activity() -> (Home, String, crate::harness::Daemon) {
    let (home, value, daemon) = Home::with_daemon();
    home.set("api/token", &fake_value("api"));
    for _ in 0..2 {
        let (code, out, err) = run_sh(
            &home,
            &["--no-tty", "-e", "DB=warrant://db/dev/url"],
            "echo $DB",
        );
        assert_eq!((code, out.trim()), (0, "<redacted:db/dev/url>"), "{err}");
    }
    let (id, _) = home.request("bot", &["db/dev/url"], &[]);
    for _ in 0..2 {
        let (code, out, err) =
            home.run_granted(&id, &["-e", "DB=warrant://db/dev/url"], "echo $DB");
        assert_eq!((code, out.trim()), (0, "<redacted:db/dev/url>"), "{err}");
    }
    let (code, out, err) = home.run_granted(&id, &["--file", "F=warrant://db/dev/url"], "cat $F");
    assert_eq!((code, out.trim()), (0, "<redacted:db/dev/url>"), "{err}");

    let denied = home.request_raw("codex", &["api/token"], "5m", &[]);
    assert_eq!(denied.code, 3, "{denied:?}");
    let (pending, _) = home.request("codex", &["db/dev/url"], &[]);
    let (code, _, _) = home.run_granted(&pending, &["-e", "DB=warrant://db/dev/url"], "echo $DB");
    assert_ne!(code, 0);
    (home, value, daemon)
}

#[test]
fn report_counts_exposure_per_secret_and_per_actor() {
    let (home, value, _daemon) = activity();
    let ran = home.run(&["report", "--json"]);
    assert_eq!(ran.code, 0, "{ran:?}");
    assert!(!ran.stdout.contains(&value));
    let report: serde_json::Value = serde_json::from_str(&ran.stdout).unwrap();
    assert!(report["since"].is_null());

    let db = row(&report, "secrets", "secret", "db/dev/url");
    assert_eq!(db["processes_held"], 5, "{db:#}");
    assert_eq!(db["held_in_env"], 4, "{db:#}");
    assert_eq!(db["held_in_file"], 1, "{db:#}");
    assert_eq!(db["redactions"], 5, "each run printed it once: {db:#}");
    assert_eq!(db["denied"], 1, "the refused use: {db:#}");
    assert_eq!(db["uses_without_exposure"], 0);
    let holders: Vec<&str> = db["actors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    assert!(holders.contains(&"bot"), "{holders:?}");
    assert!(
        holders.iter().any(|a| a.starts_with("user:")),
        "{holders:?}"
    );
    assert!(
        !holders.contains(&"codex"),
        "codex never held it: {holders:?}"
    );

    let api = row(&report, "secrets", "secret", "api/token");
    assert_eq!(api["processes_held"], 0);
    assert_eq!(api["denied"], 1);

    let bot = row(&report, "actors", "actor", "bot");
    assert_eq!(bot["processes_held"], 3, "{bot:#}");
    assert_eq!(bot["redactions"], 3);
    assert_eq!(bot["grants_requested"], 1);
    assert_eq!(bot["grants_auto_approved"], 1);
    assert_eq!(bot["denied"], 0);
    let codex = row(&report, "actors", "actor", "codex");
    assert_eq!(codex["processes_held"], 0, "{codex:#}");
    assert_eq!(
        codex["denied"], 2,
        "a denied request and a refused use: {codex:#}"
    );
    assert_eq!(codex["grants_requested"], 1);
    let user = report["actors"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["actor"].as_str().unwrap().starts_with("user:"))
        .unwrap();
    assert_eq!(user["processes_held"], 2, "{user:#}");
    assert_eq!(user["redactions"], 2);

    let text = home.run(&["report"]);
    assert_eq!(text.code, 0, "{text:?}");
    assert!(
        text.stdout.contains("Per secret") && text.stdout.contains("Per actor"),
        "{text:?}"
    );
    assert!(
        text.stdout.contains("db/dev/url") && text.stdout.contains("bot"),
        "{text:?}"
    );
    assert!(!contains(text.stdout.as_bytes(), value.as_bytes()));
}

#[test]
fn report_since_filters_by_time_and_rejects_nonsense() {
    let (home, _value, _daemon) = activity();
    let whole = home.json(&["report"]);
    let recent = home.json(&["report", "--since", "1h"]);
    assert!(recent["since"].is_string(), "{recent:#}");
    assert_eq!(recent["records"], whole["records"]);
    assert_eq!(recent["secrets"], whole["secrets"]);
    assert_eq!(recent["undated"], 0);

    let future = home.json(&["report", "--since", "2999-01-01"]);
    assert_eq!(future["records"], 0, "{future:#}");
    assert_eq!(future["secrets"], serde_json::json!([]));
    let text = home.run(&["report", "--since", "2999-01-01"]);
    assert!(text.stdout.starts_with("no activity since"), "{text:?}");

    let bad = home.run(&["report", "--since", "nonsense"]);
    assert_ne!(bad.code, 0);
    assert!(bad.stdout.is_empty(), "{bad:?}");
    assert!(
        bad.stderr.contains("--since") && bad.stderr.contains("nonsense"),
        "{bad:?}"
    );
}
