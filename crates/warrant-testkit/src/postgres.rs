//! A throwaway PostgreSQL cluster for tests: `initdb` into a temporary
//! directory, `pg_ctl start` on a free loopback port, `pg_ctl stop` and
//! removal on drop.
//!
//! - Server binaries come from `pg_config --bindir`, else the newest
//!   `/usr/lib/postgresql/*/bin` (Debian's layout). Without them
//!   [`Cluster::start`] panics and names `scripts/test.sh`, which installs
//!   them: a test that needs a real server never passes without one.
//! - Every connection needs a password (`scram-sha-256` for TCP and the Unix
//!   socket). The superuser [`ADMIN_USER`] gets a password generated at test
//!   time, handed to `initdb` in a 0600 file (`--pwfile`), never in argv.
//! - `initdb` refuses to run as root. When the tests run as root (CI), the
//!   server binaries run as Debian's `postgres` user (created by the
//!   package) and the temporary directory is handed to it.
//! - The server listens on 127.0.0.1 only, its socket lives in the temporary
//!   directory, and durability is off (`fsync`, `full_page_writes`) for speed.
//!   Clusters are independent: tests may start several at once.
//!
//! A test killed with SIGKILL cannot run `Drop`: its server keeps running
//! until it is stopped by hand (`pg_ctl -D /tmp/warrant-pg-*/data stop`) or
//! the machine ends, as CI machines do.
//!
//! ```no_run
//! let cluster = warrant_testkit::postgres::Cluster::start();
//! cluster.create_database("app");
//! cluster.sql_in("app", "CREATE TABLE t (x int)");
//! assert_eq!(cluster.sql("SELECT 1 + 1"), "2");
//! ```

use std::fmt;
use std::fs;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, chown};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use secrecy::{ExposeSecret, SecretString};
use tempfile::TempDir;

/// The superuser every cluster is created with.
pub const ADMIN_USER: &str = "warrant_admin";

/// The unprivileged account the server runs as when the tests run as root.
const SERVER_ACCOUNT: &str = "postgres";

/// How often to try another port when the one picked was taken meanwhile.
const START_ATTEMPTS: usize = 3;

/// A running PostgreSQL cluster, stopped and deleted on drop.
pub struct Cluster {
    dir: TempDir,
    bindir: PathBuf,
    port: u16,
    admin_password: SecretString,
    /// `(uid, gid)` to run server binaries as, when the tests run as root.
    run_as: Option<(u32, u32)>,
}

impl Cluster {
    /// Creates and starts a cluster; panics (naming `scripts/test.sh`) when
    /// the server binaries are missing or the server does not come up.
    pub fn start() -> Cluster {
        Cluster::start_inner(None)
    }

    /// [`Cluster::start`] with TLS on (plaintext is still accepted): the
    /// server presents `cert_chain_pem` (leaf first) with `key_pem`.
    pub fn start_with_tls(cert_chain_pem: &str, key_pem: &str) -> Cluster {
        Cluster::start_inner(Some((cert_chain_pem, key_pem)))
    }

    fn start_inner(tls: Option<(&str, &str)>) -> Cluster {
        let bindir = find_bindir();
        let run_as = server_account();
        let parent = if run_as.is_some() {
            // Root's own TMPDIR may not be reachable by the server account.
            PathBuf::from("/tmp")
        } else {
            std::env::temp_dir()
        };
        let dir = tempfile::Builder::new()
            .prefix("warrant-pg-")
            .tempdir_in(parent)
            .expect("create a temporary directory for PostgreSQL");
        if let Some((uid, gid)) = run_as {
            chown(dir.path(), Some(uid), Some(gid)).expect("hand the cluster directory over");
        }
        let mut cluster = Cluster {
            dir,
            bindir,
            port: 0,
            admin_password: SecretString::from(crate::random_hex(24)),
            run_as,
        };
        cluster.initdb();
        if let Some((cert, key)) = tls {
            cluster.enable_tls(cert, key);
        }
        cluster.start_server();
        cluster
    }

    /// The TCP port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The superuser's password.
    pub fn admin_password(&self) -> &SecretString {
        &self.admin_password
    }

    /// `postgres://warrant_admin:...@127.0.0.1:PORT/postgres`.
    pub fn admin_dsn(&self) -> SecretString {
        self.dsn_for(ADMIN_USER, self.admin_password.expose_secret(), "postgres")
    }

    /// A DSN for `user` with `password` on database `db`, each part
    /// percent-encoded.
    pub fn dsn_for(&self, user: &str, password: &str, db: &str) -> SecretString {
        SecretString::from(format!(
            "postgres://{}:{}@127.0.0.1:{}/{}",
            encode(user),
            encode(password),
            self.port,
            encode(db)
        ))
    }

    /// Creates database `name`, owned by the superuser.
    pub fn create_database(&self, name: &str) {
        self.sql(&format!("CREATE DATABASE {}", quote_identifier(name)));
    }

    /// Runs `sql` as the superuser on database `postgres`; the output rows,
    /// `|`-separated, trimmed. Panics with the server's message on failure.
    pub fn sql(&self, sql: &str) -> String {
        self.sql_in("postgres", sql)
    }

