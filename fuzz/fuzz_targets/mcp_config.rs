//! `warrant mcp install` edits files other tools own (Codex's TOML, the JSON
//! of Claude, Cursor and VS Code): whatever a file holds, planning must not
//! panic, and what it writes must be stable (planning again changes nothing).

#![no_main]

use std::path::PathBuf;

use libfuzzer_sys::fuzz_target;
use warrant_mcp::install::{self, ClientKind, Entry};

fuzz_target!(|data: &[u8]| {
    let dir = std::env::temp_dir().join(format!("warrant-fuzz-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&dir);
    let entry = Entry {
        command: "warrant".into(),
        actor: Some("codex".into()),
        home: Some(PathBuf::from("/tmp/w")),
    };
    for client in ClientKind::ALL {
        let path = dir.join(format!("{}.conf", client.name()));
        std::fs::write(&path, data).unwrap();
        let Ok(plan) = install::plan(client, &path, &entry) else {
            continue;
        };
        std::fs::write(&path, &plan.after).unwrap();
        let again = install::plan(client, &path, &entry).expect("what warrant wrote must parse");
        assert!(!again.changed, "a second install would change {}", client.name());
    }
});
