use super::*;

const SALT: &str = "W22ZaJ0SNY7soEsUEjb6gQ==";
const CLIENT_FIRST: &str = "n,,n=user,r=rOprNGfwEbeRWgbNEkqO";
const SERVER_NONCE: &str = "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0";
const SERVER_FIRST: &str =
    "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096";
const CLIENT_FINAL: &str = "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,\
p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=";
const SERVER_FINAL: &str = "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=";

fn pencil() -> ScramCredential {
    ScramCredential::derive(
        b"pencil",
        STANDARD.decode(SALT).unwrap(),
        NonZeroU32::new(4096).unwrap(),
    )
}

fn lookup(cred: ScramCredential) -> impl FnOnce(&str) -> Lookup {
    move |u| {
        if u == "user" {
            Lookup::Found(cred)
        } else {
            Lookup::Unknown
        }
    }
}

#[test]
fn rfc7677_test_vector() {
    let (server, first) =
        ScramServer::client_first(CLIENT_FIRST.as_bytes(), lookup(pencil()), SERVER_NONCE, b"k").unwrap();
    assert_eq!(std::str::from_utf8(&first).unwrap(), SERVER_FIRST);
    let ok = server.client_final(CLIENT_FINAL.as_bytes()).unwrap();
    assert_eq!(ok.username, "user");
    assert_eq!(std::str::from_utf8(&ok.server_final).unwrap(), SERVER_FINAL);
}

#[test]
fn wrong_password_fails_the_proof() {
    let cred = ScramCredential::derive(
        b"not-pencil",
        STANDARD.decode(SALT).unwrap(),
        NonZeroU32::new(4096).unwrap(),
    );
    let (server, _) =
        ScramServer::client_first(CLIENT_FIRST.as_bytes(), lookup(cred), SERVER_NONCE, b"k").unwrap();
    let err = server.client_final(CLIENT_FINAL.as_bytes()).unwrap_err();
    assert_eq!(err.error, ScramError::InvalidProof);
    assert_eq!(err.username.as_deref(), Some("user"));
}

#[test]
fn unknown_user_gets_a_stable_decoy_salt_and_fails() {
    let first = |key: &[u8]| {
        let (s, m) =
            ScramServer::client_first(b"n,,n=mallory,r=abc", |_| Lookup::Unknown, "xyz", key).unwrap();
        (s, String::from_utf8(m).unwrap())
    };
    let (server, a) = first(b"secret");
    assert_eq!(
        a,
        first(b"secret").1,
        "the same user sees the same salt each time"
    );
    assert_ne!(a, first(b"other").1);
    assert!(a.ends_with(",i=4096"));
    let err = server
        .client_final(b"c=biws,r=abcxyz,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=")
        .unwrap_err();
    assert_eq!(err.error, ScramError::InvalidProof);
}

#[test]
fn client_final_must_match_the_exchange() {
    let start = || {
        ScramServer::client_first(CLIENT_FIRST.as_bytes(), lookup(pencil()), SERVER_NONCE, b"k")
            .unwrap()
            .0
    };
    let other_nonce = CLIENT_FINAL.replace("k0,p=", "k1,p=");
    assert_eq!(
        start().client_final(other_nonce.as_bytes()).unwrap_err().error,
        ScramError::Mismatch
    );
    let other_binding = CLIENT_FINAL.replace("c=biws", "c=eSws");
    assert_eq!(
        start().client_final(other_binding.as_bytes()).unwrap_err().error,
        ScramError::Mismatch
    );
    let no_proof = CLIENT_FINAL.split(",p=").next().unwrap();
    assert!(matches!(
        start().client_final(no_proof.as_bytes()).unwrap_err().error,
        ScramError::Malformed(_)
    ));
}

#[test]
fn malformed_client_first_is_refused() {
    let bad = |m: &str| {
        ScramServer::client_first(m.as_bytes(), |_| Lookup::Unknown, "n", b"k")
            .unwrap_err()
            .error
    };
    assert_eq!(bad("p=tls-unique,,n=user,r=abc"), ScramError::ChannelBinding);
    assert_eq!(bad("n,,m=ext,n=user,r=abc"), ScramError::Extension);
    assert!(matches!(bad("n,,n=us=er,r=abc"), ScramError::Malformed(_)));
    assert!(matches!(bad("n,,r=abc"), ScramError::Malformed(_)));
    assert!(matches!(bad("n,,n=user"), ScramError::Malformed(_)));
    assert!(matches!(bad("x,,n=user,r=abc"), ScramError::Malformed(_)));
    assert!(matches!(bad("n,a=other,n=user,r=abc"), ScramError::Malformed(_)));
    assert!(matches!(bad("garbage"), ScramError::Malformed(_)));
    // Escaped names round-trip.
    let (s, _) = ScramServer::client_first(b"n,,n=a=2Cb=3Dc,r=x", |_| Lookup::Unknown, "n", b"k").unwrap();
    assert_eq!(s.username, "a,b=c");
    assert_eq!(encode_saslname("a,b=c"), "a=2Cb=3Dc");
}

#[test]
fn stored_form_round_trips_and_checks_plain_passwords() {
    let c = pencil();
    let text = c.render();
    assert!(
        text.starts_with("SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ==$"),
        "{text}"
    );
    assert_eq!(ScramCredential::parse(&text), Some(c.clone()));
    assert!(c.verify_password(b"pencil"));
    assert!(!c.verify_password(b"pencil2"));
    assert_eq!(ScramCredential::parse("SCRAM-SHA-256$0:AA==$AA==:AA=="), None);
    assert_eq!(ScramCredential::parse("SCRAM-SHA-256$4096:AA==$AA==:AA=="), None);
    assert!(!format!("{c:?}").contains("stored"));
}
