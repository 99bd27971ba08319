//! Several processes on one store: concurrent writers, and writers killed
//! with SIGKILL at arbitrary instants. The children are this test binary,
//! re-run on the ignored `child_writer` test.

use std::env;
use std::fs;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use warrant_store::{KeyProtection, LocalStore, SecretStore, Unlock};

use crate::support::{name, value};

const HOME_ENV: &str = "WARRANT_STORE_TEST_CHILD_HOME";
const PREFIX_ENV: &str = "WARRANT_STORE_TEST_CHILD_PREFIX";
const COUNT_ENV: &str = "WARRANT_STORE_TEST_CHILD_COUNT";

/// Writes `COUNT` secrets under `PREFIX` (cycling over 20 names forever
/// when `COUNT` is 0). Run only as a child of the tests below.
#[test]
#[ignore = "helper: run in child processes by the tests of this module"]
fn child_writer() {
    let home = env::var_os(HOME_ENV).expect("run by the tests of this module");
    let prefix = env::var(PREFIX_ENV).unwrap();
    let count: u32 = env::var(COUNT_ENV).unwrap().parse().unwrap();
    let store = LocalStore::open(Path::new(&home), Unlock::KeyFile).unwrap();
    let mut i = 0u32;
    while count == 0 || i < count {
        let slot = if count == 0 { i % 20 } else { i };
        let n = name(&format!("{prefix}/s{slot}"));
        store
            .set(&n, &value(&format!("fake-{prefix}-{i}")), None)
            .unwrap();
        i = i.wrapping_add(1);
    }
}

fn spawn_writer(home: &Path, prefix: &str, count: u32) -> Child {
    Command::new(env::current_exe().unwrap())
        .args([
            "--exact",
            "processes::child_writer",
            "--ignored",
            "--test-threads=1",
        ])
        .env(HOME_ENV, home)
        .env(PREFIX_ENV, prefix)
        .env(COUNT_ENV, count.to_string())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

#[test]
fn concurrent_writers_in_processes_lose_nothing() {
    let home = tempfile::tempdir().unwrap();
    LocalStore::init(home.path(), KeyProtection::KeyFile).unwrap();
    let children: Vec<_> = (0..3)
        .map(|p| spawn_writer(home.path(), &format!("p{p}"), 15))
        .collect();
    for mut child in children {
        assert!(child.wait().unwrap().success());
    }
    let store = LocalStore::open(home.path(), Unlock::KeyFile).unwrap();
    assert_eq!(store.list().unwrap().len(), 45);
    assert_eq!(
        store.get(&name("p2/s14")).unwrap().expose_secret(),
        b"fake-p2-14"
    );
}

#[test]
fn writers_killed_at_any_instant_leave_a_whole_store() {
    let home = tempfile::tempdir().unwrap();
    LocalStore::init(home.path(), KeyProtection::KeyFile).unwrap();
    for round in 0..8u64 {
        let mut child = spawn_writer(home.path(), "k", 0);
        std::thread::sleep(Duration::from_millis(40 + round * 17));
        child.kill().unwrap();
        child.wait().unwrap();
        let store = LocalStore::open(home.path(), Unlock::KeyFile).unwrap();
        for meta in store.list().unwrap() {
            let v = store.get(&meta.name).unwrap();
            assert!(v.expose_secret().starts_with(b"fake-k-"));
        }
    }
    // Whatever temp file a kill left behind goes with the next write.
    let store = LocalStore::open(home.path(), Unlock::KeyFile).unwrap();
    store.set(&name("after"), &value("fake"), None).unwrap();
    let leftovers: Vec<_> = fs::read_dir(home.path())
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.starts_with(".warrant-store.tmp-"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    let written = store.list().unwrap();
    assert!(
        written.iter().any(|m| m.name.as_str().starts_with("k/")),
        "the children wrote nothing"
    );
}

/// Creates a passphrase store at `HOME`. Run only as a child of the test below.
#[test]
#[ignore = "helper: run in a child process by the tests of this module"]
fn child_init_passphrase() {
    let home = env::var_os(HOME_ENV).expect("run by the tests of this module");
    let protection = KeyProtection::Passphrase(crate::support::passphrase("fake passphrase"));
    LocalStore::init(Path::new(&home), protection).unwrap();
}

#[test]
fn fast_kdf_variable_is_read_at_init_and_recorded() {
    let home = tempfile::tempdir().unwrap();
    let status = Command::new(env::current_exe().unwrap())
        .args(["--exact", "processes::child_init_passphrase", "--ignored"])
        .env(HOME_ENV, home.path())
        .env(warrant_store::INSECURE_FAST_KDF_ENV, "1")
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
    let key: serde_json::Value =
        serde_json::from_slice(&fs::read(home.path().join("key")).unwrap()).unwrap();
    assert_eq!(key["kdf"]["m_cost"], 8);
    assert_eq!(key["kdf"]["algorithm"], "argon2id");
    // `open` reads the costs from the file: no variable needed here.
    let unlock = Unlock::Passphrase(crate::support::passphrase("fake passphrase"));
    assert!(LocalStore::open(home.path(), unlock).is_ok());
}
