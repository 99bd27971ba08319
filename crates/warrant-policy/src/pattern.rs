//! Secret, command and host patterns, and how they match.

use std::fmt;
use std::path::Path;

use globset::{GlobBuilder, GlobMatcher};
use warrant_secret::SecretName;

/// Characters that make a secret or command pattern a glob.
const GLOB_CHARS: &[char] = &['*', '?', '[', ']', '{', '}'];

/// What a [`PatternSet`] matches.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum PatternKind {
    /// Secret names: globs over `/`-separated names.
    Secret,
    /// Programs: a name glob, or an absolute-path glob when it has a `/`.
    Command,
    /// Host names: exact, or `*.example.com`.
    Host,
}

/// One list of patterns from a rule, as written and compiled.
///
/// See the crate documentation for what each [`PatternKind`] matches.
#[derive(Clone, Debug)]
pub struct PatternSet {
    kind: PatternKind,
    patterns: Vec<String>,
    // One per pattern; `None` for host patterns, which match without a glob.
    globs: Vec<Option<GlobMatcher>>,
}

impl PatternSet {
    /// Compiles `patterns` of `kind`; the error names the first bad pattern
    /// and says what to write instead.
    pub(crate) fn new<S: AsRef<str>>(kind: PatternKind, patterns: &[S]) -> Result<Self, String> {
        let mut set = Self::empty(kind);
        for pattern in patterns {
            set.push(pattern.as_ref())?;
        }
        Ok(set)
    }

    /// A set that matches nothing.
    pub(crate) fn empty(kind: PatternKind) -> Self {
        Self {
            kind,
            patterns: Vec::new(),
            globs: Vec::new(),
        }
    }

    /// Compiles and adds one pattern.
    pub(crate) fn push(&mut self, pattern: &str) -> Result<(), String> {
        let glob = match self.kind {
            PatternKind::Secret => Some(compile_secret(pattern)?),
            PatternKind::Command => Some(compile_command(pattern)?),
            PatternKind::Host => {
                validate_host_pattern(pattern)?;
                None
            }
        };
        self.patterns.push(pattern.to_owned());
        self.globs.push(glob);
        Ok(())
    }

    /// What the patterns match.
    pub fn kind(&self) -> PatternKind {
        self.kind
    }

    /// The patterns as written in the policy.
    pub fn patterns(&self) -> &[String] {
        &self.patterns
    }

    /// Whether the set has no pattern (and so matches nothing).
    pub fn is_empty(&self) -> bool {
        self.patterns.is_empty()
    }

    /// Whether any pattern matches `text`: a secret name, a host, or a
    /// program as typed (for commands, see [`PatternSet::matching_command`]
    /// to pass the resolved path as well).
    pub fn is_match(&self, text: &str) -> bool {
        self.matching(text).is_some()
    }

    /// The first pattern that matches `text`, as for [`PatternSet::is_match`].
    pub fn matching(&self, text: &str) -> Option<&str> {
        match self.kind {
            PatternKind::Secret => self.first(|glob, _| glob.is_some_and(|g| g.is_match(text))),
            PatternKind::Command => self.matching_command(text, None),
            PatternKind::Host => {
                let host = normalize_host(text)?;
                self.first(|_, pattern| host_pattern_matches(pattern, &host))
            }
        }
    }

    /// The first command pattern that matches `program` (argv\[0\] as typed)
    /// whose executable is `resolved` (its absolute path, if known).
    ///
    /// Always `None` for a set of another kind.
    pub fn matching_command(&self, program: &str, resolved: Option<&Path>) -> Option<&str> {
        if self.kind != PatternKind::Command {
            return None;
        }
        self.first(|glob, pattern| {
            glob.is_some_and(|g| {
                command_target(pattern, program, resolved).is_some_and(|t| g.is_match(t))
            })
        })
    }

    fn first(&self, mut matches: impl FnMut(Option<&GlobMatcher>, &str) -> bool) -> Option<&str> {
        self.patterns
            .iter()
            .zip(&self.globs)
            .find(|(pattern, glob)| matches(glob.as_ref(), pattern))
            .map(|(pattern, _)| pattern.as_str())
    }
}

/// Shows the patterns as `[a, b]`, the way explanations quote them.
impl fmt::Display for PatternSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[{}]", self.patterns.join(", "))
    }
}

