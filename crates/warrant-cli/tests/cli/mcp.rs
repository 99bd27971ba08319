//! `warrant mcp` driven over stdio by the official MCP Python SDK (a client
//! we did not write), against a real daemon. `scripts/test.sh` installs the
//! SDK into `target/pydeps` and names it in `WARRANT_TEST_PYDEPS`.

use std::path::PathBuf;
use std::process::{Command, Stdio};

use serde_json::Value;

use crate::harness::{APPROVER, Home, contains, path_with_bin};

/// The client: runs one scenario and prints one JSON line per call.
const DRIVER: &str = r#"
import asyncio, json, os, sys
from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client

def emit(label, res):
    print(json.dumps({"label": label, "error": bool(res.is_error),
                      "data": res.structured_content,
                      "text": " ".join(getattr(c, "text", "") for c in res.content)}), flush=True)

async def call(s, label, tool, args):
    res = await s.call_tool(tool, args)
    emit(label, res)
    return res.structured_content or {}

async def main(actor, scenario):
    params = StdioServerParameters(command="warrant", args=["mcp", "--actor", actor], env=dict(os.environ))
    async with stdio_client(params) as (r, w):
        async with ClientSession(r, w) as s:
            await s.initialize()
            if scenario == "http":
                port = os.environ["ECHO_PORT"]
                grant = await call(s, "request", "request_access",
                                   {"secrets": ["api/token", "db/dev/url"], "reason": "api tests", "ttl": "10m"})
                gid = grant.get("grant_id")
                await call(s, "echo", "http_request", {"grant_id": gid, "method": "POST",
                    "url": f"http://127.0.0.1:{port}/echo?key={{{{secret:api/token}}}}",
                    "headers": {"Authorization": "Bearer {{secret:api/token}}"},
                    "body": "{\"token\": \"{{secret:api/token}}\"}"})
                await call(s, "exfil", "http_request", {"grant_id": gid, "method": "GET",
                    "url": f"http://127.0.0.1:{port}/steal",
                    "headers": {"X-Leak": "{{secret:db/dev/url}}"}})
                await call(s, "in_path", "http_request", {"grant_id": gid, "method": "GET",
                    "url": f"http://127.0.0.1:{port}/{{{{secret:api/token}}}}"})
                await call(s, "host_header", "http_request", {"grant_id": gid, "method": "GET",
                    "url": f"http://127.0.0.1:{port}/fronted",
                    "headers": {"HOST": "evil.example", "Authorization": "Bearer {{secret:api/token}}"}})
                return
            if scenario == "contain":
                grant = await call(s, "request", "request_access",
                                   {"secrets": ["db/dev/url"], "reason": "contain", "ttl": "10m"})
                gid = grant.get("grant_id")
                def leaving(name, then):
                    return ["sh", "-c", f"(setsid sh {name}.sh &); "
                            f"i=0; until [ -s {name}.pid ]; do sleep 0.02; i=$((i+1)); [ $i -gt 250 ] && exit 91; done; {then}"]
                await call(s, "exit", "run_command", {"grant_id": gid, "argv": leaving("exit", "true")})
                await call(s, "timeout", "run_command", {"grant_id": gid, "argv": leaving("timeout", "sleep 30"),
                                                         "timeout_s": 1})
                running = asyncio.create_task(s.call_tool("run_command", {"grant_id": gid,
                    "argv": leaving("revoke", "sleep 30"), "timeout_s": 60}))
                while not os.path.exists("revoke.pid"):
                    await asyncio.sleep(0.02)
                print(json.dumps({"label": "waiting", "data": gid}), flush=True)
                emit("revoke", await running)
                return
            tools = await s.list_tools()
            print(json.dumps({"label": "tools", "data": sorted(t.name for t in tools.tools)}), flush=True)
            await call(s, "list", "list_secrets", {})
            grant = await call(s, "request", "request_access",
                               {"secrets": ["db/dev/url"], "reason": "mcp tests", "ttl": "10m"})
            gid = grant.get("grant_id")
            if scenario == "approval":
                print(json.dumps({"label": "waiting", "data": gid}), flush=True)
                for _ in range(200):
                    st = await s.call_tool("access_status", {"grant_id": gid})
                    if st.structured_content.get("status") != "pending":
                        break
                    await asyncio.sleep(0.05)
                emit("status", st)
            await call(s, "encodings", "run_command", {"grant_id": gid, "argv": ["sh", "-c",
                "printf 'raw=%s\\n' \"$DB_DEV_URL\"; printf %s \"$DB_DEV_URL\" | base64; "
                "printf '{\"v\":\"%s\"}\\n' \"$DB_DEV_URL\"; echo err=$DB_DEV_URL >&2"]})
            await call(s, "named_env", "run_command", {"grant_id": gid, "argv": ["sh", "-c", "echo ${#DB}"],
                                                       "env": {"DB": "warrant://db/dev/url"}})
            await call(s, "stdin_cwd", "run_command", {"grant_id": gid, "argv": ["sh", "-c", "read x; echo $x; pwd"],
                                                       "stdin": "hello\n", "cwd": "/"})
            await call(s, "out_of_scope", "run_command", {"grant_id": gid, "argv": ["ls"]})
            await call(s, "flood", "run_command", {"grant_id": gid, "argv": ["sh", "-c", "yes | head -c 2000000000"], "timeout_s": 120})
            await call(s, "timeout", "run_command", {"grant_id": gid, "argv": ["sh", "-c", "sleep 30 & sleep 30"],
                                                     "timeout_s": 1})
            await call(s, "wrong_type", "run_command", {"grant_id": gid, "argv": "sh -c true"})
            try:
                res = await s.call_tool("no_such_tool", {})
                emit("unknown_tool", res)
            except Exception as e:
                print(json.dumps({"label": "unknown_tool", "error": True, "data": None, "text": str(e)}), flush=True)
            await call(s, "end", "end_task", {})
            await call(s, "after_end", "run_command", {"grant_id": gid, "argv": ["sh", "-c", "true"]})

