use super::*;

fn lookup(field: &str) -> Option<String> {
    match field {
        "metadata.name" => Some("web-0".to_owned()),
        "status.phase" => Some("Running".to_owned()),
        _ => None,
    }
}

#[test]
fn parses_and_matches() {
    let sel = FieldSelector::parse("status.phase!=Pending,metadata.name==web-0").unwrap();
    assert_eq!(sel.to_string(), "metadata.name=web-0,status.phase!=Pending");
    assert!(sel.matches(lookup));
    assert_eq!(sel.exact_match("metadata.name"), Some("web-0"));
    assert_eq!(sel.exact_match("status.phase"), None);
    assert_eq!(
        sel.fields().collect::<Vec<_>>(),
        ["metadata.name", "status.phase"]
    );
    assert!(
        !FieldSelector::parse("status.phase=Pending")
            .unwrap()
            .matches(lookup)
    );
    // Unknown fields read as "".
    assert!(
        FieldSelector::parse("spec.nodeName=")
            .unwrap()
            .matches(lookup)
    );
    assert!(
        FieldSelector::parse("spec.nodeName!=n1")
            .unwrap()
            .matches(lookup)
    );
}

#[test]
fn empty_terms_are_dropped() {
    assert!(FieldSelector::parse("").unwrap().is_everything());
    assert!(FieldSelector::parse(",,").unwrap().is_everything());
    assert!(FieldSelector::parse("=").unwrap().is_everything());
    assert_eq!(
        FieldSelector::parse("a=").unwrap().requirements()[0].value,
        ""
    );
}

#[test]
fn escaping() {
    let sel = FieldSelector::parse(r"a=x\,y\=z\\,b=c").unwrap();
    assert_eq!(sel.exact_match("a"), Some(r"x,y=z\"));
    assert_eq!(sel.to_string(), r"a=x\,y\=z\\,b=c");
    assert_eq!(escape_value(r"a,b=c\"), r"a\,b\=c\\");
}

#[test]
fn errors_match_upstream() {
    let e = |s: &str| FieldSelector::parse(s).unwrap_err().to_string();
    assert_eq!(
        e("a=b,c"),
        "invalid selector: 'a=b,c'; can't understand 'c'"
    );
    assert_eq!(
        e(r"a=\x"),
        r"invalid field selector: invalid escape sequence: \x"
    );
    assert_eq!(
        e(r"a=x\"),
        r"invalid field selector: invalid escape sequence: \"
    );
    assert_eq!(
        e("a=b=c"),
        "invalid field selector: unescaped character in value: 61"
    );
}

#[test]
fn unsupported_fields() {
    let sel = FieldSelector::parse("metadata.name=a,spec.foo=b").unwrap();
    assert_eq!(
        sel.validate_fields(&["metadata.name", "metadata.namespace"])
            .unwrap_err()
            .to_string(),
        "field label not supported: spec.foo"
    );
    assert!(sel.validate_fields(&["metadata.name", "spec.foo"]).is_ok());
}
