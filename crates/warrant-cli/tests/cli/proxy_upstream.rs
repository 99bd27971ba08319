//! A local TLS upstream for the proxy tests: a Python server (the standard
//! library's `http.server` and `ssl`) with a certificate from a test CA made
//! here with rcgen. It answers every name under `example.test` (the proxy
//! reaches it through `--resolve`), echoes what it received, logs every
//! request it saw, redirects on demand and serves a git repository through
//! `git http-backend` to callers holding the real token.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use serde_json::Value;

/// The server. `GET|POST /echo`: 200 with a JSON echo of the method, path,
/// headers and body, and the Authorization header again in the response's
/// `X-Echo-Authorization`. `/redirect?to=URL`: 302 there. `/repo.git/...`:
/// `git http-backend`, only with `Authorization: Bearer $UPSTREAM_TOKEN`.
/// A drop box, as an allowed API that keeps what it is sent would be:
/// `/store` keeps the request's Authorization header (or its body when it
/// has none); `/stored?offset=N&len=M` serves what was kept, or a piece of
/// it; `/wait-stored` waits (up to 10 s) until something is kept, then
/// serves it (a long poll). Every request is appended to the log as one
/// JSON line first. It listens on `$UPSTREAM_BIND:$UPSTREAM_PORT`
/// (127.0.0.1 and a free port by default).
const SERVER: &str = r#"
import json, os, ssl, subprocess, sys, threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit, parse_qs

cert, key, log_path, git_root = sys.argv[1:5]
token = os.environ["UPSTREAM_TOKEN"]
lock = threading.Lock()
kept = threading.Condition()
box = {"data": None}

class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def body(self):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            data = b""
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return data
                data += self.rfile.read(size)
                self.rfile.readline()
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def handle_any(self):
        body = self.body()
        seen = {
            "method": self.command,
            "path": self.path,
            "host": self.headers.get("Host", ""),
            "headers": [[k, v] for k, v in self.headers.items()],
            "body": body.decode("latin-1"),
        }
        with lock, open(log_path, "a") as log:
            log.write(json.dumps(seen) + "\n")
        url = urlsplit(self.path)
        if url.path == "/store":
            with kept:
                auth = self.headers.get("Authorization")
                box["data"] = auth.encode("latin-1") if auth else body
                kept.notify_all()
            return self.reply(b"kept")
        if url.path in ("/stored", "/wait-stored"):
            with kept:
                if url.path == "/wait-stored":
                    kept.wait_for(lambda: box["data"] is not None, timeout=10)
                data = box["data"] or b""
            query = parse_qs(url.query)
            offset = int(query.get("offset", ["0"])[0])
            length = int(query.get("len", [str(len(data))])[0])
            return self.reply(data[offset:offset + length])
        if url.path.startswith("/repo.git"):
            return self.git(url, body)
        if url.path == "/redirect":
            self.send_response(302)
            self.send_header("Location", parse_qs(url.query)["to"][0])
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        out = json.dumps(seen).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("X-Echo-Authorization", self.headers.get("Authorization", ""))
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)

    def reply(self, data):
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def git(self, url, body):
        if self.headers.get("Authorization", "") != "Bearer " + token:
            self.send_response(401)
            self.send_header("WWW-Authenticate", 'Basic realm="test"')
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        env = dict(os.environ)
        env.update({
            "GIT_PROJECT_ROOT": git_root,
            "GIT_HTTP_EXPORT_ALL": "1",
            "REQUEST_METHOD": self.command,
            "PATH_INFO": url.path,
            "QUERY_STRING": url.query,
            "CONTENT_TYPE": self.headers.get("Content-Type", ""),
            "CONTENT_LENGTH": str(len(body)),
            "REMOTE_USER": "test",
            "REMOTE_ADDR": "127.0.0.1",
            "HTTP_CONTENT_ENCODING": self.headers.get("Content-Encoding", ""),
            "GIT_PROTOCOL": self.headers.get("Git-Protocol", ""),
        })
        cgi = subprocess.run(["git", "http-backend"], input=body, env=env, capture_output=True)
        head, _, payload = cgi.stdout.partition(b"\r\n\r\n")
        status, headers = 200, []
        for line in head.decode("latin-1").split("\r\n"):
            name, _, value = line.partition(":")
            if name.lower() == "status":
                status = int(value.strip().split()[0])
            elif name:
                headers.append((name, value.strip()))
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = do_PUT = handle_any

context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
context.load_cert_chain(cert, key)
bind = (os.environ.get("UPSTREAM_BIND", "127.0.0.1"), int(os.environ.get("UPSTREAM_PORT", "0")))
server = ThreadingHTTPServer(bind, Handler)
server.daemon_threads = True
server.socket = context.wrap_socket(server.socket, server_side=True)
print(server.server_address[1], flush=True)
server.serve_forever()
"#;

