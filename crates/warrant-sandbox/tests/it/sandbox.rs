//! Landlock on the real kernel: each test restricts a thread of its own.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::symlink;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::thread;

use warrant_sandbox::Error;
use warrant_sandbox::sandbox::{Status, probe, restrict_self_hiding};

/// A temp tree: `root/hidden/{secret.txt, sub/deeper.txt}` to hide, and
/// siblings `root/notes.txt`, `root/project/main.rs` that must stay usable.
struct Tree {
    _dir: tempfile::TempDir,
    root: PathBuf,
}

impl Tree {
    fn new() -> Tree {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().canonicalize().unwrap();
        fs::create_dir_all(root.join("hidden/sub")).unwrap();
        fs::write(root.join("hidden/secret.txt"), "secret").unwrap();
        fs::write(root.join("hidden/sub/deeper.txt"), "deeper").unwrap();
        fs::write(root.join("notes.txt"), "notes").unwrap();
        fs::create_dir(root.join("project")).unwrap();
        fs::write(root.join("project/main.rs"), "fn main() {}").unwrap();
        Tree { _dir: dir, root }
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.root.join(rel)
    }
}

/// Runs `f` on a new thread restricted with `hidden`, and returns its result.
fn restricted<T: Send + 'static>(hidden: &[&Path], f: impl FnOnce() -> T + Send + 'static) -> T {
    let hidden: Vec<PathBuf> = hidden.iter().map(|p| p.to_path_buf()).collect();
    thread::spawn(move || {
        let refs: Vec<&Path> = hidden.iter().map(PathBuf::as_path).collect();
        let status = restrict_self_hiding(&refs).unwrap();
        assert!(
            matches!(status, Status::Enforced { .. }),
            "these tests need a kernel with Landlock ABI 5 or later: {status}"
        );
        f()
    })
    .join()
    .unwrap()
}

fn denied<T>(result: &io::Result<T>) -> bool {
    matches!(result, Err(e) if e.kind() == io::ErrorKind::PermissionDenied)
}

#[test]
fn probe_reports_landlock_here() {
    let status = probe();
    assert!(
        matches!(status, Status::Enforced { abi } if abi >= 5),
        "{status}"
    );
    assert!(status.to_string().starts_with("Landlock enforced (ABI "));
}

#[test]
fn a_hidden_file_cannot_be_read() {
    let tree = Tree::new();
    let secret = tree.path("hidden/secret.txt");
    let deeper = tree.path("hidden/sub/deeper.txt");
    let (s, d) = (secret.clone(), deeper.clone());
    let results = restricted(&[&tree.path("hidden")], move || {
        [
            fs::read(&s).map(drop),
            fs::read(&d).map(drop),
            File::open(&s).map(drop),
        ]
    });
    for result in results {
        let error = result.unwrap_err();
        assert_eq!(error.raw_os_error(), Some(13), "{error}");
    }
    // Other threads are not restricted.
    assert_eq!(fs::read_to_string(&secret).unwrap(), "secret");
}

#[test]
fn nothing_can_be_written_created_or_removed_in_a_hidden_dir() {
    let tree = Tree::new();
    let hidden = tree.path("hidden");
    let h = hidden.clone();
    let results = restricted(&[&hidden], move || {
        vec![
            OpenOptions::new()
                .append(true)
                .open(h.join("secret.txt"))
                .map(drop),
            File::create(h.join("secret.txt")).map(drop),
            File::create(h.join("new.txt")).map(drop),
            fs::create_dir(h.join("newdir")),
            fs::remove_file(h.join("secret.txt")),
            fs::rename(h.join("secret.txt"), h.join("../stolen.txt")),
            fs::hard_link(h.join("secret.txt"), h.join("../linked.txt")),
            std::os::unix::net::UnixListener::bind(h.join("new.sock")).map(drop),
        ]
    });
    for (i, result) in results.into_iter().enumerate() {
        assert!(denied(&result), "operation {i}: {result:?}");
    }
    assert_eq!(
        fs::read_to_string(hidden.join("secret.txt")).unwrap(),
        "secret"
    );
    assert!(!hidden.join("new.txt").exists());
    assert!(!tree.path("stolen.txt").exists());
    assert!(!tree.path("linked.txt").exists());
}

#[test]
fn a_hidden_program_cannot_be_executed() {
    let tree = Tree::new();
    let program = tree.path("hidden/true");
    fs::copy("/bin/true", &program).unwrap();
    let p = program.clone();
    let result = restricted(&[&tree.path("hidden")], move || Command::new(&p).status());
    assert!(denied(&result), "{result:?}");
}

