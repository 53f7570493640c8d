//! Node certificates: contents, storage, reuse, and the apiserver's node client certificate.

use std::net::IpAddr;
use std::os::unix::fs::PermissionsExt;

use super::*;
use crate::inspect::user_from_certificate;

const NOW: i64 = 1_800_000_000;
const DAY: i64 = 24 * 60 * 60;

fn addresses() -> Vec<String> {
    vec!["192.168.1.20".to_owned(), "fd00::20".to_owned()]
}

fn ip(text: &str) -> IpAddr {
    text.parse().expect("address")
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path)
        .expect("exists")
        .permissions()
        .mode()
        & 0o777
}

#[test]
fn node_client_certificate_names_the_node_and_its_group() {
    let ca = CertificateAuthority::generate_at(NOW).expect("CA");
    let creds = issue_node_at(&ca, "pi-4", &addresses(), NOW).expect("issue");
    assert_eq!(creds.ca_pem, ca.pair().cert_pem);
    let facts =
        leaf_facts(&der_of(&creds.client.cert_pem), &der_of(&creds.ca_pem)).expect("parses");
    assert!(facts.signed_by_ca);
    assert_eq!(
        user_from_certificate(&der_of(&creds.client.cert_pem)),
        Some((
            "system:node:pi-4".to_owned(),
            vec!["system:nodes".to_owned()]
        ))
    );
    assert_eq!(facts.not_after, NOW + LEAF_LIFETIME);
}

#[test]
fn node_serving_certificate_covers_name_addresses_and_loopback() {
    let ca = CertificateAuthority::generate_at(NOW).expect("CA");
    let creds = issue_node_at(&ca, "pi-4", &addresses(), NOW).expect("issue");
    let facts =
        leaf_facts(&der_of(&creds.serving.cert_pem), &der_of(&creds.ca_pem)).expect("parses");
    assert!(facts.signed_by_ca);
    assert_eq!(
        facts
            .names
            .dns
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>(),
        ["localhost", "pi-4"]
    );
    for expected in ["127.0.0.1", "::1", "192.168.1.20", "fd00::20"] {
        assert!(facts.names.ips.contains(&ip(expected)), "{expected}");
    }
    assert_eq!(facts.names.ips.len(), 4);
    assert_eq!(
        facts.user,
        Some((
            "system:node:pi-4".to_owned(),
            vec!["system:nodes".to_owned()]
        ))
    );
    assert_ne!(
        creds.serving.key_pem, creds.client.key_pem,
        "each certificate has its own key"
    );
}

#[test]
fn another_ca_does_not_sign_the_node_certificates() {
    let ca = CertificateAuthority::generate_at(NOW).expect("CA");
    let stranger = CertificateAuthority::generate_at(NOW).expect("other CA");
    let creds = issue_node_at(&ca, "pi-4", &[], NOW).expect("issue");
    let facts = leaf_facts(
        &der_of(&creds.client.cert_pem),
        &der_of(&stranger.pair().cert_pem),
    )
    .expect("parses");
    assert!(!facts.signed_by_ca);
}

#[test]
fn credentials_travel_as_flat_camel_case_json() {
    let ca = CertificateAuthority::generate_at(NOW).expect("CA");
    let creds = issue_node_at(&ca, "pi-4", &[], NOW).expect("issue");
    let json = serde_json::to_value(&creds).expect("serialize");
    let keys: Vec<&str> = json
        .as_object()
        .expect("object")
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        [
            "caCert",
            "clientCert",
            "clientKey",
            "servingCert",
            "servingKey"
        ]
    );
    let back: NodeCredentials = serde_json::from_value(json).expect("deserialize");
    assert_eq!(back, creds);
}

