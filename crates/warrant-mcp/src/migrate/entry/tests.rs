use std::process::Command;

use super::*;
use crate::migrate::tests::{MapStore, classify, secret};

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

/// Runs `argv` with `env` set; the `SERVER` in it becomes a script that
/// prints each argument it receives as `[ARG]`.
fn run(argv: &[String], env: &[(&str, &str)]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let server = dir.path().join("server");
    std::fs::write(&server, "#!/bin/sh\nprintf '[%s]\\n' \"$@\"\n").unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&server, std::fs::Permissions::from_mode(0o700)).unwrap();
    let mut argv = argv.to_vec();
    let at = argv
        .iter()
        .position(|a| a == "SERVER")
        .expect("a SERVER placeholder");
    argv[at] = server.to_str().unwrap().to_owned();
    let out = Command::new(&argv[0])
        .args(&argv[1..])
        .env_clear()
        .envs(env.iter().copied())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn shell_wrap_puts_values_back_byte_for_byte() {
    let tricky = [
        "plain",
        "with space",
        "quote's \"and\" $HOME `x` \\",
        "",
        "-e",
        "*",
        "line\nbreak",
    ];
    let mut argv = strings(&["SERVER"]);
    argv.extend(strings(&tricky));
    argv.extend(strings(&["--api-key=", "x", "", "y", "z", "w"]));
    let wrapped = shell_wrap(&argv, &[(8, "--api-key=", "WARRANT_ARG_1"), (10, "", "V2")]);
    assert_eq!(wrapped[..2], strings(&["sh", "-c"]));
    let value = "v a'l\"ue $x";
    let out = run(
        &wrapped,
        &[("WARRANT_ARG_1", value), ("V2", "second value")],
    );
    let mut expected: Vec<String> = tricky.iter().map(|a| format!("[{a}]\n")).collect();
    expected.push(format!("[--api-key={value}]\n"));
    for a in ["x", "second value", "y", "z", "w"] {
        expected.push(format!("[{a}]\n"));
    }
    assert_eq!(out, expected.concat());
}

fn decide(entry: &Entry, home: Option<&str>) -> (Option<Rewrite>, Decider<'static, 'static>) {
    let store: &'static MapStore = Box::leak(Box::default());
    let names: &'static mut Names<'static> = Box::leak(Box::new(Names::new(store)));
    let launcher: &'static Launcher = Box::leak(Box::new(Launcher {
        command: "/usr/bin/warrant".into(),
        home: home.map(Into::into),
    }));
    let mut decider = Decider::new(&classify, names, launcher);
    let rewrite = decider.decide("pg", None, entry).unwrap();
    (rewrite, decider)
}