/// Whether a program may run under a grant's command scopes.
///
/// `scopes` are a grant's stored command scopes (see
/// [`crate::Terms::command_scopes`]): the program must match a pattern of
/// every scope; no scope at all means any command. `program` is argv\[0\]
/// as typed and `resolved` the absolute path the caller will execute (after
/// `PATH` lookup, ideally canonicalized). A pattern that does not compile
/// matches nothing.
///
/// ```
/// use std::path::Path;
/// use warrant_policy::command_matches;
///
/// let scopes = vec![vec!["cargo".to_owned(), "/usr/bin/psql".to_owned()]];
/// assert!(command_matches(&scopes, "cargo", Some(Path::new("/home/me/.cargo/bin/cargo"))));
/// assert!(command_matches(&scopes, "psql", Some(Path::new("/usr/bin/psql"))));
/// assert!(!command_matches(&scopes, "psql", Some(Path::new("/tmp/psql"))));
/// assert!(command_matches(&[], "anything", None));
/// ```
pub fn command_matches(scopes: &[Vec<String>], program: &str, resolved: Option<&Path>) -> bool {
    scopes.iter().all(|scope| {
        scope.iter().any(|pattern| {
            let Some(target) = command_target(pattern, program, resolved) else {
                return false;
            };
            glob(pattern).is_ok_and(|g| g.is_match(target))
        })
    })
}

/// Whether `host` matches one of `patterns` (exact host names or
/// `*.example.com`, compared without case and without a trailing dot) by
/// name, whatever port a pattern names; where a request goes on the wire is
/// matched with [`endpoint_matches`].
///
/// A host that is not a plain host name (one with a scheme, port, path or
/// space, say) matches nothing.
///
/// ```
/// use warrant_policy::host_matches;
///
/// let patterns = vec!["api.github.com".to_owned(), "*.example.com".to_owned()];
/// assert!(host_matches(&patterns, "API.GitHub.com"));
/// assert!(host_matches(&patterns, "a.b.example.com"));
/// assert!(!host_matches(&patterns, "example.com"));
/// assert!(!host_matches(&patterns, "api.github.com.evil.net"));
/// ```
pub fn host_matches(patterns: &[String], host: &str) -> bool {
    let Some(host) = normalize_host(host) else {
        return false;
    };
    patterns.iter().any(|p| host_pattern_matches(p, &host))
}

/// [`host_matches`] for one pattern.
pub fn host_matches_pattern(pattern: &str, host: &str) -> bool {
    normalize_host(host).is_some_and(|host| host_pattern_matches(pattern, &host))
}

/// Whether a command pattern is a path pattern (it has a `/`).
pub(crate) fn is_path_pattern(pattern: &str) -> bool {
    pattern.contains('/')
}

/// Whether `text` has glob characters.
pub(crate) fn has_glob_chars(text: &str) -> bool {
    text.contains(GLOB_CHARS)
}

/// What a command pattern is matched against: the program's file name for a
/// name pattern, the absolute path for a path pattern.
fn command_target<'a>(
    pattern: &str,
    program: &'a str,
    resolved: Option<&'a Path>,
) -> Option<&'a str> {
    if is_path_pattern(pattern) {
        let path = match resolved {
            Some(path) => path.to_str()?,
            None => program,
        };
        is_clean_absolute(path).then_some(path)
    } else {
        let name = program.rsplit('/').next()?;
        (!name.is_empty() && name != "." && name != "..").then_some(name)
    }
}

/// An absolute path without empty, `.` or `..` segments, so that `/usr/bin/**`
/// cannot be walked out of.
pub(crate) fn is_clean_absolute(path: &str) -> bool {
    path.strip_prefix('/').is_some_and(|rest| {
        rest.split('/')
            .all(|segment| !segment.is_empty() && segment != "." && segment != "..")
    })
}

fn glob(pattern: &str) -> Result<GlobMatcher, globset::Error> {
    GlobBuilder::new(pattern)
        .literal_separator(true)
        .backslash_escape(true)
        .build()
        .map(|g| g.compile_matcher())
}

fn compile_secret(pattern: &str) -> Result<GlobMatcher, String> {
    if !has_glob_chars(pattern) {
        // A plain name must be a valid secret name; its error says why not.
        SecretName::new(pattern).map_err(|error| error.to_string())?;
    } else {
        if pattern.len() > SecretName::MAX_LEN {
            return Err(format!(
                "secret pattern is {} bytes long; the limit is {}",
                pattern.len(),
                SecretName::MAX_LEN
            ));
        }
        if let Some(found) = pattern
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || "._-/#*?[]{},!^".contains(*c)))
        {
            return Err(format!(
                "secret pattern {pattern:?} contains {found:?}; patterns use letters, digits, \
                 '.', '_', '-', '/', '#' and the glob characters * ? [ ] {{ }}"
            ));
        }
        if pattern
            .split('/')
            .any(|segment| segment.is_empty() || segment == "." || segment == "..")
        {
            return Err(format!(
                "secret pattern {pattern:?} has an empty, '.' or '..' segment; \
                 use segments like \"db/dev/*\""
            ));
        }
    }
    glob(pattern).map_err(|error| {
        format!(
            "invalid secret pattern {pattern:?}: {}; use a name like \"db/dev/url\" or a glob like \"db/dev/*\"",
            error.kind()
        )
    })
}

