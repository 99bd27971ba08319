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
    /// Run the credential-injecting HTTPS proxy for a grant: commands hold
    /// placeholders, the proxy puts the values on the wire to allowed hosts
    Proxy(ProxyArgs),
    /// Show or verify the hash-chained audit log
    Audit(AuditArgs),
    /// Run the broker daemon: it holds the store key and serves grants
    Serve(ServeArgs),
    /// Say whether the daemon is up and what it holds (counts, never values)
    Status(JsonArgs),
    /// Print (or --open) the address of the approval page `warrant serve` serves
    Ui(UiArgs),
    /// Ask for a grant: secrets for one task, for a while, for some commands
    Request(RequestArgs),
    /// List grants with their status and time left
    Grants(GrantsArgs),
    /// Approve a pending grant (needs the approver passphrase)
    Approve(ApproveArgs),
    /// Refuse a pending grant
    Deny(DenyArgs),
    /// End a grant now; processes running under it are ended
    Revoke(RevokeArgs),
    /// Run a coding agent as a task: its grants end, and its leftover
    /// processes are ended, when it exits
    Task(TaskArgs),
    /// Check or explain the policy (warrant.toml), or accept a changed one
    #[command(subcommand)]
    Policy(PolicyCommand),
    /// Set the approver passphrase
    #[command(subcommand)]
    Approver(ApproverCommand),
    /// Summarise exposure from the audit log, per secret and per actor
    Report(ReportArgs),
    /// Serve MCP on stdio: agents use credentials without seeing them
    Mcp(McpArgs),
    /// Find secrets in files, git changes and agent configuration
    Scan(ScanArgs),
    /// Move hard-coded secrets out of MCP configuration files into the store
    ///
    /// Every server entry whose `env` or `args` hold a secret (a value of the
    /// store, or a credential format `warrant scan` knows) is rewritten to
    /// start through `warrant run` with references instead of values:
    /// `"command": "warrant", "args": ["run", "--env",
    /// "TOKEN=warrant://mcp/SERVER/token", "--", OLD COMMAND...]`. A secret
    /// passed as an argument reaches the server through `sh -c`, in its argv
    /// as before. New secrets are named mcp/SERVER/VARIABLE (-2, -3, ... when
    /// that name holds another value).
    Migrate(MigrateArgs),
    /// Check an agent hook's input (stdin): block a prompt or tool call
    /// that carries a secret
    Guard(GuardArgs),
    /// Install warrant's git pre-commit hook, or its guard in an agent's hooks
    #[command(subcommand)]
    Hook(HookCommand),
}

#[derive(Debug, Args)]
#[command(
    after_help = "Run by an agent client's hooks (Claude Code, Codex, Cursor, Gemini CLI, \
Windsurf, Cline; `warrant hook install --client NAME` sets it up), with the hook's JSON on \
stdin. A prompt, tool call or file read that holds a value of the store or a credential is \
blocked in the client's own terms, with a message naming what was found (never the value) \
and how to store it (`warrant secret set NAME`) and use warrant://NAME instead. Anything else \
passes. Input that cannot be read is reported on stderr and let through (exit 1, a hook \
error the client shows; Cline: exit 0), unless --fail-closed."
)]
pub struct GuardArgs {
    /// The client sending the input (claude-code, codex, cursor, gemini,
    /// windsurf, cline) [default: told from the input's shape]
    #[arg(long)]
    pub client: Option<String>,
    /// Block what cannot be read or checked instead of letting it through
    #[arg(long)]
    pub fail_closed: bool,
}

#[derive(Debug, Subcommand)]
pub enum HookCommand {
    /// Install the git pre-commit hook here, or with --client the guard in
    /// an agent client's hook configuration
    ///
    /// Without --client: a pre-commit hook in this repository (where git runs
    /// hooks: core.hooksPath, worktrees) runs `warrant scan --staged` and stops
    /// a commit that adds a secret. With --client: `warrant guard` in the
    /// client's user configuration (--project: this project's), every other
    /// setting kept, the old file backed up as FILE.warrant-backup. Running it
    /// again changes nothing.
    Install(HookInstallArgs),
    /// Remove what `warrant hook install` added (same options)
    Uninstall(HookUninstallArgs),
}

