//! Reading certificate chains, private keys and CA bundles from PEM files.

use crate::TlsError;
use rustls::RootCertStore;
use rustls::crypto::CryptoProvider;
use rustls::sign::CertifiedKey;
use rustls_pki_types::pem::{self, PemObject};
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use std::path::Path;

/// Reads every certificate in a PEM file, leaf first; an empty file is an error.
pub fn load_certs(what: &'static str, path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let bytes = std::fs::read(path).map_err(|e| TlsError::read(what, path, e))?;
    let certs = CertificateDer::pem_slice_iter(&bytes)
        .collect::<Result<Vec<_>, pem::Error>>()
        .map_err(|e| TlsError::invalid(what, path, format!("is not valid PEM ({e})")))?;
    if certs.is_empty() {
        return Err(TlsError::invalid(
            what,
            path,
            "holds no `-----BEGIN CERTIFICATE-----` block: it must be a PEM certificate chain, leaf first",
        ));
    }
    Ok(certs)
}

/// Reads the first private key (PKCS#8, PKCS#1 or SEC1) in a PEM file.
pub fn load_key(path: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
    let bytes = std::fs::read(path).map_err(|e| TlsError::read("key", path, e))?;
    PrivateKeyDer::from_pem_slice(&bytes).map_err(|e| match e {
        pem::Error::NoItemsFound => TlsError::invalid(
            "key",
            path,
            "holds no private key: it must contain a `-----BEGIN PRIVATE KEY-----` (or RSA/EC) block",
        ),
        other => TlsError::invalid("key", path, format!("is not a valid PEM private key ({other})")),
    })
}

/// Loads a certificate chain and its key into the form rustls signs with, checking they belong together.
pub fn load_certified_key(
    cert: &Path,
    key: &Path,
    provider: &CryptoProvider,
) -> Result<CertifiedKey, TlsError> {
    let chain = load_certs("cert", cert)?;
    let key_der = load_key(key)?;
    CertifiedKey::from_der(chain, key_der, provider).map_err(|e| {
        TlsError::invalid(
            "key",
            key,
            format!(
                "cannot be used with the certificate {} ({e}): check that the key is the one the certificate was issued for",
                cert.display()
            ),
        )
    })
}

/// Reads a CA bundle for verifying client certificates.
pub fn load_roots(path: &Path) -> Result<RootCertStore, TlsError> {
    let mut roots = RootCertStore::empty();
    for cert in load_certs("client_ca", path)? {
        roots.add(cert).map_err(|e| {
            TlsError::invalid(
                "client_ca",
                path,
                format!("holds a certificate that cannot be a trust anchor ({e})"),
            )
        })?;
    }
    Ok(roots)
}