    /// [`Cluster::sql`] on database `db`.
    pub fn sql_in(&self, db: &str, sql: &str) -> String {
        match self.try_sql_in(db, sql) {
            Ok(out) => out,
            Err(message) => panic!("SQL failed on database {db:?}: {message}\n{sql}"),
        }
    }

    /// Runs `sql` as the superuser on database `db` with `psql`: the output
    /// rows, or psql's error output. The password goes through the
    /// environment (`PGPASSWORD`), never argv.
    pub fn try_sql_in(&self, db: &str, sql: &str) -> Result<String, String> {
        let output = Command::new(self.bindir.join("psql"))
            .args(["-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1"])
            .args(["-h", "127.0.0.1", "-p", &self.port.to_string()])
            .args(["-U", ADMIN_USER, "-d", db, "-c", sql])
            .env("PGPASSWORD", self.admin_password.expose_secret())
            .env("PGCONNECT_TIMEOUT", "10")
            .env_remove("PGSERVICE")
            .output()
            .expect("run psql");
        if output.status.success() {
            Ok(String::from_utf8_lossy(&output.stdout).trim().to_owned())
        } else {
            Err(String::from_utf8_lossy(&output.stderr).trim().to_owned())
        }
    }

    /// The server's log so far (for failure messages).
    pub fn server_log(&self) -> String {
        fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn log_path(&self) -> PathBuf {
        self.dir.path().join("server.log")
    }

    /// Writes a 0600 file the server account owns.
    fn write_private(&self, path: &Path, contents: &[u8]) {
        fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)
            .and_then(|mut file| file.write_all(contents))
            .unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
        if let Some((uid, gid)) = self.run_as {
            chown(path, Some(uid), Some(gid)).expect("hand the file over");
        }
    }

    fn append_conf(&self, settings: &str) {
        fs::OpenOptions::new()
            .append(true)
            .open(self.data_dir().join("postgresql.conf"))
            .and_then(|mut conf| conf.write_all(settings.as_bytes()))
            .expect("configure the cluster");
    }

    fn enable_tls(&self, cert_chain_pem: &str, key_pem: &str) {
        let data = self.data_dir();
        self.write_private(&data.join("server.crt"), cert_chain_pem.as_bytes());
        self.write_private(&data.join("server.key"), key_pem.as_bytes());
        self.append_conf("ssl = on\nssl_cert_file = 'server.crt'\nssl_key_file = 'server.key'\n");
    }

    fn initdb(&self) {
        let pwfile = self.dir.path().join("pwfile");
        self.write_private(&pwfile, self.admin_password.expose_secret().as_bytes());
        let data = self.data_dir();
        let output = self.server_command("initdb", |cmd| {
            cmd.arg("-D")
                .arg(&data)
                .args(["-U", ADMIN_USER, "--auth=scram-sha-256", "-E", "UTF8"])
                .args(["--no-locale", "--no-sync"])
                .arg(format!("--pwfile={}", pwfile.display()));
        });
        let _ = fs::remove_file(&pwfile);
        check(&output, "initdb", "");
        let settings = format!(
            "\n# warrant-testkit\nlisten_addresses = '127.0.0.1'\n\
             unix_socket_directories = '{}'\n\
             fsync = off\nsynchronous_commit = off\nfull_page_writes = off\n\
             shared_buffers = 16MB\nmax_connections = 40\n\
             dynamic_shared_memory_type = mmap\n\
             password_encryption = 'scram-sha-256'\n",
            self.dir.path().display()
        );
        self.append_conf(&settings);
    }

    fn start_server(&mut self) {
        let data = self.data_dir();
        let log = self.log_path();
        for attempt in 1..=START_ATTEMPTS {
            self.port = crate::free_port();
            let port = self.port;
            let output = self.server_command("pg_ctl", |cmd| {
                cmd.arg("-D")
                    .arg(&data)
                    .arg("-l")
                    .arg(&log)
                    .args(["-w", "-t", "60", "-o"])
                    .arg(format!("-p {port}"))
                    .arg("start");
            });
            if output.status.success() {
                return;
            }
            let server_log = self.server_log();
            // Another test may have bound the port between free_port() and now.
            if attempt < START_ATTEMPTS && server_log.contains("could not bind") {
                continue;
            }
            check(&output, "pg_ctl start", &server_log);
        }
    }

    /// Runs server binary `name` as the server account (when root) in the
    /// cluster directory.
    fn server_command(&self, name: &str, args: impl FnOnce(&mut Command)) -> Output {
        let mut cmd = Command::new(self.bindir.join(name));
        args(&mut cmd);
        cmd.current_dir(self.dir.path())
            .env("LC_ALL", "C")
            .env_remove("PGDATA");
        if let Some((uid, gid)) = self.run_as {
            // std drops supplementary groups (setgroups) before setuid when root.
            cmd.uid(uid).gid(gid);
        }
        cmd.output()
            .unwrap_or_else(|e| panic!("run {}: {e}", self.bindir.join(name).display()))
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let data = self.data_dir();
        if data.join("postmaster.pid").exists() {
            let _ = self.server_command("pg_ctl", |cmd| {
                cmd.arg("-D")
                    .arg(&data)
                    .args(["-m", "immediate", "-w", "-t", "30", "stop"]);
            });
        }
        // TempDir's own drop removes the directory (root may remove the
        // server account's files; when not root, they are ours).
    }
}

