//! TLS for `mqtts://` and `wss://`: which server certificates to trust (a CA file, the system bundle, or —
//! for development only — anything), and an optional client certificate for brokers that require one.

use crate::error::ClientError;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, RootCertStore, SignatureScheme};
use std::io;
use std::path::PathBuf;
use std::sync::Arc;

/// Where the system's CA bundle usually is (Debian/Ubuntu/Alpine, Fedora/RHEL, openSUSE).
const SYSTEM_BUNDLES: [&str; 3] = [
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/pki/tls/certs/ca-bundle.crt",
    "/etc/ssl/ca-bundle.pem",
];

/// How the client checks the server's certificate and whether it presents its own.
#[derive(Debug, Clone, Default)]
pub struct TlsOptions {
    /// PEM file of CAs to trust instead of the system bundle (e.g. a broker's self-signed certificate).
    pub ca_file: Option<PathBuf>,
    /// Accept any server certificate. For development against self-signed brokers only: it gives up the
    /// protection TLS exists for.
    pub insecure: bool,
    /// PEM certificate chain to present (brokers requiring client certificates); with `client_key`.
    pub client_cert: Option<PathBuf>,
    /// PEM private key of `client_cert`.
    pub client_key: Option<PathBuf>,
}

impl TlsOptions {
    /// A rustls client configuration from these options, offering `alpn`.
    pub fn client_config(&self, alpn: &[&[u8]]) -> Result<Arc<rustls::ClientConfig>, ClientError> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
            .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
            .map_err(|e| ClientError::invalid_argument(format!("TLS setup: {e}")))?;
        let builder = if self.insecure {
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(AcceptAnyCert(provider)))
        } else {
            builder.with_root_certificates(self.roots()?)
        };
        let mut config = match (&self.client_cert, &self.client_key) {
            (Some(cert), Some(key)) => {
                let chain = read_certs(cert)?;
                let key = PrivateKeyDer::from_pem_file(key).map_err(|e| {
                    ClientError::invalid_argument(format!(
                        "cannot read the private key {}: {e}",
                        key.display()
                    ))
                })?;
                builder
                    .with_client_auth_cert(chain, key)
                    .map_err(|e| ClientError::invalid_argument(format!("client certificate refused: {e}")))?
            }
            (None, None) => builder.with_no_client_auth(),
            _ => {
                return Err(ClientError::invalid_argument(
                    "a client certificate needs both its certificate and its key file",
                ));
            }
        };
        config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
        Ok(Arc::new(config))
    }

    fn roots(&self) -> Result<RootCertStore, ClientError> {
        let path = match &self.ca_file {
            Some(p) => p.clone(),
            None => SYSTEM_BUNDLES.iter().map(PathBuf::from).find(|p| p.is_file()).ok_or_else(|| {
                ClientError::invalid_argument(
                    "no system CA bundle found: pass the CA file to trust (--cafile) or, for development, --insecure",
                )
            })?,
        };
        let mut roots = RootCertStore::empty();
        let (added, _ignored) = roots.add_parsable_certificates(read_certs(&path)?);
        if added == 0 {
            return Err(ClientError::invalid_argument(format!(
                "{} holds no usable CA certificate",
                path.display()
            )));
        }
        Ok(roots)
    }
}

fn read_certs(path: &std::path::Path) -> Result<Vec<CertificateDer<'static>>, ClientError> {
    let certs = CertificateDer::pem_file_iter(path)
        .and_then(|it| it.collect::<Result<Vec<_>, _>>())
        .map_err(|e| {
            ClientError::invalid_argument(format!("cannot read certificates from {}: {e}", path.display()))
        })?;
    if certs.is_empty() {
        return Err(ClientError::invalid_argument(format!(
            "{} holds no PEM certificate",
            path.display()
        )));
    }
    Ok(certs)
}

/// The server name to verify: the URL's host (an IP address is checked against IP SANs).
pub(crate) fn server_name(host: &str) -> Result<ServerName<'static>, ClientError> {
    ServerName::try_from(host.to_owned())
        .map_err(|_| ClientError::invalid_argument(format!("`{host}` is not a valid TLS server name")))
}

/// Runs the client handshake over `io`.
pub(crate) async fn handshake<S>(
    io: S,
    host: &str,
    config: Arc<rustls::ClientConfig>,
) -> io::Result<tokio_rustls::client::TlsStream<S>>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let name = server_name(host).map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e.to_string()))?;
    tokio_rustls::TlsConnector::from(config).connect(name, io).await
}

/// `--insecure`: any certificate is accepted, but handshake signatures are still checked so the session keys
/// are at least bound to the certificate shown.
#[derive(Debug)]
struct AcceptAnyCert(Arc<CryptoProvider>);

impl ServerCertVerifier for AcceptAnyCert {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}
