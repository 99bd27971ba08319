//! Why a secret found in an entry stays where it is, and what to do.

/// Why a secret stays, and what to do about it.
pub(super) struct Refusal {
    pub reason: &'static str,
    pub hint: &'static str,
}

pub(super) const REMOTE: Refusal = Refusal {
    reason: "a remote server is not started by a command, so warrant cannot hand it this value",
    hint: "store it (`warrant secret set NAME`) and keep it out of the file: have the client \
expand an environment variable instead (`${env:VAR}` in Cursor, VS Code and Windsurf, `${VAR}` \
in Claude Code, Gemini and Kiro, `bearer_token_env_var` or `env_http_headers` in Codex); \
warrant's HTTP proxy will serve remote servers without the variable",
};
pub(super) const OTHER_FIELD: Refusal = Refusal {
    reason: "warrant moves secrets out of `env` and `args` only",
    hint: "move the value into `env` (if the server reads it from there) and run `warrant migrate` again",
};
pub(super) const SHAPE: Refusal = Refusal {
    reason: "the entry has no `command` string, so warrant cannot start it",
    hint: "edit the entry by hand",
};
pub(super) const SHORT: Refusal = Refusal {
    reason: "shorter than 8 bytes: `warrant run` refuses values it cannot redact reliably",
    hint: "if it is a secret, store it by hand and add `--insecure-allow-short-values`",
};
pub(super) const NUL: Refusal = Refusal {
    reason: "holds a NUL byte, which an environment variable cannot carry",
    hint: "edit the entry by hand",
};
pub(super) const NON_STRING_ARGS: Refusal = Refusal {
    reason: "`args` holds a value that is not a string, so it cannot be rewritten",
    hint: "make every argument a string and run `warrant migrate` again",
};
pub(super) const WRAPPED: Refusal = Refusal {
    reason: "the entry already puts arguments back through `sh -c`",
    hint: "edit the entry by hand: move the value into a new `--env` of its `warrant run`",
};
pub(super) const NO_SEPARATOR: Refusal = Refusal {
    reason: "the entry runs `warrant run` without `--`",
    hint: "edit the entry by hand",
};
