//! Creation, reuse and reissue of the stored certificates.

use std::net::IpAddr;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use crate::inspect::leaf_facts;
use crate::issue::LEAF_LIFETIME;
use crate::tls::pem_certs;
use crate::*;

const NOW: i64 = 1_800_000_000;
const DAY: i64 = 24 * 60 * 60;

fn der(pem: &str) -> Vec<u8> {
    pem_certs(pem, "test certificate")
        .expect("test PEM parses")
        .remove(0)
        .to_vec()
}

fn names(extra: &[&str]) -> ServingNames {
    let mut names = ServingNames::loopback();
    for value in extra {
        names.add(value);
    }
    names
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path)
        .expect("file exists")
        .permissions()
        .mode()
        & 0o777
}

#[test]
fn first_start_creates_every_file_with_private_keys_0600() {
    let dir = tempfile::tempdir().expect("tempdir");
    let tls_dir = dir.path().join("server/tls");
    ClusterTls::load_or_create_at(&tls_dir, &names(&[]), NOW).expect("create");
    for stem in ["ca", "serving", "admin"] {
        assert_eq!(
            mode(&tls_dir.join(format!("{stem}.key"))),
            0o600,
            "{stem}.key"
        );
        assert_eq!(
            mode(&tls_dir.join(format!("{stem}.crt"))),
            0o644,
            "{stem}.crt"
        );
    }
    assert_eq!(mode(&tls_dir), 0o700);
}

#[test]
fn reload_reuses_every_key_and_certificate() {
    let dir = tempfile::tempdir().expect("tempdir");
    let first =
        ClusterTls::load_or_create_at(dir.path(), &names(&["closet.lan"]), NOW).expect("create");
    let second = ClusterTls::load_or_create_at(dir.path(), &names(&["closet.lan"]), NOW + DAY)
        .expect("reload");
    assert_eq!(first.ca, second.ca);
    assert_eq!(first.serving, second.serving);
    assert_eq!(first.admin, second.admin);
    let loaded = ClusterTls::load(dir.path()).expect("load");
    assert_eq!(loaded.admin, first.admin);
}

#[test]
fn serving_certificate_is_reissued_when_a_name_is_added() {
    let dir = tempfile::tempdir().expect("tempdir");
    let first = ClusterTls::load_or_create_at(dir.path(), &names(&[]), NOW).expect("create");
    let wider = names(&["10.1.2.3", "closet.home.arpa"]);
    let second = ClusterTls::load_or_create_at(dir.path(), &wider, NOW).expect("reload");

    assert_eq!(first.ca, second.ca, "the CA is kept");
    assert_eq!(first.admin, second.admin, "the admin certificate is kept");
    assert_ne!(first.serving, second.serving);
    let facts = leaf_facts(
        &der(&second.serving.cert_pem),
        &der(&second.ca.pair().cert_pem),
    )
    .expect("serving certificate parses");
    assert!(facts.signed_by_ca);
    assert!(
        facts
            .names
            .ips
            .contains(&"10.1.2.3".parse::<IpAddr>().expect("address"))
    );
    assert!(facts.names.dns.contains("closet.home.arpa"));
    assert!(facts.names.dns.contains("localhost"));

    // Fewer names than the certificate covers is still covered: no reissue.
    let third = ClusterTls::load_or_create_at(dir.path(), &names(&[]), NOW).expect("reload");
    assert_eq!(second.serving, third.serving);
}

#[test]
fn leaves_are_reissued_within_30_days_of_expiry_but_the_ca_is_kept() {
    let dir = tempfile::tempdir().expect("tempdir");
    let first = ClusterTls::load_or_create_at(dir.path(), &names(&[]), NOW).expect("create");
    let near_expiry = NOW + LEAF_LIFETIME - 29 * DAY;
    let second =
        ClusterTls::load_or_create_at(dir.path(), &names(&[]), near_expiry).expect("reload");
    assert_eq!(first.ca, second.ca);
    assert_ne!(first.serving, second.serving);
    assert_ne!(first.admin, second.admin);
}

#[test]
fn leaves_not_signed_by_the_ca_are_reissued() {
    let dir = tempfile::tempdir().expect("tempdir");
    ClusterTls::load_or_create_at(dir.path(), &names(&[]), NOW).expect("create");
    let stranger = CertificateAuthority::generate_at(NOW).expect("other CA");
    let foreign = stranger
        .issue_serving_at(&names(&[]), NOW, LEAF_LIFETIME)
        .expect("issue");
    std::fs::write(dir.path().join("serving.crt"), &foreign.cert_pem).expect("write");
    std::fs::write(dir.path().join("serving.key"), &foreign.key_pem).expect("write");

    let reloaded = ClusterTls::load_or_create_at(dir.path(), &names(&[]), NOW).expect("reload");
    assert_ne!(reloaded.serving, foreign);
    let facts = leaf_facts(
        &der(&reloaded.serving.cert_pem),
        &der(&reloaded.ca.pair().cert_pem),
    )
    .expect("parses");
    assert!(facts.signed_by_ca);
}

