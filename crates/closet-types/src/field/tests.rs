use super::*;

#[test]
fn invalid_renders_like_upstream() {
    let e = FieldError::invalid("metadata.name", "X", "must be lower case");
    assert_eq!(
        e.to_string(),
        r#"metadata.name: Invalid value: "X": must be lower case"#
    );
    assert_eq!(e.error_type.cause_type(), "FieldValueInvalid");
}

#[test]
fn required_and_forbidden_hide_the_value() {
    let e = FieldError::required("metadata.name", "name or generateName is required");
    assert_eq!(
        e.to_string(),
        "metadata.name: Required value: name or generateName is required"
    );
    let e = FieldError::forbidden(
        "sendInitialEvents",
        "sendInitialEvents is forbidden for list",
    );
    assert_eq!(
        e.to_string(),
        "sendInitialEvents: Forbidden: sendInitialEvents is forbidden for list"
    );
}

#[test]
fn not_supported_lists_values() {
    let e = FieldError::not_supported("dryRun", &["x".to_owned()][..], &["All"]);
    assert_eq!(
        e.to_string(),
        r#"dryRun: Unsupported value: ["x"]: supported values: "All""#
    );
}

#[test]
fn too_long_and_too_many() {
    assert_eq!(
        FieldError::too_long("fieldManager", 128).to_string(),
        "fieldManager: Too long: may not be more than 128 bytes"
    );
    assert_eq!(
        FieldError::too_many("items", 3, 1).to_string(),
        "items: Too many: 3: must have at most 1 item"
    );
}

#[test]
fn list_aggregates_and_dedupes() {
    let a = FieldError::invalid("a", 1i64, "bad");
    let b = FieldError::invalid("b", true, "bad");
    assert_eq!(
        FieldErrorList(vec![a.clone()]).to_string(),
        "a: Invalid value: 1: bad"
    );
    let list = FieldErrorList(vec![a.clone(), b, a]);
    assert_eq!(
        list.to_string(),
        "[a: Invalid value: 1: bad, b: Invalid value: true: bad]"
    );
    assert!(FieldErrorList::default().into_result().is_ok());
}

#[test]
fn quoting_matches_go() {
    assert_eq!(go_quote("a\"b\\c"), r#""a\"b\\c""#);
    assert_eq!(go_quote("\n\t\u{0}\u{7f}"), r#""\n\t\x00\x7f""#);
    assert_eq!(go_quote("héllo ✓"), "\"héllo ✓\"");
    assert_eq!(go_quote("\u{200b}\u{a0}"), r#""\u200b\u00a0""#);
}
