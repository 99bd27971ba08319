//! The approver passphrase: what a person knows and the agent does not.
//!
//! Only an Argon2id hash is kept, in `$WARRANT_HOME/approver` (0600). The
//! daemon reads it once at start and keeps it in memory, so an agent that
//! could write the file still cannot swap the passphrase under a running
//! daemon. Wrong passphrases lock approval for a time that doubles with
//! each failure.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use argon2::{Algorithm, Argon2, Params, Version};
use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use crate::error::Error;

/// The approver file's name under the home.
pub const APPROVER_FILE: &str = "approver";

/// Shortest passphrase accepted.
pub const MIN_PASSPHRASE_LEN: usize = 8;

const HASH_LEN: usize = 32;

/// The stored verifier: Argon2id costs, salt and hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Verifier {
    /// Always `argon2id`.
    pub algorithm: String,
    /// Memory cost in KiB.
    pub m_cost: u32,
    /// Iterations.
    pub t_cost: u32,
    /// Lanes.
    pub p_cost: u32,
    /// Hex salt.
    pub salt: String,
    /// Hex hash.
    pub hash: String,
}

impl Verifier {
    /// Hashes a new passphrase. Costs are the store's recommended ones,
    /// or the smallest when `insecure_fast` (tests only).
    pub fn create(passphrase: &[u8], insecure_fast: bool) -> Result<Self, Error> {
        if passphrase.len() < MIN_PASSPHRASE_LEN {
            return Err(Error::Approver(format!(
                "too short; use at least {MIN_PASSPHRASE_LEN} characters"
            )));
        }
        let (m_cost, t_cost, p_cost) = if insecure_fast {
            (8, 1, 1)
        } else {
            (64 * 1024, 3, 1)
        };
        let mut salt = [0u8; 16];
        getrandom::fill(&mut salt).map_err(|e| Error::Random(e.to_string()))?;
        let mut verifier = Self {
            algorithm: "argon2id".into(),
            m_cost,
            t_cost,
            p_cost,
            salt: hex::encode(salt),
            hash: String::new(),
        };
        verifier.hash = hex::encode(&*verifier.derive(passphrase)?);
        Ok(verifier)
    }

    /// Whether `passphrase` is the one this verifier was made from
    /// (compared in constant time).
    pub fn verify(&self, passphrase: &[u8]) -> Result<bool, Error> {
        let expected = hex::decode(&self.hash)
            .map_err(|_| Error::Approver("the stored hash is not hex".into()))?;
        let actual = self.derive(passphrase)?;
        Ok(bool::from(actual.as_slice().ct_eq(&expected)))
    }

    fn derive(&self, passphrase: &[u8]) -> Result<Zeroizing<Vec<u8>>, Error> {
        if self.algorithm != "argon2id"
            || self.m_cost > 4 * 1024 * 1024
            || self.t_cost > 64
            || self.p_cost > 64
        {
            return Err(Error::Approver(format!(
                "unsupported verifier ({} m={} t={} p={})",
                self.algorithm, self.m_cost, self.t_cost, self.p_cost
            )));
        }
        let params = Params::new(self.m_cost, self.t_cost, self.p_cost, Some(HASH_LEN))
            .map_err(|e| Error::Approver(format!("invalid argon2 costs: {e}")))?;
        let salt = hex::decode(&self.salt)
            .map_err(|_| Error::Approver("the stored salt is not hex".into()))?;
        let mut out = Zeroizing::new(vec![0u8; HASH_LEN]);
        Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
            .hash_password_into(passphrase, &salt, &mut out)
            .map_err(|e| Error::Approver(format!("argon2 failed: {e}")))?;
        Ok(out)
    }

    /// Reads the verifier under `home`, if one is set.
    pub fn load(home: &Path) -> Result<Option<Self>, Error> {
        let path = path(home);
        match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map(Some).map_err(|e| {
                Error::Approver(format!(
                    "{} does not parse ({e}); set it again with `warrant approver set`",
                    path.display()
                ))
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Error::io(format!("cannot read {}", path.display()), e)),
        }
    }

    /// Writes the verifier under `home` atomically, mode 0600.
    pub fn save(&self, home: &Path) -> Result<(), Error> {
        let path = path(home);
        let bytes = serde_json::to_vec_pretty(self).map_err(Error::encode)?;
        warrant_fs::write_atomic(&path, &bytes, warrant_fs::FILE_MODE)
            .map_err(|e| Error::io(format!("cannot write {}", path.display()), e))
    }
}

/// `$WARRANT_HOME/approver`.
pub fn path(home: &Path) -> PathBuf {
    home.join(APPROVER_FILE)
}

