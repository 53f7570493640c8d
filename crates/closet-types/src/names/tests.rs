use super::*;

const SUBDOMAIN_ERR: &str = r"a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";
const LABEL_ERR: &str = "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')";

#[test]
fn subdomain_accepts_and_rejects() {
    for ok in [
        "a",
        "example.com",
        "a-b.c-d",
        "0",
        "a.b.c",
        &"a".repeat(253),
    ] {
        assert!(is_dns1123_subdomain(ok).is_empty(), "{ok}");
    }
    for bad in ["", "A", "-a", "a-", "a..b", ".a", "a.", "a_b", "é"] {
        assert_eq!(
            is_dns1123_subdomain(bad),
            vec![SUBDOMAIN_ERR.to_owned()],
            "{bad}"
        );
    }
    assert_eq!(
        is_dns1123_subdomain(&"a".repeat(254)),
        vec!["must be no more than 253 characters".to_owned()]
    );
}

#[test]
fn label_reports_dots_separately() {
    assert!(is_dns1123_label("my-name").is_empty());
    assert_eq!(
        is_dns1123_label("a.b"),
        vec!["must not contain dots".to_owned()]
    );
    assert_eq!(is_dns1123_label("Foo"), vec![LABEL_ERR.to_owned()]);
    assert_eq!(
        is_dns1123_label(&"a".repeat(64)),
        vec!["must be no more than 63 characters".to_owned()]
    );
}

#[test]
fn qualified_name_messages() {
    for ok in ["app", "example.com/App_1", "a.b-c", "k8s.io/x"] {
        assert!(is_qualified_name(ok).is_empty(), "{ok}");
    }
    assert_eq!(
        is_qualified_name("/a"),
        vec!["prefix part must be non-empty".to_owned()]
    );
    assert_eq!(
        is_qualified_name("Example.com/a"),
        vec![format!("prefix part {SUBDOMAIN_ERR}")]
    );
    let name_err = "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')";
    assert_eq!(is_qualified_name("-a"), vec![name_err.to_owned()]);
    assert_eq!(
        is_qualified_name("a/"),
        vec![
            "name part must be non-empty".to_owned(),
            name_err.to_owned()
        ]
    );
    assert_eq!(
        is_qualified_name(&"a".repeat(64)),
        vec!["name part must be no more than 63 bytes"]
    );
    let too_many = is_qualified_name("a/b/c");
    assert_eq!(too_many.len(), 1);
    assert!(too_many[0].starts_with("a valid label key must consist of"));
    assert!(
        too_many[0]
            .ends_with("with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')")
    );
}

#[test]
fn label_value_messages() {
    assert!(is_label_value("").is_empty());
    assert!(is_label_value("My_value.1").is_empty());
    assert_eq!(
        is_label_value("-x"),
        vec![
            "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"
        ]
    );
    assert_eq!(
        is_label_value(&"a".repeat(64)),
        vec!["must be no more than 63 bytes"]
    );
}

#[test]
fn path_segments() {
    assert!(is_valid_path_segment_name("system:admin").is_empty());
    assert_eq!(is_valid_path_segment_name(".."), vec!["may not be '..'"]);
    assert_eq!(
        is_valid_path_segment_name("a/b%"),
        vec!["may not contain '/'", "may not contain '%'"]
    );
    assert!(is_valid_path_segment_prefix(".").is_empty());
}

#[test]
fn name_rules_and_prefixes() {
    assert!(NameRule::Dns1123Subdomain.validate("a.b").is_empty());
    assert!(!NameRule::Dns1123Label.validate("a.b").is_empty());
    assert!(NameRule::PathSegment.validate("Anything:Goes").is_empty());
    // A generateName may end in '-'; the suffix makes the final name valid.
    assert!(NameRule::Dns1123Label.validate_prefix("web-").is_empty());
    assert!(NameRule::Dns1123Subdomain.validate_prefix("a-").is_empty());
    assert!(!NameRule::Dns1123Label.validate_prefix("-").is_empty());
    assert!(!NameRule::Dns1123Label.validate_prefix("Web-").is_empty());
    assert!(!NameRule::Dns1123Label.validate_prefix("é-").is_empty());
    assert!(!NameRule::PathSegment.validate_prefix("a/").is_empty());
}

#[test]
fn generated_names_use_the_alphabet_and_fit() {
    let mut n = 0u32;
    let name = generate_name("web-", || {
        n += 1;
        n - 1
    });
    assert_eq!(name, "web-bcdfg");
    let long = "a".repeat(100);
    let name = generate_name(&long, || 26);
    assert_eq!(name.len(), 63);
    assert!(name.ends_with("99999"));
    // Non-ASCII bases are invalid, but must still not panic at the cut.
    let name = generate_name(&"é".repeat(40), || 0);
    assert!(name.ends_with("bbbbb"));
}
