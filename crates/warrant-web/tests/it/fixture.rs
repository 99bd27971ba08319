//! A daemon in this process, the page's router over it, and requests.

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::connect_info::MockConnectInfo;
use axum::http::{Request, Response, header};
use http_body_util::BodyExt as _;
use tower::ServiceExt as _;
use warrant_broker::protocol::GrantRequest;
use warrant_broker::server::{self, ServeOptions};
use warrant_broker::{Client, Daemon, Verifier};
use warrant_secret::{SecretName, SecretValue};
use warrant_store::{KeyProtection, LocalStore, SecretStore};

pub const APPROVER: &str = "approver-passphrase-for-tests";
pub const PORT: u16 = 7341;
pub const ORIGIN: &str = "http://localhost:7341";

const POLICY: &str = r#"
[actors.codex]
kind = "agent"

[[rules]]
actors   = ["codex"]
secrets  = ["db/dev/*"]
max_ttl  = "30m"
approval = "required"

[[rules]]
actors   = ["codex"]
secrets  = ["db/prod/*"]
max_ttl  = "30m"
approval = "hardware_key"
"#;

pub struct Page {
    pub dir: tempfile::TempDir,
    pub router: Router,
    /// A real loopback connection whose client end this process holds:
    /// requests sent with `oneshot` stand for ones that came on it, so the
    /// daemon traces them to this process, as it would a browser's.
    _link: (std::net::TcpStream, std::net::TcpStream),
}

impl Page {
    /// A home with a store, an approver and a policy; a daemon on it.
    pub fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let home = dir.path().join("home");
        let store = LocalStore::init(&home, KeyProtection::KeyFile).unwrap();
        for name in ["db/dev/url", "db/prod/url"] {
            let value = SecretValue::from(format!("fake-{name}-value-000000").into_bytes());
            store
                .set(&SecretName::new(name).unwrap(), &value, None)
                .unwrap();
        }
        Verifier::create(APPROVER.as_bytes(), true)
            .unwrap()
            .save(&home)
            .unwrap();
        let policy = dir.path().join("warrant.toml");
        std::fs::write(&policy, POLICY).unwrap();
        let (tx, rx) = std::sync::mpsc::channel::<Daemon>();
        let options = ServeOptions {
            home: home.clone(),
            policy: Some(policy),
            store: Arc::new(warrant_dynamic::stores::Stores::local_only(Arc::new(store))),
            insecure_fast_kdf: true,
            extensions: vec![Box::new(move |daemon| {
                Box::pin(async move {
                    tx.send(daemon).unwrap();
                    std::future::pending::<()>().await;
                })
            })],
            state: Default::default(),
            egress: Default::default(),
        };
        // The daemon lives as long as the test process.
        std::thread::spawn(move || server::serve(options, |_| {}).expect("daemon"));
        let daemon = rx.recv().unwrap();
        let state = warrant_web::AppState::new(daemon, home, PORT).unwrap();
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let client = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (server, _) = listener.accept().unwrap();
        let connection = warrant_web::Connection {
            local: server.local_addr().unwrap(),
            remote: server.peer_addr().unwrap(),
        };
        Self {
            dir,
            router: warrant_web::router(state).layer(MockConnectInfo(connection)),
            _link: (client, server),
        }
    }

    pub fn home(&self) -> std::path::PathBuf {
        self.dir.path().join("home")
    }

    /// An agent's request through the daemon's socket; the grant's id.
    pub fn request(&self, secret: &str) -> String {
        let mut client = Client::connect(&self.home()).unwrap();
        let view = client
            .request(GrantRequest {
                secrets: vec![secret.into()],
                reason: "tests".into(),
                ttl_ms: 600_000,
                commands: vec![],
                hosts: vec![],
                actor: Some("codex".into()),
            })
            .unwrap();
        view.id
    }

    /// Sends a request; `host` defaults to the page's.
    pub async fn send(&self, request: Request<Body>) -> Response<Body> {
        self.router.clone().oneshot(request).await.unwrap()
    }

    /// Signs in; returns (cookie, csrf).
    pub async fn sign_in(&self) -> (String, String) {
        let response = self
            .send(post(
                "/api/session",
                None,
                &format!(r#"{{"passphrase":"{APPROVER}"}}"#),
            ))
            .await;
        assert_eq!(response.status(), 200);
        let cookie = response.headers()[header::SET_COOKIE]
            .to_str()
            .unwrap()
            .split(';')
            .next()
            .unwrap()
            .to_owned();
        let body = json(response).await;
        (cookie, body["csrf"].as_str().unwrap().to_owned())
    }
}

/// A GET from the page's own origin.
pub fn get(path: &str, cookie: Option<&str>) -> Request<Body> {
    let mut builder = Request::get(path).header(header::HOST, "localhost:7341");
    if let Some(cookie) = cookie {
        builder = builder.header(header::COOKIE, cookie);
    }
    builder.body(Body::empty()).unwrap()
}

/// A JSON POST from the page's own origin, with the cookie if given.
pub fn post(path: &str, cookie: Option<&str>, body: &str) -> Request<Body> {
    let mut builder = Request::post(path)
        .header(header::HOST, "localhost:7341")
        .header(header::ORIGIN, ORIGIN)
        .header(header::CONTENT_TYPE, "application/json");
    if let Some(cookie) = cookie {
        builder = builder.header(header::COOKIE, cookie);
    }
    builder.body(Body::from(body.to_owned())).unwrap()
}

pub async fn json(response: Response<Body>) -> serde_json::Value {
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null)
}
