//! Nobody else serves the page's origin: the daemon holds the page's port
//! on 127.0.0.1 and [::1] (browsers try both for `localhost`), refuses to
//! serve a page whose address another process holds and says who, and the
//! browser reaches the daemon whichever address it picks.

use std::io::Read;
use std::net::{SocketAddr, TcpListener};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use super::browser::Browser;
use super::{runtime, serve_with_page};
use crate::harness::{APPROVER, Daemon, Home, POLICY, wait_for};

/// Whether this machine has an IPv6 loopback to test with.
fn ipv6_loopback() -> bool {
    let usable = TcpListener::bind("[::1]:0").is_ok();
    if !usable {
        eprintln!("skipped: [::1] cannot be bound on this machine");
    }
    usable
}

/// A process of its own listening on `host:port` (0 for any free port),
/// as an agent squatting the page's address would; killed on drop.
struct Squatter {
    child: Child,
    port: u16,
}

impl Squatter {
    /// `None` when it cannot listen there.
    fn start(host: &str, port: u16) -> Option<Self> {
        let family = if host.contains(':') {
            "AF_INET6"
        } else {
            "AF_INET"
        };
        let script = format!(
            "import socket,sys,time; s=socket.socket(socket.{family}); \
             s.bind(('{host}', {port})); s.listen(); \
             sys.stdout.write('%05d' % s.getsockname()[1]); sys.stdout.flush(); time.sleep(120)"
        );
        let mut child = Command::new("python3")
            .args(["-c", &script])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("python3");
        let mut port = [0_u8; 5];
        if child.stdout.take().unwrap().read_exact(&mut port).is_err() {
            let _ = child.wait();
            return None;
        }
        let port = std::str::from_utf8(&port).unwrap().parse().unwrap();
        Some(Self { child, port })
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Squatter {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Whether `addr` can be bound now (nobody holds it).
fn free(addr: &str) -> bool {
    TcpListener::bind(addr).is_ok()
}

/// `warrant serve ARGS` until it exits; `None` (after killing it) if it
/// still runs after 20 s, that is, if it served.
fn serve_until_exit(home: &Home, args: &[&str]) -> Option<Output> {
    let mut child = home
        .std_cmd()
        .arg("serve")
        .args(args)
        .env_remove("WARRANT_UI_PORT")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start warrant serve");
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if child.try_wait().unwrap().is_some() {
            return Some(child.wait_with_output().unwrap());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
    None
}

#[test]
fn a_squatted_page_address_is_not_served_and_its_holder_is_named() {
    if !ipv6_loopback() {
        return;
    }
    // Squat one address of a port that is free on the other, as an agent
    // would before the daemon starts.
    for host in ["::1", "127.0.0.1"] {
        let squatter = (0..20)
            .filter_map(|_| Squatter::start(host, 0))
            .find(|s| {
                let other = if host == "::1" {
                    format!("127.0.0.1:{}", s.port)
                } else {
                    format!("[::1]:{}", s.port)
                };
                free(&other)
            })
            .expect("a port free on the other address");
        let port = squatter.port.to_string();
        let address = SocketAddr::new(host.parse().unwrap(), squatter.port).to_string();

        let home = Home::with_approver();
        home.write_policy(POLICY);
        let served = serve_until_exit(&home, &["--ui-port", &port]);
        let output = served.unwrap_or_else(|| panic!("{address}: the daemon served the page"));
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "{address}: {stderr}");
        assert!(stderr.contains("NOT served"), "{address}: {stderr}");
        let holder = format!("{address} is held by pid {} (python3)", squatter.pid());
        assert!(stderr.contains(&holder), "{stderr}");
        assert!(!home.path().join("ui-url").exists(), "{address}");

        // `warrant ui` says why there is no page.
        let ui = home.run(&["ui"]);
        assert_ne!(ui.code, 0, "{ui:?}");
        assert!(ui.stdout.is_empty(), "{ui:?}");
        assert!(ui.stderr.contains(&holder), "{}", ui.stderr);
        let mode = std::os::unix::fs::PermissionsExt::mode(
            &std::fs::metadata(home.path().join("ui-refused"))
                .unwrap()
                .permissions(),
        );
        assert_eq!(mode & 0o777, 0o600);

        // Once the squatter is gone, the page is served and the note goes.
        drop(squatter);
        let child = home
            .std_cmd()
            .args(["serve", "--ui-port", &port])
            .env_remove("WARRANT_UI_PORT")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let _daemon = Daemon { child: Some(child) };
        assert!(wait_for(&home.path().join("ui-url")), "{address}: no page");
        let ui = home.run(&["ui"]);
        assert_eq!(ui.stdout.trim(), format!("http://localhost:{port}/"));
        assert!(!home.path().join("ui-refused").exists());
    }
}

/// The daemon's own port, 7341, taken on [::1]: the daemon runs on
/// without a page, and says so; `warrant ui` names the holder. Skipped when
/// 7341 is in use on this machine (another daemon).
#[test]
fn a_squatted_default_port_leaves_the_daemon_running_without_a_page() {
    if !ipv6_loopback() {
        return;
    }
    let Some(squatter) = Squatter::start("::1", 7341) else {
        eprintln!("skipped: [::1]:7341 is in use here");
        return;
    };
    if !free("127.0.0.1:7341") {
        eprintln!("skipped: 127.0.0.1:7341 is in use here");
        return;
    }
    let home = Home::with_approver();
    home.write_policy(POLICY);
    let child = home
        .std_cmd()
        .arg("serve")
        .env_remove("WARRANT_UI_PORT")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut daemon = Daemon { child: Some(child) };
    assert!(
        wait_for(&home.path().join("ui-refused")),
        "the daemon recorded no refusal within 10 s"
    );
    assert!(!home.path().join("ui-url").exists());
    let status = home.run(&["status"]);
    assert_eq!(status.code, 0, "the daemon runs: {status:?}");
    let holder = format!("[::1]:7341 is held by pid {} (python3)", squatter.pid());
    let ui = home.run(&["ui"]);
    assert_ne!(ui.code, 0, "{ui:?}");
    assert!(ui.stderr.contains(&holder), "{}", ui.stderr);
    assert!(ui.stderr.contains("do not enter the approver passphrase"));
    // The daemon does not hold 127.0.0.1:7341 either: it serves no page.
    assert!(free("127.0.0.1:7341"));

    let stderr = daemon.stop();
    assert!(
        stderr.contains("error: the approval page is NOT served"),
        "{stderr}"
    );
    assert!(stderr.contains(&holder), "{stderr}");
    assert!(!home.path().join("ui-refused").exists());
}

#[test]
fn the_daemon_holds_the_page_port_on_both_loopback_addresses() {
    if !ipv6_loopback() {
        return;
    }
    let home = Home::with_approver();
    home.write_policy(POLICY);
    let (_daemon, url) = serve_with_page(&home);
    let port: u16 = url
        .trim_start_matches("http://localhost:")
        .trim_end_matches('/')
        .parse()
        .unwrap();
    // As an agent would try it: its own process, with SO_REUSEADDR and
    // SO_REUSEPORT, on each address and on the wildcards covering them.
    let script = format!(
        "import socket,errno\n\
         for host in ['127.0.0.1', '::1', '0.0.0.0', '::', '::ffff:127.0.0.1']:\n\
         \x20   s = socket.socket(socket.AF_INET6 if ':' in host else socket.AF_INET)\n\
         \x20   s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n\
         \x20   s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)\n\
         \x20   try:\n\
         \x20       s.bind((host, {port})); s.listen(); print(host, 'bound')\n\
         \x20   except OSError as e:\n\
         \x20       print(host, errno.errorcode[e.errno])\n"
    );
    let tried = Command::new("python3")
        .args(["-c", &script])
        .output()
        .unwrap();
    assert!(tried.status.success(), "{tried:?}");
    let lines = String::from_utf8(tried.stdout).unwrap();
    let expected = "127.0.0.1 EADDRINUSE\n::1 EADDRINUSE\n0.0.0.0 EADDRINUSE\n:: EADDRINUSE\n\
                    ::ffff:127.0.0.1 EADDRINUSE\n";
    assert_eq!(lines, expected);
    // And from this process.
    for addr in [format!("127.0.0.1:{port}"), format!("[::1]:{port}")] {
        let error = TcpListener::bind(&addr).unwrap_err();
        assert_eq!(error.kind(), std::io::ErrorKind::AddrInUse, "{addr}");
    }
}

#[test]
fn chromium_reaches_the_daemon_on_localhost_and_both_addresses() {
    if !ipv6_loopback() {
        return;
    }
    let home = Home::with_approver();
    home.write_policy(POLICY);
    let (_daemon, url) = serve_with_page(&home);
    let port = url
        .trim_start_matches("http://localhost:")
        .trim_end_matches('/')
        .to_owned();
    runtime().block_on(async {
        let b = Browser::start().await;
        // Each address the browser may pick for `localhost` is the daemon's:
        // both send it to the page's name, where the sign-in form is.
        for start in [
            url.clone(),
            format!("http://[::1]:{port}/"),
            format!("http://127.0.0.1:{port}/"),
        ] {
            b.client.goto(&start).await.unwrap();
            let form = b.find("#signin-pass").await;
            assert!(form.is_displayed().await.unwrap(), "{start}");
            let at = b.client.current_url().await.unwrap();
            assert_eq!(at.as_str(), url, "{start}");
        }
        // And signing in works over whichever address it uses.
        b.fill("#signin-pass", APPROVER).await;
        b.click("#signin-form button").await;
        b.text_until("#live", |t| t == "live").await;
        b.close().await;
    });
}

#[test]
fn a_second_daemon_leaves_the_first_ones_page_published() {
    let home = Home::with_approver();
    home.write_policy(POLICY);
    let (_daemon, url) = serve_with_page(&home);
    // Another page port, same home: refused for the home's socket.
    let second = serve_until_exit(&home, &["--ui-port", "0"]).expect("the second one stopped");
    assert!(!second.status.success());
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert!(stderr.contains("already"), "{stderr}");
    let ui = home.run(&["ui"]);
    assert_eq!((ui.code, ui.stdout.trim()), (0, url.as_str()), "{ui:?}");
}
