//! The proxy's local certificate authority.
//!
//! Generated once per warrant home: `proxy-ca.pem` (the certificate, 0644,
//! what a child trusts) and `proxy-ca.key` (its key, 0600, which a sandboxed
//! agent cannot read). Leaf certificates for intercepted hosts are signed on
//! demand with one leaf key and cached in memory.

use std::collections::HashMap;
use std::fmt;
use std::fs;
use std::io;
use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, SerialNumber,
};
use rustls::ServerConfig;
use rustls::client::danger::ServerCertVerifier as _;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName, UnixTime};
use time::{Duration, OffsetDateTime};
use zeroize::Zeroizing;

use crate::Error;

/// The certificate's file name in the warrant home.
pub const CERT_FILE: &str = "proxy-ca.pem";
/// The key's file name in the warrant home.
pub const KEY_FILE: &str = "proxy-ca.key";
const LOCK_FILE: &str = ".proxy-ca.lock";
/// Leaf certificates kept in memory at most (then the cache starts over).
const CACHE_LIMIT: usize = 1024;

/// The local CA: signs a leaf certificate for each intercepted host.
///
/// Cheap to clone (shared inside). `Debug` shows no key.
#[derive(Clone)]
pub struct Authority {
    inner: Arc<Inner>,
}

struct Inner {
    cert_pem: String,
    cert_der: CertificateDer<'static>,
    issuer: Issuer<'static, KeyPair>,
    /// One key for every leaf: only the certificates differ.
    leaf_key: KeyPair,
    provider: Arc<CryptoProvider>,
    leaves: Mutex<HashMap<String, Arc<ServerConfig>>>,
}

impl fmt::Debug for Authority {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Authority").finish_non_exhaustive()
    }
}

impl Authority {
    /// Loads the CA from `dir`, or creates it there (atomic writes, key
    /// 0600) if either file is missing. Concurrent callers agree on one CA.
    pub fn load_or_create(dir: &Path) -> Result<Authority, Error> {
        let io_err = |path: &Path| {
            let path = path.to_path_buf();
            move |source| Error::CaFile { path, source }
        };
        warrant_fs::create_private_dir(dir).map_err(io_err(dir))?;
        let lock_path = dir.join(LOCK_FILE);
        let _lock = warrant_fs::lock_exclusive(&lock_path).map_err(io_err(&lock_path))?;
        let (cert_path, key_path) = (dir.join(CERT_FILE), dir.join(KEY_FILE));
        let cert = read_optional(&cert_path).map_err(io_err(&cert_path))?;
        let key = read_optional(&key_path).map_err(io_err(&key_path))?;
        if let (Some(cert), Some(key)) = (cert, key) {
            let cert = String::from_utf8(cert.to_vec())
                .map_err(|_| invalid(dir, "the certificate is not PEM"))?;
            let key = std::str::from_utf8(&key).map_err(|_| invalid(dir, "the key is not PEM"))?;
            let key = KeyPair::from_pem(key)
                .map_err(|e| invalid(dir, &format!("cannot read the key: {e}")))?;
            return Self::from_parts(cert, key).map_err(|reason| invalid(dir, &reason));
        }
        let key = KeyPair::generate()?;
        let cert = ca_params(true).self_signed(&key)?;
        let key_pem = Zeroizing::new(key.serialize_pem());
        // Key first: a crash in between leaves a key without certificate,
        // which the next call replaces.
        warrant_fs::write_atomic(&key_path, key_pem.as_bytes(), 0o600)
            .map_err(io_err(&key_path))?;
        warrant_fs::write_atomic(&cert_path, cert.pem().as_bytes(), 0o644)
            .map_err(io_err(&cert_path))?;
        Self::from_parts(cert.pem(), key).map_err(|reason| invalid(dir, &reason))
    }

    /// A CA that lives in memory only (tests, benchmarks, one-off runs).
    pub fn ephemeral() -> Result<Authority, Error> {
        let key = KeyPair::generate()?;
        let cert = ca_params(true).self_signed(&key)?;
        Self::from_parts(cert.pem(), key).map_err(Error::Certificate)
    }

    /// The CA certificate in PEM, for the child's trust bundle.
    pub fn cert_pem(&self) -> &str {
        &self.inner.cert_pem
    }

