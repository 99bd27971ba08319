//! Store names for moved secrets: `mcp/SERVER/VAR`, never clashing with a
//! different value.

use warrant_secret::{SecretName, SecretValue};

use super::{Error, Existing};

/// Longest segment taken from a server or variable name.
const MAX_SEGMENT: usize = 64;

/// How many `-N` suffixes are tried before giving up.
const MAX_TRIES: usize = 1000;

/// The names chosen so far, and the store to check them against.
pub(super) struct Names<'a> {
    existing: &'a dyn Existing,
    /// New secrets, in the order they were named.
    pending: Vec<(SecretName, SecretValue)>,
}

/// A chosen name.
pub(super) struct Assigned {
    pub name: SecretName,
    /// Whether the value is new to the store (false: the name already held it).
    pub new: bool,
}

impl<'a> Names<'a> {
    pub fn new(existing: &'a dyn Existing) -> Names<'a> {
        Names {
            existing,
            pending: Vec::new(),
        }
    }

    pub fn pending(&self) -> &[(SecretName, SecretValue)] {
        &self.pending
    }

    pub fn checkpoint(&self) -> usize {
        self.pending.len()
    }

    /// Forgets the names chosen since `checkpoint`.
    pub fn rollback(&mut self, checkpoint: usize) {
        self.pending.truncate(checkpoint);
    }

    /// The name for `value`, found as `label` in server `server`:
    /// `mcp/SERVER/LABEL`, or the first of `...-2`, `...-3` that is free or
    /// already holds this very value.
    pub fn assign(
        &mut self,
        server: &str,
        label: &str,
        value: &SecretValue,
    ) -> Result<Assigned, Error> {
        let base = format!(
            "mcp/{}/{}",
            segment(server, "server"),
            segment(label, "secret")
        );
        for n in 1..=MAX_TRIES {
            let text = if n == 1 {
                base.clone()
            } else {
                format!("{base}-{n}")
            };
            let name = SecretName::new(text).expect("segments are valid by construction");
            if let Some((_, held)) = self.pending.iter().find(|(p, _)| *p == name) {
                if held.ct_eq(value) {
                    return Ok(Assigned { name, new: false });
                }
                continue;
            }
            match self.existing.get(&name).map_err(Error::Store)? {
                Some(held) if held.ct_eq(value) => return Ok(Assigned { name, new: false }),
                Some(_) => continue,
                None => {
                    self.pending.push((name.clone(), value.duplicate()));
                    return Ok(Assigned { name, new: true });
                }
            }
        }
        Err(Error::NoName(server.to_owned()))
    }
}

/// `raw` as one name segment: lower case, `-` for anything a name does not
/// allow, runs of `-` collapsed, no `-` or `.` at either end, at most
/// [`MAX_SEGMENT`] bytes; `fallback` when nothing is left.
pub(super) fn segment(raw: &str, fallback: &str) -> String {
    let mut out = String::new();
    for c in raw.chars() {
        let c = if c.is_ascii_alphanumeric() || matches!(c, '.' | '_') {
            c.to_ascii_lowercase()
        } else {
            '-'
        };
        let c = if c == '_' { '-' } else { c };
        if !(c == '-' && out.ends_with('-')) {
            out.push(c);
        }
        if out.len() >= MAX_SEGMENT {
            break;
        }
    }
    let trimmed = out.trim_matches(['-', '.']);
    if trimmed.is_empty() {
        fallback.to_owned()
    } else {
        trimmed.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::super::BoxError;
    use super::*;

    struct Store(BTreeMap<String, &'static str>);

    impl Existing for Store {
        fn get(&self, name: &SecretName) -> Result<Option<SecretValue>, BoxError> {
            Ok(self
                .0
                .get(name.as_str())
                .map(|v| SecretValue::from(v.as_bytes().to_vec())))
        }
    }

    fn value(s: &str) -> SecretValue {
        SecretValue::from(s.as_bytes().to_vec())
    }

    #[test]
    fn segments_are_valid_names() {
        assert_eq!(
            segment("GITHUB_PERSONAL_ACCESS_TOKEN", "x"),
            "github-personal-access-token"
        );
        assert_eq!(segment("@org/server pg", "x"), "org-server-pg");
        assert_eq!(segment("--api-key", "x"), "api-key");
        assert_eq!(segment("..", "x"), "x");
        assert_eq!(segment("é", "x"), "x");
        assert_eq!(segment(&"a".repeat(500), "x").len(), MAX_SEGMENT);
        for raw in ["a b", "...a", "x/../y", "ÅÄÖ", "_", ".a."] {
            let s = segment(raw, "x");
            SecretName::new(format!("mcp/{s}/{s}")).unwrap();
        }
    }

    #[test]
    fn same_value_reuses_a_name_and_another_value_gets_a_suffix() {
        let store = Store(BTreeMap::from([
            ("mcp/gh/token".to_owned(), "held-value-1"),
            ("mcp/db/url".to_owned(), "same-value-2"),
        ]));
        let mut names = Names::new(&store);
        let a = names.assign("gh", "TOKEN", &value("new-value-3")).unwrap();
        assert_eq!((a.name.as_str(), a.new), ("mcp/gh/token-2", true));
        let b = names.assign("db", "url", &value("same-value-2")).unwrap();
        assert_eq!((b.name.as_str(), b.new), ("mcp/db/url", false));
        // Within one run: the same value again is the pending name.
        let c = names.assign("gh", "TOKEN", &value("new-value-3")).unwrap();
        assert_eq!((c.name.as_str(), c.new), ("mcp/gh/token-2", false));
        let d = names
            .assign("gh", "TOKEN", &value("other-value-4"))
            .unwrap();
        assert_eq!(d.name.as_str(), "mcp/gh/token-3");
        assert_eq!(names.pending().len(), 2);
        names.rollback(1);
        assert_eq!(names.pending().len(), 1);
    }
}
