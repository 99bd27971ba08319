//! A Landlock sandbox that hides a few directories and leaves everything
//! else as it was.
//!
//! `warrant task` runs the coding agent under [`restrict_self_hiding`] with
//! warrant's own directories (store, key, grant state, audit log) hidden:
//! the agent and every process it starts can no longer read, write or
//! execute anything inside them, while the rest of the machine stays as
//! usable as before.
//!
//! ```no_run
//! use std::path::Path;
//! use std::process::Command;
//! use warrant_sandbox::sandbox;
//!
//! eprintln!("{}", sandbox::probe());
//! // Landlock restricts the calling thread and what it starts from then
//! // on; this thread is left as it is.
//! let agent = std::thread::spawn(|| {
//!     let hidden = Path::new("/home/me/.local/share/warrant");
//!     let status = sandbox::restrict_self_hiding(&[hidden]).unwrap();
//!     eprintln!("{status}");
//!     Command::new("my-agent").status().unwrap()
//! });
//! let status = agent.join().unwrap();
//! ```
//!
//! # How
//!
//! Landlock is an allow-list: once a ruleset handles an access right, the
//! right is denied everywhere except beneath the directories a rule grants
//! it on, and a rule always covers a whole subtree. There is no "allow `/`
//! except this directory". So the rules are built around the hidden paths:
//! walking from `/` down to each hidden path, every directory on the way
//! (an *ancestor*) is granted only the right to list it (`READ_DIR`), and
//! every entry of an ancestor that is not the next step toward a hidden path
//! (a *sibling*) is granted every right, on itself and everything beneath
//! it: files get the rights that apply to files, directories all of them.
//! Finding a path (walking through directories) is never restricted by
//! Landlock, so everything outside the hidden paths stays reachable.
//!
//! Hiding `~/.local/share/warrant` thus gives: `READ_DIR` on `/`, `/home`,
//! `~`, `~/.local`, `~/.local/share`; all rights on `/usr`, `/etc`, `/tmp`,
//! ..., on `/home/other`, on `~/src`, `~/.bashrc`, ..., on
//! `~/.local/share/fish`, ... and nothing on `~/.local/share/warrant`.
//! Because `READ_DIR` on an ancestor covers everything beneath it, the names
//! inside a hidden directory can still be listed; its files cannot be
//! opened, created, removed, renamed or executed.
//!
//! Every path is canonicalized first, and each directory on the way is then
//! opened step by step from `/` without following symlinks, so a path
//! component swapped for a symlink in the meantime makes the call fail
//! rather than hide the wrong directory. Several hidden paths may share
//! ancestors; a hidden path inside another one adds nothing.
//!
//! ## Symlinks among the siblings
//!
//! Siblings are opened as they are (`O_PATH | O_NOFOLLOW`), and a symlink
//! gets no rule at all. Landlock checks the file a path resolves to, never
//! the symlinks on the way, so a rule on a symlink would have no effect; and
//! following it instead would be a hole: `~/link -> .local/share/warrant`
//! would grant every right on the hidden directory itself. A symlink among
//! the siblings therefore works exactly as far as its target is accessible:
//! `~/.profile -> dotfiles/profile` or `/bin -> usr/bin` work, a link into a
//! hidden directory does not.
//!
//! # Limitations
//!
//! - **New entries directly in an ancestor are not accessible.** The rules
//!   name the siblings that exist when the sandbox is set up. A file or
//!   directory created later *directly* in an ancestor (a new file in `$HOME`
//!   when `~/.local/share/warrant` is hidden) gets no rule, and the sandboxed
//!   processes cannot create, read or write it (they can still list its
//!   name). Everything beneath an existing sibling is not affected: new files
//!   in `~/src/project` work. Run the agent in a project directory, not in
//!   `$HOME` itself.
//! - **Unreadable ancestors.** When an ancestor cannot be listed (a
//!   `/home` with mode `0711` for a user that is not root), its siblings get
//!   no rule: they stay hidden too.
//! - **Unix sockets stay reachable.** `connect(2)` to a pathname Unix socket
//!   is not a filesystem access Landlock restricts up to ABI 8, and from ABI
//!   9 (`RESOLVE_UNIX`) this module deliberately does not handle it: the
//!   broker's socket lives in the hidden directory and the agent must reach
//!   it. The broker checks who connects (`SO_PEERCRED`).
//! - **Other names of the same file.** Landlock follows paths as mounted: a
//!   bind mount of a hidden directory elsewhere, or a hard link to a hidden
//!   file made before the sandbox, stays accessible.
//! - **IPC scoping is not enabled.** From ABI 6 Landlock can stop signals
//!   and abstract Unix sockets across its domain; the agent needs both for
//!   its own processes, and neither reaches a hidden file.
//! - Landlock also stops the sandboxed processes from `ptrace`-ing processes
//!   outside the sandbox, which closes `/proc/PID/root` and `/proc/PID/fd`
//!   as ways around the rules.
//!
//! Kernels older than Landlock ABI 5 get a ruleset without the newer rights
//! (`REFER` from ABI 2, `TRUNCATE` from 3, `IOCTL_DEV` from 5): the hidden
//! files still cannot be read, but not every change to them is stopped
//! ([`Status::PartiallyEnforced`]). Without Landlock, nothing is restricted
//! and [`Status::Unsupported`] says so.

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsString;
use std::fmt;
use std::io;
use std::os::fd::OwnedFd;
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};

