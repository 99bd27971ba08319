//! A writer killed with SIGKILL at any instant never corrupts the store, and
//! every value whose write was acknowledged is there afterwards.

use std::io::{Read, Write};
use std::process::Stdio;
use std::time::Duration;

use crate::harness::{Home, fake_value};

fn random_below(bound: u64) -> u64 {
    let mut bytes = [0u8; 8];
    std::fs::File::open("/dev/urandom")
        .unwrap()
        .read_exact(&mut bytes)
        .unwrap();
    u64::from_le_bytes(bytes) % bound
}

#[test]
fn kill_9_during_writes_loses_no_acknowledged_value() {
    let home = Home::new();
    // Calibrate: kill at random instants within twice one write's duration,
    // so that some writes finish and some are cut, on any machine.
    let started = std::time::Instant::now();
    home.set("crash/calibrate", &fake_value("cal"));
    let window = u64::try_from(started.elapsed().as_micros() * 2)
        .unwrap()
        .max(1_000);

    let (mut acknowledged, mut interrupted) = (Vec::new(), 0);
    for i in 0..200 {
        if i >= 40 && !acknowledged.is_empty() && interrupted > 0 {
            break;
        }
        let name = format!("crash/k{i}");
        let value = fake_value(&format!("v{i}"));
        let mut child = home
            .std_cmd()
            .args(["secret", "set", &name])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(value.as_bytes())
            .unwrap();
        std::thread::sleep(Duration::from_micros(random_below(window)));
        let _ = child.kill();
        if child.wait().unwrap().success() {
            acknowledged.push((name, value));
        } else {
            interrupted += 1;
        }
    }
    assert!(
        !acknowledged.is_empty(),
        "no write finished; the test proves nothing"
    );
    assert!(
        interrupted > 0,
        "no write was interrupted; the test proves nothing"
    );

    // The store opens and holds every acknowledged value, intact.
    let mut args = Vec::new();
    let mut script = String::from("ok=0\n");
    for (i, (name, value)) in acknowledged.iter().enumerate() {
        args.push("-e".to_owned());
        args.push(format!("V{i}=warrant://{name}"));
        script.push_str(&format!(
            "[ \"$V{i}\" = \"{value}\" ] || {{ echo \"bad {name}\"; ok=1; }}\n"
        ));
    }
    script.push_str("exit $ok\n");
    let out = home
        .cmd()
        .arg("run")
        .args(&args)
        .args(["--", "sh", "-c", &script])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // And it still takes writes.
    home.set("crash/after", "value-after-the-crashes");
}
