use std::collections::BTreeMap;
use std::ffi::{OsStr, OsString};
use std::fmt;

use warrant_secret::{Reference, SecretName};

use crate::{Binding, Entry, Error};

/// Where a variable's final value came from (for error messages and audit).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// warrant's own environment.
    Inherited,
    /// An env file, at this line.
    EnvFile {
        /// The file as the user named it.
        file: String,
        /// 1-based line.
        line: usize,
    },
    /// `--env` or `--file` on the command line.
    Flag,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::Inherited => f.write_str("the environment"),
            Origin::EnvFile { file, line } => write!(f, "{file}:{line}"),
            Origin::Flag => f.write_str("the command line"),
        }
    }
}

/// How a variable reaches the child.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    /// A plain value, passed as it is.
    Plain(OsString),
    /// The secret's value, in the variable.
    Value(Reference),
    /// The path of an in-memory file holding the secret's value.
    File(Reference),
}

/// One variable of the child's environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Planned {
    /// How it is delivered.
    pub delivery: Delivery,
    /// Where it was set (the last place wins).
    pub origin: Origin,
}

/// The child's environment before any value is read: plain variables and
/// references, with where each came from. Later sources override earlier ones.
#[derive(Debug, Default)]
pub struct EnvPlan {
    vars: BTreeMap<OsString, Planned>,
}

/// warrant's own settings that hold or lead to a secret (the passphrase
/// file, the team state's DSN and password, the test-only KDF switch):
/// no child of warrant inherits them. The one list every spawner uses.
pub const PRIVATE_VARS: &[&str] = &[
    "WARRANT_PASSPHRASE_FILE",
    "WARRANT_STATE",
    "WARRANT_STATE_PASSWORD",
    "WARRANT_STATE_PASSWORD_FILE",
    "WARRANT_INSECURE_FAST_KDF",
];

impl EnvPlan {
    /// Starts from an inherited environment, without [`PRIVATE_VARS`];
    /// values that are references are resolved, a malformed reference is
    /// an error.
    pub fn inherit(vars: impl IntoIterator<Item = (OsString, OsString)>) -> Result<Self, Error> {
        let mut plan = Self::default();
        for (key, value) in vars {
            if PRIVATE_VARS.iter().any(|private| key == *private) {
                continue;
            }
            let delivery = match value.to_str().and_then(Reference::detect) {
                Some(Ok(reference)) => Delivery::Value(reference),
                Some(Err(source)) => {
                    return Err(Error::BadReference {
                        var: key.to_string_lossy().into_owned(),
                        origin: Origin::Inherited.to_string(),
                        source,
                    });
                }
                None => Delivery::Plain(value),
            };
            plan.vars.insert(
                key,
                Planned {
                    delivery,
                    origin: Origin::Inherited,
                },
            );
        }
        Ok(plan)
    }

    /// Adds the entries of an env file named `file` (as the user wrote it).
    pub fn add_env_file(&mut self, file: &str, entries: &[Entry]) -> Result<(), Error> {
        for entry in entries {
            let origin = Origin::EnvFile {
                file: file.to_owned(),
                line: entry.line,
            };
            let delivery = match entry.binding() {
                Ok(Binding::Reference(reference)) => Delivery::Value(reference),
                Ok(Binding::Plain) => Delivery::Plain(entry.value().into()),
                Err(source) => {
                    return Err(Error::BadReference {
                        var: entry.key.clone(),
                        origin: origin.to_string(),
                        source,
                    });
                }
            };
            self.vars
                .insert(entry.key.clone().into(), Planned { delivery, origin });
        }
        Ok(())
    }