#[test]
fn siblings_and_the_rest_of_the_system_stay_usable() {
    let tree = Tree::new();
    let root = tree.root.clone();
    restricted(&[&tree.path("hidden")], move || {
        assert_eq!(fs::read_to_string(root.join("notes.txt")).unwrap(), "notes");
        fs::write(root.join("notes.txt"), "edited").unwrap();
        OpenOptions::new()
            .append(true)
            .open(root.join("notes.txt"))
            .unwrap()
            .write_all(b"!")
            .unwrap();
        assert_eq!(
            fs::read_to_string(root.join("notes.txt")).unwrap(),
            "edited!"
        );
        // New files beneath an existing sibling directory.
        fs::create_dir(root.join("project/src")).unwrap();
        fs::write(root.join("project/src/lib.rs"), "").unwrap();
        fs::rename(
            root.join("project/main.rs"),
            root.join("project/src/main.rs"),
        )
        .unwrap();
        fs::remove_file(root.join("project/src/lib.rs")).unwrap();
        // Elsewhere on the system.
        fs::read("/etc/passwd").unwrap();
        fs::read_to_string("/proc/self/status").unwrap();
        fs::write("/dev/null", "discarded").unwrap();
        assert!(fs::read_dir("/etc").unwrap().count() > 0);
        assert!(fs::read_dir("/usr/bin").unwrap().count() > 0);
        // Ancestors can be listed (and walked through).
        let names: Vec<_> = fs::read_dir(&root)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert!(names.iter().any(|n| n == "project"));
        // Programs run, and see the same files.
        let out = Command::new("cat")
            .arg(root.join("notes.txt"))
            .output()
            .unwrap();
        assert!(out.status.success());
        assert_eq!(out.stdout, b"edited!");
        let tmp = tempfile::NamedTempFile::new_in(root.join("project")).unwrap();
        assert!(tmp.path().exists());
    });
}

#[test]
fn names_in_a_hidden_dir_can_still_be_listed() {
    // Documented behaviour: READ_DIR on the ancestors covers everything
    // beneath them, so only the contents are hidden.
    let tree = Tree::new();
    let h = tree.path("hidden");
    let names = restricted(&[&tree.path("hidden")], move || {
        let mut names: Vec<String> = fs::read_dir(&h)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        names
    });
    assert_eq!(names, ["secret.txt", "sub"]);
}

#[test]
fn a_child_process_inherits_the_sandbox() {
    let tree = Tree::new();
    let secret = tree.path("hidden/secret.txt");
    let deeper = tree.path("hidden/sub/deeper.txt");
    let outputs = restricted(&[&tree.path("hidden")], move || {
        [
            Command::new("cat")
                .arg(&secret)
                .stderr(Stdio::piped())
                .output()
                .unwrap(),
            // Grandchildren too.
            Command::new("sh")
                .arg("-c")
                .arg(format!("cat {} || exit 3", deeper.display()))
                .stderr(Stdio::piped())
                .output()
                .unwrap(),
        ]
    });
    for output in outputs {
        assert!(!output.status.success());
        assert!(output.stdout.is_empty());
        assert!(
            String::from_utf8_lossy(&output.stderr).contains("Permission denied"),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
}

#[test]
fn a_unix_socket_in_a_hidden_dir_stays_reachable() {
    // The broker's socket lives in warrant's hidden directory.
    let tree = Tree::new();
    let socket = tree.path("hidden/broker.sock");
    let listener = UnixListener::bind(&socket).unwrap();
    let server = thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        let mut byte = [0];
        stream.read_exact(&mut byte).unwrap();
        stream.write_all(&[byte[0] + 1]).unwrap();
    });
    let reply = restricted(&[&tree.path("hidden")], move || {
        let mut stream = UnixStream::connect(&socket).unwrap();
        stream.write_all(&[41]).unwrap();
        let mut byte = [0];
        stream.read_exact(&mut byte).unwrap();
        byte[0]
    });
    server.join().unwrap();
    assert_eq!(reply, 42);
}

#[test]
fn an_entry_created_later_directly_in_an_ancestor_is_not_accessible() {
    // Documented limitation: rules name the siblings that exist when the
    // sandbox is set up.
    let tree = Tree::new();
    let root = tree.root.clone();
    let (ready_tx, ready_rx) = mpsc::channel();
    let (go_tx, go_rx) = mpsc::channel::<()>();
    let r = root.clone();
    let sandboxed = thread::spawn(move || {
        restrict_self_hiding(&[&r.join("hidden")]).unwrap();
        ready_tx.send(()).unwrap();
        go_rx.recv().unwrap();
        [
            fs::read(r.join("later.txt")).map(drop),
            fs::write(r.join("new.txt"), "x"),
            fs::read(r.join("later-dir/inner.txt")).map(drop),
            fs::read(r.join("project/later.txt")).map(drop),
        ]
    });
    ready_rx.recv().unwrap();
    fs::write(root.join("later.txt"), "later").unwrap();
    fs::create_dir(root.join("later-dir")).unwrap();
    fs::write(root.join("later-dir/inner.txt"), "inner").unwrap();
    fs::write(root.join("project/later.txt"), "fine").unwrap();
    go_tx.send(()).unwrap();
    let [later, new, inner, in_sibling] = sandboxed.join().unwrap();
    assert!(denied(&later));
    assert!(denied(&new));
    assert!(denied(&inner));
    in_sibling.unwrap();
}