#[test]
fn join_request_reads_the_documented_body() {
    let request: JoinRequest =
        serde_json::from_str(r#"{"nodeName": "pi-4", "addresses": ["192.168.1.20"]}"#)
            .expect("parses");
    assert_eq!(request.node_name, "pi-4");
    assert_eq!(request.addresses, ["192.168.1.20"]);
    let no_addresses: JoinRequest =
        serde_json::from_str(r#"{"nodeName": "pi-4"}"#).expect("parses");
    assert!(no_addresses.addresses.is_empty());
    assert!(serde_json::from_str::<JoinRequest>(r#"{"node": "pi-4"}"#).is_err());
}

#[test]
fn store_and_load_round_trip_with_private_keys_0600() {
    let dir = tempfile::tempdir().expect("tempdir");
    let tls_dir = dir.path().join("agent/tls");
    assert_eq!(NodeCredentials::load(&tls_dir).expect("load"), None);

    let ca = CertificateAuthority::generate_at(NOW).expect("CA");
    let creds = issue_node_at(&ca, "pi-4", &addresses(), NOW).expect("issue");
    creds.store(&tls_dir).expect("store");
    assert_eq!(mode(&tls_dir), 0o700);
    for (file, expected) in [
        ("client.key", 0o600),
        ("serving.key", 0o600),
        ("client.crt", 0o644),
        ("serving.crt", 0o644),
        ("ca.crt", 0o644),
    ] {
        assert_eq!(mode(&tls_dir.join(file)), expected, "{file}");
    }
    assert_eq!(
        NodeCredentials::load(&tls_dir).expect("load"),
        Some(creds.clone())
    );

    std::fs::remove_file(tls_dir.join("serving.key")).expect("remove");
    assert_eq!(
        NodeCredentials::load(&tls_dir).expect("load"),
        None,
        "incomplete set"
    );
    creds.store(&tls_dir).expect("store again");
    assert_eq!(NodeCredentials::load(&tls_dir).expect("load"), Some(creds));
}

#[test]
fn stored_credentials_fit_until_they_near_expiry_or_the_node_changes() {
    let ca = CertificateAuthority::generate_at(NOW).expect("CA");
    let creds = issue_node_at(&ca, "pi-4", &addresses(), NOW).expect("issue");
    assert!(creds.fits_at("pi-4", &addresses(), NOW + DAY));
    assert!(
        creds.fits_at("pi-4", &addresses()[..1], NOW),
        "fewer addresses still fit"
    );
    assert!(
        !creds.fits_at("pi-5", &addresses(), NOW),
        "another node name"
    );
    assert!(
        !creds.fits_at("pi-4", &["10.0.0.9".to_owned()], NOW),
        "a new address needs a new serving certificate"
    );
    assert!(
        !creds.fits_at("pi-4", &addresses(), NOW + LEAF_LIFETIME - 29 * DAY),
        "within 30 days of expiry"
    );

    let stranger = CertificateAuthority::generate_at(NOW).expect("other CA");
    let mut foreign = creds.clone();
    foreign.ca_pem = stranger.pair().cert_pem.clone();
    assert!(
        !foreign.fits_at("pi-4", &addresses(), NOW),
        "not signed by the stored CA"
    );
}

#[test]
fn expires_in_reports_the_sooner_certificate() {
    let ca = CertificateAuthority::generate().expect("CA");
    let creds = issue_node(&ca, "pi-4", &[]).expect("issue");
    let left = creds.expires_in().expect("parses");
    assert!(
        left > LEAF_LIFETIME - DAY && left <= LEAF_LIFETIME,
        "{left}"
    );
}

#[test]
fn apiserver_node_client_is_created_once_and_reused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ca = CertificateAuthority::generate_at(NOW).expect("CA");
    let first = load_or_create_apiserver_node_client_at(dir.path(), &ca, NOW).expect("create");
    assert_eq!(
        user_from_certificate(&der_of(&first.cert_pem)),
        Some((
            "closet-apiserver".to_owned(),
            vec!["system:masters".to_owned()]
        ))
    );
    assert_eq!(mode(&dir.path().join("apiserver-node-client.key")), 0o600);
    assert!(dir.path().join("apiserver-node-client.crt").exists());

    let again = load_or_create_apiserver_node_client_at(dir.path(), &ca, NOW + DAY).expect("reuse");
    assert_eq!(first, again);
    let renewed =
        load_or_create_apiserver_node_client_at(dir.path(), &ca, NOW + LEAF_LIFETIME - DAY)
            .expect("renew");
    assert_ne!(first, renewed);

    let new_ca = CertificateAuthority::generate_at(NOW).expect("new CA");
    let reissued =
        load_or_create_apiserver_node_client_at(dir.path(), &new_ca, NOW).expect("reissue");
    let facts = leaf_facts(
        &der_of(&reissued.cert_pem),
        &der_of(&new_ca.pair().cert_pem),
    )
    .expect("parses");
    assert!(facts.signed_by_ca);
}