asyncio.run(main(sys.argv[1], sys.argv[2]))
"#;

/// Where the SDK is installed, or a clear failure.
fn pydeps() -> PathBuf {
    let dir = std::env::var_os("WARRANT_TEST_PYDEPS").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/pydeps"),
        PathBuf::from,
    );
    let ok = Command::new("python3")
        .args(["-c", "import mcp"])
        .env("PYTHONPATH", &dir)
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        ok,
        "the MCP Python SDK is not in {}; run scripts/test.sh, which installs it",
        dir.display()
    );
    dir
}

/// Runs the driver as `actor`; `between` runs once the driver says it waits.
fn drive(home: &Home, actor: &str, scenario: &str, between: impl FnOnce(&str)) -> Vec<Value> {
    drive_with(home, actor, scenario, &[], between)
}

fn drive_with(
    home: &Home,
    actor: &str,
    scenario: &str,
    env: &[(&str, String)],
    between: impl FnOnce(&str),
) -> Vec<Value> {
    drive_as(home, None, actor, scenario, env, between)
}

/// `task_actor`: run the client (and so the server it starts) under
/// `warrant task --actor TASK_ACTOR`.
fn drive_as(
    home: &Home,
    task_actor: Option<&str>,
    actor: &str,
    scenario: &str,
    env: &[(&str, String)],
    between: impl FnOnce(&str),
) -> Vec<Value> {
    let driver = home.scratch().join("driver.py");
    std::fs::write(&driver, DRIVER).unwrap();
    let mut cmd = match task_actor {
        Some(task_actor) => {
            let mut cmd = home.std_cmd();
            cmd.args(["task", "--actor", task_actor, "--", "python3"]);
            cmd
        }
        None => Command::new("python3"),
    };
    cmd.arg(&driver)
        .args([actor, scenario])
        .env("PYTHONPATH", pydeps())
        .env("PATH", path_with_bin())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    home.configure(&mut cmd);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("python3");
    let stdout = child.stdout.take().unwrap();
    let mut lines = Vec::new();
    let mut between = Some(between);
    for line in std::io::BufRead::lines(std::io::BufReader::new(stdout)) {
        let value: Value = serde_json::from_str(&line.unwrap()).expect("a JSON line");
        if value["label"] == "waiting"
            && let Some(f) = between.take()
        {
            f(value["data"].as_str().unwrap());
        }
        lines.push(value);
    }
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "driver failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    lines
}

