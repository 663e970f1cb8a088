//! The identity a verified client certificate carries, for `ConnMeta::tls_identity` and the policy.

use rustls_pki_types::CertificateDer;
use x509_parser::extensions::GeneralName;
use x509_parser::prelude::{FromDer, X509Certificate};

/// The identity of a verified peer: the leaf certificate's subject common name, else its first DNS or e-mail
/// subject alternative name. `None` without a certificate or when it names nobody.
///
/// Call it only on a chain the TLS layer verified: the certificate is parsed, not checked, here.
pub fn peer_identity(chain: &[CertificateDer<'_>]) -> Option<String> {
    let leaf = chain.first()?;
    let (_, cert) = X509Certificate::from_der(leaf.as_ref()).ok()?;
    if let Some(cn) = cert
        .subject()
        .iter_common_name()
        .find_map(|cn| cn.as_str().ok())
        .filter(|cn| !cn.is_empty())
    {
        return Some(cn.to_owned());
    }
    let san = cert.subject_alternative_name().ok().flatten()?;
    san.value.general_names.iter().find_map(|name| match name {
        GeneralName::DNSName(n) | GeneralName::RFC822Name(n) if !n.is_empty() => Some((*n).to_owned()),
        _ => None,
    })
}
