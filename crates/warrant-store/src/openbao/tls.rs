//! TLS for the client: rustls with the ring provider, the roots to trust,
//! and telling a TLS failure from a network one.

use std::sync::Arc;

use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject as _;

use super::config::OpenBaoConfig;
use crate::Error;

/// rustls with ring: the CAs of `ca_file` if set, else the system's roots.
pub(super) fn tls_config(config: &OpenBaoConfig) -> Result<rustls::ClientConfig, Error> {
    let mut roots = rustls::RootCertStore::empty();
    match &config.ca_file {
        Some(path) => {
            let pem = std::fs::read(path).map_err(Error::io(path))?;
            let mut found = 0;
            for cert in CertificateDer::pem_slice_iter(&pem) {
                let cert = cert.map_err(|e| Error::Config {
                    reason: format!("{}: not a PEM certificate: {e}", path.display()),
                })?;
                roots.add(cert).map_err(|e| Error::Config {
                    reason: format!("{}: unusable CA certificate: {e}", path.display()),
                })?;
                found += 1;
            }
            if found == 0 {
                return Err(Error::Config {
                    reason: format!("{}: no PEM certificate", path.display()),
                });
            }
        }
        None => {
            // Unreadable or unparsable system certificates are skipped.
            roots.add_parsable_certificates(rustls_native_certs::load_native_certs().certs);
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::Config {
            reason: format!("TLS setup: {e}"),
        })?
        .with_root_certificates(roots)
        .with_no_client_auth())
}

/// The rustls error in `error`'s chain. `io::Error::source` skips the
/// error it wraps, so wrapped I/O errors are opened with `get_ref`.
pub(super) fn find_rustls<'a>(
    error: &'a (dyn std::error::Error + 'static),
) -> Option<&'a rustls::Error> {
    if let Some(tls) = error.downcast_ref::<rustls::Error>() {
        return Some(tls);
    }
    let wrapped = error
        .downcast_ref::<std::io::Error>()
        .and_then(|io| io.get_ref())
        .map(|inner| inner as &(dyn std::error::Error + 'static));
    wrapped
        .and_then(find_rustls)
        .or_else(|| error.source().and_then(find_rustls))
}