#[test]
fn symlinks_among_siblings_grant_nothing_of_their_own() {
    let tree = Tree::new();
    symlink("hidden", tree.path("alias")).unwrap();
    symlink("hidden/secret.txt", tree.path("secret-link")).unwrap();
    symlink("notes.txt", tree.path("notes-link")).unwrap();
    symlink("project", tree.path("project-link")).unwrap();
    let root = tree.root.clone();
    restricted(&[&tree.path("hidden")], move || {
        assert!(denied(&fs::read(root.join("alias/secret.txt"))));
        assert!(denied(&fs::read(root.join("secret-link"))));
        assert_eq!(
            fs::read_to_string(root.join("notes-link")).unwrap(),
            "notes"
        );
        fs::read(root.join("project-link/main.rs")).unwrap();
    });
}

#[test]
fn a_hidden_path_given_through_a_symlink_is_resolved() {
    let tree = Tree::new();
    symlink("hidden", tree.path("alias")).unwrap();
    let secret = tree.path("hidden/secret.txt");
    let notes = tree.path("notes.txt");
    let (secret_result, notes_result) = restricted(&[&tree.path("alias")], move || {
        (fs::read(&secret), fs::read(&notes))
    });
    assert!(denied(&secret_result));
    notes_result.unwrap();
}

#[test]
fn several_hidden_paths_share_ancestors() {
    let tree = Tree::new();
    for dir in ["a/x", "a/y", "a/z", "b"] {
        fs::create_dir_all(tree.path(dir)).unwrap();
        fs::write(tree.path(dir).join("f"), dir).unwrap();
    }
    fs::write(tree.path("a/top.txt"), "top").unwrap();
    let root = tree.root.clone();
    let hidden = [
        tree.path("a/x"),
        tree.path("a/y"),
        tree.path("b"),
        tree.path("hidden"),
    ];
    let hidden: Vec<&Path> = hidden.iter().map(PathBuf::as_path).collect();
    restricted(&hidden, move || {
        for dir in ["a/x", "a/y", "b"] {
            assert!(denied(&fs::read(root.join(dir).join("f"))), "{dir}");
        }
        assert!(denied(&fs::read(root.join("hidden/secret.txt"))));
        assert!(denied(&fs::read(root.join("hidden/sub/deeper.txt"))));
        assert_eq!(fs::read_to_string(root.join("a/z/f")).unwrap(), "a/z");
        assert_eq!(fs::read_to_string(root.join("a/top.txt")).unwrap(), "top");
        assert_eq!(fs::read_to_string(root.join("notes.txt")).unwrap(), "notes");
    });
}

#[test]
fn a_hidden_file_can_be_hidden_alone() {
    let tree = Tree::new();
    fs::write(tree.path("project/.env"), "TOKEN=fake").unwrap();
    let root = tree.root.clone();
    restricted(&[&tree.path("project/.env")], move || {
        assert!(denied(&fs::read(root.join("project/.env"))));
        fs::read(root.join("project/main.rs")).unwrap();
    });
}

#[test]
fn a_missing_hidden_path_is_an_error_and_restricts_nothing() {
    let tree = Tree::new();
    let missing = tree.path("nope");
    let secret = tree.path("hidden/secret.txt");
    let (result, read) = thread::spawn(move || {
        let result = restrict_self_hiding(&[&missing]);
        (result, fs::read(&secret))
    })
    .join()
    .unwrap();
    assert!(
        matches!(result, Err(Error::HiddenPath { .. })),
        "{result:?}"
    );
    read.unwrap();
}

#[test]
fn a_confined_sandbox_cannot_signal_out_but_signals_within() {
    let tree = Tree::new();
    // A process outside the sandbox (this test's own child).
    let mut outside = Command::new("sleep").arg("30").spawn().unwrap();
    let target = outside.id();
    let hidden = tree.path("hidden");
    let (out_refused, inside_killed) = thread::spawn(move || {
        let status = warrant_sandbox::sandbox::restrict_self_confined(&[hidden.as_path()]).unwrap();
        assert!(status.confines_signals(), "needs Landlock ABI 6: {status}");
        let out = Command::new("kill")
            .args(["-TERM", &target.to_string()])
            .stderr(Stdio::null())
            .status()
            .unwrap();
        // Inside, a shell still ends its own child.
        let within = Command::new("sh")
            .args(["-c", "sleep 30 & kill -TERM $! && wait $!; echo $?"])
            .output()
            .unwrap();
        (
            !out.success(),
            String::from_utf8_lossy(&within.stdout).trim().to_owned(),
        )
    })
    .join()
    .unwrap();
    assert!(out_refused, "a confined process signalled one outside");
    assert_eq!(inside_killed, "143", "signals inside the sandbox must work");
    assert!(
        outside.try_wait().unwrap().is_none(),
        "the outside process was killed"
    );
    outside.kill().unwrap();
    outside.wait().unwrap();
}