fn compile_command(pattern: &str) -> Result<GlobMatcher, String> {
    if pattern.is_empty() {
        return Err(
            "empty command pattern; use a program name like \"cargo\" or an absolute path".into(),
        );
    }
    if pattern.chars().any(char::is_control) {
        return Err(format!(
            "command pattern {pattern:?} contains a control character; use a program name like \"cargo\""
        ));
    }
    if is_path_pattern(pattern) {
        if !pattern.starts_with('/') {
            return Err(format!(
                "command pattern {pattern:?} contains '/' but is not an absolute path; \
                 use a program name like \"cargo\" or an absolute path like \"/usr/bin/cargo\""
            ));
        }
        if !is_clean_absolute(pattern) {
            return Err(format!(
                "command pattern {pattern:?} has an empty, '.' or '..' segment; \
                 write the path without them, like \"/usr/bin/cargo\""
            ));
        }
    }
    glob(pattern).map_err(|error| {
        format!(
            "invalid command pattern {pattern:?}: {}; use a program name like \"cargo\" or a glob like \"/usr/bin/*\"",
            error.kind()
        )
    })
}

fn validate_host_pattern(pattern: &str) -> Result<(), String> {
    let bad = |why: &str| {
        format!(
            "invalid host {pattern:?}{why}; use a host name like \"api.github.com\", \"*.example.com\" \
             or \"localhost:8443\" (no scheme or path; the port is 443 unless given, \"host:*\" for any)"
        )
    };
    let Some((host, _)) = split_port(pattern) else {
        return Err(bad(": the port must be a number from 1 to 65535, or *"));
    };
    let valid = match host.strip_prefix("*.") {
        Some(suffix) => normalize_host(suffix).is_some_and(|s| !s.starts_with('[')),
        None => normalize_host(host).is_some(),
    };
    if valid { Ok(()) } else { Err(bad("")) }
}

/// The port part of a host pattern.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Port {
    /// None written: the scheme's default (443, or 80 for plain HTTP).
    Default,
    /// `host:N`.
    Exact(u16),
    /// `host:*`.
    Any,
}

/// A host pattern's host and port; `None` when its port is a number out
/// of range.
/// IPv6 literals keep their brackets (`[::1]:8443` → `[::1]`, 8443).
pub fn split_port(pattern: &str) -> Option<(&str, Port)> {
    let (host, port) = match pattern.rfind(':') {
        // A colon inside brackets, or in an unbracketed IPv6 address,
        // belongs to the address.
        Some(at) if splits_at(pattern, at) => (&pattern[..at], &pattern[at + 1..]),
        _ => return Some((pattern, Port::Default)),
    };
    if port == "*" {
        return Some((host, Port::Any));
    }
    if port.is_empty() || !port.bytes().all(|b| b.is_ascii_digit()) {
        // Not a port (`https://...`): the whole is no host name either.
        return Some((pattern, Port::Default));
    }
    match port.parse::<u16>() {
        Ok(0) | Err(_) => None,
        Ok(n) => Some((host, Port::Exact(n))),
    }
}

/// Whether the colon at `at` separates a port: after a bracketed IPv6
/// literal, or after a name (no other colon before it).
fn splits_at(pattern: &str, at: usize) -> bool {
    let host = &pattern[..at];
    if pattern.starts_with('[') {
        host.ends_with(']')
    } else {
        !host.contains(':')
    }
}