#[derive(Debug, Args)]
pub struct HookInstallArgs {
    /// claude-code, codex, cursor, gemini, windsurf or cline [default: the
    /// git pre-commit hook]
    #[arg(long)]
    pub client: Option<String>,
    /// Write the project's configuration instead of the user's
    #[arg(long)]
    pub project: bool,
    /// An existing pre-commit hook: keep it and run it after warrant's check
    #[arg(long, conflicts_with = "force")]
    pub chain: bool,
    /// An existing hook that is not warrant's: replace it (a copy is kept as
    /// FILE.warrant-backup)
    #[arg(long)]
    pub force: bool,
    /// Have the guard block what it cannot read or check
    #[arg(long)]
    pub fail_closed: bool,
    /// Print the change instead of writing it
    #[arg(long)]
    pub dry_run: bool,
    /// Print the result as JSON
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct HookUninstallArgs {
    /// The client whose hooks to clean [default: the git pre-commit hook]
    #[arg(long)]
    pub client: Option<String>,
    /// The project's configuration instead of the user's
    #[arg(long)]
    pub project: bool,
    /// Print the change instead of writing it
    #[arg(long)]
    pub dry_run: bool,
    /// Print the result as JSON
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
#[command(
    after_help = "Started by an MCP client (Codex, Claude Code, Cursor, VS Code): stdout \
carries only the protocol; diagnostics go to stderr. Under `warrant task` the server acts for \
the task's actor whatever --actor says; outside a task, --actor is all that names who asks."
)]
pub struct McpArgs {
    #[command(subcommand)]
    pub command: Option<McpCommand>,
    /// Who asks, outside a task (an actor of the policy)
    #[arg(long, env = "WARRANT_ACTOR")]
    pub actor: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum McpCommand {
    /// Add warrant's server to an MCP client's configuration (no secret in it)
    ///
    /// Keeps every other entry (and, for TOML, comments and layout), backs the
    /// old file up beside it as FILE.warrant-backup, writes atomically, and
    /// changes nothing when the entry is already there.
    Install(McpInstallArgs),
}

#[derive(Debug, Args)]
pub struct McpInstallArgs {
    /// codex, claude-code, claude-desktop, cursor or vscode
    #[arg(long)]
    pub client: String,
    /// user (your own configuration) or project (this directory's)
    #[arg(long, default_value = "user")]
    pub scope: String,
    /// The actor the agent asks as, outside `warrant task`
    #[arg(long)]
    pub actor: Option<String>,
    /// Print the change instead of writing it
    #[arg(long)]
    pub dry_run: bool,
    /// Print the result as JSON
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
#[command(
    after_help = "The secrets are stored first, then each file is written atomically after a \
0600 copy of the old one, FILE.warrant-backup (it still holds the values: delete it once the \
servers work). Comments, key order and every other entry stay as they were. Remote servers \
(a URL with secret headers) are reported, not changed: warrant does not start them. Running \
it again changes nothing.\n\n\
Exit status: 0 done (or nothing to do), 1 some secrets were left in place, 2 error."
)]
pub struct MigrateArgs {
    /// Every MCP configuration file of the known clients, for this user and
    /// this project (Codex, Claude Code, Claude Desktop, Cursor, VS Code,
    /// Windsurf, Gemini CLI, Zed, Kiro)
    #[arg(long)]
    pub mcp: bool,
    /// Configuration files to migrate (JSON, JSON with comments, or Codex TOML)
    #[arg(value_name = "FILE", required_unless_present = "mcp")]
    pub files: Vec<PathBuf>,
    /// Show the changes (values masked) without storing or writing anything
    #[arg(long)]
    pub dry_run: bool,
    /// Print the result as JSON
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct JsonArgs {
    /// Print the result as JSON
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
#[command(
    after_help = "The daemon listens on WARRANT_HOME/warrant.sock (mode 0600), refuses \
other users, keeps grant state in WARRANT_HOME/state.redb, and stops cleanly on SIGTERM."
)]
pub struct ServeArgs {
    /// The policy to apply [default: warrant.toml in this directory or a parent]
    #[arg(long, value_name = "FILE")]
    pub policy: Option<PathBuf>,
    /// Port of the approval page, held on 127.0.0.1 and `[::1]` (0 picks a
    /// free one); not served when another process holds it there
    /// [default: 7341; when busy the daemon runs without the page]
    #[arg(long, value_name = "PORT", env = "WARRANT_UI_PORT")]
    pub ui_port: Option<u16>,
    /// Do not serve the approval page
    #[arg(long)]
    pub no_ui: bool,
    /// A CA (PEM file) the egress trusts for upstream servers, besides the
    /// system's roots (repeatable). Commands run through the daemon's egress
    /// trust only these and the system's, whatever their environment says
    #[arg(long, value_name = "FILE")]
    pub egress_ca: Vec<PathBuf>,
    /// HOST=IP:PORT: the egress connects to this address for HOST instead of
    /// resolving it (repeatable; private hosts, tests). Only the daemon's
    /// own configuration names such overrides, never a command
    #[arg(long, value_name = "HOST=ADDR")]
    pub egress_resolve: Vec<String>,
    #[command(flatten)]
    pub state: crate::team_state::StateArgs,
}