#[test]
fn secrets_in_args_are_split_at_equals_or_taken_whole() {
    let (url, key, tok, e) = (
        format!("postgresql://u:{}@db/x", secret("pw")),
        secret("key"),
        secret("tok"),
        secret("e"),
    );
    let entry = Entry {
        command: Some("npx".into()),
        has_command: true,
        args: Some(
            [
                "-y".to_owned(),
                "@modelcontextprotocol/server-postgres".to_owned(),
                url.clone(),
                format!("--api-key={key}"),
                "--token".to_owned(),
                tok.clone(),
                "-e".to_owned(),
                format!("GH_TOKEN={e}"),
            ]
            .into_iter()
            .map(Some)
            .collect(),
        ),
        env: vec![("WARRANT_ARG_1".into(), "taken".into())],
        ..Entry::default()
    };
    let (rewrite, decider) = decide(&entry, None);
    let rewrite = rewrite.unwrap();
    assert_eq!(rewrite.command.as_deref(), Some("/usr/bin/warrant"));
    let moved: Vec<(&str, &str, bool)> = decider.servers[0]
        .secrets
        .iter()
        .map(|m| (m.field.as_str(), m.name.as_str(), m.in_argv))
        .collect();
    assert_eq!(
        moved,
        [
            ("args[2]", "mcp/pg/url", true),
            ("args[3]", "mcp/pg/api-key", true),
            ("args[5]", "mcp/pg/token", true),
            ("args[7]", "mcp/pg/gh-token", true),
        ]
    );
    let sep = rewrite.args.iter().position(|a| a == "--").unwrap();
    assert_eq!(
        rewrite.args[..sep],
        strings(&[
            "run",
            "--env",
            "WARRANT_ARG_2=warrant://mcp/pg/url",
            "--env",
            "WARRANT_ARG_3=warrant://mcp/pg/api-key",
            "--env",
            "WARRANT_ARG_4=warrant://mcp/pg/token",
            "--env",
            "WARRANT_ARG_5=warrant://mcp/pg/gh-token",
        ])
    );
    // The config holds no value any more, and the server gets its argv back.
    let mut inner = rewrite.args[sep + 1..].to_vec();
    assert!(!inner.iter().any(|a| a.contains("wsecret-")), "{inner:?}");
    inner[3] = "SERVER".into();
    let env = [
        ("WARRANT_ARG_2", url.as_str()),
        ("WARRANT_ARG_3", key.as_str()),
        ("WARRANT_ARG_4", tok.as_str()),
        ("WARRANT_ARG_5", e.as_str()),
    ];
    let expected: String = entry
        .args
        .iter()
        .flatten()
        .flatten()
        .map(|a| format!("[{a}]\n"))
        .collect();
    assert_eq!(run(&inner, &env), expected);
}

#[test]
fn what_cannot_move_is_reported() {
    let tok = secret("t");
    let remote = Entry {
        remote: true,
        other: vec![
            ("url".into(), "https://x.test/mcp".into()),
            ("headers.Authorization".into(), format!("Bearer {tok}")),
        ],
        ..Entry::default()
    };
    let (rewrite, decider) = decide(&remote, None);
    assert!(rewrite.is_none());
    assert_eq!(decider.not_migrated.len(), 1);
    assert_eq!(decider.not_migrated[0].field, "headers.Authorization");
    assert!(decider.not_migrated[0].reason.contains("remote"));

    let short = Entry {
        command: Some("x".into()),
        has_command: true,
        env: vec![
            ("SHORT".into(), "wsecret".into()),
            ("REF".into(), "${env:TOKEN}".into()),
            ("OK".into(), tok.clone()),
        ],
        other: vec![("cwd".into(), tok.clone())],
        ..Entry::default()
    };
    let (rewrite, decider) = decide(&short, Some("/h"));
    let rewrite = rewrite.unwrap();
    assert_eq!(rewrite.remove_env, ["OK"]);
    assert_eq!(
        rewrite.add_env,
        [("WARRANT_HOME".to_owned(), "/h".to_owned())]
    );
    let fields: Vec<&str> = decider
        .not_migrated
        .iter()
        .map(|n| n.field.as_str())
        .collect();
    assert_eq!(fields, ["cwd", "env.SHORT"]);

    // Already through warrant's sh wrapper: not wrapped again.
    let args = [
        "run",
        "--env",
        "WARRANT_ARG_1=warrant://a",
        "--",
        "sh",
        "-c",
        "exec \"$0\" \"${1}\"",
        "srv",
        &tok,
    ];
    let wrapped = Entry {
        command: Some("warrant".into()),
        has_command: true,
        args: Some(args.iter().map(|a| Some((*a).to_owned())).collect()),
        ..Entry::default()
    };
    let (rewrite, decider) = decide(&wrapped, None);
    assert!(rewrite.is_none());
    assert_eq!(decider.not_migrated[0].field, "args[8]");
}

#[test]
fn expansions_are_not_values() {
    for v in [
        "$TOKEN",
        "${TOKEN}",
        "${env:GITHUB_TOKEN}",
        "${input:token}",
    ] {
        assert!(is_expansion(v), "{v}");
    }
    for v in ["$", "${}", "Bearer ${TOKEN}", "abc", "$A B"] {
        assert!(!is_expansion(v), "{v}");
    }
}
