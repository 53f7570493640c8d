use serde_json::json;

use super::*;

fn list_err(q: &str) -> String {
    ListParams::parse(q).unwrap_err().to_string()
}

#[test]
fn kubectl_list_and_informer_watch() {
    let p = ListParams::parse("limit=500&labelSelector=app%3Dweb&timeout=32s").unwrap();
    assert_eq!(p.limit, Some(500));
    assert_eq!(p.label_selector.as_deref(), Some("app=web"));
    assert!(!p.watch);
    assert_eq!(p.include_object, IncludeObject::Metadata);
    assert!(
        p.parsed_label_selector()
            .unwrap()
            .requires_exact_match("app")
            == Some("web")
    );
    assert!(p.parsed_field_selector().unwrap().is_everything());

    let p = ListParams::parse(
        "allowWatchBookmarks=true&resourceVersion=1234&timeoutSeconds=412&watch=true",
    )
    .unwrap();
    assert!(p.watch && p.allow_watch_bookmarks);
    assert_eq!(p.resource_version.as_deref(), Some("1234"));
    assert_eq!(p.timeout_seconds, Some(412));
    assert_eq!(p.send_initial_events, None);
    assert_eq!(p.resource_version_match, None);
}

#[test]
fn watch_from_now_gets_initial_events_by_default() {
    for q in ["watch=1", "watch=true&resourceVersion=0"] {
        let p = ListParams::parse(q).unwrap();
        assert_eq!(p.send_initial_events, Some(true), "{q}");
        assert_eq!(
            p.resource_version_match,
            Some(ResourceVersionMatch::NotOlderThan)
        );
    }
    let p = ListParams::parse(
        "watch=1&sendInitialEvents=true&resourceVersionMatch=NotOlderThan&allowWatchBookmarks=1",
    )
    .unwrap();
    assert_eq!(p.send_initial_events, Some(true));
    // A plain list is left alone.
    assert_eq!(ListParams::parse("").unwrap(), ListParams::default());
}

#[test]
fn empty_values_and_zero_limit_are_absent() {
    let p = ListParams::parse("labelSelector=&fieldSelector=&continue=&resourceVersion=&limit=0")
        .unwrap();
    assert_eq!(p, ListParams::default());
}

#[test]
fn unreadable_values_are_bad_requests() {
    let e = ListParams::parse("limit=ten").unwrap_err();
    assert_eq!(
        e.to_string(),
        r#"strconv.ParseInt: parsing "ten": invalid syntax"#
    );
    assert_eq!(e.to_status().code, 400);
    assert!(list_err("watch=maybe").starts_with("strconv.ParseBool"));
    assert!(list_err("labelSelector=a%20b").starts_with("unable to parse requirement"));
    assert!(list_err("fieldSelector=a").starts_with("invalid selector"));
    assert_eq!(
        list_err("includeObject=All"),
        "Unable to convert to Table as requested: includeObject: Invalid value: \"All\": must be 'Metadata', 'Object', 'None', or empty"
    );
    let e = ListParams::parse("continue=abc&resourceVersion=5").unwrap_err();
    assert_eq!(e, ParamsError::ContinueWithResourceVersion);
    assert_eq!(
        e.to_status().message,
        "specifying resource version is not allowed when using continue"
    );
    assert!(ListParams::parse("continue=abc&resourceVersion=0").is_ok());
}

