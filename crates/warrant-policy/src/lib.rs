//! `warrant.toml`: who may use which secrets, for which commands and hosts,
//! for how long, and with or without approval.
//!
//! The policy file holds no values and is meant to be committed. It names
//! actors and rules:
//!
//! ```toml
//! [actors.codex]
//! kind = "agent"                         # "human" | "agent" | "workload"
//! description = "Codex in this repo"     # optional
//!
//! [[rules]]
//! actors   = ["codex"]
//! secrets  = ["db/dev/*", "github/token"]   # names or globs
//! commands = ["cargo", "psql", "git"]       # optional: omitted = any command
//! hosts    = ["api.github.com"]             # optional: omitted = no host; host[:port], 443 by default
//! max_ttl  = "30m"                          # required
//! approval = "required"                     # "required", "hardware_key" or "auto"; required
//! max_uses = 50                             # optional
//! on_expiry = "terminate"                   # or "finish"; default "terminate"
//! grace = "10s"                             # SIGTERM→SIGKILL; default 10s
//! description = "migration tests"           # optional
//! allow_http = false                        # default: the secrets go over HTTPS only
//! substitute_in = ["query", "body"]         # default: placeholders replaced in headers only
//! inject = [                                # optional: the egress adds the value itself
//!   { secret = "github/token", host = "api.github.com", header = "Authorization", format = "Bearer {value}" },
//! ]                                         # or basic = "user:{value}", or query = "api_key"
//! ```
//!
//! Unknown keys are errors. Every error, in TOML syntax or in meaning (an
//! unknown kind, a bad duration or glob, an actor a rule names but nobody
//! defined, `max_ttl` or `max_uses` of zero, an empty list), names
//! `file:line:column` and what to write instead. [`Policy::check`] lints what
//! parses but is likely a mistake or too broad.
//!
//! # Matching
//!
//! - **Secrets** are globs over `/`-separated secret names: `*` does not
//!   cross `/` and `**` does, so `db/*` matches `db/url` but not
//!   `db/dev/url`, and `db/**` matches both. A plain name matches itself.
//!   `?`, `[abc]` and `{a,b}` work as usual.
//! - **Commands**: a pattern without `/` matches the file name of the
//!   program, however it was invoked (`cargo` matches `cargo`,
//!   `/usr/bin/cargo` and `./cargo`); a pattern with `/` must be absolute and
//!   matches the absolute path of the program the caller resolved, again
//!   with `*` not crossing `/` (`/usr/bin/*`). Paths with `.` or `..`
//!   segments never match. See [`command_matches`].
//!
//!   A name-only pattern guards against mistakes, not against a hostile
//!   agent: an agent that can create an executable called `cargo` passes
//!   it. Absolute paths in the policy, to files the agent cannot write, are
//!   the stronger boundary.
//! - **Hosts** are exact host names or `*.example.com` (any subdomain, at
//!   any depth, but not `example.com` itself), without case and without a
//!   trailing dot, with an optional `:port` (443 when none is written, 80
//!   for plain HTTP where the rule has `allow_http = true`; `:*` for any).
//!   No scheme or path. Omitted means the secrets may be sent to no host.
//!   An injection's host counts as one of its rule's hosts. See
//!   [`host_matches`] (by name) and [`endpoint_matches`] (on the wire).
//!
//! # Decisions
//!
//! [`Policy::decide`] allows a [`Request`] only if its actor is defined and
//! every requested secret is covered. A secret is covered by the first rule,
//! in file order, that lists the actor, has a secret pattern matching it,
//! matches every requested command (as a name or absolute path; a rule
//! without `commands` allows any) and every requested host. Whatever no
//! rule allows is denied, with the secret and the closest reason. The
//! [`Terms`] of an allowed grant are the strictest of the rules used: the
//! shortest ttl, approval if any rule requires it, the fewest uses, and so
//! on. [`Policy::explain`] shows every rule's verdict for one secret.
//!
//! ```
//! use std::path::Path;
//! use std::time::Duration;
//! use warrant_policy::{Approval, Decision, Policy, Request};
//! use warrant_secret::SecretName;
//!
//! let policy = Policy::parse(Path::new("warrant.toml"), r#"
//!     [actors.codex]
//!     kind = "agent"
//!
//!     [[rules]]
//!     actors = ["codex"]
//!     secrets = ["db/dev/*"]
//!     commands = ["cargo"]
//!     max_ttl = "30m"
//!     approval = "auto"
//! "#).unwrap();
//!
//! let secrets = [SecretName::new("db/dev/url").unwrap()];
//! let commands = ["cargo".to_owned()];
//! let request = Request {
//!     actor: "codex",
//!     secrets: &secrets,
//!     commands: &commands,
//!     hosts: &[],
//!     ttl: Duration::from_secs(3600),
//! };
//! let Decision::Allow(terms) = policy.decide(&request) else { panic!() };
//! assert_eq!(terms.ttl, Duration::from_secs(30 * 60));
//! assert!(terms.ttl_capped);
//! assert_eq!(terms.approval, Approval::Auto);
//!
//! let prod = [SecretName::new("db/prod/url").unwrap()];
//! let denied = policy.decide(&Request { secrets: &prod, ..request });
//! assert_eq!(denied.denial().unwrap().reason, "no rule lets codex use db/prod/url");
//! ```

mod check;
mod decide;
mod delivery;
mod duration;
mod error;
mod parse;
mod pattern;
mod policy;

pub use check::{Finding, Severity};
pub use decide::{
    Coverage, Decision, Denial, Explanation, Query, Request, RuleVerdict, Terms, narrower_hosts,
};
pub use delivery::{InjectInto, Injection, SubstituteIn, VALUE_MARK};
pub use duration::format_duration;
pub use error::Error;
pub use pattern::{
    PatternKind, PatternSet, Port, command_matches, endpoint_matches, host_matches,
    host_matches_pattern, split_port, with_port_of,
};
pub use policy::{Actor, ActorKind, Approval, FILE_NAME, OnExpiry, Policy, Rule};
