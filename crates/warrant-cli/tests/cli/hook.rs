//! `warrant hook install`: the pre-commit hook in a real repository, with
//! real `git commit`s, and the guard written into each client's hook file
//! under a redirected HOME, then run the way the client would run it.

use std::path::{Path, PathBuf};
use std::process::{Command as Std, Output, Stdio};

use serde_json::Value;

use crate::harness::{Home, contains, fake_value};

/// `git ARGS` in `dir` with a fixed identity, the home's environment (the
/// hook runs warrant) and no global configuration.
fn git(home: &Home, dir: &Path, args: &[&str]) -> Output {
    let mut cmd = Std::new("git");
    home.configure(&mut cmd);
    cmd.current_dir(dir)
        .args(["-c", "user.name=t", "-c", "user.email=t@example.invalid"])
        .args(["-c", "commit.gpgsign=false"])
        .args(args)
        .env("HOME", dir)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env_remove("GIT_DIR")
        .env_remove("GIT_INDEX_FILE")
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

fn git_ok(home: &Home, dir: &Path, args: &[&str]) -> String {
    let out = git(home, dir, args);
    assert!(out.status.success(), "git {args:?}: {out:?}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A fresh repository with one commit.
fn new_repo(home: &Home) -> PathBuf {
    let repo = home.scratch().join("repo");
    std::fs::create_dir_all(&repo).unwrap();
    git_ok(home, &repo, &["init", "-q", "-b", "main"]);
    std::fs::write(repo.join("README"), "hello\n").unwrap();
    git_ok(home, &repo, &["add", "README"]);
    git_ok(home, &repo, &["commit", "-qm", "first"]);
    repo
}

fn hook(home: &Home, dir: &Path, args: &[&str]) -> Output {
    home.cmd()
        .current_dir(dir)
        .arg("hook")
        .args(args)
        .env("HOME", home.scratch())
        .env_remove("XDG_CONFIG_HOME")
        .env_remove("CODEX_HOME")
        .env_remove("CLAUDE_CONFIG_DIR")
        .output()
        .unwrap()
}

fn hook_ok(home: &Home, dir: &Path, args: &[&str]) -> String {
    let out = hook(home, dir, args);
    assert!(out.status.success(), "warrant hook {args:?}: {out:?}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn commit(home: &Home, repo: &Path, file: &str, text: &str) -> Output {
    std::fs::write(repo.join(file), text).unwrap();
    git_ok(home, repo, &["add", file]);
    git(home, repo, &["commit", "-qm", "change"])
}

#[test]
fn pre_commit_stops_a_store_value_and_lets_a_clean_commit_through() {
    let home = Home::new();
    let value = fake_value("db");
    home.set("db/url", &value);
    let repo = new_repo(&home);
    let said = hook_ok(&home, &repo, &["install"]);
    assert!(said.contains(".git/hooks/pre-commit"), "{said}");

    let out = commit(&home, &repo, "config.py", &format!("DB = '{value}'\n"));
    assert!(!out.status.success(), "the commit went through: {out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("commit stopped"), "{stderr}");
    assert!(stderr.contains("warrant secret set NAME"), "{stderr}");
    assert!(stderr.contains("warrant://NAME"), "{stderr}");
    for bytes in [&out.stdout, &out.stderr] {
        assert!(!contains(bytes, value.as_bytes()), "the value was printed");
    }
    assert_eq!(
        git_ok(&home, &repo, &["rev-list", "--count", "HEAD"]).trim(),
        "1"
    );

    std::fs::write(repo.join("config.py"), "DB = os.environ['DB_URL']\n").unwrap();
    let out = commit(&home, &repo, "config.py", "DB = os.environ['DB_URL']\n");
    assert!(out.status.success(), "a clean commit was stopped: {out:?}");
    assert_eq!(
        git_ok(&home, &repo, &["rev-list", "--count", "HEAD"]).trim(),
        "2"
    );
}

#[test]
fn pre_commit_stops_a_generated_github_token() {
    let home = Home::new();
    let token = warrant_scan::fixtures::Generator::new(0x51c3)
        .token("github-pat")
        .expect("the github-pat rule");
    let repo = new_repo(&home);
    hook_ok(&home, &repo, &["install"]);
    let out = commit(
        &home,
        &repo,
        "deploy.sh",
        &format!("export GITHUB_TOKEN={token}\n"),
    );
    assert!(!out.status.success(), "the commit went through: {out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("commit stopped"));
    assert!(!contains(&out.stdout, token.as_bytes()) && !contains(&out.stderr, token.as_bytes()));
}

#[test]
fn install_is_idempotent_refuses_a_foreign_hook_and_can_chain_it() {
    let home = Home::new();
    let repo = new_repo(&home);
    let hooks = repo.join(".git/hooks");
    std::fs::create_dir_all(&hooks).unwrap();
    let mine = "#!/bin/sh\necho ran-my-hook >&2\n";
    std::fs::write(hooks.join("pre-commit"), mine).unwrap();
    set_executable(&hooks.join("pre-commit"));

    let out = hook(&home, &repo, &["install"]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("--chain") && stderr.contains("--force"),
        "{stderr}"
    );
    assert_eq!(
        std::fs::read_to_string(hooks.join("pre-commit")).unwrap(),
        mine
    );

    hook_ok(&home, &repo, &["install", "--chain"]);
    assert!(hook_ok(&home, &repo, &["install"]).contains("already up to date"));
    let out = commit(&home, &repo, "notes.txt", "nothing secret\n");
    assert!(out.status.success(), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("ran-my-hook"));

    hook_ok(&home, &repo, &["uninstall"]);
    assert_eq!(
        std::fs::read_to_string(hooks.join("pre-commit")).unwrap(),
        mine
    );
    assert!(!hooks.join("pre-commit.warrant-chained").exists());
}

#[test]
fn core_hooks_path_and_worktrees_are_honoured() {
    let home = Home::new();
    let value = fake_value("tok");
    home.set("api/token", &value);
    let repo = new_repo(&home);
    git_ok(&home, &repo, &["config", "core.hooksPath", ".githooks"]);
    let sub = repo.join("src");
    std::fs::create_dir_all(&sub).unwrap();
    hook_ok(&home, &sub, &["install"]);
    assert!(repo.join(".githooks/pre-commit").exists());
    assert!(!repo.join("src/.githooks").exists());
    let out = commit(&home, &repo, "leak.txt", &format!("token {value}\n"));
    assert!(!out.status.success(), "{out:?}");

    let second = Home::new();
    let other = new_repo(&second);
    let wt = other.parent().unwrap().join("wt");
    git_ok(
        &home,
        &other,
        &["worktree", "add", "-q", wt.to_str().unwrap()],
    );
    hook_ok(&home, &wt, &["install"]);
    assert!(other.join(".git/hooks/pre-commit").exists());
}

#[test]
fn dry_run_writes_nothing_and_outside_a_repository_is_an_error() {
    let home = Home::new();
    let repo = new_repo(&home);
    let diff = hook_ok(&home, &repo, &["install", "--dry-run"]);
    assert!(
        diff.contains("+++ ") && diff.contains("+warrant=warrant"),
        "{diff}"
    );
    assert!(!repo.join(".git/hooks/pre-commit").exists());
    let lone = home.scratch().join("lone");
    std::fs::create_dir_all(&lone).unwrap();
    let out = hook(&home, &lone, &["install"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not in a git work tree"));
}

/// The client file under the redirected HOME (the scratch directory).
fn client_file(home: &Home, client: &str) -> PathBuf {
    let root = home.scratch();
    root.join(match client {
        "claude-code" => ".claude/settings.json",
        "codex" => ".codex/hooks.json",
        "cursor" => ".cursor/hooks.json",
        "gemini" => ".gemini/settings.json",
        "windsurf" => ".codeium/windsurf/hooks.json",
        _ => unreachable!(),
    })
}

/// Every guard command in a hook file.
fn commands(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(map) => {
            if let Some(Value::String(c)) = map.get("command") {
                if c.contains(" guard ") {
                    out.push(c.clone());
                }
            }
            map.values().for_each(|x| commands(x, out));
        }
        Value::Array(items) => items.iter().for_each(|x| commands(x, out)),
        _ => {}
    }
}

#[test]
fn client_hooks_are_written_kept_idempotent_and_removed() {
    let home = Home::new();
    let value = fake_value("db");
    home.set("db/url", &value);
    let project = home.scratch().join("project");
    std::fs::create_dir_all(&project).unwrap();
    // Someone else's settings, which must survive.
    let claude = client_file(&home, "claude-code");
    std::fs::create_dir_all(claude.parent().unwrap()).unwrap();
    std::fs::write(
        &claude,
        "{\n  \"model\": \"opus\",\n  \"hooks\": {\"Stop\": []}\n}\n",
    )
    .unwrap();

    for (client, events) in [
        ("claude-code", 2),
        ("codex", 2),
        ("cursor", 5),
        ("gemini", 2),
        ("windsurf", 4),
    ] {
        let diff = hook_ok(
            &home,
            &project,
            &["install", "--client", client, "--dry-run"],
        );
        assert!(diff.contains("guard --client"), "{client}: {diff}");
        hook_ok(&home, &project, &["install", "--client", client]);
        let path = client_file(&home, client);
        let text = std::fs::read_to_string(&path).unwrap();
        let v: Value =
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("{client}: {e}: {text}"));
        let mut found = Vec::new();
        commands(&v, &mut found);
        assert_eq!(found.len(), events, "{client}: {text}");
        assert!(
            hook_ok(&home, &project, &["install", "--client", client])
                .contains("already up to date")
        );

        // The command as the client runs it, on a sample with the value.
        let payload = match client {
            "cursor" => {
                serde_json::json!({"hook_event_name": "beforeSubmitPrompt", "conversation_id": "c", "prompt": value})
            }
            "gemini" => {
                serde_json::json!({"hook_event_name": "BeforeAgent", "session_id": "s", "prompt": value})
            }
            "windsurf" => {
                serde_json::json!({"agent_action_name": "pre_user_prompt", "tool_info": {"user_prompt": value}})
            }
            _ => {
                serde_json::json!({"hook_event_name": "UserPromptSubmit", "session_id": "s", "prompt": value})
            }
        };
        let out = run_shell(&found[0], &serde_json::to_vec(&payload).unwrap());
        let refused = out.status.code() == Some(2) || contains(&out.stdout, b"\"continue\":false");
        assert!(refused, "{client}: {out:?}");
        assert!(
            !contains(&out.stderr, value.as_bytes()) && !contains(&out.stdout, value.as_bytes())
        );
    }
    let v: Value = serde_json::from_str(&std::fs::read_to_string(&claude).unwrap()).unwrap();
    assert_eq!(v["model"], "opus");
    assert!(
        claude
            .with_file_name("settings.json.warrant-backup")
            .exists()
    );
    let cursor: Value =
        serde_json::from_str(&std::fs::read_to_string(client_file(&home, "cursor")).unwrap())
            .unwrap();
    assert_eq!(cursor["version"], 1);

    for client in ["claude-code", "codex", "cursor", "gemini", "windsurf"] {
        hook_ok(&home, &project, &["uninstall", "--client", client]);
        let text = std::fs::read_to_string(client_file(&home, client)).unwrap();
        assert!(!text.contains(" guard "), "{client}: {text}");
    }
    let v: Value = serde_json::from_str(&std::fs::read_to_string(&claude).unwrap()).unwrap();
    assert_eq!(v["model"], "opus");
}

#[test]
fn project_scope_and_cline_scripts() {
    let home = Home::new();
    let project = home.scratch().join("project");
    std::fs::create_dir_all(&project).unwrap();
    hook_ok(
        &home,
        &project,
        &["install", "--client", "claude-code", "--project"],
    );
    let text = std::fs::read_to_string(project.join(".claude/settings.json")).unwrap();
    assert!(
        text.contains("\"warrant guard --client claude-code"),
        "{text}"
    );

    hook_ok(
        &home,
        &project,
        &["install", "--client", "cline", "--project"],
    );
    let script = project.join(".clinerules/hooks/PreToolUse");
    let text = std::fs::read_to_string(&script).unwrap();
    assert!(
        text.starts_with("#!/bin/sh\n") && text.contains("guard --client cline"),
        "{text}"
    );
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&script).unwrap().permissions().mode() & 0o777,
        0o755
    );
    hook_ok(
        &home,
        &project,
        &["uninstall", "--client", "cline", "--project"],
    );
    assert!(!script.exists());
    let out = hook(&home, &project, &["install", "--client", "emacs"]);
    assert_eq!(out.status.code(), Some(1));
}

fn run_shell(command: &str, stdin: &[u8]) -> Output {
    use std::io::Write;
    let mut child = Std::new("sh")
        .args(["-c", command])
        .env_remove("WARRANT_HOME")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    child.wait_with_output().unwrap()
}

fn set_executable(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}
