use super::*;
use std::sync::Arc;

const ACL: &str = r##"
default = "deny"

[[rule]]
permission = "deny"
action = "subscribe"
topics = ["secret/#"]

[[rule]]
permission = "allow"
user = "admin"
topics = ["#"]

[[rule]]
permission = "allow"
topics = ["users/%u/#", "devices/%c/+"]

[[rule]]
permission = "allow"
action = "subscribe"
anonymous = true
topics = ["public/#"]

[[rule]]
permission = "allow"
action = "publish"
claims = { role = "writer" }
topics = ["tenants/%{claim:tenant}/#"]
"##;

fn user<'a>(u: &'a str, c: &'a str) -> Subject<'a> {
    Subject {
        username: Some(u),
        client_id: Some(c),
        claims: &[],
    }
}

#[test]
fn first_match_wins_with_substitution() {
    let acl = Acl::parse(ACL).unwrap();
    assert_eq!(acl.len(), 5);
    let alice = user("alice", "c-1");
    assert!(acl.check(&alice, Op::Publish, "users/alice/x").allowed);
    assert!(acl.check(&alice, Op::Subscribe, "users/alice/#").allowed);
    assert!(!acl.check(&alice, Op::Publish, "users/bob/x").allowed);
    assert!(acl.check(&alice, Op::Publish, "devices/c-1/temp").allowed);
    assert!(!acl.check(&alice, Op::Publish, "devices/c-1/temp/deep").allowed);
    assert_eq!(
        acl.check(&alice, Op::Publish, "other").rule,
        None,
        "the default decides"
    );
    // The admin may do anything except subscribe under secret/, which rule 1 refuses first.
    let admin = user("admin", "a");
    assert!(acl.check(&admin, Op::Publish, "secret/x").allowed);
    assert_eq!(
        acl.check(&admin, Op::Subscribe, "secret/x"),
        Decision {
            allowed: false,
            rule: Some(1)
        }
    );
    assert!(
        !acl.check(&admin, Op::Subscribe, "#").allowed,
        "# overlaps secret/#"
    );
    assert!(acl.check(&admin, Op::Subscribe, "other/#").allowed);
    assert!(acl.check(&admin, Op::Subscribe, "$share/g/other/#").allowed);
}

#[test]
fn subscribe_allow_must_cover_the_whole_filter() {
    let acl = Acl::parse(ACL).unwrap();
    let alice = user("alice", "c-1");
    assert!(
        !acl.check(&alice, Op::Subscribe, "users/+/x").allowed,
        "would read other users"
    );
    assert!(!acl.check(&alice, Op::Subscribe, "#").allowed);
}

#[test]
fn anonymous_and_claims() {
    let acl = Acl::parse(ACL).unwrap();
    let anon = Subject {
        username: None,
        client_id: Some("x"),
        claims: &[],
    };
    assert!(acl.check(&anon, Op::Subscribe, "public/news").allowed);
    assert!(!acl.check(&anon, Op::Publish, "public/news").allowed);
    assert!(
        !acl.check(&anon, Op::Publish, "users/x/a").allowed,
        "no user name: %u rules do not apply"
    );
    let claims = [
        (Arc::from("role"), Arc::from("writer")),
        (Arc::from("tenant"), Arc::from("acme")),
    ];
    let jwt = Subject {
        username: Some("svc"),
        client_id: Some("s"),
        claims: &claims,
    };
    assert!(acl.check(&jwt, Op::Publish, "tenants/acme/a").allowed);
    assert!(!acl.check(&jwt, Op::Publish, "tenants/other/a").allowed);
    assert!(
        !acl.check(&user("svc", "s"), Op::Publish, "tenants/acme/a")
            .allowed,
        "claims required"
    );
}

#[test]
fn wildcard_values_fail_closed() {
    let acl =
        Acl::parse("default = \"allow\"\n[[rule]]\npermission = \"deny\"\ntopics = [\"clients/%c/#\"]\n")
            .unwrap();
    let sneaky = Subject {
        username: None,
        client_id: Some("#"),
        claims: &[],
    };
    assert!(
        !acl.check(&sneaky, Op::Publish, "anything").allowed,
        "an unresolvable deny applies"
    );
    let normal = Subject {
        username: None,
        client_id: Some("c"),
        claims: &[],
    };
    assert!(!acl.check(&normal, Op::Publish, "clients/c/x").allowed);
    assert!(acl.check(&normal, Op::Publish, "clients/d/x").allowed);
}

#[test]
fn bad_files_are_refused() {
    assert!(Acl::parse("").is_err(), "default is required");
    assert!(Acl::parse("default = \"maybe\"").is_err());
    let e = Acl::parse("default = \"deny\"\n[[rule]]\npermission = \"allow\"\ntopics = [\"a/#/b\"]\n")
        .unwrap_err();
    assert!(e.contains("rule 1"), "{e}");
    assert!(Acl::parse("default = \"deny\"\n[[rule]]\npermission = \"allow\"\ntopics = []\n").is_err());
    assert!(Acl::parse("default = \"deny\"\n[[rule]]\npermission = \"allow\"\ntopic = [\"a\"]\n").is_err());
}
