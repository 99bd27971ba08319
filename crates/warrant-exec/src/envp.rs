//! The child's argv and environment, prepared before the fork.
//!
//! The environment lives in one [`Zeroizing`] buffer of `K=V\0` entries,
//! allocated once at its exact final size so no reallocation leaves a copy
//! of a value behind; `envp` is a list of pointers into it.

use std::collections::HashMap;
use std::ffi::{CString, OsStr, OsString, c_char};
use std::os::unix::ffi::OsStrExt;

use warrant_secret::SecretValue;
use zeroize::Zeroizing;

use crate::Error;

/// The child's environment: `K=V\0` entries back to back, wiped on drop.
pub(crate) struct EnvBlock {
    buf: Zeroizing<Vec<u8>>,
    /// Where each entry starts in `buf`.
    starts: Vec<usize>,
}

impl EnvBlock {
    /// Builds the environment: `plain`, then the secret-file variables, then
    /// the secret variables. A later variable replaces an earlier one of the
    /// same name, so a secret always wins over a plain variable (the C
    /// library's `getenv` would return the first of two duplicates).
    pub(crate) fn build(
        plain: &[(OsString, OsString)],
        files: &[(&str, &str)],
        secrets: &[(String, SecretValue)],
    ) -> Result<Self, Error> {
        let plain = plain.iter().map(|(k, v)| (k.as_bytes(), v.as_bytes()));
        let files = files.iter().map(|(k, v)| (k.as_bytes(), v.as_bytes()));
        let secrets = secrets
            .iter()
            .map(|(k, v)| (k.as_bytes(), v.expose_secret()));

        let mut entries: Vec<(&[u8], &[u8])> = Vec::new();
        let mut index: HashMap<&[u8], usize> = HashMap::new();
        for (key, value) in plain.chain(files).chain(secrets) {
            if key.is_empty() || key.contains(&b'=') || key.contains(&0) || value.contains(&0) {
                return Err(Error::InvalidEnv {
                    name: String::from_utf8_lossy(key).into_owned(),
                });
            }
            match index.get(key) {
                Some(&at) => entries[at] = (key, value),
                None => {
                    index.insert(key, entries.len());
                    entries.push((key, value));
                }
            }
        }

        let total = entries.iter().map(|(k, v)| k.len() + v.len() + 2).sum();
        let mut buf = Zeroizing::new(Vec::with_capacity(total));
        let mut starts = Vec::with_capacity(entries.len());
        for (key, value) in entries {
            starts.push(buf.len());
            buf.extend_from_slice(key);
            buf.push(b'=');
            buf.extend_from_slice(value);
            buf.push(0);
        }
        debug_assert_eq!(buf.len(), total);
        Ok(Self { buf, starts })
    }

    /// The value of `name` (the last one wins), used to read `PATH`.
    pub(crate) fn lookup(plain: &[(OsString, OsString)], name: &str) -> Option<OsString> {
        plain
            .iter()
            .rev()
            .find(|(k, _)| k.as_bytes() == name.as_bytes())
            .map(|(_, v)| v.clone())
    }

    /// The entries, as views into the buffer.
    #[cfg(test)]
    pub(crate) fn entries(&self) -> impl Iterator<Item = &std::ffi::CStr> {
        self.starts.iter().map(|&start| {
            std::ffi::CStr::from_bytes_until_nul(&self.buf[start..])
                .expect("every entry ends with NUL")
        })
    }

    /// A NULL-terminated `envp` pointing into the buffer; valid while `self` lives.
    pub(crate) fn pointers(&self) -> Vec<*const c_char> {
        self.starts
            .iter()
            .map(|&start| self.buf[start..].as_ptr().cast::<c_char>())
            .chain(std::iter::once(std::ptr::null()))
            .collect()
    }
}

/// The child's argument vector (not secret).
pub(crate) struct Argv {
    args: Vec<CString>,
}

impl Argv {
    /// `program` becomes `argv[0]` as given (not the resolved path), like a shell does.
    pub(crate) fn new(program: &OsStr, args: &[OsString]) -> Result<Self, Error> {
        let args = std::iter::once(program)
            .chain(args.iter().map(OsString::as_os_str))
            .enumerate()
            .map(|(index, arg)| {
                CString::new(arg.as_bytes()).map_err(|_| Error::InvalidArgument { index })
            })
            .collect::<Result<_, _>>()?;
        Ok(Self { args })
    }

    /// A NULL-terminated `argv`; valid while `self` lives.
    pub(crate) fn pointers(&self) -> Vec<*const c_char> {
        self.args
            .iter()
            .map(|arg| arg.as_ptr())
            .chain(std::iter::once(std::ptr::null()))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plain(pairs: &[(&str, &str)]) -> Vec<(OsString, OsString)> {
        pairs.iter().map(|(k, v)| (k.into(), v.into())).collect()
    }

    fn secret(name: &str, value: &str) -> (String, SecretValue) {
        (name.to_owned(), SecretValue::from(value.to_owned()))
    }

    fn entries(block: &EnvBlock) -> Vec<String> {
        block
            .entries()
            .map(|e| e.to_str().unwrap().to_owned())
            .collect()
    }

    #[test]
    fn builds_entries_in_one_exact_buffer() {
        let block = EnvBlock::build(
            &plain(&[("PATH", "/bin"), ("HOME", "/h")]),
            &[("CERT", "/proc/self/fd/7")],
            &[secret("TOKEN", "fake-token-1234")],
        )
        .unwrap();
        assert_eq!(
            entries(&block),
            [
                "PATH=/bin",
                "HOME=/h",
                "CERT=/proc/self/fd/7",
                "TOKEN=fake-token-1234"
            ]
        );
        assert_eq!(block.buf.len(), block.buf.capacity());
        let pointers = block.pointers();
        assert_eq!(pointers.len(), 5);
        assert!(pointers[4].is_null());
        assert_eq!(pointers[0], block.buf.as_ptr().cast());
    }

    #[test]
    fn later_variables_win_and_secrets_win_over_plain() {
        let block = EnvBlock::build(
            &plain(&[("A", "1"), ("TOKEN", "plain"), ("A", "2")]),
            &[],
            &[secret("TOKEN", "fake-secret-5678")],
        )
        .unwrap();
        assert_eq!(entries(&block), ["A=2", "TOKEN=fake-secret-5678"]);
    }

    #[test]
    fn rejects_names_and_values_that_cannot_be_passed() {
        for (name, value) in [("", "x"), ("A=B", "x"), ("A\0", "x")] {
            let err = EnvBlock::build(&plain(&[(name, value)]), &[], &[]).err();
            assert!(matches!(err, Some(Error::InvalidEnv { .. })), "{name:?}");
        }
        let err = EnvBlock::build(&[], &[], &[secret("TOKEN", "a\0b-secret")]).err();
        match err {
            Some(Error::InvalidEnv { name }) => assert_eq!(name, "TOKEN"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn argv_keeps_the_program_as_given() {
        let argv = Argv::new("sh".as_ref(), &["-c".into(), "true".into()]).unwrap();
        assert_eq!(argv.pointers().len(), 4);
        assert!(matches!(
            Argv::new("sh".as_ref(), &["a\0b".into()]),
            Err(Error::InvalidArgument { index: 1 })
        ));
    }

    #[test]
    fn lookup_takes_the_last_value() {
        let env = plain(&[("PATH", "/a"), ("PATH", "/b")]);
        assert_eq!(EnvBlock::lookup(&env, "PATH"), Some("/b".into()));
        assert_eq!(EnvBlock::lookup(&env, "HOME"), None);
    }
}