#[derive(Debug, Args)]
pub struct UiArgs {
    /// Open it in the browser (xdg-open) as well
    #[arg(long)]
    pub open: bool,
}

#[derive(Debug, Args)]
#[command(
    after_help = "Inside `warrant task` the actor is the task's; elsewhere name it \
with --actor. Exits 0 when the grant is active or pending, 3 when the policy denies it."
)]
pub struct RequestArgs {
    /// A secret the task needs (repeatable)
    #[arg(long = "secret", short = 's', value_name = "NAME", required = true)]
    pub secrets: Vec<String>,
    /// Why: shown to the approver and kept in the audit log
    #[arg(long, required = true)]
    pub reason: String,
    /// How long the grant lasts once approved, e.g. 15m, 1h
    #[arg(long, value_name = "DURATION", required = true)]
    pub ttl: String,
    /// A command the values may be given to (repeatable; names or absolute
    /// paths) [default: whatever the policy's rules allow]
    #[arg(long = "command", value_name = "CMD")]
    pub commands: Vec<String>,
    /// A host the values may be sent to over HTTP (repeatable)
    #[arg(long = "host", value_name = "HOST")]
    pub hosts: Vec<String>,
    /// Who asks, outside a task (an actor of the policy)
    #[arg(long, env = "WARRANT_ACTOR")]
    pub actor: Option<String>,
    /// Wait until the grant is approved, denied or expired
    #[arg(long)]
    pub wait: bool,
    /// Print the grant as JSON
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct GrantsArgs {
    /// Include ended grants (denied, revoked, expired)
    #[arg(long)]
    pub all: bool,
    /// Print a JSON array
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
#[command(
    after_help = "The approver passphrase is asked on the terminal without echo, or \
read from the first line of stdin when stdin is not a terminal. It never comes from the \
command line or the environment."
)]
pub struct ApproveArgs {
    /// The grant's id
    pub id: String,
    /// Approve for less time than asked, e.g. 10m
    #[arg(long, value_name = "DURATION")]
    pub ttl: Option<String>,
    /// Approve for fewer uses than the policy allows
    #[arg(long, value_name = "N")]
    pub uses: Option<u64>,
    /// Print the grant as JSON
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct DenyArgs {
    /// The grant's id
    pub id: String,
    /// Why (kept in the audit log)
    #[arg(long)]
    pub reason: Option<String>,
    /// Print the grant as JSON
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct RevokeArgs {
    /// The grant's id
    pub id: String,
    /// Why (kept in the audit log)
    #[arg(long)]
    pub reason: Option<String>,
    /// Print the grant as JSON
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
#[command(
    after_help = "Every process under the agent belongs to the task: its requests are \
the task's actor's, whatever they claim. On Linux the agent runs under Landlock and cannot \
read WARRANT_HOME. When the agent exits, the task's grants are revoked and its leftover \
processes ended. Exit status: the agent's."
)]
pub struct TaskArgs {
    /// The actor the agent acts as (an actor of the policy)
    #[arg(long, env = "WARRANT_ACTOR")]
    pub actor: String,
    /// Why the task runs (kept in the audit log)
    #[arg(long, default_value = "agent task")]
    pub reason: String,
    /// SIGTERM → SIGKILL grace for leftover processes at the end
    #[arg(long, value_name = "DURATION", default_value = "5s")]
    pub grace: String,
    /// Run without the Landlock sandbox (the agent can then read the store's files)
    #[arg(long)]
    pub insecure_no_sandbox: bool,
    /// Values reach the agent's processes only as placeholders: the daemon
    /// refuses to hand a value to any process of the task, and `warrant run
    /// --grant` inside it uses the proxy (WARRANT_PROXY=1); MCP
    /// `http_request` still works, MCP `run_command` is refused
    #[arg(long)]
    pub proxy: bool,
    /// The agent command and its arguments
    #[arg(last = true, required = true, value_name = "AGENT_COMMAND")]
    pub command: Vec<OsString>,
}

#[derive(Debug, Subcommand)]
pub enum PolicyCommand {
    /// Lint the policy: unknown secrets, unused actors, rules that grant too much
    Check(PolicyCheckArgs),
    /// Say which rule allows or denies an actor a secret, and why
    Explain(PolicyExplainArgs),
    /// Accept the policy as it is now, so its automatic approvals apply
    /// (needs the approver passphrase)
    Accept(JsonArgs),
}

#[derive(Debug, Args)]
pub struct PolicyCheckArgs {
    /// The policy [default: warrant.toml in this directory or a parent]
    #[arg(long, value_name = "FILE")]
    pub policy: Option<PathBuf>,
    /// Print findings as JSON
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct PolicyExplainArgs {
    /// The policy [default: warrant.toml in this directory or a parent]
    #[arg(long, value_name = "FILE")]
    pub policy: Option<PathBuf>,
    /// The actor asking
    #[arg(long)]
    pub actor: String,
    /// The secret asked for
    #[arg(long)]
    pub secret: String,
    /// The command it would be given to
    #[arg(long)]
    pub command: Option<String>,
    /// The host it would be sent to
    #[arg(long)]
    pub host: Option<String>,
    /// Print the explanation as JSON
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum ApproverCommand {
    /// Set or change the approver passphrase (the current one is asked first)
    ///
    /// On a terminal both are asked without echo; otherwise stdin holds the
    /// current passphrase on its first line (when one is set) and the new one
    /// on the next.
    Set,
}

#[derive(Debug, Args)]
pub struct ReportArgs {
    /// Only records since: an RFC 3339 time, a date (YYYY-MM-DD), or an age
    /// (30m, 12h, 7d, 2w)
    #[arg(long, value_name = "WHEN")]
    pub since: Option<String>,
    /// Print the report as JSON
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct InitArgs {
    /// Also set the approver passphrase, which approving grants needs (on
    /// stdin: the line after the store passphrase, if that is read too)
    #[arg(long)]
    pub approver: bool,

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
    /// Take the values from this grant through the daemon instead of the
    /// store (the references must name the grant's secrets)
    #[arg(long, env = "WARRANT_GRANT", value_name = "ID")]
    pub grant: Option<String>,
    /// Inject values shorter than 8 bytes. They cannot be redacted reliably,
    /// so they may appear in the output.
    #[arg(long)]
    pub insecure_allow_short_values: bool,
    /// Give the command a placeholder instead of each value, and an HTTPS
    /// proxy that puts the value on the wire only towards the secret's
    /// hosts: the command never holds the value. With --grant the proxy runs
    /// in the daemon (its egress), so no process the command can reach holds
    /// a value either; without, in this process (see `warrant proxy --help`;
    /// `warrant task --proxy` sets WARRANT_PROXY=1 for its agent)
    #[arg(long, env = "WARRANT_PROXY", value_parser = clap::builder::FalseyValueParser::new())]
    pub proxy: bool,
    /// With --proxy and no grant: a host NAME's value may be sent to, as
    /// NAME=HOST (an exact name, or *.example.com for its subdomains;
    /// repeatable, at least one per secret). A grant's hosts come from the
    /// policy
    #[arg(long = "host", value_name = "NAME=HOST", requires = "proxy")]
    pub hosts: Vec<String>,
    /// With --proxy: tunnel connections to hosts no secret needs, untouched
    /// (by default they are refused)
    #[arg(long, requires = "proxy")]
    pub passthrough: bool,
    /// With --proxy: replace placeholders in request bodies too, not only
    /// in headers and URLs
    #[arg(long, requires = "proxy")]
    pub substitute_in_body: bool,
    /// With --proxy and no grant: also trust this CA (PEM) for upstream
    /// servers, besides the system's roots (repeatable; for private servers;
    /// under a grant the daemon's `warrant serve --egress-ca` decides)
    #[arg(long, value_name = "FILE", requires = "proxy")]
    pub upstream_ca: Vec<PathBuf>,
    /// With --proxy and no grant: connect to ADDR (IP:PORT) for HOST, as
    /// HOST=ADDR (tests, private hosts; repeatable)
    #[arg(long, value_name = "HOST=ADDR", requires = "proxy", hide = true)]
    pub resolve: Vec<String>,
    /// The command and its arguments
    #[arg(last = true, required = true, value_name = "COMMAND")]
    pub command: Vec<OsString>,
}

#[derive(Debug, Args)]
#[command(
    after_help = "The command the proxy serves gets placeholders (wph_...) instead of values. \
The proxy intercepts HTTPS to the hosts the grant's policy rule lists for each secret (with a \
certificate from warrant's local CA, which the printed CA bundle trusts), replaces each \
placeholder with the value in headers and the URL (and bodies with --substitute-in-body), and \
redacts the values from responses. A placeholder aimed at any other host, or a request whose \
Host differs from the host it connected to, is answered 403, sent nowhere and audited. Every \
substitution goes through the daemon, which checks the grant and audits it.\n\n\
`warrant run --proxy` does the same for one command, and without a grant takes values from \
the store and hosts from --host NAME=HOST."
)]
pub struct ProxyArgs {
    /// The grant whose secrets the proxy substitutes
    #[arg(long, env = "WARRANT_GRANT", value_name = "ID")]
    pub grant: String,
    /// Where to listen (a loopback address; port 0 picks a free one)
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:0")]
    pub listen: std::net::SocketAddr,
    /// Tunnel connections to hosts no secret needs, untouched (by default
    /// they are refused)
    #[arg(long)]
    pub passthrough: bool,
    /// Replace placeholders in request bodies too, not only in headers and
    /// URLs
    #[arg(long)]
    pub substitute_in_body: bool,
    /// Also trust this CA (PEM) for upstream servers, besides the system's
    /// roots (repeatable; for private servers)
    #[arg(long, value_name = "FILE")]
    pub upstream_ca: Vec<PathBuf>,
    /// Print the settings as JSON
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct AuditArgs {
    #[command(subcommand)]
    pub command: Option<AuditCommand>,
    /// Print a JSON array of records
    #[arg(long)]
    pub json: bool,
    /// Team mode: read the chain the daemons keep in PostgreSQL
    #[command(flatten)]
    pub state: crate::team_state::StateArgs,
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

#[derive(Debug, Args)]
#[command(
    after_help = "Finds the store's values (raw and encoded), credential formats \
(`--list-rules`) and generic assignments such as `password = ...`. Findings show a \
masked excerpt, never the secret. Exit status: 0 nothing found, 1 something found, \
2 a file could not be read or git failed.\n\n\
Allowlists, both reported as `allowed` in the output: a `.warrantignore` file \
(gitignore syntax) in the scanned directory, and `warrant:allow` on the line."
)]
pub struct ScanArgs {
    /// Files or directories to scan [default: .]; for --staged and --since,
    /// a directory inside the repository
    #[arg(value_name = "PATH")]
    pub paths: Vec<PathBuf>,