fn step<'a>(lines: &'a [Value], label: &str) -> &'a Value {
    lines
        .iter()
        .find(|l| l["label"] == label)
        .unwrap_or_else(|| panic!("no step {label} in {lines:#?}"))
}

/// `max_uses`: the grant's use limit, when the policy sets one (codex: 3).
fn check_session(home: &Home, value: &str, lines: &[Value], max_uses: Option<u64>) {
    let tools = &step(lines, "tools")["data"];
    assert_eq!(
        tools,
        &serde_json::json!([
            "access_status",
            "end_task",
            "http_request",
            "list_secrets",
            "request_access",
            "run_command"
        ])
    );
    let list = &step(lines, "list")["data"]["secrets"];
    assert_eq!(list[0]["name"], "db/dev/url");

    let enc = step(lines, "encodings");
    assert_eq!(enc["error"], false, "{enc}");
    let out = enc["data"]["stdout"].as_str().unwrap();
    assert_eq!(out.matches("<redacted:db/dev/url>").count(), 3, "{out}");
    assert_eq!(enc["data"]["stderr"], "err=<redacted:db/dev/url>\n");
    assert_eq!(enc["data"]["exit_code"], 0);

    let named = step(lines, "named_env");
    assert_eq!(
        named["data"]["stdout"].as_str().unwrap().trim(),
        value.len().to_string()
    );
    let io = step(lines, "stdin_cwd");
    assert_eq!(io["data"]["stdout"], "hello\n/\n");

    let scope = step(lines, "out_of_scope");
    assert_eq!(scope["error"], true);
    assert_eq!(scope["data"]["error"], "out_of_scope");

    let flood = step(lines, "flood");
    if max_uses == Some(3) {
        // Three uses so far: the fourth is refused, over MCP as anywhere.
        assert_eq!(flood["error"], true, "{flood}");
        assert_eq!(flood["data"]["error"], "not_active");
    } else {
        assert_eq!(flood["data"]["truncated"], true);
        assert!(flood["data"]["stdout"].as_str().unwrap().len() < 100_000);
        let timeout = step(lines, "timeout");
        assert_eq!(timeout["data"]["timed_out"], true, "{timeout}");
        assert_ne!(timeout["data"]["exit_code"], 0);
    }

    assert_eq!(step(lines, "wrong_type")["error"], true);
    assert_eq!(step(lines, "unknown_tool")["error"], true);

    let end = step(lines, "end");
    assert_eq!(end["data"]["revoked"].as_array().unwrap().len(), 1, "{end}");
    let after = step(lines, "after_end");
    assert_eq!(after["error"], true);
    assert_eq!(after["data"]["error"], "not_active");

    // Nothing the client saw, and nothing on disk, holds the value.
    let all = serde_json::to_string(lines).unwrap();
    assert!(!all.contains(value), "a value reached the MCP client");
    assert!(!contains(&home.all_bytes(), value.as_bytes()));
    let audit = home.audit_text();
    assert!(audit.contains("\"event\":\"grant_used\""));
    assert!(audit.contains("\"event\":\"use_refused\""));
    assert!(audit.contains("\"event\":\"run\""));
    assert!(audit.contains("\"event\":\"secrets_listed\""));
    assert!(audit.contains("\"event\":\"grant_revoked\""));
}

#[test]
fn an_agent_uses_a_credential_over_mcp_without_seeing_it() {
    let (home, value, _daemon) = Home::with_daemon();
    let lines = drive(&home, "bot", "auto", |_| {});
    assert_eq!(step(&lines, "request")["data"]["status"], "active");
    check_session(&home, &value, &lines, None);
}

#[test]
fn a_pending_grant_approved_from_the_cli_meanwhile_works_over_mcp() {
    let (home, value, _daemon) = Home::with_daemon();
    // codex's rule needs approval, and allows sh.
    let lines = drive(&home, "codex", "approval", |id| {
        home.cmd()
            .args(["approve", id])
            .write_stdin(format!("{APPROVER}\n"))
            .assert()
            .success();
    });
    let request = step(&lines, "request");
    assert_eq!(request["data"]["status"], "pending");
    assert!(
        request["data"]["message"]
            .as_str()
            .unwrap()
            .contains("warrant approve")
    );
    assert_eq!(step(&lines, "status")["data"]["status"], "active");
    assert!(home.audit_text().contains("\"event\":\"grant_checked\""));
    check_session(&home, &value, &lines, Some(3));
}

