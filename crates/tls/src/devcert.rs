//! The self-signed development certificate: generated once into the data directory, reused on restart, so
//! clients that pinned it keep working.

use crate::TlsError;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Names the development certificate covers.
pub const DEV_NAMES: [&str; 3] = ["localhost", "127.0.0.1", "::1"];

/// Where the development certificate lives inside the data directory.
pub fn dev_paths(data_dir: &Path) -> (PathBuf, PathBuf) {
    let dir = data_dir.join("tls");
    (dir.join("dev-cert.pem"), dir.join("dev-key.pem"))
}

/// Returns the paths of the development certificate and key, generating them when either is missing.
/// The second value is `true` when they were generated now.
pub fn ensure(data_dir: &Path) -> Result<(PathBuf, PathBuf, bool), TlsError> {
    let (cert, key) = dev_paths(data_dir);
    if cert.is_file() && key.is_file() {
        return Ok((cert, key, false));
    }
    let fail = |reason: String| TlsError::Generate {
        dir: data_dir.join("tls"),
        reason,
    };
    let names: Vec<String> = DEV_NAMES.iter().map(|n| (*n).to_owned()).collect();
    let mut params = rcgen::CertificateParams::new(names).map_err(|e| fail(e.to_string()))?;
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "Tern development certificate");
    let signing_key = rcgen::KeyPair::generate().map_err(|e| fail(e.to_string()))?;
    let issued = params
        .self_signed(&signing_key)
        .map_err(|e| fail(e.to_string()))?;
    std::fs::create_dir_all(data_dir.join("tls")).map_err(|e| fail(e.to_string()))?;
    write_private(&key, signing_key.serialize_pem().as_bytes()).map_err(|e| fail(e.to_string()))?;
    std::fs::write(&cert, issued.pem()).map_err(|e| fail(e.to_string()))?;
    Ok((cert, key, true))
}

/// Writes a file readable by its owner only (on Unix), since it holds a private key.
fn write_private(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(path)?;
    f.write_all(contents)?;
    f.sync_all()
}

/// The SHA-256 fingerprint of a DER certificate as colon-separated hex, the form browsers and `openssl x509
/// -fingerprint -sha256` show.
pub fn fingerprint(der: &[u8]) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, der);
    digest
        .as_ref()
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":")
}