/// Lockout after wrong passphrases: 1 s after the first, doubling with each
/// further one up to five minutes; a right one resets it.
///
/// One passphrase is checked at a time: an attempt takes the check slot
/// ([`Throttle::begin`]) before the slow Argon2 check and gives it back
/// with the result, so attempts sent together when a lock ends are refused
/// unchecked instead of all being checked.
#[derive(Debug, Default)]
pub struct Throttle {
    failures: u32,
    locked_until: Option<Instant>,
    /// When the check that holds the slot began.
    checking: Option<Instant>,
}

/// A check slot older than this is taken back: a check takes well under a
/// second, so its holder is gone without giving it back (never expected;
/// this only keeps a lost slot from locking approvals for good).
const CHECK_SLOT: Duration = Duration::from_secs(30);

/// Why an attempt may not be checked now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Busy {
    /// Locked after wrong passphrases, for this long yet.
    Locked(Duration),
    /// Another passphrase is being checked.
    Checking,
}

/// The longest lockout.
pub const MAX_LOCKOUT: Duration = Duration::from_secs(300);

impl Throttle {
    /// How long until another attempt is allowed, if it is locked now.
    pub fn wait(&self, now: Instant) -> Option<Duration> {
        self.locked_until
            .and_then(|until| until.checked_duration_since(now))
            .filter(|d| !d.is_zero())
    }

    /// Takes the check slot, unless locked or another check holds it.
    pub fn begin(&mut self, now: Instant) -> Result<(), Busy> {
        if let Some(wait) = self.wait(now) {
            return Err(Busy::Locked(wait));
        }
        if self
            .checking
            .is_some_and(|since| now.saturating_duration_since(since) < CHECK_SLOT)
        {
            return Err(Busy::Checking);
        }
        self.checking = Some(now);
        Ok(())
    }

    /// Gives the slot back without a result (the check itself failed).
    pub fn abandon(&mut self) {
        self.checking = None;
    }

    /// Records a wrong passphrase; returns the lockout it starts.
    pub fn failed(&mut self, now: Instant) -> Duration {
        self.checking = None;
        self.failures = self.failures.saturating_add(1);
        let secs = 1u64 << (self.failures - 1).min(16);
        let lockout = Duration::from_secs(secs).min(MAX_LOCKOUT);
        self.locked_until = Some(now + lockout);
        lockout
    }

    /// Records a right passphrase.
    pub fn succeeded(&mut self) {
        *self = Self::default();
    }

    /// Wrong passphrases since the last right one.
    pub fn failures(&self) -> u32 {
        self.failures
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verifies_only_the_right_passphrase_and_survives_a_round_trip() {
        let home = tempfile::tempdir().unwrap();
        let v = Verifier::create(b"correct horse battery", true).unwrap();
        v.save(home.path()).unwrap();
        let back = Verifier::load(home.path()).unwrap().unwrap();
        assert_eq!(back, v);
        assert!(back.verify(b"correct horse battery").unwrap());
        assert!(!back.verify(b"correct horse batterz").unwrap());
        assert!(!back.verify(b"").unwrap());
        assert!(Verifier::create(b"short", true).is_err());
    }

    #[test]
    fn throttle_doubles_and_resets() {
        let mut t = Throttle::default();
        let now = Instant::now();
        assert!(t.wait(now).is_none());
        assert_eq!(t.failed(now), Duration::from_secs(1));
        assert_eq!(t.failed(now), Duration::from_secs(2));
        assert_eq!(t.failed(now), Duration::from_secs(4));
        assert!(t.wait(now).is_some());
        assert!(t.wait(now + Duration::from_secs(5)).is_none());
        for _ in 0..30 {
            t.failed(now);
        }
        assert_eq!(t.wait(now), Some(MAX_LOCKOUT));
        t.succeeded();
        assert!(t.wait(now).is_none());
        assert_eq!(t.failures(), 0);
    }

    #[test]
    fn one_check_at_a_time_and_none_while_locked() {
        let mut t = Throttle::default();
        let now = Instant::now();
        assert_eq!(t.begin(now), Ok(()));
        // Sent together: the second waits for the first's result.
        assert_eq!(t.begin(now), Err(Busy::Checking));
        t.failed(now);
        assert_eq!(t.begin(now), Err(Busy::Locked(Duration::from_secs(1))));
        let later = now + Duration::from_secs(2);
        assert_eq!(t.begin(later), Ok(()));
        t.abandon();
        assert_eq!(t.begin(later), Ok(()));
        t.succeeded();
        assert_eq!(t.begin(later), Ok(()));
        // A slot nobody gave back is taken back after a while.
        assert_eq!(t.begin(later), Err(Busy::Checking));
        assert_eq!(t.begin(later + CHECK_SLOT), Ok(()));
    }
}
