//! Dynamic PostgreSQL credentials through the daemon, against a real
//! PostgreSQL cluster: a login role made for one grant, with exactly the
//! template's privileges, gone when the grant is revoked, unable to log in
//! past the grant's expiry even when the daemon was killed, and swept when
//! the daemon comes back.

use std::time::Duration;

use secrecy::ExposeSecret as _;
use warrant_testkit::openbao::DevServer;
use warrant_testkit::postgres::Cluster;

use crate::harness::{Daemon, Home, random_below, wait_until};

const POLICY: &str = r#"
[actors.agent]
kind = "agent"

[[rules]]
actors   = ["agent"]
secrets  = ["pg/reader", "pg/reader#password", "teamdb/reader"]
max_ttl  = "1h"
approval = "auto"
"#;

/// A cluster with database `app` (tables `items` and `private`), a home
/// whose `stores.toml` makes `pg/reader` (SELECT on `items` only) through
/// the admin connection string stored as `db/pg/admin`, and a daemon.
struct Setup {
    pg: Cluster,
    home: Home,
    daemon: Daemon,
    /// With [`Setup::with_openbao`]: OpenBao's database engine on the same
    /// cluster, as store `teamdb` (`teamdb/reader`).
    bao: Option<DevServer>,
}

impl Setup {
    fn new() -> Self {
        Self::build(false)
    }

    /// Also `teamdb/reader`, made by OpenBao's database engine.
    fn with_openbao() -> Self {
        Self::build(true)
    }

    fn build(openbao: bool) -> Self {
        let pg = Cluster::start();
        pg.create_database("app");
        pg.sql_in(
            "app",
            "CREATE TABLE items (n int); INSERT INTO items VALUES (1), (2), (3); \
             CREATE TABLE private (n int);",
        );
        let pg_store = r#"
[stores.pg]
kind = "postgres"
admin = "db/pg/admin"
[stores.pg.roles.reader]
database = "app"
grants = ["GRANT SELECT ON items TO {{name}}"]
"#;
        let (home, bao) = if openbao {
            let bao = DevServer::start();
            crate::openbao::database_engine(&bao, &pg);
            let teamdb = format!(
                r#"
[stores.teamdb]
kind = "openbao-database"
store = "team"
[stores.teamdb.roles.reader]
role = "reader"
policies = ["db-reader"]
dsn = "postgres://{{{{username}}}}:{{{{password}}}}@127.0.0.1:{}/app?sslmode=disable"
{pg_store}"#,
                pg.port()
            );
            let home = crate::openbao::home_with(&bao, &["db-reader"], &teamdb);
            (home, Some(bao))
        } else {
            let home = Home::with_approver();
            std::fs::write(home.path().join("stores.toml"), pg_store).unwrap();
            (home, None)
        };
        let admin = pg.admin_dsn();
        home.set("db/pg/admin", admin.expose_secret());
        home.write_policy(POLICY);
        let daemon = home.serve();
        Self {
            pg,
            home,
            daemon,
            bao,
        }
    }

    /// The dynamic names this setup has.
    fn names(&self) -> Vec<&'static str> {
        match self.bao {
            Some(_) => vec!["pg/reader", "teamdb/reader"],
            None => vec!["pg/reader"],
        }
    }

    /// An active grant of [`Setup::names`] for `ttl`.
    fn grant(&self, ttl: &str) -> String {
        let mut args = vec![
            "request", "--actor", "agent", "--reason", "tests", "--ttl", ttl,
        ];
        for name in self.names() {
            args.extend(["--secret", name]);
        }
        let grant = self.home.json(&args);
        assert_eq!(grant["status"], "active", "{grant}");
        grant["id"].as_str().unwrap().to_owned()
    }

    /// Roles warrant made that exist now.
    fn roles(&self) -> Vec<String> {
        self.pg
            .sql("SELECT rolname FROM pg_roles WHERE rolname LIKE 'warrant\\_g%' AND rolname <> 'warrant_admin' ORDER BY 1")
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(str::to_owned)
            .collect()
    }
}

/// `psql "$DSN" -c SQL` under the grant; exit code and output.
fn psql(s: &Setup, grant: &str, sql: &str) -> (i32, String, String) {
    s.home.run_granted(
        grant,
        &["--env", "DSN=warrant://pg/reader"],
        &format!("psql \"$DSN\" -XAtq -v ON_ERROR_STOP=1 -c '{sql}'"),
    )
}

