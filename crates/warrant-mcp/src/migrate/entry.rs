//! One server entry, whatever the file's format: which of its values are
//! secrets, where they go, and how the entry starts afterwards.

use std::path::Path;

use warrant_secret::{Reference, SecretName, SecretValue};

use super::names::Names;
use super::refusals::{
    NO_SEPARATOR, NON_STRING_ARGS, NUL, OTHER_FIELD, REMOTE, Refusal, SHAPE, SHORT, WRAPPED,
};
use super::{Classifier, Error, Launcher, Moved, NotMigrated, ServerReport};

/// `warrant run` refuses to inject shorter values (it cannot redact them).
const MIN_VALUE_LEN: usize = 8;

/// The start of the script that puts arguments back (see [`shell_wrap`]).
const SCRIPT_START: &str = "exec \"$0\"";

/// A server entry as read from the file.
#[derive(Debug, Default)]
pub(super) struct Entry {
    /// `command`, when it is a string.
    pub command: Option<String>,
    /// Whether a `command` key exists at all (perhaps not a string).
    pub has_command: bool,
    /// `args`, when present; `None` items are not strings.
    pub args: Option<Vec<Option<String>>>,
    /// The string values of `env`.
    pub env: Vec<(String, String)>,
    /// Whether the entry is a remote server (a URL, no command).
    pub remote: bool,
    /// Every other string in the entry, by dotted path (`headers.X`).
    pub other: Vec<(String, String)>,
}

/// How to rewrite an entry.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Rewrite {
    /// The new `command`, when it changes.
    pub command: Option<String>,
    /// The new `args`.
    pub args: Vec<String>,
    /// `env` keys to remove.
    pub remove_env: Vec<String>,
    /// `env` members to add.
    pub add_env: Vec<(String, String)>,
}

/// Decides entry after entry, collecting what one file reports.
pub(super) struct Decider<'m, 'a> {
    classify: &'a Classifier<'a>,
    names: &'m mut Names<'a>,
    launcher: &'m Launcher,
    pub servers: Vec<ServerReport>,
    pub not_migrated: Vec<NotMigrated>,
    pub stored: Vec<SecretName>,
    pub masks: Vec<SecretValue>,
}

/// A secret about to move.
struct Move {
    /// Index in the entry's old `args`, for an argument.
    arg: Option<usize>,
    /// `env` key, for an env value.
    key: String,
    /// For an argument: the text before the secret (`--api-key=`).
    prefix: String,
    name: SecretName,
    rule: String,
    /// Whether this move stores the value (false: the name already holds it).
    new: bool,
}

impl<'m, 'a> Decider<'m, 'a> {
    pub fn new(
        classify: &'a Classifier<'a>,
        names: &'m mut Names<'a>,
        launcher: &'m Launcher,
    ) -> Decider<'m, 'a> {
        Decider {
            classify,
            names,
            launcher,
            servers: Vec::new(),
            not_migrated: Vec::new(),
            stored: Vec::new(),
            masks: Vec::new(),
        }
    }

    /// The rule `value` (found under `key`) matches, if it is a secret;
    /// references and variable expansions are not.
    fn flag(&mut self, key: &str, value: &str) -> Option<String> {
        if value.is_empty() || value.starts_with("warrant://") || is_expansion(value) {
            return None;
        }
        let rule = (self.classify)(key, value)?;
        self.masks.push(SecretValue::from(value.to_owned()));
        Some(rule)
    }

    fn refuse(
        &mut self,
        server: &str,
        project: Option<&str>,
        field: &str,
        rule: String,
        why: &Refusal,
    ) {
        self.not_migrated.push(NotMigrated {
            server: server.to_owned(),
            project: project.map(str::to_owned),
            field: field.to_owned(),
            rule,
            reason: why.reason.to_owned(),
            hint: why.hint.to_owned(),
        });
    }

