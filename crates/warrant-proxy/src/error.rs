//! The crate's one error type.

use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;

/// Errors starting the proxy or preparing its certificate authority.
///
/// No variant ever carries a secret value: secrets are named by their store
/// name only.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The proxy only listens on a loopback address.
    #[error("the proxy listens on loopback only, not on {0}")]
    NotLoopback(SocketAddr),
    /// The listening socket could not be bound.
    #[error("cannot listen on {addr}")]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// Why binding failed.
        source: io::Error,
    },
    /// A CA file could not be read or written.
    #[error("cannot access {}", path.display())]
    CaFile {
        /// The file.
        path: PathBuf,
        /// Why it failed.
        source: io::Error,
    },
    /// The stored CA is unusable (unparsable, or certificate and key differ).
    #[error("the proxy CA in {} is unusable: {reason}", path.display())]
    CaInvalid {
        /// The directory holding `proxy-ca.pem` and `proxy-ca.key`.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// A certificate could not be generated or signed.
    #[error("cannot make a certificate: {0}")]
    Certificate(String),
    /// The TLS configuration could not be built.
    #[error("cannot set up TLS: {0}")]
    Tls(String),
    /// The configuration is not usable (a bad placeholder or host pattern).
    #[error("invalid proxy configuration: {0}")]
    Config(String),
}

impl From<rcgen::Error> for Error {
    fn from(e: rcgen::Error) -> Self {
        Self::Certificate(e.to_string())
    }
}

impl From<rustls::Error> for Error {
    fn from(e: rustls::Error) -> Self {
        Self::Tls(e.to_string())
    }
}
