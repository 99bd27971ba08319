//! `warrant scan` through the real binary: store values, exit codes,
//! allowlists, skipped files, git's index and history, output formats.

use std::path::Path;
use std::process::Command as Std;

use base64::Engine as _;

use crate::harness::{Home, contains, fake_value};

fn write(path: &Path, text: &str) {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).unwrap();
    }
    std::fs::write(path, text).unwrap();
}

fn scan_json(home: &Home, args: &[&str]) -> (i32, serde_json::Value, String) {
    let out = home
        .cmd()
        .arg("scan")
        .args(args)
        .arg("--json")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let json =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {stderr}"));
    (out.status.code().unwrap_or(-1), json, stderr)
}

/// (path, line, column, rule, allowed) of every finding.
fn found(json: &serde_json::Value) -> Vec<(String, u64, u64, String, bool)> {
    let mut all = Vec::new();
    for file in json["files"].as_array().unwrap() {
        for f in file["findings"].as_array().unwrap() {
            all.push((
                file["path"].as_str().unwrap().to_owned(),
                f["line"].as_u64().unwrap(),
                f["column"].as_u64().unwrap(),
                f["rule"].as_str().unwrap().to_owned(),
                f.get("allowed").is_some(),
            ));
        }
    }
    all.sort();
    all
}

