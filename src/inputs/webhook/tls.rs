//! TLS material: loading the configured certificate and key, and making the
//! development certificate of the embedded default.

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;

/// Why TLS material is unusable.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// The certificate file is missing, unreadable or holds no certificate.
    #[error("cannot load certificate `{path}`: {reason}")]
    Certificate {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// The key file is missing, unreadable or holds no private key.
    #[error("cannot load private key `{path}`: {reason}")]
    Key {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// rustls refused the pair (e.g. the key does not match the certificate).
    #[error("certificate and key are not usable together: {0}")]
    Rustls(#[from] rustls::Error),
    /// Making a development certificate failed.
    #[error("cannot generate a development certificate: {0}")]
    Generate(String),
}

/// A rustls server config (HTTP/1.1 over TLS 1.2/1.3, ring provider) for a
/// PEM certificate chain and key.
pub fn server_config(cert: &Path, key: &Path) -> Result<rustls::ServerConfig, TlsError> {
    let slot = Arc::new(CertificateSlot::new(certified_key(cert, key)?));
    server_config_with(slot)
}

/// A rustls server config that presents whatever `slot` holds at each
/// handshake, so SIGHUP can renew the certificate without a restart
/// (established connections keep theirs).
pub fn server_config_with(slot: Arc<CertificateSlot>) -> Result<rustls::ServerConfig, TlsError> {
    let mut config = rustls::ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_cert_resolver(slot);
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Loads a PEM certificate chain and its key, checking that they match.
pub fn certified_key(cert: &Path, key: &Path) -> Result<Arc<CertifiedKey>, TlsError> {
    let certificates = CertificateDer::pem_file_iter(cert)
        .and_then(|iter| iter.collect::<Result<Vec<_>, _>>())
        .map_err(|error| TlsError::Certificate {
            path: cert.to_owned(),
            reason: error.to_string(),
        })?;
    if certificates.is_empty() {
        return Err(TlsError::Certificate {
            path: cert.to_owned(),
            reason: "no PEM certificate in the file".to_owned(),
        });
    }
    let private_key = PrivateKeyDer::from_pem_file(key).map_err(|error| TlsError::Key {
        path: key.to_owned(),
        reason: error.to_string(),
    })?;
    Ok(Arc::new(CertifiedKey::from_der(
        certificates,
        private_key,
        &provider(),
    )?))
}

/// The certificate the listener presents; replaced on reload.
#[derive(Debug)]
pub struct CertificateSlot(RwLock<Arc<CertifiedKey>>);

impl CertificateSlot {
    /// Holds `key`.
    pub fn new(key: Arc<CertifiedKey>) -> CertificateSlot {
        CertificateSlot(RwLock::new(key))
    }

    /// The certificate presented now.
    pub fn get(&self) -> Arc<CertifiedKey> {
        Arc::clone(&self.0.read().unwrap_or_else(|poison| poison.into_inner()))
    }

    /// Presents `key` from the next handshake on.
    pub fn set(&self, key: Arc<CertifiedKey>) {
        *self.0.write().unwrap_or_else(|poison| poison.into_inner()) = key;
    }
}

impl ResolvesServerCert for CertificateSlot {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(Arc::clone(
            &self.0.read().unwrap_or_else(|poison| poison.into_inner()),
        ))
    }
}

/// A self-signed certificate for `localhost`, `127.0.0.1` and `::1`, as
/// (certificate PEM, private key PEM). For the embedded default and tests
/// only: Auth0 itself refuses self-signed certificates.
pub fn generate_development_certificate() -> Result<(String, String), TlsError> {
    let names = vec![
        "localhost".to_owned(),
        "127.0.0.1".to_owned(),
        "::1".to_owned(),
    ];
    let certified = rcgen::generate_simple_self_signed(names)
        .map_err(|error| TlsError::Generate(error.to_string()))?;
    Ok((certified.cert.pem(), certified.key_pair.serialize_pem()))
}
