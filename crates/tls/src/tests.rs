#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;
use std::sync::atomic::{AtomicU32, Ordering};

fn temp_dir(tag: &str) -> PathBuf {
    static N: AtomicU32 = AtomicU32::new(0);
    let dir = std::env::temp_dir().join(format!(
        "tern-tls-{tag}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn settings(dir: &Path) -> TlsSettings {
    TlsSettings {
        data_dir: dir.to_path_buf(),
        ..TlsSettings::default()
    }
}

fn write_cert(dir: &Path, name: &str, cn: Option<&str>, sans: &[&str]) -> (PathBuf, PathBuf) {
    let mut params =
        rcgen::CertificateParams::new(sans.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap();
    params.distinguished_name = rcgen::DistinguishedName::new();
    if let Some(cn) = cn {
        params.distinguished_name.push(rcgen::DnType::CommonName, cn);
    }
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = params.self_signed(&key).unwrap();
    let (c, k) = (dir.join(format!("{name}.pem")), dir.join(format!("{name}.key")));
    std::fs::write(&c, cert.pem()).unwrap();
    std::fs::write(&k, key.serialize_pem()).unwrap();
    (c, k)
}

#[test]
fn dev_certificate_is_generated_once_and_reused() {
    let dir = temp_dir("dev");
    let first = TlsMaterial::load(&settings(&dir)).unwrap();
    let (cert, key) = dev_paths(&dir);
    assert!(cert.is_file() && key.is_file());
    let second = TlsMaterial::load(&settings(&dir)).unwrap();
    assert_eq!(first.current_chain(), second.current_chain());
    assert_eq!(first.cert_path(), cert);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&key).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
    let config = first.server_config(&[b"mqtt"]).unwrap();
    assert_eq!(config.alpn_protocols, vec![b"mqtt".to_vec()]);
}

#[test]
fn half_configured_and_bad_files_name_the_problem() {
    let dir = temp_dir("bad");
    let mut s = settings(&dir);
    s.cert = Some(dir.join("c.pem"));
    let e = TlsMaterial::load(&s).unwrap_err().to_string();
    assert!(e.contains("`cert` is set without its partner"), "{e}");

    s.key = Some(dir.join("k.pem"));
    let e = TlsMaterial::load(&s).unwrap_err().to_string();
    assert!(
        e.contains("cannot read the cert file") && e.contains("c.pem"),
        "{e}"
    );

    std::fs::write(dir.join("c.pem"), "not a certificate").unwrap();
    let e = TlsMaterial::load(&s).unwrap_err().to_string();
    assert!(e.contains("c.pem") && e.contains("BEGIN CERTIFICATE"), "{e}");

    let (c1, _) = write_cert(&dir, "one", Some("one"), &["localhost"]);
    let (_, k2) = write_cert(&dir, "two", Some("two"), &["localhost"]);
    s.cert = Some(c1);
    s.key = Some(k2.clone());
    let e = TlsMaterial::load(&s).unwrap_err().to_string();
    assert!(e.contains("two.key") && e.contains("issued for"), "{e}");

    let mut s = settings(&dir);
    s.client_auth = ClientAuth::Required;
    let e = TlsMaterial::load(&s).unwrap_err().to_string();
    assert!(e.contains("client_ca"), "{e}");
}

#[test]
fn changed_files_are_reloaded_and_bad_ones_keep_the_old_certificate() {
    let dir = temp_dir("reload");
    let (c, k) = write_cert(&dir, "srv", Some("first"), &["localhost"]);
    let mut s = settings(&dir);
    s.cert = Some(c.clone());
    s.key = Some(k.clone());
    let m = TlsMaterial::load(&s).unwrap();
    let before = m.current_chain();
    assert!(!m.reload_if_changed().unwrap());
    // Replace both files; bump the mtime explicitly so coarse file-system clocks cannot hide the change.
    write_cert(&dir, "srv", Some("second"), &["localhost"]);
    let later = SystemTime::now() + Duration::from_secs(5);
    for p in [&c, &k] {
        std::fs::File::options()
            .write(true)
            .open(p)
            .unwrap()
            .set_modified(later)
            .unwrap();
    }
    assert!(m.reload_if_changed().unwrap());
    let after = m.current_chain();
    assert_ne!(before, after);
    assert_eq!(peer_identity(&after).as_deref(), Some("second"));

    std::fs::write(&c, "garbage").unwrap();
    assert!(m.reload().is_err());
    assert_eq!(m.current_chain(), after);
}

#[test]
fn identity_is_common_name_else_first_dns_or_email_san() {
    let dir = temp_dir("id");
    let (c, _) = write_cert(&dir, "cn", Some("sensor-17"), &["other.example"]);
    assert_eq!(
        peer_identity(&load_certs("cert", &c).unwrap()).as_deref(),
        Some("sensor-17")
    );
    let (c, _) = write_cert(&dir, "san", None, &["device.example"]);
    assert_eq!(
        peer_identity(&load_certs("cert", &c).unwrap()).as_deref(),
        Some("device.example")
    );
    assert_eq!(peer_identity(&[]), None);
    assert_eq!(
        peer_identity(&[rustls_pki_types::CertificateDer::from(vec![1, 2, 3])]),
        None
    );
}

#[test]
fn client_verification_is_configured_from_the_ca_bundle() {
    let dir = temp_dir("mtls");
    let (ca, _) = write_cert(&dir, "ca", Some("ca"), &["ca.example"]);
    for auth in [ClientAuth::Optional, ClientAuth::Required] {
        let mut s = settings(&dir);
        s.client_ca = Some(ca.clone());
        s.client_auth = auth;
        let m = TlsMaterial::load(&s).unwrap();
        assert!(m.verifies_clients());
        m.server_config(&[]).unwrap();
    }
}
