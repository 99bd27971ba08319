//! A bare `warrant run` for trying and measuring the runner by hand:
//!
//! ```sh
//! cargo run --release -p warrant-exec --example run -- cat BIGFILE > /dev/null
//! ```
//!
//! Registers `WARRANT_EXAMPLE_VALUES` (default 100) generated fake values in
//! the redactor and passes the first one as `WARRANT_EXAMPLE_TOKEN`.

use std::ffi::OsString;

use warrant_exec::{RunSpec, TerminalMode};
use warrant_redact::RedactorBuilder;
use warrant_secret::SecretValue;

fn main() {
    let mut args = std::env::args_os().skip(1);
    let Some(program) = args.next() else {
        eprintln!("usage: run PROGRAM [ARGS...]");
        std::process::exit(2);
    };
    warrant_exec::make_non_dumpable().expect("prctl");
    let count: usize = std::env::var("WARRANT_EXAMPLE_VALUES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(100);
    let values: Vec<String> = (0..count)
        .map(|i| {
            format!(
                "fake-example-value-{i:04}-{:016x}",
                (i as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15)
            )
        })
        .collect();
    let mut builder = RedactorBuilder::new();
    for (i, value) in values.iter().enumerate() {
        builder.add(&format!("example/{i}"), value.as_bytes());
    }
    let spec = RunSpec {
        program,
        args: args.collect(),
        env: std::env::vars_os().collect::<Vec<(OsString, OsString)>>(),
        secret_env: values
            .first()
            .map(|v| {
                (
                    "WARRANT_EXAMPLE_TOKEN".to_owned(),
                    SecretValue::from(v.clone()),
                )
            })
            .into_iter()
            .collect(),
        secret_files: Vec::new(),
        redactor: builder.build().expect("redactor"),
        terminal: TerminalMode::Auto,
    };
    match warrant_exec::run(spec) {
        Ok(outcome) => {
            if outcome.total_redactions() > 0 {
                eprintln!("[warrant: {} redactions]", outcome.total_redactions());
            }
            std::process::exit(outcome.exit_code());
        }
        Err(err) => {
            eprintln!("warrant: {err}");
            std::process::exit(127);
        }
    }
}
