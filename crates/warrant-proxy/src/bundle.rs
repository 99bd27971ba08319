//! The trust bundle a child gets (`SSL_CERT_FILE`, `CURL_CA_BUNDLE`, ...):
//! the system's roots plus the warrant CA, so intercepted hosts verify and
//! every other host still does.

use std::fmt::Write as _;
use std::fs;
use std::io;
use std::path::Path;

use base64::Engine as _;

/// Well-known system bundles, tried in order before asking the platform.
const SYSTEM_BUNDLES: &[&str] = &[
    "/etc/ssl/certs/ca-certificates.crt", // Debian, Ubuntu, Arch, Alpine
    "/etc/pki/tls/certs/ca-bundle.crt",   // Fedora, RHEL
    "/etc/ssl/cert.pem",                  // macOS, BSDs
];

/// Writes (atomically, mode 0644: it holds only public certificates) the
/// system's roots followed by `ca_pem` to `path`.
pub fn write(ca_pem: &str, path: &Path) -> io::Result<()> {
    let mut out = system_pem();
    if !out.is_empty() && !out.ends_with('\n') {
        out.push('\n');
    }
    out.push_str("# warrant proxy CA\n");
    out.push_str(ca_pem);
    if !out.ends_with('\n') {
        out.push('\n');
    }
    warrant_fs::write_atomic(path, out.as_bytes(), 0o644)
}

/// The system's roots as PEM: a known bundle file, or what
/// `rustls-native-certs` finds (which honours `SSL_CERT_FILE`/`SSL_CERT_DIR`).
fn system_pem() -> String {
    for path in SYSTEM_BUNDLES {
        if let Ok(text) = fs::read_to_string(path)
            && text.contains("-----BEGIN CERTIFICATE-----")
        {
            return text;
        }
    }
    let mut out = String::new();
    for cert in rustls_native_certs::load_native_certs().certs {
        out.push_str(&pem(&cert));
    }
    out
}

/// One certificate as PEM.
fn pem(der: &[u8]) -> String {
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = String::from("-----BEGIN CERTIFICATE-----\n");
    for line in b64.as_bytes().chunks(64) {
        // Base64 is ASCII.
        let _ = writeln!(out, "{}", String::from_utf8_lossy(line));
    }
    out.push_str("-----END CERTIFICATE-----\n");
    out
}

#[cfg(test)]
mod tests {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject as _;

    use super::*;

    #[test]
    fn bundle_ends_with_the_warrant_ca() {
        let ca = crate::ca::Authority::ephemeral().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bundle.pem");
        write(ca.cert_pem(), &path).unwrap();
        let text = fs::read_to_string(&path).unwrap();
        assert!(text.ends_with(ca.cert_pem()));
        let certs: Vec<_> = CertificateDer::pem_slice_iter(text.as_bytes())
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(certs.last(), Some(ca.cert_der()));
    }

    #[test]
    fn pem_round_trips() {
        let der: Vec<u8> = (0..=255).collect();
        let text = pem(&der);
        assert!(
            text.lines()
                .all(|l| l.len() <= 64 || l.starts_with("-----"))
        );
        let back = CertificateDer::from_pem_slice(text.as_bytes()).unwrap();
        assert_eq!(back.as_ref(), &der[..]);
    }
}
