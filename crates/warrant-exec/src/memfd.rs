//! Secret files that never touch a disk: sealed memfds.
//!
//! Each file is a `memfd` created close-on-exec (so no other child of
//! warrant inherits it), filled, sealed against writing, growing and
//! shrinking, then rewound. The spawn code clears close-on-exec in the child
//! only, and the child finds the file at `/proc/self/fd/N`.

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};

use rustix::fs::{MemfdFlags, SealFlags, SeekFrom};
use warrant_secret::SecretValue;

use crate::{Error, above_stdio};

/// memfd names are limited to 249 bytes; the name is only a label.
const MAX_NAME: usize = 200;

/// The in-memory files of one run.
pub(crate) struct SecretFiles {
    /// (variable, descriptor, path given to the child)
    files: Vec<(String, OwnedFd, String)>,
}

impl SecretFiles {
    /// Writes each value into its own sealed memfd. Each [`SecretValue`] is
    /// dropped (wiped) as soon as it is in its file.
    pub(crate) fn create(specs: Vec<(String, SecretValue)>) -> Result<Self, Error> {
        let mut files = Vec::with_capacity(specs.len());
        for (var, value) in specs {
            if var.is_empty() || var.contains(['=', '\0']) {
                return Err(Error::InvalidEnv { name: var });
            }
            let fd = sealed_file(&var, value.expose_secret())?;
            drop(value);
            let path = format!("/proc/self/fd/{}", fd.as_raw_fd());
            files.push((var, fd, path));
        }
        Ok(Self { files })
    }

    /// (variable, path) pairs for the child's environment.
    pub(crate) fn vars(&self) -> Vec<(&str, &str)> {
        self.files
            .iter()
            .map(|(var, _, path)| (var.as_str(), path.as_str()))
            .collect()
    }

    /// The descriptors the child must inherit.
    pub(crate) fn fds(&self) -> Vec<BorrowedFd<'_>> {
        self.files.iter().map(|(_, fd, _)| fd.as_fd()).collect()
    }
}

fn sealed_file(var: &str, value: &[u8]) -> Result<OwnedFd, Error> {
    let mut name = format!("warrant-{var}");
    if name.len() > MAX_NAME {
        let mut end = MAX_NAME;
        while !name.is_char_boundary(end) {
            end -= 1;
        }
        name.truncate(end);
    }
    let fd = rustix::fs::memfd_create(name, MemfdFlags::CLOEXEC | MemfdFlags::ALLOW_SEALING)
        .and_then(above_stdio)
        .map_err(Error::setup("create an in-memory file"))?;
    let mut rest = value;
    while !rest.is_empty() {
        match rustix::io::write(&fd, rest) {
            Ok(n) => rest = &rest[n..],
            Err(rustix::io::Errno::INTR) => {}
            Err(errno) => return Err(Error::setup("write an in-memory file")(errno)),
        }
    }
    rustix::fs::fcntl_add_seals(
        &fd,
        SealFlags::WRITE | SealFlags::GROW | SealFlags::SHRINK | SealFlags::SEAL,
    )
    .map_err(Error::setup("seal an in-memory file"))?;
    rustix::fs::seek(&fd, SeekFrom::Start(0)).map_err(Error::setup("rewind an in-memory file"))?;
    Ok(fd)
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    #[test]
    fn file_holds_the_value_and_is_sealed() {
        let files = SecretFiles::create(vec![(
            "CERT".to_owned(),
            SecretValue::from(b"-----fake pem-----".to_vec()),
        )])
        .unwrap();
        let [(var, path)] = files.vars()[..] else {
            panic!()
        };
        assert_eq!(var, "CERT");
        assert!(path.starts_with("/proc/self/fd/"));
        // This test process holds the descriptor, so the path works here too.
        assert_eq!(std::fs::read(path).unwrap(), b"-----fake pem-----");
        assert_eq!(std::fs::read(path).unwrap(), b"-----fake pem-----");
        let link = std::fs::read_link(path).unwrap();
        assert_eq!(
            link.to_str().unwrap(),
            "/memfd:warrant-CERT (deleted)",
            "not on any filesystem path"
        );
        let mut writer = std::fs::OpenOptions::new().append(true).open(path);
        if let Ok(writer) = writer.as_mut() {
            assert!(writer.write_all(b"more").is_err(), "sealed against writes");
        }
        assert!(rustix::fs::ftruncate(files.fds()[0], 0).is_err());
        let flags = rustix::io::fcntl_getfd(files.fds()[0]).unwrap();
        assert!(flags.contains(rustix::io::FdFlags::CLOEXEC));
    }

    #[test]
    fn rejects_bad_names_and_truncates_long_ones() {
        let value = || SecretValue::from(b"fake-value".to_vec());
        assert!(SecretFiles::create(vec![("A=B".to_owned(), value())]).is_err());
        let long = "V".repeat(400);
        let files = SecretFiles::create(vec![(long.clone(), value())]).unwrap();
        assert_eq!(files.vars()[0].0, long);
    }
}