    /// Adds `VAR=warrant://NAME` from `--env` (`as_file: false`) or `--file`.
    pub fn add_flag(&mut self, spec: &str, as_file: bool) -> Result<(), Error> {
        let flag = if as_file { "--file" } else { "--env" };
        // The message names only the variable: the rest of a bad flag may be a value.
        let var_part = spec.split_once('=').map_or("", |(var, _)| var);
        let bad = |reason: &str| Error::BadFlag {
            flag,
            var: var_part.chars().take(80).collect(),
            reason: reason.to_owned(),
        };
        let (var, reference) = spec
            .split_once('=')
            .ok_or_else(|| bad("expected VAR=warrant://NAME"))?;
        if !crate::is_valid_key(var) {
            return Err(bad(
                "the variable name must be letters, digits and '_', not starting with a digit",
            ));
        }
        let reference = match Reference::detect(reference) {
            Some(Ok(reference)) => reference,
            Some(Err(source)) => {
                return Err(Error::BadReference {
                    var: var.to_owned(),
                    origin: flag.to_owned(),
                    source,
                });
            }
            // A plain value here would put it in argv, where other processes see it.
            None => {
                return Err(bad(
                    "the value must be a reference (warrant://NAME); values never go on the command line",
                ));
            }
        };
        let delivery = if as_file {
            Delivery::File(reference)
        } else {
            Delivery::Value(reference)
        };
        self.vars.insert(
            var.into(),
            Planned {
                delivery,
                origin: Origin::Flag,
            },
        );
        Ok(())
    }

    /// Drops a variable (warrant's own settings that the child must not see).
    pub fn remove(&mut self, var: &OsStr) {
        self.vars.remove(var);
    }

    /// Every variable, sorted by name.
    pub fn vars(&self) -> impl Iterator<Item = (&OsString, &Planned)> {
        self.vars.iter()
    }

    /// A variable's value when it is plain (no reference): e.g. the child's
    /// `PATH`, which decides which program runs.
    pub fn plain(&self, var: &OsStr) -> Option<&OsString> {
        match &self.vars.get(var)?.delivery {
            Delivery::Plain(value) => Some(value),
            Delivery::Value(_) | Delivery::File(_) => None,
        }
    }

    /// The distinct secrets the plan needs, sorted.
    pub fn secret_names(&self) -> Vec<SecretName> {
        let mut names: Vec<SecretName> = self
            .vars
            .values()
            .filter_map(|planned| match &planned.delivery {
                Delivery::Value(reference) | Delivery::File(reference) => {
                    Some(reference.name().clone())
                }
                Delivery::Plain(_) => None,
            })
            .collect();
        names.sort();
        names.dedup();
        names
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn os(s: &str) -> OsString {
        s.into()
    }

    #[test]
    fn later_sources_win_and_names_are_collected() {
        let mut plan =
            EnvPlan::inherit([(os("A"), os("warrant://x/a")), (os("PATH"), os("/bin"))]).unwrap();
        let entries = crate::parse("A=plain\nB=warrant://x/b\n").unwrap();
        plan.add_env_file(".env", &entries).unwrap();
        plan.add_flag("C=warrant://x/c", true).unwrap();
        plan.add_flag("B=warrant://x/a", false).unwrap();
        let vars: Vec<_> = plan.vars().collect();
        assert_eq!(vars[0].1.delivery, Delivery::Plain(os("plain")));
        assert_eq!(
            vars[0].1.origin,
            Origin::EnvFile {
                file: ".env".into(),
                line: 1
            }
        );
        assert_eq!(vars[1].1.origin, Origin::Flag);
        let names: Vec<String> = plan
            .secret_names()
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(names, ["x/a", "x/c"]);
    }

    #[test]
    fn bad_flags_and_references_are_errors() {
        let mut plan = EnvPlan::default();
        assert!(matches!(
            plan.add_flag("NOEQUALS", false),
            Err(Error::BadFlag { .. })
        ));
        assert!(matches!(
            plan.add_flag("A=plain-secret-value", false),
            Err(Error::BadFlag { .. })
        ));
        assert!(matches!(
            plan.add_flag("1A=warrant://x", false),
            Err(Error::BadFlag { .. })
        ));
        assert!(matches!(
            plan.add_flag("A=warrant://a b", false),
            Err(Error::BadReference { .. })
        ));
        let err = EnvPlan::inherit([(os("X"), os("warrant://"))]).unwrap_err();
        assert!(err.to_string().contains("X"), "{err}");
        let message = plan
            .add_flag("A=plain-secret-value", false)
            .unwrap_err()
            .to_string();
        assert!(message.contains("--env"), "{message}");
    }
}
