//! The recommended setup as an ordinary user, not root: every warrant
//! process below runs as uid 65534 (dropped with `setpriv` when the tests
//! run as root, as CI does; as they are when they already run unprivileged).
//!
//! Root reads any `/proc/PID/exe`; an ordinary user cannot read that of a
//! non-dumpable process, and every warrant process makes itself
//! non-dumpable. Grants once failed for every user but root because of it.

use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use crate::harness::{APPROVER, fake_value};

pub(crate) const UID: u32 = 65534;

/// A home owned by an unprivileged user, and a copy of the binary it can run.
pub(crate) struct User {
    dir: tempfile::TempDir,
    pub(crate) drop_privileges: bool,
}

impl User {
    pub(crate) fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let drop_privileges = rustix::process::geteuid().is_root();
        let bin = dir.path().join("bin");
        std::fs::create_dir(&bin).unwrap();
        // `cp` writes the copy, not this multi-threaded process (a file it
        // had open for writing could leak into a child another test forks).
        let copied = Command::new("cp")
            .arg(crate::harness::bin())
            .arg(bin.join("warrant"))
            .status()
            .unwrap();
        assert!(copied.success());
        std::fs::set_permissions(bin.join("warrant"), std::fs::Permissions::from_mode(0o755))
            .unwrap();
        if drop_privileges {
            for path in [dir.path(), &bin, &bin.join("warrant")] {
                std::os::unix::fs::chown(path, Some(UID), Some(UID)).unwrap();
            }
        }
        Self {
            dir,
            drop_privileges,
        }
    }

    pub(crate) fn path(&self) -> &Path {
        self.dir.path()
    }

    /// `sh -c script` as the user, with `warrant` on its PATH and its home.
    pub(crate) fn sh(&self, script: &str) -> Command {
        let mut command = if self.drop_privileges {
            let mut c = Command::new("setpriv");
            c.args(["--reuid", "65534", "--regid", "65534", "--clear-groups"])
                .args(["sh", "-c", script]);
            c
        } else {
            let mut c = Command::new("sh");
            c.args(["-c", script]);
            c
        };
        let path = format!(
            "{}:/usr/local/bin:/usr/bin:/bin",
            self.path().join("bin").display()
        );
        command
            .env_clear()
            .env("PATH", path)
            .env("HOME", self.path())
            .env("WARRANT_HOME", self.path().join("home"))
            .env("WARRANT_INSECURE_FAST_KDF", "1")
            .current_dir(self.path());
        command
    }

    pub(crate) fn run(&self, script: &str, input: &str) -> Output {
        let mut child = self
            .sh(script)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        use std::io::Write as _;
        let _ = child.stdin.take().unwrap().write_all(input.as_bytes());
        child.wait_with_output().unwrap()
    }

    pub(crate) fn audit(&self) -> String {
        std::fs::read_to_string(self.path().join("home/audit.jsonl")).unwrap_or_default()
    }
}

/// A daemon run by the user, stopped with the test.
pub(crate) struct Serving(pub(crate) std::process::Child);

impl Drop for Serving {
    fn drop(&mut self) {
        let _ = Command::new("kill").arg(self.0.id().to_string()).status();
        let _ = self.0.wait();
    }
}

