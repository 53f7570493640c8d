//! The join token's format, parsing, comparison and file.

use std::os::unix::fs::PermissionsExt;

use super::*;

const HASH: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
const SECRET: &str = "00112233445566778899aabbccddeeff";

fn token_text(hash: &str, user: &str, secret: &str) -> String {
    format!("K10{hash}::{user}:{secret}")
}

#[test]
fn generated_token_has_the_k3s_shape_and_the_ca_hash() {
    let ca = CertificateAuthority::generate().expect("CA");
    let token = JoinToken::generate(&ca).expect("token");
    let text = token.to_string();
    let rest = text.strip_prefix("K10").expect("prefix");
    let (hash, creds) = rest.split_once("::").expect("separator");
    assert_eq!(hash.len(), 64);
    assert_eq!(Some(hash.to_owned()), ca_hash(&ca.pair().cert_pem));
    let secret = creds.strip_prefix("server:").expect("user");
    assert_eq!(secret.len(), 32);
    assert!(secret.bytes().all(|b| b.is_ascii_hexdigit()));
    assert!(token.matches_ca(&ca.pair().cert_pem));

    let other = JoinToken::generate(&ca).expect("token");
    assert_ne!(token, other, "each token gets its own secret");
}

#[test]
fn ca_hash_is_sha256_of_the_der() {
    let ca = CertificateAuthority::generate().expect("CA");
    let der = CertificateDer::from_pem_slice(ca.pair().cert_pem.as_bytes()).expect("PEM");
    let expected: String = Sha256::digest(der.as_ref())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(ca_hash(&ca.pair().cert_pem), Some(expected));
    assert_eq!(ca_hash("not PEM"), None);
}

#[test]
fn parse_round_trips_and_normalises_case_and_whitespace() {
    let text = token_text(HASH, "server", SECRET);
    let shouted = format!(
        "  K10{}::server:{}\n",
        HASH.to_uppercase(),
        SECRET.to_uppercase()
    );
    let token = JoinToken::parse(&shouted).expect("parses");
    assert_eq!(token.to_string(), text);
    assert_eq!(token.ca_hash(), HASH);
    assert_eq!(text.parse::<JoinToken>().expect("FromStr"), token);
}

#[test]
fn parse_errors_say_what_is_wrong_without_echoing_the_secret() {
    let cases = [
        ("K20abc::server:x".to_owned(), "starts with `K10`"),
        (format!("K10{HASH}:server:{SECRET}"), "`::`"),
        (token_text("abc", "server", SECRET), "3 hex digits"),
        (token_text(&"z".repeat(64), "server", SECRET), "not all hex"),
        (token_text(HASH, "node", SECRET), "\"node\""),
        (format!("K10{HASH}::{SECRET}"), "`server:`"),
        (token_text(HASH, "server", "abc"), "3 hex digits"),
        (token_text(HASH, "server", ""), "found nothing"),
        (token_text(HASH, "server", &"g".repeat(32)), "not all hex"),
    ];
    for (text, expected) in cases {
        let err = JoinToken::parse(&text).expect_err(&text).to_string();
        assert!(err.contains(expected), "{text}: {err}");
        assert!(
            !err.contains(SECRET),
            "{text}: the secret leaked into {err}"
        );
    }
}

#[test]
fn accepts_only_the_same_hash_and_secret() {
    let token = JoinToken::parse(&token_text(HASH, "server", SECRET)).expect("parses");
    let same =
        JoinToken::parse(&token_text(HASH, "server", &SECRET.to_uppercase())).expect("parses");
    assert!(token.accepts(&same));

    let mut wrong_secret = SECRET.to_owned();
    wrong_secret.replace_range(31..32, "0");
    let wrong_secret =
        JoinToken::parse(&token_text(HASH, "server", &wrong_secret)).expect("parses");
    assert!(!token.accepts(&wrong_secret));

    let other_hash = HASH.replacen('0', "1", 1);
    let other_ca = JoinToken::parse(&token_text(&other_hash, "server", SECRET)).expect("parses");
    assert!(!token.accepts(&other_ca));
}

#[test]
fn constant_time_eq_compares_whole_slices() {
    assert!(constant_time_eq(b"abc", b"abc"));
    assert!(!constant_time_eq(b"abc", b"abd"));
    assert!(!constant_time_eq(b"xbc", b"abc"));
    assert!(!constant_time_eq(b"abc", b"abcd"));
    assert!(constant_time_eq(b"", b""));
}

#[test]
fn debug_hides_the_secret() {
    let token = JoinToken::parse(&token_text(HASH, "server", SECRET)).expect("parses");
    let debug = format!("{token:?}");
    assert!(!debug.contains(SECRET), "{debug}");
    assert!(debug.contains(HASH), "{debug}");
}

#[test]
fn load_or_create_writes_once_with_mode_0600_and_reuses() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ca = CertificateAuthority::generate().expect("CA");
    let first = JoinToken::load_or_create(dir.path(), &ca).expect("create");
    let path = dir.path().join("server/token");
    let mode = std::fs::metadata(&path)
        .expect("token file")
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o600);
    assert_eq!(
        std::fs::read_to_string(&path).expect("read"),
        format!("{first}\n")
    );

    let second = JoinToken::load_or_create(dir.path(), &ca).expect("reload");
    assert_eq!(first, second);
    assert_eq!(JoinToken::load(dir.path()).expect("load"), first);
}

#[test]
fn a_new_ca_keeps_the_secret_and_updates_the_hash() {
    let dir = tempfile::tempdir().expect("tempdir");
    let old_ca = CertificateAuthority::generate().expect("CA");
    let first = JoinToken::load_or_create(dir.path(), &old_ca).expect("create");
    let new_ca = CertificateAuthority::generate().expect("CA");
    let second = JoinToken::load_or_create(dir.path(), &new_ca).expect("rewrite");
    assert!(second.matches_ca(&new_ca.pair().cert_pem));
    assert!(!second.matches_ca(&old_ca.pair().cert_pem));
    assert_eq!(first.secret, second.secret);
    assert_eq!(JoinToken::load(dir.path()).expect("load"), second);
}

#[test]
fn load_without_a_server_says_to_start_one() {
    let dir = tempfile::tempdir().expect("tempdir");
    let err = JoinToken::load(dir.path()).expect_err("nothing there");
    assert!(matches!(err, TokenError::NotInitialized { .. }));
    let text = err.to_string();
    assert!(text.contains("closet server"), "{text}");
    assert!(text.contains("server/token"), "{text}");
}

#[test]
fn a_damaged_token_file_is_reported_not_replaced() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ca = CertificateAuthority::generate().expect("CA");
    std::fs::create_dir_all(dir.path().join("server")).expect("mkdir");
    std::fs::write(dir.path().join("server/token"), "garbage\n").expect("write");
    let err = JoinToken::load_or_create(dir.path(), &ca).expect_err("damaged");
    assert!(matches!(err, TokenError::Damaged { .. }), "{err}");
    assert!(err.to_string().contains("remove it"), "{err}");
    assert_eq!(
        std::fs::read_to_string(dir.path().join("server/token")).expect("read"),
        "garbage\n"
    );
}