use landlock::{
    ABI, Access, AccessFs, AddRuleError, AddRulesError, BitFlags, LandlockStatus, PathBeneath,
    RestrictSelf, Ruleset, RulesetAttr, RulesetCreated, RulesetCreatedAttr, RulesetError,
    RulesetStatus, Scope,
};
use rustix::fs::{FileType, Mode, OFlags, fstat, open, openat};
use rustix::io::Errno;

use crate::Error;

/// What the sandbox achieves on this machine.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Status {
    /// Every right this module handles is enforced.
    Enforced {
        /// The kernel's Landlock ABI version.
        abi: i32,
    },
    /// The hidden files cannot be read, but this kernel's Landlock lacks
    /// some of the newer rights (see the module docs).
    PartiallyEnforced {
        /// The kernel's Landlock ABI version.
        abi: i32,
    },
    /// Nothing is restricted.
    Unsupported {
        /// Why, as a sentence fragment for users.
        reason: String,
    },
}

impl Status {
    /// Whether the hidden files are out of the sandboxed processes' reach.
    pub fn hides_files(&self) -> bool {
        !matches!(self, Status::Unsupported { .. })
    }

    /// Whether signals from inside to processes outside are refused, when
    /// that was asked for ([`restrict_self_confined`]): Landlock ABI 6 on.
    pub fn confines_signals(&self) -> bool {
        match self {
            Status::Enforced { abi } | Status::PartiallyEnforced { abi } => *abi >= 6,
            Status::Unsupported { .. } => false,
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Status::Enforced { abi } => write!(f, "Landlock enforced (ABI {abi})"),
            Status::PartiallyEnforced { abi } => write!(
                f,
                "Landlock partly enforced (ABI {abi}): the agent cannot read warrant's files, \
                 but this kernel cannot stop every change to them; Linux 6.10 or later \
                 enforces all of it"
            ),
            Status::Unsupported { reason } => write!(
                f,
                "{reason}: the agent can read warrant's files; use Linux 5.13 or later with \
                 Landlock enabled to hide them"
            ),
        }
    }
}

/// Every filesystem right this module handles: all that the landlock crate
/// knows except `RESOLVE_UNIX` (see "Unix sockets stay reachable").
fn handled() -> BitFlags<AccessFs> {
    let mut access = AccessFs::from_all(ABI::V9);
    access.remove(AccessFs::ResolveUnix);
    access
}