/// Whether a request to `host` (normalised) on `port` over HTTPS (or,
/// where `allow_http`, plain HTTP) matches one of `patterns`: host names
/// or `*.suffix` with an optional `:port` (443, or 80 for plain HTTP, when
/// none is written; `:*` for any).
///
/// ```
/// use warrant_policy::endpoint_matches;
///
/// let patterns = vec!["api.github.com".to_owned(), "localhost:8443".to_owned()];
/// assert!(endpoint_matches(&patterns, "api.github.com", 443, true, false));
/// assert!(!endpoint_matches(&patterns, "api.github.com", 8443, true, false));
/// assert!(!endpoint_matches(&patterns, "api.github.com", 80, false, false));
/// assert!(endpoint_matches(&patterns, "api.github.com", 80, false, true));
/// assert!(endpoint_matches(&patterns, "localhost", 8443, true, false));
/// assert!(!endpoint_matches(&patterns, "localhost", 443, true, false));
/// ```
pub fn endpoint_matches(
    patterns: &[String],
    host: &str,
    port: u16,
    https: bool,
    allow_http: bool,
) -> bool {
    if !https && !allow_http {
        return false;
    }
    let Some(host) = normalize_host(host) else {
        return false;
    };
    patterns.iter().any(|pattern| {
        split_port(pattern).is_some_and(|(name, wanted)| {
            wanted.admits(port, https) && host_pattern_matches(name, &host)
        })
    })
}

impl Port {
    /// Whether a request on `port` (over HTTPS, or plain HTTP) is on this one.
    pub fn admits(self, port: u16, https: bool) -> bool {
        match self {
            Port::Default => port == if https { 443 } else { 80 },
            Port::Exact(n) => port == n,
            Port::Any => true,
        }
    }
}

/// `host` with the port `pattern` names, if it names one (`host:8443`,
/// `host:*`): how a grant asked for one host keeps its rule's port.
pub fn with_port_of(pattern: &str, host: &str) -> String {
    match split_port(pattern) {
        Some((_, Port::Exact(n))) => format!("{host}:{n}"),
        Some((_, Port::Any)) => format!("{host}:*"),
        _ => host.to_owned(),
    }
}

/// Lower-cases `host` and drops one trailing dot; `None` unless it is a DNS
/// name (labels of letters, digits, `-` and `_`) or a bracketed IPv6 literal.
pub(crate) fn normalize_host(host: &str) -> Option<String> {
    let host = host.strip_suffix('.').unwrap_or(host).to_ascii_lowercase();
    if let Some(inner) = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        let ok = inner.contains(':')
            && inner
                .chars()
                .all(|c| c.is_ascii_hexdigit() || c == ':' || c == '.');
        return ok.then_some(host);
    }
    let ok = !host.is_empty()
        && host.len() <= 253
        && host.split('.').all(|label| {
            (1..=63).contains(&label.len())
                && label
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        });
    ok.then_some(host)
}