#[test]
fn the_server_survives_malformed_input() {
    let (home, _value, _daemon) = Home::with_daemon();
    let mut cmd = home.std_cmd();
    cmd.args(["mcp", "--actor", "bot"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    let mut stdin = child.stdin.take().unwrap();
    use std::io::Write;
    // Not JSON, a huge line, a request of the wrong shape, then a proper
    // initialize: the server must still answer it.
    stdin.write_all(b"this is not json\n").unwrap();
    let big = format!(
        "{{\"jsonrpc\":\"2.0\",\"id\":99,\"method\":\"ping\",\"params\":{{\"x\":\"{}\"}}}}\n",
        "a".repeat(4 << 20)
    );
    stdin.write_all(big.as_bytes()).unwrap();
    stdin
        .write_all(b"{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":42}\n")
        .unwrap();
    stdin
        .write_all(
            br#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"0"}}}
"#,
        )
        .unwrap();
    stdin.flush().unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut reader = std::io::BufReader::new(stdout);
    let mut answered = false;
    for _ in 0..10 {
        let mut line = String::new();
        if std::io::BufRead::read_line(&mut reader, &mut line).unwrap() == 0 {
            break;
        }
        let value: Value = serde_json::from_str(&line).expect("stdout carries only JSON-RPC");
        if value["id"] == 1 {
            assert!(value["result"]["serverInfo"].is_object(), "{value}");
            answered = true;
            break;
        }
    }
    drop(stdin);
    let _ = child.kill();
    let _ = child.wait();
    assert!(
        answered,
        "the server did not answer initialize after malformed input"
    );
}

/// A server on loopback that records each request it gets and answers with
/// the request itself as the body (so a value sent comes straight back).
fn echo_server() -> (u16, std::sync::Arc<std::sync::Mutex<Vec<u8>>>) {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let record = std::sync::Arc::clone(&seen);
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            stream
                .set_read_timeout(Some(std::time::Duration::from_secs(5)))
                .unwrap();
            let mut request = Vec::new();
            let mut buf = [0u8; 4096];
            // Headers, then as much body as Content-Length says.
            loop {
                let n = stream.read(&mut buf).unwrap_or(0);
                if n == 0 {
                    break;
                }
                request.extend_from_slice(&buf[..n]);
                let text = String::from_utf8_lossy(&request).to_string();
                if let Some(end) = text.find("\r\n\r\n") {
                    let length = text
                        .lines()
                        .find_map(|l| {
                            l.to_ascii_lowercase()
                                .strip_prefix("content-length:")
                                .map(|v| v.trim().parse::<usize>().unwrap_or(0))
                        })
                        .unwrap_or(0);
                    if request.len() >= end + 4 + length {
                        break;
                    }
                }
            }
            record.lock().unwrap().extend_from_slice(&request);
            let reply = format!(
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nX-Echo: {}\r\nConnection: close\r\n\r\n",
                request.len(),
                String::from_utf8_lossy(&request)
                    .lines()
                    .find(|l| l.to_ascii_lowercase().starts_with("authorization"))
                    .unwrap_or("")
            );
            let _ = stream.write_all(reply.as_bytes());
            let _ = stream.write_all(&request);
        }
    });
    (port, seen)
}

const API_RULES: &str = r#"
[actors.api]
kind = "agent"

[[rules]]
actors   = ["api"]
secrets  = ["api/token"]
hosts    = ["127.0.0.1:*"]
allow_http = true
substitute_in = ["query", "body"]
max_ttl  = "10m"
approval = "auto"

[[rules]]
actors   = ["api"]
secrets  = ["db/dev/url"]
hosts    = ["db.internal"]
max_ttl  = "10m"
approval = "auto"
"#;