/// The handled rights that apply to a file that is not a directory.
fn file_rights() -> BitFlags<AccessFs> {
    handled() & AccessFs::from_file(ABI::V9)
}

/// What [`restrict_self_hiding`] would achieve here, without restricting
/// anything.
pub fn probe() -> Status {
    // With no flag and no no_new_privs to set, `apply` only asks the kernel
    // for its Landlock version.
    let landlock = match RestrictSelf::default().no_new_privs(false).apply() {
        Ok(status) => status.landlock,
        Err(e) => {
            return Status::Unsupported {
                reason: format!("Landlock cannot be queried ({e})"),
            };
        }
    };
    match landlock {
        LandlockStatus::Available { effective_abi, .. } => {
            let abi = abi_number(&landlock);
            if AccessFs::from_all(effective_abi).contains(handled()) {
                Status::Enforced { abi }
            } else {
                Status::PartiallyEnforced { abi }
            }
        }
        other => unsupported(&other),
    }
}

/// The kernel's ABI version (the crate's effective one when it knows the
/// kernel's).
fn abi_number(status: &LandlockStatus) -> i32 {
    match status {
        LandlockStatus::Available {
            effective_abi,
            kernel_abi,
        } => kernel_abi.unwrap_or(*effective_abi as i32),
        _ => 0,
    }
}

fn unsupported(status: &LandlockStatus) -> Status {
    let reason = match status {
        LandlockStatus::NotEnabled => {
            "Landlock is built into this kernel but not enabled (add it to the lsm= boot parameter)"
        }
        LandlockStatus::NotImplemented => "this kernel has no Landlock",
        LandlockStatus::Available { .. } => "Landlock did not enforce the rules",
    };
    Status::Unsupported {
        reason: reason.to_owned(),
    }
}

/// Restricts the calling thread so that every path stays readable, writable
/// and executable as before except the `hidden` paths (directories or
/// files), whose contents can no longer be read, written or executed.
///
/// Landlock applies to the calling *thread* and to every process it starts
/// afterwards (and their children); other threads of the process are not
/// affected, and the restriction cannot be lifted. Also sets
/// `no_new_privs` on the thread (required by Landlock; set-user-ID programs
/// started afterwards do not gain privileges).
///
/// Every hidden path must exist. Returns the [`Status`] achieved: on a
/// kernel without Landlock this is [`Status::Unsupported`] (not an error),
/// and nothing but `no_new_privs` is restricted. See the module docs for
/// how the rules are built and their limitations.
pub fn restrict_self_hiding(hidden: &[&Path]) -> Result<Status, Error> {
    restrict(hidden, false)
}

/// [`restrict_self_hiding`], and also refuses signals from the sandbox to
/// any process outside it (Landlock's signal scope, ABI 6; silently absent
/// on older kernels, see [`Status::confines_signals`]). An agent confined so
/// cannot kill the supervisor that started it (and so escape its task), the
/// broker daemon, or any other process of the user's; processes inside the
/// sandbox signal each other as before, and processes outside still signal
/// in.
pub fn restrict_self_confined(hidden: &[&Path]) -> Result<Status, Error> {
    restrict(hidden, true)
}

fn restrict(hidden: &[&Path], confine_signals: bool) -> Result<Status, Error> {
    let plan = plan(hidden)?;
    let mut ruleset = Ruleset::default().handle_access(handled())?;
    if confine_signals {
        ruleset = ruleset.scope(Scope::Signal)?;
    }
    let mut ruleset = ruleset.create()?;
    for (dir, toward) in &plan {
        allow_around(&mut ruleset, dir, toward)?;
    }
    let status = ruleset.restrict_self()?;
    Ok(match status.ruleset {
        RulesetStatus::FullyEnforced => Status::Enforced {
            abi: abi_number(&status.landlock),
        },
        RulesetStatus::PartiallyEnforced => Status::PartiallyEnforced {
            abi: abi_number(&status.landlock),
        },
        RulesetStatus::NotEnforced => unsupported(&status.landlock),
    })
}