#[test]
fn list_option_combinations_match_upstream() {
    assert_eq!(
        list_err("resourceVersionMatch=NotOlderThan"),
        r#"ListOptions.meta.k8s.io "" is invalid: resourceVersionMatch: Forbidden: resourceVersionMatch is forbidden unless resourceVersion is provided"#
    );
    assert_eq!(
        list_err("resourceVersionMatch=Exact&resourceVersion=0"),
        r#"ListOptions.meta.k8s.io "" is invalid: resourceVersionMatch: Forbidden: resourceVersionMatch "exact" is forbidden for resourceVersion "0""#
    );
    assert_eq!(
        list_err("resourceVersionMatch=Newest&resourceVersion=3"),
        r#"ListOptions.meta.k8s.io "" is invalid: resourceVersionMatch: Unsupported value: "Newest": supported values: "Exact", "NotOlderThan", """#
    );
    assert_eq!(
        list_err("sendInitialEvents=true"),
        r#"ListOptions.meta.k8s.io "" is invalid: sendInitialEvents: Forbidden: sendInitialEvents is forbidden for list"#
    );
    assert_eq!(
        list_err("limit=-1"),
        r#"ListOptions.meta.k8s.io "" is invalid: limit: Invalid value: -1: must be greater than or equal to 0"#
    );
    let e = ListParams::parse("resourceVersionMatch=Exact&continue=x").unwrap_err();
    let status = e.to_status();
    assert_eq!((status.code, status.reason.as_str()), (422, "Invalid"));
    let details = status.details.unwrap();
    assert_eq!(
        (details.group.as_str(), details.kind.as_str()),
        ("meta.k8s.io", "ListOptions")
    );
    assert_eq!(details.causes.len(), 2);
    assert_eq!(details.causes[0].reason, "FieldValueForbidden");
    assert_eq!(details.causes[0].field, "resourceVersionMatch");
    let p = ListParams::parse("resourceVersionMatch=Exact&resourceVersion=7&limit=2").unwrap();
    assert_eq!(p.resource_version_match, Some(ResourceVersionMatch::Exact));
}

#[test]
fn watch_option_combinations_match_upstream() {
    assert_eq!(
        list_err("watch=1&sendInitialEvents=true&resourceVersion=5"),
        r#"ListOptions.meta.k8s.io "" is invalid: resourceVersionMatch: Forbidden: sendInitialEvents requires setting resourceVersionMatch to NotOlderThan"#
    );
    assert_eq!(
        list_err("watch=1&resourceVersionMatch=NotOlderThan&resourceVersion=5"),
        r#"ListOptions.meta.k8s.io "" is invalid: resourceVersionMatch: Forbidden: resourceVersionMatch is forbidden for watch unless sendInitialEvents is provided"#
    );
    assert_eq!(
        list_err("watch=1&sendInitialEvents=false&resourceVersionMatch=Exact&resourceVersion=5"),
        r#"ListOptions.meta.k8s.io "" is invalid: [resourceVersionMatch: Forbidden: sendInitialEvents requires setting resourceVersionMatch to NotOlderThan, resourceVersionMatch: Unsupported value: "Exact": supported values: "NotOlderThan"]"#
    );
    let p = ListParams::parse("watch=1&sendInitialEvents=false&resourceVersionMatch=NotOlderThan")
        .unwrap();
    assert_eq!(p.send_initial_events, Some(false));
}

#[test]
fn get_params() {
    assert_eq!(
        GetParams::parse("resourceVersion=0")
            .resource_version
            .as_deref(),
        Some("0")
    );
    assert_eq!(GetParams::parse("").resource_version, None);
}

#[test]
fn write_params() {
    let p = WriteParams::parse(
        "fieldManager=kubectl-client-side-apply&fieldValidation=Strict",
        WriteVerb::Patch,
    )
    .unwrap();
    assert_eq!(
        p.field_manager.as_deref(),
        Some("kubectl-client-side-apply")
    );
    assert_eq!(p.field_validation, FieldValidation::Strict);
    assert!(!p.dry_run && !p.pretty && !p.force);
    let p = WriteParams::parse(
        "dryRun=All&pretty=true&force=true&fieldValidation=Ignore",
        WriteVerb::Create,
    )
    .unwrap();
    assert!(p.dry_run && p.pretty && p.force);
    assert_eq!(p.field_validation, FieldValidation::Ignore);
    assert_eq!(
        WriteParams::parse("", WriteVerb::Update)
            .unwrap()
            .field_validation,
        FieldValidation::Warn
    );

    let e = |q: &str, v| WriteParams::parse(q, v).unwrap_err().to_string();
    assert_eq!(
        e("dryRun=Yes", WriteVerb::Create),
        r#"CreateOptions.meta.k8s.io "" is invalid: dryRun: Unsupported value: ["Yes"]: supported values: "All""#
    );
    assert_eq!(
        e("fieldValidation=strict", WriteVerb::Update),
        r#"UpdateOptions.meta.k8s.io "" is invalid: fieldValidation: Unsupported value: "strict": supported values: "", "Ignore", "Strict", "Warn""#
    );
    assert_eq!(
        e(
            &format!("fieldManager={}", "m".repeat(129)),
            WriteVerb::Patch
        ),
        r#"PatchOptions.meta.k8s.io "" is invalid: fieldManager: Too long: may not be more than 128 bytes"#
    );
    assert!(
        e("fieldManager=a%07", WriteVerb::Patch)
            .contains("invalid character U+0007 (at position 1)")
    );
    assert!(e("force=please", WriteVerb::Patch).starts_with("strconv.ParseBool"));
}