/// Whether one host pattern's host part (any port) matches an already
/// normalized host.
fn host_pattern_matches(pattern: &str, host: &str) -> bool {
    let Some((pattern, _)) = split_port(pattern) else {
        return false;
    };
    match pattern.strip_prefix("*.") {
        Some(suffix) => normalize_host(suffix).is_some_and(|suffix| {
            host.len() > suffix.len() + 1
                && host.ends_with(&suffix)
                && host.as_bytes()[host.len() - suffix.len() - 1] == b'.'
        }),
        None => normalize_host(pattern).is_some_and(|p| p == host),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(kind: PatternKind, patterns: &[&str]) -> PatternSet {
        PatternSet::new(kind, patterns).unwrap()
    }

    #[test]
    fn secret_star_stays_in_one_segment() {
        let one = set(PatternKind::Secret, &["db/*"]);
        assert!(one.is_match("db/url"));
        assert!(!one.is_match("db/dev/url"));
        assert!(!one.is_match("db"));
        let deep = set(PatternKind::Secret, &["db/**"]);
        assert!(deep.is_match("db/dev/url"));
        assert!(deep.is_match("db/url"));
        let plain = set(PatternKind::Secret, &["github/token"]);
        assert!(plain.is_match("github/token"));
        assert!(!plain.is_match("github/token2"));
        assert_eq!(
            set(PatternKind::Secret, &["x", "db/{dev,test}/*"]).matching("db/test/url"),
            Some("db/{dev,test}/*")
        );
    }

    #[test]
    fn secret_patterns_are_validated() {
        for bad in [
            "", "a//b", "/a", "db/../x", "a b", "db/[dev", "db/*/", "db\\*",
        ] {
            assert!(
                PatternSet::new(PatternKind::Secret, &[bad]).is_err(),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn command_names_match_file_names_and_paths_match_paths() {
        let names = set(PatternKind::Command, &["cargo"]);
        assert!(names.is_match("cargo"));
        assert!(names.is_match("/usr/bin/cargo"));
        assert!(names.is_match("./cargo"));
        assert!(!names.is_match("cargo-clippy"));
        assert!(!names.is_match("cargo/"));

        let paths = set(PatternKind::Command, &["/usr/bin/*"]);
        assert!(!paths.is_match("cargo"));
        assert!(paths.is_match("/usr/bin/cargo"));
        assert!(!paths.is_match("/usr/bin/x/cargo"));
        assert_eq!(
            paths.matching_command("cargo", Some(Path::new("/usr/bin/cargo"))),
            Some("/usr/bin/*")
        );
        assert_eq!(
            paths.matching_command("cargo", Some(Path::new("/tmp/cargo"))),
            None
        );
        // A path that walks out of the pattern's directory never matches.
        let deep = set(PatternKind::Command, &["/usr/bin/**"]);
        assert!(!deep.is_match("/usr/bin/../../tmp/evil"));
        assert!(!deep.is_match("/usr/bin//evil"));
    }

    #[test]
    fn command_patterns_are_validated() {
        for bad in ["", "bin/cargo", "./cargo", "/usr/../bin/x", "a\nb", "[x"] {
            assert!(
                PatternSet::new(PatternKind::Command, &[bad]).is_err(),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn runtime_scopes_must_all_match() {
        let scopes = vec![
            vec!["cargo".to_owned(), "git".to_owned()],
            vec!["cargo".to_owned()],
        ];
        assert!(command_matches(&scopes, "cargo", None));
        assert!(!command_matches(&scopes, "git", None));
        assert!(!command_matches(&[vec![]], "cargo", None));
        assert!(command_matches(&[], "rm", None));
        assert!(!command_matches(&[vec!["[bad".to_owned()]], "[bad", None));
    }

    #[test]
    fn hosts_match_exactly_or_by_subdomain() {
        let patterns = vec!["api.github.com".to_owned(), "*.example.com".to_owned()];
        assert!(host_matches(&patterns, "api.github.com."));
        assert!(host_matches(&patterns, "x.EXAMPLE.com"));
        assert!(!host_matches(&patterns, "example.com"));
        assert!(!host_matches(&patterns, "xexample.com"));
        assert!(!host_matches(&patterns, "api.github.com:443"));
        assert!(!host_matches(&patterns, "https://api.github.com"));
        assert!(!host_matches(&[], "api.github.com"));
        assert!(host_matches(&["[::1]".to_owned()], "[::1]"));
        // By name, a pattern's port does not matter.
        assert!(host_matches(&["localhost:8443".to_owned()], "localhost"));
    }

    #[test]
    fn endpoints_match_by_name_port_and_scheme() {
        let p = |list: &[&str]| list.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        let plain = p(&["api.test"]);
        assert!(endpoint_matches(&plain, "api.test", 443, true, false));
        assert!(!endpoint_matches(&plain, "api.test", 8443, true, false));
        assert!(!endpoint_matches(&plain, "api.test", 80, false, false));
        assert!(endpoint_matches(&plain, "api.test", 80, false, true));
        assert!(!endpoint_matches(&plain, "api.test", 443, false, true));
        let v6 = p(&["[::1]:8443"]);
        assert!(endpoint_matches(&v6, "[::1]", 8443, true, false));
        assert!(!endpoint_matches(&v6, "[::1]", 443, true, false));
        for (pattern, host, port) in [
            ("[::1]", "[::1]", Port::Default),
            ("::1", "::1", Port::Default),
            ("[::1]:80", "[::1]", Port::Exact(80)),
            ("a.test:*", "a.test", Port::Any),
            ("https://a.test", "https://a.test", Port::Default),
        ] {
            assert_eq!(split_port(pattern), Some((host, port)), "{pattern}");
        }
        assert_eq!(split_port("a.test:0"), None);
        let any = p(&["*.api.test:*"]);
        assert!(endpoint_matches(&any, "x.api.test", 1, true, false));
        assert!(!endpoint_matches(&any, "x.api.test", 1, false, false));
        assert!(!endpoint_matches(&any, "api.test", 443, true, false));
    }

    #[test]
    fn host_patterns_are_validated() {
        for bad in [
            "",
            "https://a.com",
            "a.com:0",
            "a.com:65536",
            "a.com:",
            "a.com:x",
            "a.com/x",
            "*",
            "a.*.com",
            "*.[::1]",
            "a..com",
        ] {
            assert!(
                PatternSet::new(PatternKind::Host, &[bad]).is_err(),
                "{bad:?}"
            );
        }
        for good in [
            "localhost",
            "127.0.0.1",
            "*.example.com",
            "API.github.com",
            "[::1]",
            "a.com:443",
            "[::1]:8443",
            "*.example.com:*",
        ] {
            assert!(
                PatternSet::new(PatternKind::Host, &[good]).is_ok(),
                "{good:?}"
            );
        }
    }
}
