//! TLS material for every Tern frontend (TLS, WebSocket over TLS, QUIC): loading a certificate chain and key
//! from PEM files, generating a self-signed development certificate when none is configured, swapping in a new
//! certificate when its files change (or on [`TlsMaterial::reload`], which the binary calls on SIGHUP),
//! optional client-certificate verification (mTLS), and the identity a client certificate carries.
//!
//! This crate builds [`rustls::ServerConfig`]s; it opens no socket and knows nothing of MQTT. The crypto
//! provider is `ring` everywhere (no C toolchain needed). TLS 1.2 and 1.3 are offered.
//!
//! ```no_run
//! # fn main() -> Result<(), tern_tls::TlsError> {
//! let material = tern_tls::TlsMaterial::load(&tern_tls::TlsSettings::default())?;
//! let _watch = material.watch(std::time::Duration::from_secs(5));
//! let config = material.server_config(&[b"mqtt"])?;
//! # let _ = config; Ok(()) }
//! ```

mod devcert;
mod error;
mod identity;
mod pem;

pub use devcert::{DEV_NAMES, dev_paths, fingerprint};
pub use error::TlsError;
pub use identity::peer_identity;
pub use pem::{load_certs, load_key};

use rustls::crypto::CryptoProvider;
use rustls::server::danger::ClientCertVerifier;
use rustls::server::{ClientHello, ResolvesServerCert, WebPkiClientVerifier};
use rustls::sign::CertifiedKey;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock, Weak};
use std::time::{Duration, SystemTime};
use tracing::{info, warn};

/// Whether the server asks clients for a certificate.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ClientAuth {
    /// No client certificate is requested (the default: most MQTT clients authenticate with a password).
    #[default]
    Off,
    /// A certificate is requested and verified if sent; clients without one still connect (no identity).
    Optional,
    /// A certificate signed by `client_ca` is required; the handshake fails without one.
    Required,
}

/// What a listener's TLS settings say, as the configuration file holds them.
#[derive(Debug, Clone)]
pub struct TlsSettings {
    /// PEM certificate chain, leaf first. With `key`; when both are unset a development certificate is used.
    pub cert: Option<PathBuf>,
    /// PEM private key of `cert`.
    pub key: Option<PathBuf>,
    /// PEM bundle of the CAs client certificates must chain to (needed unless `client_auth` is `Off`).
    pub client_ca: Option<PathBuf>,
    /// Whether client certificates are requested or required.
    pub client_auth: ClientAuth,
    /// Where the development certificate is generated and kept (`<data_dir>/tls/`).
    pub data_dir: PathBuf,
}

impl Default for TlsSettings {
    fn default() -> Self {
        TlsSettings {
            cert: None,
            key: None,
            client_ca: None,
            client_auth: ClientAuth::Off,
            data_dir: PathBuf::from("tern-data"),
        }
    }
}

/// Loaded TLS material: the current certificate (swappable), the client verifier, and where both came from.
/// Cheap to clone; every clone and every [`server_config`](TlsMaterial::server_config) built from it sees a
/// reload at once (for new handshakes; established sessions keep their certificate).
#[derive(Clone)]
pub struct TlsMaterial {
    inner: Arc<Inner>,
}

struct Inner {
    provider: Arc<CryptoProvider>,
    cert_path: PathBuf,
    key_path: PathBuf,
    /// The certificate new handshakes get; written on reload only, read per handshake (clone of an `Arc`).
    current: RwLock<Arc<CertifiedKey>>,
    /// Modification times of (cert, key) when last loaded, to notice changed files.
    stamps: Mutex<(Option<SystemTime>, Option<SystemTime>)>,
    verifier: Option<Arc<dyn ClientCertVerifier>>,
}

impl std::fmt::Debug for TlsMaterial {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsMaterial")
            .field("cert", &self.inner.cert_path)
            .field("key", &self.inner.key_path)
            .field("client_auth", &self.inner.verifier.is_some())
            .finish_non_exhaustive()
    }
}