/// Every ancestor directory of the hidden paths, with the names in it that
/// lead to (or are) a hidden path.
type Plan = BTreeMap<PathBuf, BTreeSet<OsString>>;

fn plan(hidden: &[&Path]) -> Result<Plan, Error> {
    let mut canonical = Vec::with_capacity(hidden.len());
    for path in hidden {
        let resolved = std::fs::canonicalize(path).map_err(|source| Error::HiddenPath {
            path: path.to_path_buf(),
            source,
        })?;
        canonical.push(resolved);
    }
    Ok(plan_canonical(&canonical))
}

/// [`plan`] for canonical paths.
fn plan_canonical(hidden: &[PathBuf]) -> Plan {
    let mut plan = Plan::new();
    for path in hidden {
        // A path inside another hidden path is hidden already; adding its
        // ancestors would grant siblings inside the outer one.
        if hidden
            .iter()
            .any(|other| other != path && path.starts_with(other))
        {
            continue;
        }
        let mut dir = PathBuf::from("/");
        for component in path.components() {
            if let Component::Normal(name) = component {
                plan.entry(dir.clone()).or_default().insert(name.to_owned());
                dir.push(name);
            }
        }
    }
    plan
}

/// Adds the rules for one ancestor `dir`: `READ_DIR` on it, every right on
/// each entry not named in `toward`.
fn allow_around(
    ruleset: &mut RulesetCreated,
    dir: &Path,
    toward: &BTreeSet<OsString>,
) -> Result<(), Error> {
    let fd = open_dir_nofollow(dir)?;
    let listing = openat(
        &fd,
        ".",
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    );
    let rule_fd = fd.try_clone().map_err(|source| Error::SandboxPath {
        path: dir.to_path_buf(),
        source,
    })?;
    ruleset.add_rule(PathBeneath::new(rule_fd, AccessFs::ReadDir))?;
    let listing = match listing {
        Ok(listing) => listing,
        // Its siblings stay hidden (see "Unreadable ancestors").
        Err(Errno::ACCESS) => return Ok(()),
        Err(e) => return Err(sandbox_path(dir, e)),
    };
    let entries = rustix::fs::Dir::new(listing).map_err(|e| sandbox_path(dir, e))?;
    for entry in entries {
        let entry = entry.map_err(|e| sandbox_path(dir, e))?;
        let name = entry.file_name();
        let bytes = name.to_bytes();
        if bytes == b"." || bytes == b".." || toward.contains(std::ffi::OsStr::from_bytes(bytes)) {
            continue;
        }
        let path = dir.join(std::ffi::OsStr::from_bytes(bytes));
        let sibling = match openat(
            &fd,
            name,
            OFlags::PATH | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::empty(),
        ) {
            Ok(sibling) => sibling,
            // Removed since the listing.
            Err(Errno::NOENT) => continue,
            Err(e) => return Err(sandbox_path(&path, e)),
        };
        let kind =
            FileType::from_raw_mode(fstat(&sibling).map_err(|e| sandbox_path(&path, e))?.st_mode);
        let rights = match kind {
            // See "Symlinks among the siblings".
            FileType::Symlink => continue,
            FileType::Directory => handled(),
            _ => file_rights(),
        };
        add_sibling(ruleset, sibling, rights, &path)?;
    }
    Ok(())
}

/// Adds a rule for a sibling. A file the kernel refuses rules on (some
/// pseudo-filesystem objects: `EBADFD`) is left without one, which keeps it
/// inaccessible rather than failing the whole sandbox.
fn add_sibling(
    ruleset: &mut RulesetCreated,
    sibling: OwnedFd,
    rights: BitFlags<AccessFs>,
    path: &Path,
) -> Result<(), Error> {
    match ruleset.add_rule(PathBeneath::new(sibling, rights)) {
        Ok(_) => Ok(()),
        Err(RulesetError::AddRules(AddRulesError::Fs(AddRuleError::AddRuleCall {
            source,
            ..
        }))) if source.raw_os_error() == Some(Errno::BADFD.raw_os_error()) => Ok(()),
        Err(RulesetError::AddRules(AddRulesError::Fs(AddRuleError::AddRuleCall {
            source,
            ..
        }))) => Err(Error::SandboxPath {
            path: path.to_path_buf(),
            source,
        }),
        Err(e) => Err(e.into()),
    }
}

