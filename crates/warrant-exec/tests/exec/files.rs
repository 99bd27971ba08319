//! `--file` mode: secrets in sealed in-memory files.

use crate::scenario::Scenario;

const VALUE: &str = "fake-file-secret-value";

#[test]
fn child_and_its_descendants_read_the_file_which_is_on_no_filesystem() {
    let outcome = Scenario::sh(
        r#"cat "$WARRANT_TEST_FILE"; echo
cat "$WARRANT_TEST_FILE"; echo
echo "$WARRANT_TEST_FILE"
readlink "$WARRANT_TEST_FILE"
if printf x >> "$WARRANT_TEST_FILE" 2>/dev/null; then echo writable; else echo sealed; fi
sh -c 'cat "$WARRANT_TEST_FILE"'; echo"#,
    )
    .secret_file("WARRANT_TEST_FILE", VALUE)
    .run();
    assert_eq!(outcome.get("status"), "exited:0", "{outcome:?}");
    let out = outcome.stdout_str();
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 6, "{out}");
    assert_eq!(lines[0], VALUE);
    assert_eq!(lines[1], VALUE, "readable twice");
    let fd: u32 = lines[2]
        .strip_prefix("/proc/self/fd/")
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{}", lines[2]));
    assert!(fd > 2);
    assert_eq!(lines[3], "/memfd:warrant-WARRANT_TEST_FILE (deleted)");
    assert_eq!(lines[4], "sealed");
    assert_eq!(lines[5], VALUE, "a grandchild reads it too");
    assert_eq!(outcome.get("memfds_left"), "0", "warrant closed its copy");
}