impl TlsMaterial {
    /// Loads the configured certificate and key, or the development certificate (generated into
    /// `data_dir` if absent, reused otherwise; its path and fingerprint are logged), and the client CA.
    pub fn load(settings: &TlsSettings) -> Result<TlsMaterial, TlsError> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let (cert_path, key_path) = match (&settings.cert, &settings.key) {
            (Some(c), Some(k)) => (c.clone(), k.clone()),
            (Some(_), None) => return Err(TlsError::HalfConfigured("cert")),
            (None, Some(_)) => return Err(TlsError::HalfConfigured("key")),
            (None, None) => {
                let (c, k, fresh) = devcert::ensure(&settings.data_dir)?;
                let der = load_certs("cert", &c)?;
                let fp = der.first().map(|d| fingerprint(d.as_ref())).unwrap_or_default();
                info!(
                    cert = %c.display(),
                    sha256 = %fp,
                    generated = fresh,
                    "TLS: no cert/key configured, using the self-signed development certificate for {}; clients must trust it explicitly (e.g. --cafile)",
                    DEV_NAMES.join(", ")
                );
                (c, k)
            }
        };
        let key = pem::load_certified_key(&cert_path, &key_path, &provider)?;
        let verifier = match settings.client_auth {
            ClientAuth::Off => None,
            auth => {
                let ca = settings.client_ca.as_deref().ok_or(TlsError::MissingClientCa)?;
                let roots = pem::load_roots(ca)?;
                let builder = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone());
                let builder = if auth == ClientAuth::Optional {
                    builder.allow_unauthenticated()
                } else {
                    builder
                };
                Some(builder.build().map_err(|e| {
                    TlsError::invalid(
                        "client_ca",
                        ca,
                        format!("cannot verify client certificates ({e})"),
                    )
                })?)
            }
        };
        let stamps = (mtime(&cert_path), mtime(&key_path));
        Ok(TlsMaterial {
            inner: Arc::new(Inner {
                provider,
                cert_path,
                key_path,
                current: RwLock::new(Arc::new(key)),
                stamps: Mutex::new(stamps),
                verifier,
            }),
        })
    }

    /// A server configuration over this material offering `alpn` (empty: no ALPN). A client that offers
    /// none of the protocols still connects (rustls only refuses a client whose offered list misses ours);
    /// most MQTT clients offer none.
    pub fn server_config(&self, alpn: &[&[u8]]) -> Result<Arc<rustls::ServerConfig>, TlsError> {
        let builder = rustls::ServerConfig::builder_with_provider(self.inner.provider.clone())
            .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
            .map_err(|e| TlsError::Rustls(e.to_string()))?;
        let builder = match &self.inner.verifier {
            Some(v) => builder.with_client_cert_verifier(v.clone()),
            None => builder.with_no_client_auth(),
        };
        let mut config = builder.with_cert_resolver(Arc::new(Resolver(self.inner.clone())));
        config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
        Ok(Arc::new(config))
    }

    /// Whether client certificates are verified (requested or required).
    pub fn verifies_clients(&self) -> bool {
        self.inner.verifier.is_some()
    }

    /// The certificate file in use (configured or generated).
    pub fn cert_path(&self) -> &Path {
        &self.inner.cert_path
    }

    /// The certificate chain new handshakes present, leaf first (for fingerprints and tests).
    pub fn current_chain(&self) -> Vec<rustls_pki_types::CertificateDer<'static>> {
        self.inner.current().cert.clone()
    }

    /// Re-reads the certificate and key now (SIGHUP). On error the previous certificate stays in use.
    pub fn reload(&self) -> Result<(), TlsError> {
        let stamps = (mtime(&self.inner.cert_path), mtime(&self.inner.key_path));
        let key = pem::load_certified_key(&self.inner.cert_path, &self.inner.key_path, &self.inner.provider)?;
        let fp = key
            .cert
            .first()
            .map(|d| fingerprint(d.as_ref()))
            .unwrap_or_default();
        *self.inner.current.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(key);
        *self.inner.stamps.lock().unwrap_or_else(|p| p.into_inner()) = stamps;
        info!(cert = %self.inner.cert_path.display(), sha256 = %fp, "TLS certificate reloaded");
        Ok(())
    }

    /// Reloads when the certificate's or key's modification time changed since the last load; returns
    /// whether a new certificate is in use.
    pub fn reload_if_changed(&self) -> Result<bool, TlsError> {
        let now = (mtime(&self.inner.cert_path), mtime(&self.inner.key_path));
        let seen = *self.inner.stamps.lock().unwrap_or_else(|p| p.into_inner());
        if now == seen {
            return Ok(false);
        }
        self.reload().map(|()| true)
    }

    /// Polls the files every `every` on a background thread and reloads when they change. The thread ends
    /// when the returned handle or every clone of this material is dropped.
    pub fn watch(&self, every: Duration) -> WatchHandle {
        let weak: Weak<Inner> = Arc::downgrade(&self.inner);
        let stop = Arc::new(());
        let alive = Arc::downgrade(&stop);
        let spawned = std::thread::Builder::new()
            .name("tern-tls-watch".into())
            .spawn(move || {
                loop {
                    std::thread::sleep(every);
                    let (Some(inner), Some(_)) = (weak.upgrade(), alive.upgrade()) else {
                        return;
                    };
                    let material = TlsMaterial { inner };
                    if let Err(e) = material.reload_if_changed() {
                        // Half-written files during a renewal are normal: keep the old certificate, retry later.
                        warn!(error = %e, "TLS certificate changed but cannot be loaded; keeping the previous one");
                        let stamps = (mtime(&material.inner.cert_path), mtime(&material.inner.key_path));
                        *material.inner.stamps.lock().unwrap_or_else(|p| p.into_inner()) = stamps;
                    }
                }
            });
        if let Err(e) = spawned {
            warn!(error = %e, "cannot start the TLS certificate watcher; reload with SIGHUP instead");
        }
        WatchHandle { _stop: stop }
    }
}

/// Keeps the certificate watcher of [`TlsMaterial::watch`] running; dropping it stops the watcher.
#[derive(Debug)]
pub struct WatchHandle {
    _stop: Arc<()>,
}

impl Inner {
    fn current(&self) -> Arc<CertifiedKey> {
        self.current.read().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

/// Hands every handshake the current certificate, whatever name the client asked for.
struct Resolver(Arc<Inner>);

impl std::fmt::Debug for Resolver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Resolver")
            .field("cert", &self.0.cert_path)
            .finish()
    }
}

impl ResolvesServerCert for Resolver {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.0.current())
    }
}

fn mtime(path: &Path) -> Option<SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

#[cfg(test)]
mod tests;