    /// Why `value` cannot move, when it cannot.
    fn unfit(value: &str) -> Option<&'static Refusal> {
        if value.len() < MIN_VALUE_LEN {
            Some(&SHORT)
        } else if value.contains('\0') {
            Some(&NUL)
        } else {
            None
        }
    }

    /// Decides `entry` (server `server`, in `project` for per-project
    /// servers): the rewrite, if any secret moves.
    pub fn decide(
        &mut self,
        server: &str,
        project: Option<&str>,
        entry: &Entry,
    ) -> Result<Option<Rewrite>, Error> {
        for (field, value) in &entry.other {
            let key = field.rsplit('.').next().unwrap_or(field);
            if let Some(rule) = self.flag(key, value) {
                let why = if entry.remote { &REMOTE } else { &OTHER_FIELD };
                self.refuse(server, project, field, rule, why);
            }
        }
        // Everything else needs a command to wrap.
        let blocked: Option<&Refusal> = match (&entry.command, &entry.args) {
            _ if entry.remote && !entry.has_command => Some(&REMOTE),
            (None, _) => Some(&SHAPE),
            (_, Some(args)) if args.iter().any(Option::is_none) => Some(&NON_STRING_ARGS),
            _ => None,
        };
        let command = entry.command.clone().unwrap_or_default();
        let args: Vec<String> = entry.args.iter().flatten().flatten().cloned().collect();
        let wrapped = self.is_warrant(&command) && args.first().is_some_and(|a| a == "run");
        let separator = args.iter().position(|a| a == "--");
        let blocked = blocked.or((wrapped && separator.is_none()).then_some(&NO_SEPARATOR));
        // The command line the server runs, and where its first argument
        // sits in `args`.
        let (inner, first_arg): (Vec<String>, usize) = match separator {
            Some(sep) if wrapped => (args[sep + 1..].to_vec(), sep + 2),
            _ => (
                std::iter::once(command.clone())
                    .chain(args.clone())
                    .collect(),
                0,
            ),
        };

        let mut moves: Vec<Move> = Vec::new();
        for (key, value) in &entry.env {
            if key == "WARRANT_HOME" {
                continue;
            }
            let Some(rule) = self.flag(key, value) else {
                continue;
            };
            let field = format!("env.{key}");
            if let Some(why) = blocked.or(Self::unfit(value)) {
                self.refuse(server, project, &field, rule, why);
                continue;
            }
            let (name, new) = self.name(server, key, value)?;
            moves.push(Move {
                arg: None,
                key: key.clone(),
                prefix: String::new(),
                name,
                rule,
                new,
            });
        }
        let shelled = inner.len() > 2 && inner[1] == "-c" && inner[2].starts_with(SCRIPT_START);
        for i in 1..inner.len() {
            let Some((prefix, secret, label, rule)) = self.flag_arg(&inner, i) else {
                continue;
            };
            let field = format!("args[{}]", first_arg + i - 1);
            let why = blocked
                .or(shelled.then_some(&WRAPPED))
                .or(Self::unfit(&secret));
            if let Some(why) = why {
                self.refuse(server, project, &field, rule, why);
                continue;
            }
            let (name, new) = self.name(server, &label, &secret)?;
            moves.push(Move {
                arg: Some(i),
                key: String::new(),
                prefix,
                name,
                rule,
                new,
            });
        }
        if moves.is_empty() {
            return Ok(None);
        }

        // Variables for arguments: WARRANT_ARG_N, none already in use.
        let mut taken: Vec<String> = entry.env.iter().map(|(k, _)| k.clone()).collect();
        if wrapped {
            taken.extend(
                args.iter()
                    .filter_map(|a| Some(a.split_once('=')?.0.to_owned())),
            );
        }
        let mut n = 0;
        for m in moves.iter_mut().filter(|m| m.arg.is_some()) {
            m.key = loop {
                n += 1;
                let var = format!("WARRANT_ARG_{n}");
                if !taken.contains(&var) {
                    break var;
                }
            };
        }

        let mut flags = Vec::new();
        for m in &moves {
            flags.push("--env".to_owned());
            flags.push(format!("{}={}", m.key, Reference::new(m.name.clone())));
        }
        let in_args: Vec<(usize, &str, &str)> = moves
            .iter()
            .filter_map(|m| Some((m.arg?, m.prefix.as_str(), m.key.as_str())))
            .collect();
        let inner = if in_args.is_empty() {
            inner
        } else {
            shell_wrap(&inner, &in_args)
        };
        let (command, mut new_args) = match separator {
            Some(sep) if wrapped => (None, args[..sep].to_vec()),
            _ => (Some(self.launcher.command.clone()), vec!["run".to_owned()]),
        };
        new_args.extend(flags);
        new_args.push("--".to_owned());
        new_args.extend(inner);

        let mut add_env = Vec::new();
        if let Some(home) = &self.launcher.home {
            if !entry.env.iter().any(|(k, _)| k == "WARRANT_HOME") {
                let home = home
                    .to_str()
                    .ok_or_else(|| Error::File(crate::install::Error::NotUtf8(home.clone())))?;
                add_env.push(("WARRANT_HOME".to_owned(), home.to_owned()));
            }
        }
        let remove_env = moves
            .iter()
            .filter(|m| m.arg.is_none())
            .map(|m| m.key.clone())
            .collect();
        self.servers.push(ServerReport {
            server: server.to_owned(),
            project: project.map(str::to_owned),
            secrets: moves
                .into_iter()
                .map(|m| Moved {
                    field: match m.arg {
                        Some(i) => format!("args[{}]", first_arg + i - 1),
                        None => format!("env.{}", m.key),
                    },
                    stored: m.new,
                    in_argv: m.arg.is_some(),
                    name: m.name,
                    rule: m.rule,
                })
                .collect(),
        });
        Ok(Some(Rewrite {
            command,
            args: new_args,
            remove_env,
            add_env,
        }))
    }

    /// Names `value`; true when this file stores it.
    fn name(
        &mut self,
        server: &str,
        label: &str,
        value: &str,
    ) -> Result<(SecretName, bool), Error> {
        let secret = SecretValue::from(value.to_owned());
        let assigned = self.names.assign(server, label, &secret)?;
        if assigned.new {
            self.stored.push(assigned.name.clone());
        }
        Ok((assigned.name, assigned.new))
    }

    /// Whether argument `i` of `argv` holds a secret: `(text before it,
    /// the secret, a label to name it by, the rule)`. `--flag=VALUE` and
    /// `KEY=VALUE` are split at `=`; otherwise the whole argument counts,
    /// with the flag before it (if any) as its key.
    fn flag_arg(&mut self, argv: &[String], i: usize) -> Option<(String, String, String, String)> {
        let arg = &argv[i];
        if let Some((key, value)) = arg.split_once('=') {
            let name = key.trim_start_matches('-');
            if is_identifier(name) && key.len() - name.len() <= 2 {
                if let Some(rule) = self.flag(name, value) {
                    return Some((format!("{key}="), value.to_owned(), name.to_owned(), rule));
                }
            }
        }
        let before = &argv[i - 1];
        let flag = before
            .strip_prefix('-')
            .filter(|_| i > 1 && !before.contains('='));
        let key = flag.map_or("arg", |f| f.trim_start_matches('-'));
        let rule = self.flag(key, arg)?;
        let label = match flag {
            Some(f) => f.trim_start_matches('-').to_owned(),
            None if arg.contains("://") => "url".to_owned(),
            None => format!("arg-{i}"),
        };
        Some((String::new(), arg.clone(), label, rule))
    }

    fn is_warrant(&self, command: &str) -> bool {
        command == self.launcher.command
            || Path::new(command)
                .file_name()
                .is_some_and(|n| n == "warrant")
    }
}

