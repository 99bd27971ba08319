//! `run_with_streams`: a caller that feeds stdin and takes the redacted
//! output itself (the MCP server), in this process.

use std::io::{Read, Write};
use std::os::fd::OwnedFd;

use warrant_exec::{Streams, run_with_streams};
use warrant_redact::RedactorBuilder;
use warrant_secret::SecretValue;

use crate::spec;

fn pipe() -> (std::fs::File, OwnedFd) {
    let (r, w) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC).unwrap();
    (std::fs::File::from(r), w)
}

fn read_all(mut f: std::fs::File) -> std::thread::JoinHandle<Vec<u8>> {
    std::thread::spawn(move || {
        let mut out = Vec::new();
        f.read_to_end(&mut out).unwrap();
        out
    })
}

#[test]
fn stdin_comes_from_the_caller_and_redacted_output_goes_back_to_it() {
    let value = "fake-streams-value-5f3a9c";
    let mut spec = spec(&[
        "sh",
        "-c",
        "read line; echo \"got $line\"; echo \"$V\"; echo \"$V\" >&2; ps -o pgid= -p $$",
    ]);
    spec.secret_env
        .push(("V".into(), SecretValue::from(value.as_bytes().to_vec())));
    let mut builder = RedactorBuilder::new();
    builder.add("t/v", value.as_bytes());
    spec.redactor = builder.build().unwrap();

    let (stdin_r, stdin_w) = pipe();
    let (out_r, out_w) = pipe();
    let (err_r, err_w) = pipe();
    let mut feeder = std::fs::File::from(stdin_w);
    feeder.write_all(b"hello\n").unwrap();
    drop(feeder);
    let (out, err) = (read_all(out_r), read_all(err_r));
    let streams = Streams {
        stdin: Some(OwnedFd::from(stdin_r)),
        stdout: Some(out_w),
        stderr: Some(err_w),
        new_process_group: true,
        cwd: None,
    };
    let mut pid = 0;
    let outcome = run_with_streams(spec, streams, &mut |p| pid = p).unwrap();
    assert_eq!(outcome.exit_code(), 0);
    let (out, err) = (
        String::from_utf8(out.join().unwrap()).unwrap(),
        String::from_utf8(err.join().unwrap()).unwrap(),
    );
    assert!(out.starts_with("got hello\n<redacted:t/v>\n"), "{out:?}");
    assert_eq!(err, "<redacted:t/v>\n");
    assert!(!out.contains(value) && !err.contains(value));
    // The child led a process group of its own.
    assert_eq!(
        out.lines().last().unwrap().trim(),
        pid.to_string(),
        "{out:?}"
    );
    assert_eq!(outcome.pid, pid);
}

#[test]
fn the_child_runs_in_the_directory_asked_for() {
    let dir = std::env::temp_dir().canonicalize().unwrap();
    let (out_r, out_w) = pipe();
    let (err_r, err_w) = pipe();
    let (out, _err) = (read_all(out_r), read_all(err_r));
    let streams = Streams {
        stdout: Some(out_w),
        stderr: Some(err_w),
        cwd: Some(dir.clone()),
        ..Streams::default()
    };
    let outcome = run_with_streams(spec(&["pwd"]), streams, &mut |_| {}).unwrap();
    assert_eq!(outcome.exit_code(), 0);
    let printed = String::from_utf8(out.join().unwrap()).unwrap();
    assert_eq!(printed.trim(), dir.to_str().unwrap());

    let missing = Streams {
        cwd: Some(dir.join("no-such-dir-for-warrant")),
        stdout: Some(pipe().1),
        stderr: Some(pipe().1),
        ..Streams::default()
    };
    let error = run_with_streams(spec(&["pwd"]), missing, &mut |_| {}).unwrap_err();
    assert!(error.to_string().contains("working directory"), "{error}");
}