#[test]
fn a_role_made_for_a_grant_has_the_templates_privileges_and_dies_with_it() {
    let s = Setup::new();
    assert!(s.roles().is_empty());
    let id = s.grant("10m");

    let (code, out, err) = psql(&s, &id, "SELECT sum(n) FROM items");
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(out.trim(), "6");
    let roles = s.roles();
    assert_eq!(roles.len(), 1, "{roles:?}");
    // No more than the template: no write, no other table.
    let (code, _, err) = psql(&s, &id, "INSERT INTO items VALUES (4)");
    assert_ne!(code, 0);
    assert!(err.contains("permission denied"), "{err}");
    let (code, _, err) = psql(&s, &id, "SELECT * FROM private");
    assert_ne!(code, 0);
    assert!(err.contains("permission denied"), "{err}");
    // A second use of the grant reuses its role.
    assert_eq!(psql(&s, &id, "SELECT 1").0, 0);
    assert_eq!(s.roles(), roles);
    // The role expires with the grant: VALID UNTIL is the grant's expiry.
    let until = s.pg.sql(&format!(
        "SELECT extract(epoch FROM rolvaliduntil)::bigint FROM pg_roles WHERE rolname = '{}'",
        roles[0]
    ));
    let grant = s.home.grant(&id);
    let expires = time::OffsetDateTime::parse(
        grant["expires"].as_str().unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap()
    .unix_timestamp();
    let until: i64 = until.trim().parse().unwrap();
    assert!(
        until <= expires && until >= expires - 1,
        "{until} vs {expires}"
    );

    let audit = s.home.audit_text();
    assert_eq!(s.home.audit_events("credential_issued").len(), 1, "{audit}");
    assert!(!audit.contains(s.pg.admin_password().expose_secret()));

    assert_eq!(s.home.run(&["revoke", &id]).code, 0);
    assert!(
        wait_until(Duration::from_secs(10), || s.roles().is_empty()),
        "the role outlived its grant: {:?}",
        s.roles()
    );
    assert_eq!(s.home.audit_events("credential_revoked").len(), 1);
    let (code, _, _) = psql(&s, &id, "SELECT 1");
    assert_ne!(code, 0, "a revoked grant still worked");
}

/// The daemon is killed while a grant's role exists: the role cannot log in
/// past the grant's expiry all the same, and the restarted daemon drops it.
#[test]
fn a_killed_daemon_leaves_a_role_that_expires_and_is_swept() {
    let mut s = Setup::new();
    let id = s.grant("4s");
    let saved = s.home.scratch().join("dsn");
    let (code, out, err) = s.home.run_granted(
        &id,
        &["--env", "DSN=warrant://pg/reader"],
        &format!("printf %s \"$DSN\" > {}", saved.display()),
    );
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(s.roles().len(), 1);
    s.daemon.kill();

    // The credential, as an agent might have kept it.
    let dsn = std::fs::read_to_string(&saved).unwrap();
    let login = |dsn: &str| {
        std::process::Command::new("psql")
            .args([dsn, "-XAtq", "-c", "SELECT 1"])
            .output()
            .unwrap()
    };
    assert!(
        login(&dsn).status.success(),
        "the role should work until expiry"
    );
    std::thread::sleep(Duration::from_secs(5));
    let late = login(&dsn);
    assert!(
        !late.status.success(),
        "the role logged in after its grant expired"
    );
    assert_eq!(
        s.roles().len(),
        1,
        "nothing dropped it while the daemon was dead"
    );

    s.daemon = s.home.serve();
    assert!(
        wait_until(Duration::from_secs(15), || s.roles().is_empty()),
        "the restarted daemon left {:?}",
        s.roles()
    );
    let revoked = s.home.audit_events("credential_revoked");
    assert_eq!(revoked.len(), 1, "{}", s.home.audit_text());
    std::fs::remove_file(saved).unwrap();
}

/// Grant cycles (request, a use that makes a role natively and a database
/// user through OpenBao, then revoke, expiry, or the daemon killed with
/// SIGKILL at a random point of the use, and restarted): afterwards no role
/// warrant made remains, no lease remains in OpenBao, and every role it ever
/// made had `VALID UNTIL` no later than its grant's expiry.
/// `WARRANT_FAULT_CYCLES` sets the number of cycles (default 1000).
#[test]
fn grant_cycles_with_the_daemon_killed_leave_no_role_behind() {
    let cycles: usize = std::env::var("WARRANT_FAULT_CYCLES")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(1000);
    let mut s = Setup::with_openbao();
    // Every CREATE ROLE goes to the server log, to check VALID UNTIL.
    s.pg.sql("ALTER SYSTEM SET log_statement = 'ddl'");
    s.pg.sql("SELECT pg_reload_conf()");
    let mut grants = Vec::new();
    let mut kills = 0;
    for _ in 0..cycles {
        if s.daemon.child.is_none() {
            s.daemon = s.home.serve();
        }
        let ttl = format!("{}s", 2 + random_below(5));
        let id = s.grant(&ttl);
        grants.push(id.clone());
        let mut use_ = s
            .home
            .std_cmd()
            .args([
                "run",
                "--grant",
                &id,
                "--no-tty",
                "--env",
                "DSN=warrant://pg/reader",
            ])
            .args(["--", "true"])
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(random_below(40)));
        match random_below(10) {
            0 | 1 => {
                s.daemon.kill();
                kills += 1;
            }
            2..=7 => {
                let _ = s.home.run(&["revoke", &id]);
            }
            _ => {} // left to expire
        }
        let _ = use_.wait();
    }
    if s.daemon.child.is_none() {
        s.daemon = s.home.serve();
    }
    // Every grant has ended by now or within its lifetime (at most 6 s);
    // the daemon ends what each made, or sweeps it after a restart.
    assert!(
        wait_until(Duration::from_secs(60), || s.roles().is_empty()),
        "{} roles left after {cycles} cycles ({kills} kills): {:?}",
        s.roles().len(),
        s.roles().iter().take(5).collect::<Vec<_>>()
    );

    let bao = s.bao.as_ref().unwrap();
    let bao_users = || {
        s.pg.sql("SELECT count(*) FROM pg_roles WHERE rolname LIKE 'v-token-%'")
            .trim()
            .to_owned()
    };
    assert!(
        wait_until(Duration::from_secs(60), || crate::openbao::leases(bao) == 0
            && bao_users() == "0"),
        "OpenBao leases {} and users {} left",
        crate::openbao::leases(bao),
        bao_users()
    );

    // Every role made, and its VALID UNTIL, from the server's log.
    let expiry: std::collections::HashMap<String, i64> = s
        .home
        .json(&["grants", "--all"])
        .as_array()
        .unwrap()
        .iter()
        .map(|g| {
            let id = g["id"].as_str().unwrap();
            let key: String = id
                .chars()
                .filter(char::is_ascii_alphanumeric)
                .take(12)
                .collect();
            let approved_until = time::OffsetDateTime::parse(
                g["expires"].as_str().unwrap(),
                &time::format_description::well_known::Rfc3339,
            )
            .unwrap()
            .unix_timestamp();
            (key, approved_until)
        })
        .collect();
    let log = s.pg.server_log();
    let mut made = 0;
    for line in log.lines().filter(|l| l.contains("CREATE ROLE \"warrant_")) {
        let role = line.split("CREATE ROLE \"").nth(1).unwrap();
        let role = &role[..role.find('"').unwrap()];
        let grant_key = role
            .trim_start_matches("warrant_")
            .split('_')
            .next()
            .unwrap();
        let until = line.split("VALID UNTIL '").nth(1).unwrap();
        let until = time::OffsetDateTime::parse(
            &until[..until.find('\'').unwrap()],
            &time::format_description::well_known::Rfc3339,
        )
        .unwrap()
        .unix_timestamp();
        let expires = expiry[grant_key];
        assert!(
            until <= expires,
            "{role} valid until {until}, its grant until {expires}"
        );
        made += 1;
    }
    assert!(
        made > cycles / 4,
        "only {made} roles made in {cycles} cycles"
    );
    assert!(kills > 0);
}

/// A command that prints the generated credential's parts apart (what
/// `urlsplit(url).password` gives) shows them redacted, each under its
/// own name; the whole never appears either.
#[test]
fn a_generated_password_and_user_printed_apart_are_redacted() {
    let s = Setup::new();
    let id = s.grant("10m");
    let (code, out, err) = s.home.run_granted(
        &id,
        &["--env", "DSN=warrant://pg/reader"],
        "python3 -c 'import os, urllib.parse as u; p = u.urlsplit(os.environ[\"DSN\"]); \
         print(\"pw\", u.unquote(p.password)); print(\"user\", p.username); print(\"raw\", p.password)'",
    );
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("pw <redacted:pg/reader#password>"), "{out}");
    assert!(out.contains("user <redacted:pg/reader#user>"), "{out}");
    assert!(out.contains("raw <redacted:pg/reader#password>"), "{out}");
    // The role's real name and password are nowhere in what came back.
    let roles = s.roles();
    assert_eq!(roles.len(), 1, "{roles:?}");
    assert!(
        !out.contains(&roles[0]) && !err.contains(&roles[0]),
        "{out}{err}"
    );
}