/// `argv` run through `sh -c` so that argument `i` of each `(i, prefix,
/// var)` becomes `prefix` followed by the value of `$var`. Every argument
/// is passed as a positional parameter and the script names positions only
/// (`exec "$0" "${1}" "${2}${WARRANT_ARG_1}"`): the shell never parses a
/// byte of the arguments themselves.
pub(super) fn shell_wrap(argv: &[String], secrets: &[(usize, &str, &str)]) -> Vec<String> {
    let mut script = SCRIPT_START.to_owned();
    let mut out = vec![
        "sh".to_owned(),
        "-c".to_owned(),
        String::new(),
        argv[0].clone(),
    ];
    for (i, arg) in argv.iter().enumerate().skip(1) {
        match secrets.iter().find(|(at, _, _)| *at == i) {
            Some((_, prefix, var)) => {
                script.push_str(&format!(" \"${{{i}}}${{{var}}}\""));
                out.push((*prefix).to_owned());
            }
            None => {
                script.push_str(&format!(" \"${{{i}}}\""));
                out.push(arg.clone());
            }
        }
    }
    out[2] = script;
    out
}

/// `$VAR`, `${VAR}`, `${env:VAR}`, `${input:id}`: a client expands these.
fn is_expansion(value: &str) -> bool {
    let inner = match value.strip_prefix("${") {
        Some(rest) => rest.strip_suffix('}'),
        None => value.strip_prefix('$'),
    };
    inner.is_some_and(|v| {
        !v.is_empty()
            && v.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | ':' | '.' | '-'))
    })
}

fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
}

#[cfg(test)]
mod tests;