#[test]
fn delete_from_kubectl_body() {
    let body =
        json!({"kind": "DeleteOptions", "apiVersion": "v1", "propagationPolicy": "Background"});
    let o = DeleteOptions::from_json(&body).unwrap();
    assert_eq!(o.propagation_policy, Some(PropagationPolicy::Background));
    assert!(!o.dry_run);

    let body = json!({
        "gracePeriodSeconds": 0,
        "preconditions": {"uid": "u1", "resourceVersion": null},
        "dryRun": ["All"],
        "orphanDependents": null,
        "somethingNew": 1
    });
    let o = DeleteOptions::from_json(&body).unwrap();
    assert_eq!(o.grace_period_seconds, Some(0));
    assert_eq!(
        o.preconditions,
        Some(Preconditions {
            uid: Some("u1".into()),
            resource_version: None
        })
    );
    assert!(o.dry_run);
    assert_eq!(o.orphan_dependents, None);
}

#[test]
fn delete_query_overrides_body() {
    let body = json!({"gracePeriodSeconds": 30, "propagationPolicy": "Foreground"});
    let o = DeleteOptions::from_request("gracePeriodSeconds=0&timeout=10s", Some(&body)).unwrap();
    assert_eq!(o.grace_period_seconds, Some(0));
    assert_eq!(o.propagation_policy, Some(PropagationPolicy::Foreground));
    let o = DeleteOptions::from_request("propagationPolicy=Orphan&dryRun=All", None).unwrap();
    assert_eq!(o.propagation_policy, Some(PropagationPolicy::Orphan));
    assert!(o.dry_run);
    assert_eq!(
        DeleteOptions::from_query("").unwrap(),
        DeleteOptions::default()
    );
}

#[test]
fn delete_errors() {
    let e = |q: &str, b: Option<serde_json::Value>| {
        DeleteOptions::from_request(q, b.as_ref())
            .unwrap_err()
            .to_string()
    };
    assert_eq!(
        e("propagationPolicy=Later", None),
        r#"DeleteOptions.meta.k8s.io "" is invalid: propagationPolicy: Unsupported value: "Later": supported values: "Foreground", "Background", "Orphan", "nil""#
    );
    assert_eq!(
        e(
            "orphanDependents=true",
            Some(json!({"propagationPolicy": "Orphan"}))
        ),
        r#"DeleteOptions.meta.k8s.io "" is invalid: propagationPolicy: Invalid value: "Orphan": orphanDependents and deletionPropagation cannot be both set"#
    );
    assert_eq!(
        e("", Some(json!({"dryRun": ["all"]}))),
        r#"DeleteOptions.meta.k8s.io "" is invalid: dryRun: Unsupported value: ["all"]: supported values: "All""#
    );
    assert_eq!(
        e("", Some(json!({"gracePeriodSeconds": "5"}))),
        "cannot unmarshal string into field DeleteOptions.gracePeriodSeconds of type int64"
    );
    assert_eq!(
        e("", Some(json!({"gracePeriodSeconds": 1.5}))),
        "cannot unmarshal number 1.5 into field DeleteOptions.gracePeriodSeconds of type int64"
    );
    assert_eq!(
        e("", Some(json!([]))),
        "cannot unmarshal array into DeleteOptions"
    );
    assert_eq!(
        e("", Some(json!({"kind": "Pod"}))),
        "decoded object cannot be converted to DeleteOptions"
    );
    assert!(e("gracePeriodSeconds=soon", None).starts_with("strconv.ParseInt"));
    let status = DeleteOptions::from_json(&json!({"preconditions": 1}))
        .unwrap_err()
        .to_status();
    assert_eq!(status.code, 400);
}