    /// The CA certificate in DER.
    pub fn cert_der(&self) -> &CertificateDer<'static> {
        &self.inner.cert_der
    }

    /// Builds the authority and checks that the certificate and key belong
    /// together, by signing a leaf and verifying it against the certificate.
    fn from_parts(cert_pem: String, key: KeyPair) -> Result<Authority, String> {
        let cert_der = CertificateDer::from_pem_slice(cert_pem.as_bytes())
            .map_err(|e| format!("cannot read the certificate: {e}"))?;
        let authority = Authority {
            inner: Arc::new(Inner {
                cert_pem,
                cert_der,
                issuer: Issuer::new(ca_params(false), key),
                leaf_key: KeyPair::generate().map_err(|e| e.to_string())?,
                provider: Arc::new(rustls::crypto::ring::default_provider()),
                leaves: Mutex::new(HashMap::new()),
            }),
        };
        let probe = "warrant-self-check.invalid";
        let leaf = authority.sign_leaf(probe).map_err(|e| e.to_string())?;
        let mut roots = rustls::RootCertStore::empty();
        roots
            .add(authority.inner.cert_der.clone())
            .map_err(|e| format!("the certificate is not a usable CA: {e}"))?;
        let verifier = rustls::client::WebPkiServerVerifier::builder_with_provider(
            Arc::new(roots),
            authority.inner.provider.clone(),
        )
        .build()
        .map_err(|e| e.to_string())?;
        let name = ServerName::try_from(probe).map_err(|e| e.to_string())?;
        verifier
            .verify_server_cert(&leaf, &[], &name, &[], UnixTime::now())
            .map_err(|e| format!("the certificate and the key do not match: {e}"))?;
        Ok(authority)
    }

    /// A leaf certificate for `host` (no IPv6 brackets), signed by the CA.
    fn sign_leaf(&self, host: &str) -> Result<CertificateDer<'static>, Error> {
        let mut params = CertificateParams::new(vec![host.to_owned()])?;
        let mut name = DistinguishedName::new();
        name.push(DnType::CommonName, host);
        params.distinguished_name = name;
        params.is_ca = IsCa::NoCa;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        params.use_authority_key_identifier_extension = true;
        let now = OffsetDateTime::now_utc();
        params.not_before = now - Duration::days(1);
        params.not_after = now + Duration::days(365);
        params.serial_number = Some(random_serial());
        let cert = params.signed_by(&self.inner.leaf_key, &self.inner.issuer)?;
        Ok(cert.der().clone())
    }

    /// The TLS server configuration for `host` (normalised; IPv6 without
    /// brackets), offering HTTP/2 and HTTP/1.1; cached.
    pub(crate) fn server_config(&self, host: &str) -> Result<Arc<ServerConfig>, Error> {
        let mut leaves = self
            .inner
            .leaves
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(config) = leaves.get(host) {
            return Ok(config.clone());
        }
        let cert = self.sign_leaf(host)?;
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(
            self.inner.leaf_key.serialize_der(),
        ));
        let mut config = ServerConfig::builder_with_provider(self.inner.provider.clone())
            .with_safe_default_protocol_versions()?
            .with_no_client_auth()
            .with_single_cert(vec![cert], key)?;
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        let config = Arc::new(config);
        if leaves.len() >= CACHE_LIMIT {
            leaves.clear();
        }
        leaves.insert(host.to_owned(), config.clone());
        Ok(config)
    }
}

/// The CA's parameters. Its name must never change: leaves signed after a
/// restart name the issuer by these parameters, not by the stored file.
fn ca_params(new: bool) -> CertificateParams {
    let mut params = CertificateParams::default();
    let mut name = DistinguishedName::new();
    name.push(DnType::OrganizationName, "warrant");
    name.push(DnType::CommonName, "warrant proxy CA");
    params.distinguished_name = name;
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    if new {
        let now = OffsetDateTime::now_utc();
        params.not_before = now - Duration::days(1);
        params.not_after = now + Duration::days(3650);
        params.serial_number = Some(random_serial());
    }
    params
}

fn random_serial() -> SerialNumber {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).expect("the system random source works");
    bytes[0] &= 0x7f; // positive
    bytes[0] |= 0x01; // and no leading zero byte
    SerialNumber::from_slice(&bytes)
}

fn read_optional(path: &Path) -> io::Result<Option<Zeroizing<Vec<u8>>>> {
    match fs::read(path) {
        Ok(bytes) => Ok(Some(Zeroizing::new(bytes))),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

fn invalid(dir: &Path, reason: &str) -> Error {
    Error::CaInvalid {
        path: dir.to_path_buf(),
        reason: reason.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt as _;

    use super::*;

    #[test]
    fn created_once_then_loaded() {
        let dir = tempfile::tempdir().unwrap();
        let first = Authority::load_or_create(dir.path()).unwrap();
        let mode = |f: &str| {
            fs::metadata(dir.path().join(f))
                .unwrap()
                .permissions()
                .mode()
                & 0o777
        };
        assert_eq!(mode(KEY_FILE), 0o600);
        assert_eq!(mode(CERT_FILE), 0o644);
        let second = Authority::load_or_create(dir.path()).unwrap();
        assert_eq!(first.cert_pem(), second.cert_pem());
        assert!(second.cert_pem().starts_with("-----BEGIN CERTIFICATE-----"));
        // A leaf signed after reloading verifies against the stored certificate.
        second.server_config("api.example.test").unwrap();
        second.server_config("127.0.0.1").unwrap();
        second.server_config("::1").unwrap();
        assert!(!format!("{second:?}").contains("PRIVATE"));
    }

    #[test]
    fn mismatched_files_are_refused() {
        let a = tempfile::tempdir().unwrap();
        let b = tempfile::tempdir().unwrap();
        Authority::load_or_create(a.path()).unwrap();
        Authority::load_or_create(b.path()).unwrap();
        fs::copy(b.path().join(KEY_FILE), a.path().join(KEY_FILE)).unwrap();
        let err = Authority::load_or_create(a.path()).unwrap_err();
        assert!(matches!(err, Error::CaInvalid { .. }), "{err}");
        fs::write(a.path().join(CERT_FILE), "garbage").unwrap();
        assert!(Authority::load_or_create(a.path()).is_err());
    }

    #[test]
    fn a_missing_half_is_regenerated() {
        let dir = tempfile::tempdir().unwrap();
        let first = Authority::load_or_create(dir.path()).unwrap();
        fs::remove_file(dir.path().join(CERT_FILE)).unwrap();
        let second = Authority::load_or_create(dir.path()).unwrap();
        assert_ne!(first.cert_pem(), second.cert_pem());
    }
}