impl fmt::Debug for Cluster {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Cluster")
            .field("dir", &self.dir.path())
            .field("port", &self.port)
            .field("admin_password", &"[REDACTED]")
            .finish()
    }
}

/// `pg_config --bindir` when it holds `initdb`, else the newest
/// `/usr/lib/postgresql/*/bin`.
fn find_bindir() -> PathBuf {
    let from_pg_config = Command::new("pg_config")
        .arg("--bindir")
        .output()
        .ok()
        .filter(|out| out.status.success())
        .map(|out| PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()));
    if let Some(dir) = from_pg_config.filter(|dir| has_server(dir)) {
        return dir;
    }
    let newest = fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let version = entry.file_name().to_str()?.parse::<u32>().ok()?;
            let bin = entry.path().join("bin");
            has_server(&bin).then_some((version, bin))
        })
        .max_by_key(|(version, _)| *version);
    match newest {
        Some((_, bin)) => bin,
        None => panic!(
            "PostgreSQL server binaries (initdb, pg_ctl) not found via `pg_config --bindir` \
             or in /usr/lib/postgresql/*/bin; run scripts/test.sh, which installs them"
        ),
    }
}

fn has_server(dir: &Path) -> bool {
    ["initdb", "pg_ctl", "postgres", "psql"]
        .iter()
        .all(|bin| dir.join(bin).is_file())
}

/// The server account's `(uid, gid)` when running as root; `None` otherwise.
fn server_account() -> Option<(u32, u32)> {
    if !nix::unistd::geteuid().is_root() {
        return None;
    }
    match nix::unistd::User::from_name(SERVER_ACCOUNT) {
        Ok(Some(user)) => Some((user.uid.as_raw(), user.gid.as_raw())),
        _ => panic!(
            "running as root, PostgreSQL needs the unprivileged `{SERVER_ACCOUNT}` account, \
             created by Debian's postgresql package; run scripts/test.sh, which installs it"
        ),
    }
}

fn check(output: &Output, what: &str, server_log: &str) {
    if !output.status.success() {
        panic!(
            "{what} failed ({}):\n{}\n{}\n{server_log}",
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
}

/// Percent-encodes everything but RFC 3986 unreserved characters.
fn encode(part: &str) -> String {
    let mut out = String::with_capacity(part.len());
    for byte in part.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// `"name"` with embedded quotes doubled.
pub fn quote_identifier(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_dsn_parts() {
        assert_eq!(encode("a b/c@d:e%"), "a%20b%2Fc%40d%3Ae%25");
        assert_eq!(encode("Az09-._~"), "Az09-._~");
        assert_eq!(quote_identifier("a\"b"), "\"a\"\"b\"");
    }

    #[test]
    fn two_clusters_at_once() {
        let (a, b) = std::thread::scope(|s| {
            let a = s.spawn(Cluster::start);
            let b = s.spawn(Cluster::start);
            (a.join().unwrap(), b.join().unwrap())
        });
        assert_ne!(a.port(), b.port());
        a.sql("CREATE TABLE only_in_a (x int)");
        assert_eq!(
            a.sql("SELECT count(*) FROM pg_tables WHERE tablename = 'only_in_a'"),
            "1"
        );
        assert_eq!(
            b.sql("SELECT count(*) FROM pg_tables WHERE tablename = 'only_in_a'"),
            "0"
        );
        assert_eq!(
            a.sql("SELECT current_setting('listen_addresses')"),
            "127.0.0.1"
        );
        assert_eq!(
            a.sql("SELECT rolsuper FROM pg_roles WHERE rolname = current_user"),
            "t"
        );
        let dir = a.dir.path().to_owned();
        drop(a);
        assert!(!dir.exists(), "the cluster directory is removed on drop");
        assert_eq!(b.sql("SELECT 1"), "1");
    }

    #[test]
    fn every_login_needs_the_password() {
        let cluster = Cluster::start();
        let wrong = Command::new(cluster.bindir.join("psql"))
            .args(["-X", "-h", "127.0.0.1", "-p", &cluster.port().to_string()])
            .args(["-U", ADMIN_USER, "-d", "postgres", "-c", "SELECT 1"])
            .env("PGPASSWORD", "not-the-password")
            .output()
            .unwrap();
        assert!(!wrong.status.success());
        assert!(
            String::from_utf8_lossy(&wrong.stderr).contains("password authentication failed"),
            "{}",
            String::from_utf8_lossy(&wrong.stderr)
        );
        let dsn = cluster.admin_dsn();
        assert!(dsn.expose_secret().starts_with("postgres://warrant_admin:"));
        assert!(!format!("{cluster:?}").contains(cluster.admin_password().expose_secret()));
    }
}