fn git(dir: &Path, args: &[&str]) {
    let out = Std::new("git")
        .current_dir(dir)
        .args([
            "-c",
            "user.name=t",
            "-c",
            "user.email=t@example.invalid",
            "-c",
            "commit.gpgsign=false",
        ])
        .args(args)
        .env("HOME", dir)
        .env_remove("GIT_DIR")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn store_values_are_found_raw_and_encoded_and_never_printed() {
    let home = Home::new();
    let value = fake_value("db");
    home.set("team/db", &value);
    let dir = home.scratch();
    let b64 = base64::engine::general_purpose::STANDARD.encode(&value);
    write(
        &dir.join("src/config.py"),
        &format!("# settings\nDB = '{value}'\n"),
    );
    write(
        &dir.join("deploy/values.yaml"),
        &format!("a: 1\nsecret: {b64}\n"),
    );
    write(&dir.join("clean.txt"), "nothing here\n");
    let (code, json, _) = scan_json(&home, &["."]);
    assert_eq!(code, 1);
    assert_eq!(
        found(&json),
        vec![
            (
                "deploy/values.yaml".into(),
                2,
                9,
                "store-value".into(),
                false
            ),
            ("src/config.py".into(), 2, 7, "store-value".into(), false),
        ]
    );
    assert_eq!(json["store_values_checked"], 1);
    let human = home.cmd().args(["scan", "."]).output().unwrap();
    assert_eq!(human.status.code(), Some(1));
    let text = String::from_utf8_lossy(&human.stdout);
    assert!(
        text.contains("src/config.py:2:7: value of team/db"),
        "{text}"
    );
    for out in [&human.stdout, &human.stderr] {
        assert!(!contains(out, value.as_bytes()) && !contains(out, b64.as_bytes()));
    }
    assert!(!contains(json.to_string().as_bytes(), value.as_bytes()));
}

#[test]
fn nothing_found_exits_zero_and_a_missing_path_exits_two() {
    let home = Home::new();
    let dir = home.scratch();
    write(&dir.join("a.txt"), "plain text\n");
    home.cmd().args(["scan", "."]).assert().code(0);
    let out = home.cmd().args(["scan", "no/such/dir"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no/such/dir"));
}

#[test]
fn allowlists_are_reported_not_hidden() {
    let home = Home::new();
    let value = fake_value("api");
    home.set("api/key", &value);
    let dir = home.scratch();
    write(&dir.join("fixtures/sample.env"), &format!("KEY={value}\n"));
    write(
        &dir.join("docs/howto.md"),
        &format!("KEY={value} <!-- warrant:allow -->\n"),
    );
    write(&dir.join("app.env"), &format!("KEY={value}\n"));
    write(&dir.join(".warrantignore"), "# test data\nfixtures/\n");
    let (code, json, _) = scan_json(&home, &["."]);
    assert_eq!(code, 1, "app.env still counts");
    assert_eq!(
        found(&json),
        vec![
            ("app.env".into(), 1, 5, "store-value".into(), false),
            ("docs/howto.md".into(), 1, 5, "store-value".into(), true),
            (
                "fixtures/sample.env".into(),
                1,
                5,
                "store-value".into(),
                true
            ),
        ]
    );
    let files = json["files"].as_array().unwrap();
    let why: Vec<&str> = files
        .iter()
        .flat_map(|f| f["findings"].as_array().unwrap())
        .filter_map(|f| f["allowed"].as_str())
        .collect();
    assert!(why.contains(&".warrantignore: fixtures/"), "{why:?}");
    assert!(why.iter().any(|w| w.contains("warrant:allow")), "{why:?}");
    std::fs::remove_file(dir.join("app.env")).unwrap();
    let (code, json, _) = scan_json(&home, &["."]);
    assert_eq!(code, 0, "only allowed findings left");
    assert_eq!(json["counts"]["allowed"], 2);
}

#[test]
fn gitignored_binary_and_generated_files_are_skipped_by_rule_and_listed() {
    let home = Home::new();
    let value = fake_value("tok");
    home.set("tok", &value);
    let dir = home.scratch();
    write(&dir.join(".gitignore"), "build/\n");
    write(&dir.join("build/out.txt"), &value);
    write(
        &dir.join("package-lock.json"),
        &format!("{{\"x\": \"{value}\"}}"),
    );
    let mut binary = b"\x7fELF\0\0\0".to_vec();
    binary.extend_from_slice(value.as_bytes());
    std::fs::write(dir.join("tool.bin"), &binary).unwrap();
    let (code, json, _) = scan_json(&home, &["."]);
    assert_eq!(code, 0, "{json}");
    let skipped: Vec<(&str, &str)> = json["skipped"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["path"].as_str().unwrap(), s["reason"].as_str().unwrap()))
        .collect();
    assert_eq!(skipped.len(), 2, "{skipped:?}");
    assert!(skipped[0].0 == "package-lock.json" && skipped[0].1.contains("lock file"));
    assert!(skipped[1].0 == "tool.bin" && skipped[1].1.contains("binary"));
    let text = home.cmd().args(["scan", "."]).output().unwrap();
    assert!(String::from_utf8_lossy(&text.stdout).contains("2 skipped by rule"));
    let (code, json, _) = scan_json(&home, &[".", "--all", "--no-gitignore"]);
    assert_eq!(code, 1);
    let paths: Vec<String> = found(&json).into_iter().map(|f| f.0).collect();
    assert_eq!(paths, ["build/out.txt", "package-lock.json", "tool.bin"]);
}

#[test]
fn a_huge_file_without_newlines_is_scanned_whole() {
    let home = Home::new();
    let value = fake_value("deep");
    home.set("deep", &value);
    let dir = home.scratch();
    let mut data = vec![b'x'; 9 << 20];
    // Around the scanner's 1 MiB chunks and far inside.
    let spots = [
        0,
        (1 << 20) - 10,
        (1 << 20) + 100,
        (4 << 20) - 20,
        (9 << 20) - value.len(),
    ];
    for &at in &spots {
        data[at..at + value.len()].copy_from_slice(value.as_bytes());
    }
    std::fs::write(dir.join("blob.txt"), &data).unwrap();
    let (code, json, _) = scan_json(&home, &["blob.txt"]);
    assert_eq!(code, 1);
    let columns: Vec<u64> = found(&json).iter().map(|f| f.2).collect();
    let expect: Vec<u64> = spots.iter().map(|&s| s as u64 + 1).collect();
    assert_eq!(columns, expect);
}

#[test]
fn staged_sees_the_index_only_and_since_sees_history() {
    let home = Home::new();
    let value = fake_value("pw");
    home.set("db/pw", &value);
    let repo = home.scratch();
    git(&repo, &["init", "-q", "-b", "main"]);
    write(&repo.join("README"), "hello\n");
    git(&repo, &["add", "README"]);
    git(&repo, &["commit", "-qm", "first"]);
    // Staged with the value, then removed from the working tree only.
    write(
        &repo.join("app/settings.ini"),
        &format!("[db]\nhost = x\npassword = {value}\n"),
    );
    git(&repo, &["add", "app/settings.ini"]);
    write(&repo.join("app/settings.ini"), "[db]\nhost = x\n");
    // In the working tree only: not what a commit would record.
    write(&repo.join("notes.txt"), &value);
    let (code, json, _) = scan_json(&home, &["--staged"]);
    assert_eq!(code, 1, "{json}");
    assert_eq!(
        found(&json),
        vec![(
            "app/settings.ini".into(),
            3,
            12,
            "store-value".into(),
            false
        )]
    );
    // Now the reverse: the index is clean.
    git(&repo, &["add", "app/settings.ini"]);
    let (code, _, _) = scan_json(&home, &["--staged"]);
    assert_eq!(code, 0);
    // History: a commit that added the value, later removed, is found.
    write(&repo.join("app/leak.txt"), &format!("line one\n{value}\n"));
    git(&repo, &["add", "app/leak.txt"]);
    git(&repo, &["commit", "-qm", "leak"]);
    std::fs::remove_file(repo.join("app/leak.txt")).unwrap();
    git(&repo, &["commit", "-qam", "remove"]);
    let (code, json, _) = scan_json(&home, &["--since", "main~2"]);
    assert_eq!(code, 1);
    assert_eq!(
        found(&json),
        vec![("app/leak.txt".into(), 2, 1, "store-value".into(), false)]
    );
    assert_eq!(json["files"][0]["commit"].as_str().unwrap().len(), 40);
    let out = home
        .cmd()
        .args(["scan", "--since", "no-such-rev"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a commit"));
}

#[test]
fn sarif_output_names_rules_and_locations() {
    let home = Home::new();
    let value = fake_value("s");
    home.set("s", &value);
    let dir = home.scratch();
    write(&dir.join("x y.txt"), &format!("\n\n  {value}\n"));
    let out = home
        .cmd()
        .args(["scan", ".", "--format", "sarif"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let sarif: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(sarif["version"], "2.1.0");
    let result = &sarif["runs"][0]["results"][0];
    assert_eq!(result["ruleId"], "store-value");
    let loc = &result["locations"][0]["physicalLocation"];
    assert_eq!(loc["artifactLocation"]["uri"], "x%20y.txt");
    assert_eq!(loc["region"]["startLine"], 3);
    assert_eq!(loc["region"]["startColumn"], 3);
    let rules = sarif["runs"][0]["tool"]["driver"]["rules"]
        .as_array()
        .unwrap();
    assert!(rules.iter().any(|r| r["id"] == "store-value"));
    assert!(!contains(&out.stdout, value.as_bytes()));
}

#[test]
fn mcp_scans_the_agent_configuration_files_that_exist() {
    let home = Home::new();
    let value = fake_value("gh");
    home.set("gh", &value);
    let user = home.dir.path().join("user");
    let project = home.scratch();
    write(
        &user.join(".claude.json"),
        &format!(
            "{{\"mcpServers\": {{\"gh\": {{\"command\": \"npx\", \"env\": {{\"TOKEN\": \"{value}\"}}}}}}}}\n"
        ),
    );
    write(
        &user.join(".codex/config.toml"),
        "[mcp_servers.x]\ncommand = \"x\"\n",
    );
    write(
        &project.join(".cursor/mcp.json"),
        &format!("{{\n  \"mcpServers\": {{\"db\": {{\"url\": \"{value}\"}}}}\n}}\n"),
    );
    // Not an agent configuration file: not scanned by --mcp.
    write(&project.join("other.json"), &value);
    let out = home
        .cmd()
        .args(["scan", "--mcp", "--json"])
        .env("HOME", &user)
        .env_remove("XDG_CONFIG_HOME")
        .env_remove("CODEX_HOME")
        .env_remove("CLAUDE_CONFIG_DIR")
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let paths: Vec<String> = found(&json).into_iter().map(|f| f.0).collect();
    assert_eq!(paths.len(), 2, "{paths:?}");
    assert!(
        paths[0].ends_with("/.cursor/mcp.json") && paths[1].ends_with("user/.claude.json"),
        "{paths:?}"
    );
    assert_eq!(json["files_scanned"], 3);
}
