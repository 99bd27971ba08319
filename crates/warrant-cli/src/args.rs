//! Command-line flags, as clap parses them. Validation that needs more than
//! a type lives with each command.

use std::ffi::OsString;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// Just-in-time credentials for AI coding agents: secrets stay in a store,
/// commands get them at run time, and everything they print comes back
/// redacted.
#[derive(Debug, Parser)]
#[command(name = "warrant", version, max_term_width = 100)]
#[command(
    after_help = "Start with `warrant init`, then `warrant secret set NAME` and \
`warrant run --env VAR=warrant://NAME -- COMMAND`."
)]
pub struct Cli {
    /// Where warrant keeps its store, key and audit log
    /// [default: $XDG_DATA_HOME/warrant or ~/.local/share/warrant]
    #[arg(long, global = true, env = "WARRANT_HOME", value_name = "DIR")]
    pub home: Option<PathBuf>,

    /// Read the store's passphrase from this file instead of asking on the
    /// terminal (for scripts; keep the file 0600)
    #[arg(
        long,
        global = true,
        env = "WARRANT_PASSPHRASE_FILE",
        value_name = "FILE"
    )]
    pub passphrase_file: Option<PathBuf>,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create the encrypted local store (no server needed)
    Init(InitArgs),
    /// Add, list, remove and import secrets (values are never printed)
    #[command(subcommand)]
    Secret(SecretCommand),
    /// Run a command with secrets injected and its output redacted
    Run(RunArgs),
    /// Show or verify the hash-chained audit log
    Audit(AuditArgs),
}

#[derive(Debug, Args)]
pub struct InitArgs {
    /// Protect the store's key with a passphrase (Argon2id) instead of a
    /// 0600 key file. Asked on the terminal, or read from stdin when stdin is
    /// not a terminal.
    #[arg(long)]
    pub passphrase: bool,

    /// Print the result as JSON
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum SecretCommand {
    /// Store a value read from stdin, or from a no-echo prompt on a terminal
    ///
    /// The value never comes from the command line, where other users and
    /// shell history could see it. One trailing newline is removed unless
    /// --keep-newline is given.
    Set(SetArgs),
    /// List secret names and metadata, never values
    #[command(visible_alias = "list")]
    Ls(ListArgs),
    /// Remove a secret
    #[command(visible_alias = "remove")]
    Rm(RemoveArgs),
    /// Move the values of a dotenv file into the store and write a file of
    /// references beside it
    Import(ImportArgs),
}

#[derive(Debug, Args)]
pub struct SetArgs {
    /// Path-like name, e.g. github/token or db/dev/url
    pub name: String,
    /// What the secret is for (shown by `secret ls`; never put a value here)
    #[arg(long, short)]
    pub description: Option<String>,
    /// Keep a trailing newline read from stdin as part of the value
    #[arg(long)]
    pub keep_newline: bool,
}

#[derive(Debug, Args)]
pub struct ListArgs {
    /// Print a JSON array
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct RemoveArgs {
    /// The secret's name
    pub name: String,
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// The dotenv file to import
    pub file: PathBuf,
    /// Name prefix for the imported secrets [default: the file's directory name]
    #[arg(long)]
    pub prefix: Option<String>,
    /// Where to write the reference file [default: FILE.warrant]
    #[arg(long, short)]
    pub output: Option<PathBuf>,
    /// Leave the original file with its values in place
    #[arg(long)]
    pub keep: bool,
    /// Replace secrets that already exist in the store
    #[arg(long)]
    pub overwrite: bool,
    /// Print the result as JSON
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
#[command(
    after_help = "References (warrant://NAME) are resolved from warrant's own \
environment, then --env-file files in order, then --env and --file flags; later wins.\n\n\
Exit status: the command's own, or 128+N when it died of signal N; 125 when warrant \
itself failed before running it, 126 when it is not executable, 127 when it was not found."
)]
pub struct RunArgs {
    /// Read variables from a dotenv file; values may be references (repeatable)
    #[arg(long = "env-file", value_name = "FILE")]
    pub env_files: Vec<PathBuf>,
    /// Set VAR to the value of a reference: VAR=warrant://NAME (repeatable)
    #[arg(long = "env", short = 'e', value_name = "VAR=REF")]
    pub env: Vec<String>,
    /// Give VAR the path of an in-memory file holding the value: VAR=warrant://NAME
    /// (repeatable; for tools that read credentials from files)
    #[arg(long = "file", value_name = "VAR=REF")]
    pub files: Vec<String>,
    /// Never give the command a pseudo-terminal, even when stdout is one
    #[arg(long)]
    pub no_tty: bool,
    /// Inject values shorter than 8 bytes. They cannot be redacted reliably,
    /// so they may appear in the output.
    #[arg(long)]
    pub insecure_allow_short_values: bool,
    /// The command and its arguments
    #[arg(last = true, required = true, value_name = "COMMAND")]
    pub command: Vec<OsString>,
}

#[derive(Debug, Args)]
pub struct AuditArgs {
    #[command(subcommand)]
    pub command: Option<AuditCommand>,
    /// Print a JSON array of records
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Check the hash chain; exits non-zero, naming the first bad record,
    /// when any record was altered, removed or reordered
    Verify {
        /// Print the result as JSON
        #[arg(long)]
        json: bool,
    },
}