#[test]
fn a_ca_certificate_without_its_key_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    ClusterTls::load_or_create_at(dir.path(), &names(&[]), NOW).expect("create");
    std::fs::remove_file(dir.path().join("ca.key")).expect("remove");
    let err = ClusterTls::load_or_create_at(dir.path(), &names(&[]), NOW)
        .expect_err("must not replace the CA");
    assert!(matches!(err, PkiError::IncompleteCa { .. }), "{err}");
    assert!(err.to_string().contains("ca.key"), "{err}");
}

#[test]
fn load_without_certificates_says_to_start_the_server() {
    let dir = tempfile::tempdir().expect("tempdir");
    let err = ClusterTls::load(dir.path()).expect_err("nothing there");
    assert!(err.to_string().contains("closet server"), "{err}");
}

#[test]
fn client_certificate_names_user_and_group() {
    let ca = CertificateAuthority::generate_at(NOW).expect("CA");
    let cert = ca
        .issue_client_at("jane", &["developers".to_owned()], NOW, LEAF_LIFETIME)
        .expect("issue");
    assert_eq!(
        user_from_certificate(&der(&cert.cert_pem)),
        Some(("jane".to_owned(), vec!["developers".to_owned()]))
    );
    let no_group = ca
        .issue_client_at("robot", &[], NOW, LEAF_LIFETIME)
        .expect("issue");
    assert_eq!(
        user_from_certificate(&der(&no_group.cert_pem)),
        Some(("robot".to_owned(), vec![]))
    );
    assert!(matches!(ca.issue_client("", &[]), Err(PkiError::EmptyUser)));
}

#[test]
fn certificates_without_a_common_name_authenticate_nobody() {
    let ca = CertificateAuthority::generate_at(NOW).expect("CA");
    // The serving certificate has a CN; build one without to check the refusal.
    let key = rcgen::KeyPair::generate().expect("key");
    let mut params = rcgen::CertificateParams::default();
    params.distinguished_name = rcgen::DistinguishedName::new();
    params
        .distinguished_name
        .push(rcgen::DnType::OrganizationName, "system:masters");
    let issuer = rcgen::Issuer::from_ca_cert_pem(
        &ca.pair().cert_pem,
        rcgen::KeyPair::from_pem(&ca.pair().key_pem).expect("ca key"),
    )
    .expect("issuer");
    let cert = params.signed_by(&key, &issuer).expect("sign");
    assert_eq!(user_from_certificate(cert.der()), None);
    assert_eq!(user_from_certificate(b"not a certificate"), None);
}

#[test]
fn kubeconfig_embeds_ca_and_admin_credentials() {
    use base64::Engine;
    let dir = tempfile::tempdir().expect("tempdir");
    let tls = ClusterTls::load_or_create_at(dir.path(), &names(&[]), NOW).expect("create");
    let text = tls
        .admin_kubeconfig(&local_server_url(16443))
        .expect("render");
    let doc: serde_json::Value = serde_saphyr::from_str(&text).expect("kubeconfig is YAML");

    assert_eq!(doc["current-context"], "closet");
    assert_eq!(doc["contexts"][0]["context"]["user"], "closet-admin");
    assert_eq!(doc["contexts"][0]["context"]["cluster"], "closet");
    assert_eq!(
        doc["clusters"][0]["cluster"]["server"],
        "https://127.0.0.1:16443"
    );
    let decode = |v: &serde_json::Value| {
        let text = v.as_str().expect("string");
        base64::engine::general_purpose::STANDARD
            .decode(text)
            .expect("base64")
    };
    assert_eq!(
        decode(&doc["clusters"][0]["cluster"]["certificate-authority-data"]),
        tls.ca.pair().cert_pem.as_bytes()
    );
    assert_eq!(
        decode(&doc["users"][0]["user"]["client-key-data"]),
        tls.admin.key_pem.as_bytes()
    );
    assert_eq!(doc["users"][0]["name"], "closet-admin");
}

#[test]
fn atomic_write_replaces_and_keeps_the_mode() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("secret.yaml");
    write_file_atomic(&path, b"one", 0o600).expect("write");
    write_file_atomic(&path, b"two", 0o600).expect("rewrite");
    assert_eq!(std::fs::read(&path).expect("read"), b"two");
    assert_eq!(mode(&path), 0o600);
    assert!(!dir.path().join("secret.yaml.tmp").exists());
}