    /// Scan the lines staged for the next commit (the index, not the
    /// working tree)
    #[arg(long, conflicts_with_all = ["since", "mcp"])]
    pub staged: bool,

    /// Scan the lines that the commits after REV added (REV..HEAD)
    #[arg(long, value_name = "REV", conflicts_with = "mcp")]
    pub since: Option<String>,

    /// Scan every agent and MCP configuration file on this machine and in
    /// this project (Codex, Claude Code, Claude Desktop, Cursor, VS Code,
    /// Windsurf, Gemini CLI, ...)
    #[arg(long, conflicts_with = "paths")]
    pub mcp: bool,

    /// Output format
    #[arg(long, value_enum, default_value = "human")]
    pub format: ScanFormat,

    /// Same as --format json
    #[arg(long)]
    pub json: bool,

    /// Do not look for the store's values, only credential shapes
    #[arg(long)]
    pub no_store: bool,

    /// Look for the store's values even if it needs its passphrase (asks
    /// for it; by default they are checked only when no prompt is needed)
    #[arg(long, conflicts_with = "no_store")]
    pub store: bool,

    /// Leave out a rule by id (repeatable; see --list-rules)
    #[arg(long, value_name = "RULE")]
    pub disable: Vec<String>,

    /// Leave out the generic assignment rules (`password = ...`)
    #[arg(long)]
    pub no_generic: bool,

    /// Also scan binaries and generated files (lock files, minified code,
    /// source maps), which are otherwise skipped and listed
    #[arg(long)]
    pub all: bool,

    /// Also scan what .gitignore and .ignore files exclude
    #[arg(long)]
    pub no_gitignore: bool,

    /// List the files skipped by rule
    #[arg(long, short)]
    pub verbose: bool,

    /// List the rules and exit
    #[arg(long)]
    pub list_rules: bool,

    /// Worker threads [default: one per core]
    #[arg(long, default_value_t = 0, hide_default_value = true)]
    pub threads: usize,
}

/// How `warrant scan` prints what it found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ScanFormat {
    /// One line per finding, for people
    Human,
    /// One JSON document, for scripts
    Json,
    /// SARIF 2.1.0, for code-scanning dashboards
    Sarif,
}