/// Names the upstream's certificate covers.
const NAMES: &[&str] = &["*.example.test", "localhost"];

/// A running upstream, killed when dropped.
pub struct Upstream {
    child: Child,
    /// Where it listens (127.0.0.1).
    pub addr: SocketAddr,
    /// The test CA's certificate (PEM), for `--upstream-ca`.
    pub ca: PathBuf,
    log: PathBuf,
    /// The directory `git http-backend` serves (`repo.git` inside).
    pub git_root: PathBuf,
}

impl Upstream {
    /// Starts a server in `dir` that serves git only to `token`.
    pub fn start(dir: &Path, token: &str) -> Self {
        Self::start_at(dir, token, SocketAddr::from(([127, 0, 0, 1], 0)))
    }

    /// [`Upstream::start`] on `bind` (port 0: a free one): another loopback
    /// address on the same port is where an attacker would wait.
    pub fn start_at(dir: &Path, token: &str, bind: SocketAddr) -> Self {
        std::fs::create_dir_all(dir).unwrap();
        let (ca_pem, cert_pem, key_pem) = certificates();
        let ca = dir.join("upstream-ca.pem");
        let cert = dir.join("upstream-cert.pem");
        let key = dir.join("upstream-key.pem");
        std::fs::write(&ca, ca_pem).unwrap();
        std::fs::write(&cert, cert_pem).unwrap();
        std::fs::write(&key, key_pem).unwrap();
        let script = dir.join("upstream.py");
        std::fs::write(&script, SERVER).unwrap();
        let log = dir.join("upstream.jsonl");
        let git_root = dir.join("git");
        std::fs::create_dir_all(&git_root).unwrap();
        let mut child = Command::new("python3")
            .arg(&script)
            .args([&cert, &key, &log, &git_root])
            .env("UPSTREAM_TOKEN", token)
            .env("UPSTREAM_BIND", bind.ip().to_string())
            .env("UPSTREAM_PORT", bind.port().to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start the upstream (python3)");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let port: u16 = line
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("the upstream did not start: {line:?}"));
        Self {
            child,
            addr: SocketAddr::new(bind.ip(), port),
            ca,
            log,
            git_root,
        }
    }

    /// Every request it received, oldest first.
    pub fn seen(&self) -> Vec<Value> {
        std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    /// The log as text (to look for a value or a placeholder anywhere).
    pub fn seen_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// `--resolve` flags sending each of `hosts` here.
    pub fn resolve_flags(&self, hosts: &[&str]) -> Vec<String> {
        hosts
            .iter()
            .flat_map(|h| ["--resolve".to_owned(), format!("{h}={}", self.addr)])
            .collect()
    }

    /// Makes `repo.git`, a bare repository with one commit adding `README`
    /// holding `content`.
    pub fn make_repo(&self, content: &str) {
        let work = self.git_root.join("work");
        let git = |dir: &Path, args: &[&str]| {
            let status = Command::new("git")
                .args(args)
                .current_dir(dir)
                .env("GIT_CONFIG_NOSYSTEM", "1")
                .env("HOME", &self.git_root)
                .stdout(Stdio::null())
                .status()
                .expect("git");
            assert!(status.success(), "git {args:?} failed");
        };
        std::fs::create_dir_all(&work).unwrap();
        git(&self.git_root, &["init", "-q", "--bare", "repo.git"]);
        git(&work, &["init", "-q", "-b", "main"]);
        std::fs::write(work.join("README"), content).unwrap();
        git(&work, &["add", "README"]);
        git(
            &work,
            &[
                "-c",
                "user.name=t",
                "-c",
                "user.email=t@example.test",
                "commit",
                "-q",
                "-m",
                "one",
            ],
        );
        let bare = self.git_root.join("repo.git");
        git(&work, &["push", "-q", bare.to_str().unwrap(), "main"]);
        git(&bare, &["symbolic-ref", "HEAD", "refs/heads/main"]);
    }
}

impl Drop for Upstream {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A test CA and a certificate for [`NAMES`] it signed: (CA PEM, leaf PEM,
/// leaf key PEM).
fn certificates() -> (String, String, String) {
    use rcgen::{
        BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose,
    };
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "warrant test upstream CA");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca_cert = ca_params.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca_params, ca_key);
    let leaf_key = KeyPair::generate().unwrap();
    let names: Vec<String> = NAMES.iter().map(|n| (*n).to_owned()).collect();
    let mut leaf_params = CertificateParams::new(names).unwrap();
    leaf_params
        .distinguished_name
        .push(DnType::CommonName, "upstream.example.test");
    let leaf = leaf_params.signed_by(&leaf_key, &issuer).unwrap();
    (ca_cert.pem(), leaf.pem(), leaf_key.serialize_pem())
}
