//! The approval page (`warrant serve`'s web page) in a real headless
//! Chromium, against a real daemon, with agents' requests made through the
//! real binary.

mod browser;
mod key;
mod origin;
mod page;

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::Stdio;

use crate::harness::{Daemon, Home, wait_for};

/// Starts `warrant serve --ui-port 0` (a free port); returns the daemon and
/// the page's address, as `warrant ui` prints it.
fn serve_with_page(home: &Home) -> (Daemon, String) {
    let child = home
        .std_cmd()
        .args(["serve", "--ui-port", "0"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start warrant serve");
    let daemon = Daemon { child: Some(child) };
    assert!(
        wait_for(&home.path().join("ui-url")),
        "no approval page within 10 s"
    );
    let ui = home.run(&["ui"]);
    assert_eq!(ui.code, 0, "{ui:?}");
    let url = ui.stdout.trim().to_owned();
    assert!(url.starts_with("http://localhost:"), "{url}");
    (daemon, url)
}

/// A runtime for the async WebDriver client.
fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// Where screenshots go: `target/.../screenshots`, and `docs/screenshots`
/// (the README's) when `WARRANT_UPDATE_SCREENSHOTS=1`.
fn save_screenshot(name: &str, png: &[u8]) {
    assert!(png.starts_with(b"\x89PNG"), "a PNG");
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(name), png).unwrap();
    if std::env::var_os("WARRANT_UPDATE_SCREENSHOTS").is_some_and(|v| v == "1") {
        let docs = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/screenshots");
        std::fs::create_dir_all(&docs).unwrap();
        std::fs::write(docs.join(name), png).unwrap();
    }
}

/// A page on another origin of the same site (`http://localhost:OTHER`,
/// so the browser does send the session cookie): it posts a form to the
/// approval page as soon as it loads. Serves `count` requests, then stops.
fn hostile_page(target: String, count: usize) -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let html = format!(
            "<!doctype html><title>other site</title>\
             <form method=POST action=\"{target}\" enctype=\"text/plain\">\
             <input name='{{\"reason\":\"csrf\",\"x\":\"' value='\"}}'></form>\
             <script>document.forms[0].submit()</script>"
        );
        for stream in listener.incoming().take(count) {
            let Ok(mut stream) = stream else { continue };
            let mut buf = [0u8; 4096];
            let _ = stream.read(&mut buf);
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\ncontent-type: text/html\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{html}",
                html.len()
            );
        }
    });
    format!("http://localhost:{port}/")
}