#[test]
fn http_request_substitutes_only_toward_allowed_hosts_and_redacts_the_answer() {
    let home = Home::with_approver();
    let token = crate::harness::fake_value("api");
    let db = crate::harness::fake_value("db");
    home.set("api/token", &token);
    home.set("db/dev/url", &db);
    home.write_policy(&format!("{}{API_RULES}", crate::harness::POLICY));
    let _daemon = home.serve();
    let (port, seen) = echo_server();
    let lines = drive_with(
        &home,
        "api",
        "http",
        &[("ECHO_PORT", port.to_string())],
        |_| {},
    );

    assert_eq!(step(&lines, "request")["data"]["status"], "active");
    let echo = step(&lines, "echo");
    assert_eq!(echo["error"], false, "{echo}");
    assert_eq!(echo["data"]["status"], 200);
    let body = echo["data"]["body"].as_str().unwrap();
    // The server got the real value three times: query (encoded), header, body.
    let received = String::from_utf8_lossy(&seen.lock().unwrap()).to_string();
    assert!(received.contains(&format!("Bearer {token}")), "{received}");
    assert!(
        received.contains(&format!("\"token\": \"{token}\"")),
        "{received}"
    );
    assert!(received.contains(&format!("key={token}")), "{received}");
    // The agent sees it redacted, in the body and in the headers.
    assert!(body.contains("Bearer <redacted:api/token>"), "{body}");
    assert!(!body.contains(&token));
    assert_eq!(
        echo["data"]["headers"]["x-echo"]
            .as_str()
            .unwrap()
            .to_ascii_lowercase(),
        "authorization: bearer <redacted:api/token>"
    );

    let exfil = step(&lines, "exfil");
    assert_eq!(exfil["error"], true);
    assert_eq!(exfil["data"]["error"], "forbidden");
    assert!(
        !received.contains("/steal"),
        "the server saw the refused request"
    );
    assert!(!received.contains(&db));
    let in_path = step(&lines, "in_path");
    assert_eq!(in_path["data"]["error"], "bad_request");
    // A Host header that could route the value elsewhere behind a shared
    // front is refused before anything is sent.
    let host_header = step(&lines, "host_header");
    assert_eq!(host_header["data"]["error"], "bad_request");
    assert!(!received.contains("/fronted"));

    let all = serde_json::to_string(&lines).unwrap();
    assert!(
        !all.contains(&token) && !all.contains(&db),
        "a value reached the client"
    );
    let audit = home.audit_text();
    assert!(audit.contains("\"event\":\"substituted\""));
    assert!(audit.contains("exfiltration attempt"));
    assert!(!audit.contains(&token));
}

#[test]
fn install_adds_the_entry_once_and_keeps_the_rest() {
    let home = Home::new();
    let user = home.scratch().join("user");
    let codex = user.join(".codex");
    std::fs::create_dir_all(&codex).unwrap();
    let before =
        "# my settings\nmodel = \"o4\"\n\n[mcp_servers.other]\ncommand = \"other\" # keep me\n";
    std::fs::write(codex.join("config.toml"), before).unwrap();
    let install = |extra: &[&str]| {
        let mut cmd = home.std_cmd();
        cmd.args(["mcp", "install", "--client", "codex", "--actor", "codex"])
            .args(extra)
            .env("HOME", &user)
            .env_remove("CODEX_HOME")
            .env_remove("XDG_CONFIG_HOME");
        cmd.output().unwrap()
    };
    let dry = install(&["--dry-run"]);
    assert!(dry.status.success());
    assert!(String::from_utf8_lossy(&dry.stdout).contains("+[mcp_servers.warrant]"));
    assert_eq!(
        std::fs::read_to_string(codex.join("config.toml")).unwrap(),
        before
    );

    assert!(install(&[]).status.success());
    let after = std::fs::read_to_string(codex.join("config.toml")).unwrap();
    assert!(after.starts_with(before), "the rest changed:\n{after}");
    assert!(after.contains("[mcp_servers.warrant]"));
    assert!(after.contains("args = [\"mcp\", \"--actor\", \"codex\"]"));
    // The home is not the default one, so the entry names it.
    assert!(after.contains("WARRANT_HOME"), "{after}");
    assert_eq!(
        std::fs::read_to_string(codex.join("config.toml.warrant-backup")).unwrap(),
        before
    );
    let again = install(&[]);
    assert!(String::from_utf8_lossy(&again.stdout).contains("nothing changed"));
    assert_eq!(
        std::fs::read_to_string(codex.join("config.toml")).unwrap(),
        after
    );
}