pub(crate) fn text(output: &Output) -> String {
    format!(
        "exit {:?}\nstdout: {}\nstderr: {}",
        output.status.code(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// Grants, approvals and both ways of using them work for an ordinary
/// user: a value injected into a command (twice, each use checked), a
/// value substituted by the daemon's egress, and a task whose command asks
/// and uses on its own.
#[test]
fn grants_work_for_an_ordinary_user() {
    let user = User::new();
    let value = fake_value("db");
    let setup = user.run_with_value(&value);
    assert!(setup.status.success(), "{}", text(&setup));
    assert!(
        String::from_utf8_lossy(&setup.stdout).contains(&format!("uid={UID}"))
            || !user.drop_privileges,
        "{}",
        text(&setup)
    );

    let daemon = user
        .sh("exec warrant serve --no-ui")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let _daemon = Serving(daemon);
    let up = (0..500).any(|_| {
        std::thread::sleep(std::time::Duration::from_millis(10));
        user.run("warrant status >/dev/null 2>&1", "")
            .status
            .success()
    });
    assert!(up, "the daemon did not answer");

    let asked = user.run(
        "warrant request --actor codex --secret db/dev/url --reason tests --ttl 5m --json",
        "",
    );
    assert!(asked.status.success(), "{}", text(&asked));
    let grant: serde_json::Value = serde_json::from_slice(&asked.stdout).unwrap();
    let id = grant["id"].as_str().unwrap().to_owned();
    let approved = user.run(&format!("warrant approve {id}"), &format!("{APPROVER}\n"));
    assert!(approved.status.success(), "{}", text(&approved));

    let used = user.run(
        &format!(
            r#"for i in 1 2; do
  warrant run --no-tty --grant {id} --env DB=warrant://db/dev/url -- sh -c 'echo "use:${{#DB}}:$DB"' || echo "failed:$?"
done"#
        ),
        "",
    );
    let out = String::from_utf8_lossy(&used.stdout).into_owned();
    assert!(used.status.success(), "{}", text(&used));
    assert!(!out.contains("failed"), "{}", text(&used));
    let expected = format!("use:{}:<redacted:db/dev/url>", value.len());
    assert_eq!(out.matches(&expected).count(), 2, "{}", text(&used));
    assert!(!out.contains(&value) && !String::from_utf8_lossy(&used.stderr).contains(&value));
    let audit = user.audit();
    assert_eq!(
        audit.matches("\"event\":\"grant_used\"").count(),
        2,
        "{audit}"
    );
    assert!(!audit.contains(&value));

    // The daemon's egress, as the same user: the command holds a
    // placeholder; someone replaying it without the session's access
    // secret gets 407; the holder's request reaches the egress, which
    // answers itself (the API's name resolves nowhere here).
    let proxied = user.run(
        &format!(
            r#"command -v curl >/dev/null || {{ echo no-curl; exit 0; }}
warrant run --proxy --no-tty --grant {id} --env T=warrant://db/dev/url -- sh -c '
  echo "held:$T"
  addr=${{HTTPS_PROXY##*@}}
  curl -s -o /dev/null -w "stranger:%{{http_code}}\n" --proxy "http://$addr" "http://api.example.test/?t=$T"
  curl -s -D - -o /dev/null "http://api.example.test/?t=$T" | tr -d "\r" | grep -i -e "^HTTP/" -e "^x-warrant-proxy" | sed "s/^/holder:/"'"#
        ),
        "",
    );
    let said = String::from_utf8_lossy(&proxied.stdout).to_ascii_lowercase();
    if !said.contains("no-curl") {
        assert!(proxied.status.success(), "{}", text(&proxied));
        assert!(said.contains("held:wph_"), "{}", text(&proxied));
        assert!(said.contains("stranger:407"), "{}", text(&proxied));
        // Plain HTTP to the allowed host: the egress refuses it itself
        // (HTTPS only unless the rule allows plain HTTP).
        assert!(said.contains("holder:http/1.1 403"), "{}", text(&proxied));
        assert!(
            said.contains("holder:x-warrant-proxy: 1"),
            "{}",
            text(&proxied)
        );
        assert!(
            !said.contains(&value.to_ascii_lowercase()),
            "{}",
            text(&proxied)
        );
    }

    // A hand-written client of the same user is still refused values.
    let forged = user.run(
        &format!(
            r#"python3 - <<'EOF'
import json, os, socket, struct
s = socket.socket(socket.AF_UNIX)
s.connect(os.path.join(os.environ["WARRANT_HOME"], "warrant.sock"))
req = json.dumps({{"op": "use", "grant": "{id}", "program": "sh", "resolved": "/bin/sh",
                  "secrets": ["db/dev/url"], "file_secrets": []}}).encode()
s.sendall(struct.pack(">I", len(req)) + req)
n = struct.unpack(">I", s.recv(4))[0]
print(s.recv(n).decode())
EOF"#
        ),
        "",
    );
    let said = String::from_utf8_lossy(&forged.stdout);
    assert!(
        said.contains("only the warrant binary the daemon runs may receive values"),
        "{}",
        text(&forged)
    );

    // The same user's moves against the task boundary: a forged
    // `proxy_blocked` record, warrant's own settings read from a child, a
    // reason that reorders text, and a policy weakened before anyone
    // accepted it.
    let hostile = user.run(
        r#"python3 - <<'EOF'
import json, os, socket, struct
s = socket.socket(socket.AF_UNIX)
s.connect(os.path.join(os.environ["WARRANT_HOME"], "warrant.sock"))
req = json.dumps({"op": "proxy_blocked", "grant": "g_forged0000", "host": "h", "method": "GET",
                  "path": "/", "secrets": [], "reason": "forged"}).encode()
s.sendall(struct.pack(">I", len(req)) + req)
n = struct.unpack(">I", s.recv(4))[0]
print("forged:" + json.loads(s.recv(n).decode())["err"]["code"])
EOF
WARRANT_STATE_PASSWORD=state-pw warrant run --no-tty -- sh -c 'echo "child-sees:${WARRANT_STATE_PASSWORD:-nothing}"'
warrant request --actor codex --secret db/dev/url --ttl 5m --json \
  --reason "$(printf 'ok \342\200\256gnp.exe')" | python3 -c 'import json,sys; print("reason:" + json.load(sys.stdin)["reason"])'
sed -i -e 's/approval = "required"/approval = "auto"/' -e 's/hosts    = \["api.example.test"\]/hosts = ["api.example.test", "evil.example.test"]/' warrant.toml
sleep 1.1
warrant request --actor codex --secret db/dev/url --reason weakened --ttl 5m --json \
  | python3 -c 'import json,sys; g = json.load(sys.stdin); print("weakened:" + g["status"] + ":" + ",".join(g["secret_hosts"]["db/dev/url"]))'"#,
        "",
    );
    let said = String::from_utf8_lossy(&hostile.stdout);
    assert!(said.contains("forged:bad_request"), "{}", text(&hostile));
    assert!(said.contains("child-sees:nothing"), "{}", text(&hostile));
    assert!(
        said.contains("reason:ok \\u{202e}gnp.exe"),
        "{}",
        text(&hostile)
    );
    assert!(
        said.contains("weakened:pending:api.example.test\n"),
        "{}",
        text(&hostile)
    );
    // The egress's own refusals are in the log; the forged one is not.
    assert!(!user.audit().contains("\"reason\":\"forged\""));
}

impl User {
    /// The setup script, with the value in its environment (never argv).
    fn run_with_value(&self, value: &str) -> Output {
        let script = format!(
            r#"set -e
printf '%s\n%s\n' '{APPROVER}' '{APPROVER}' | warrant init --approver >/dev/null
printf %s "$VALUE" | warrant secret set db/dev/url
cat > warrant.toml <<'EOF'
[actors.codex]
kind = "agent"

[[rules]]
actors   = ["codex"]
secrets  = ["db/dev/url"]
commands = ["sh"]
hosts    = ["api.example.test"]
max_ttl  = "10m"
approval = "required"
EOF
id"#
        );
        self.sh(&script)
            .env("VALUE", value)
            .stdin(Stdio::null())
            .output()
            .unwrap()
    }
}