/// Opens a canonical directory path as `O_PATH`, one component at a time
/// from `/`, following no symlink.
fn open_dir_nofollow(dir: &Path) -> Result<OwnedFd, Error> {
    let flags = OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC;
    let mut fd = open("/", flags, Mode::empty()).map_err(|e| sandbox_path(Path::new("/"), e))?;
    for component in dir.components() {
        if let Component::Normal(name) = component {
            fd = openat(&fd, name, flags | OFlags::NOFOLLOW, Mode::empty())
                .map_err(|e| sandbox_path(dir, e))?;
        }
    }
    Ok(fd)
}

fn sandbox_path(path: &Path, e: Errno) -> Error {
    Error::SandboxPath {
        path: path.to_path_buf(),
        source: io::Error::from(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(list: &[&str]) -> BTreeSet<OsString> {
        list.iter().map(OsString::from).collect()
    }

    #[test]
    fn plan_lists_each_ancestor_with_the_way_down() {
        let plan = plan_canonical(&[
            PathBuf::from("/home/me/.local/share/warrant"),
            PathBuf::from("/home/me/.config/warrant"),
        ]);
        let expected: Plan = [
            ("/", names(&["home"])),
            ("/home", names(&["me"])),
            ("/home/me", names(&[".local", ".config"])),
            ("/home/me/.local", names(&["share"])),
            ("/home/me/.local/share", names(&["warrant"])),
            ("/home/me/.config", names(&["warrant"])),
        ]
        .into_iter()
        .map(|(dir, toward)| (PathBuf::from(dir), toward))
        .collect();
        assert_eq!(plan, expected);
    }

    #[test]
    fn a_path_inside_another_hidden_path_adds_nothing() {
        let outer = plan_canonical(&[PathBuf::from("/a/b")]);
        let both = plan_canonical(&[PathBuf::from("/a/b/c/d"), PathBuf::from("/a/b")]);
        assert_eq!(outer, both);
        // A shared name prefix is not nesting.
        let siblings = plan_canonical(&[PathBuf::from("/a/b"), PathBuf::from("/a/bc")]);
        assert_eq!(siblings[Path::new("/a")], names(&["b", "bc"]));
    }

    #[test]
    fn hiding_root_grants_nothing() {
        assert!(plan_canonical(&[PathBuf::from("/")]).is_empty());
    }

    #[test]
    fn file_rights_are_a_subset_without_directory_rights() {
        assert!(handled().contains(file_rights()));
        assert!(!file_rights().contains(AccessFs::ReadDir));
        assert!(!handled().contains(AccessFs::ResolveUnix));
        assert!(handled().contains(AccessFs::ReadFile | AccessFs::WriteFile | AccessFs::Truncate));
    }

    #[test]
    fn status_reads_as_a_sentence() {
        assert_eq!(
            Status::Enforced { abi: 7 }.to_string(),
            "Landlock enforced (ABI 7)"
        );
        let unsupported = Status::Unsupported {
            reason: "this kernel has no Landlock".into(),
        };
        assert!(
            unsupported
                .to_string()
                .starts_with("this kernel has no Landlock: the agent can read warrant's files")
        );
        assert!(!unsupported.hides_files());
        assert!(Status::PartiallyEnforced { abi: 4 }.hides_files());
    }

    #[test]
    fn missing_hidden_path_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("nope");
        assert!(matches!(
            plan(&[&missing]),
            Err(Error::HiddenPath { path, .. }) if path == missing
        ));
    }
}