#[test]
fn under_a_task_the_server_acts_for_the_tasks_actor() {
    let (home, value, _daemon) = Home::with_daemon();
    // The client's configuration says codex (approval required); the task
    // says bot (automatic approval): the task wins.
    let lines = drive_as(&home, Some("bot"), "codex", "auto", &[], |_| {});
    assert_eq!(step(&lines, "request")["data"]["status"], "active");
    let enc = step(&lines, "encodings");
    assert!(
        enc["data"]["stdout"]
            .as_str()
            .unwrap()
            .contains("<redacted:db/dev/url>")
    );
    let requested = home.audit_events("grant_requested");
    assert_eq!(requested[0]["actor"], "bot");
    assert!(requested[0]["task"].is_string(), "{requested:?}");
    assert!(!serde_json::to_string(&lines).unwrap().contains(&value));
}

#[test]
fn the_server_speaks_each_protocol_revision_clients_use() {
    let (home, _value, _daemon) = Home::with_daemon();
    for version in ["2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25"] {
        let mut cmd = home.std_cmd();
        cmd.args(["mcp", "--actor", "bot"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        let mut child = cmd.spawn().unwrap();
        let mut stdin = child.stdin.take().unwrap();
        use std::io::Write;
        let requests = [
            serde_json::json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
                "protocolVersion": version, "capabilities": {},
                "clientInfo": {"name": "t", "version": "0"}}}),
            serde_json::json!({"jsonrpc": "2.0", "method": "notifications/initialized"}),
            serde_json::json!({"jsonrpc": "2.0", "id": 2, "method": "tools/list"}),
        ];
        for r in requests {
            writeln!(stdin, "{r}").unwrap();
        }
        stdin.flush().unwrap();
        let mut reader = std::io::BufReader::new(child.stdout.take().unwrap());
        let mut answers = std::collections::BTreeMap::new();
        while answers.len() < 2 {
            let mut line = String::new();
            if std::io::BufRead::read_line(&mut reader, &mut line).unwrap() == 0 {
                break;
            }
            let value: Value = serde_json::from_str(&line).unwrap();
            if let Some(id) = value["id"].as_u64() {
                answers.insert(id, value);
            }
        }
        drop(stdin);
        let _ = child.kill();
        let _ = child.wait();
        assert_eq!(
            answers[&1]["result"]["protocolVersion"], version,
            "{answers:?}"
        );
        let tools = answers[&2]["result"]["tools"].as_array().unwrap();
        assert_eq!(tools.len(), 6, "{version}: {tools:?}");
    }
}

/// The third escape: a `setsid` child of `run_command` survived the
/// command's timeout and its grant's revocation. Now it ends with the
/// command: when it exits, at its timeout, and when the daemon ends it at
/// the revocation, before the tool answers.
#[test]
fn a_setsid_child_of_run_command_ends_with_the_command() {
    let (home, _value, _daemon) = Home::with_daemon();
    let dir = home.scratch();
    for name in ["exit", "timeout", "revoke"] {
        std::fs::write(
            dir.join(format!("{name}.sh")),
            format!("trap '' TERM\necho $$ > {name}.pid.tmp && mv {name}.pid.tmp {name}.pid\nexec sleep 30 </dev/null >/dev/null 2>&1\n"),
        )
        .unwrap();
    }
    let lines = drive(&home, "bot", "contain", |gid| {
        let revoked = home.cmd().args(["revoke", gid]).output().unwrap();
        assert!(revoked.status.success());
    });
    assert_eq!(step(&lines, "exit")["data"]["exit_code"], 0, "{lines:#?}");
    assert_eq!(
        step(&lines, "timeout")["data"]["timed_out"],
        true,
        "{lines:#?}"
    );
    assert_ne!(step(&lines, "revoke")["data"]["exit_code"], 0, "{lines:#?}");
    for name in ["exit", "timeout", "revoke"] {
        let pid: u32 = std::fs::read_to_string(dir.join(format!("{name}.pid")))
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        assert!(
            !crate::harness::pid_alive(pid),
            "{name}: the setsid child {pid} outlived its command"
        );
    }
}
