use serde_json::{Map, Value, json};

use super::*;

fn labels(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

fn err(s: &str) -> String {
    LabelSelector::parse(s).unwrap_err().to_string()
}

#[test]
fn parses_every_operator() {
    let sel = LabelSelector::parse("x in (foo,,baz),y,z notin (),!w, a=b, c==d ,e!=f,g>1,h<-2");
    // `h<-2` is refused: `-2` is not a valid label value, as upstream.
    assert!(sel.is_err());
    let sel =
        LabelSelector::parse("x in (foo,,baz),y,z notin (),!w, a=b, c==d ,e!=f,g>1,h<2").unwrap();
    assert_eq!(
        sel.to_string(),
        "a=b,c==d,e!=f,g>1,h<2,!w,x in (,baz,foo),y,z notin ()"
    );
    let ops: Vec<Operator> = sel.requirements().iter().map(|r| r.operator()).collect();
    assert_eq!(
        ops,
        [
            Operator::Equals,
            Operator::DoubleEquals,
            Operator::NotEquals,
            Operator::GreaterThan,
            Operator::LessThan,
            Operator::DoesNotExist,
            Operator::In,
            Operator::Exists,
            Operator::NotIn,
        ]
    );
}

#[test]
fn keywords_are_values_in_value_position() {
    let sel = LabelSelector::parse("in in (in,notin)").unwrap();
    assert_eq!(sel.to_string(), "in in (in,notin)");
    let sel = LabelSelector::parse("a=in").unwrap();
    assert_eq!(sel.requires_exact_match("a"), Some("in"));
}

#[test]
fn empty_and_whitespace_select_everything() {
    assert!(LabelSelector::parse("").unwrap().is_everything());
    assert!(LabelSelector::parse(" \t\n").unwrap().is_everything());
    assert!(LabelSelector::parse("a= ").unwrap().requirements()[0].values() == [""]);
}

#[test]
fn syntax_errors_match_upstream() {
    assert_eq!(
        err("a b"),
        "unable to parse requirement: found 'b', expected: in, notin, =, ==, !=, gt, lt"
    );
    assert_eq!(err("a,"), "found '', expected: identifier after ','");
    assert_eq!(
        err(",a"),
        "found ',', expected: !, identifier, or 'end of string'"
    );
    assert_eq!(err("!a=b"), "found '=', expected: ',' or 'end of string'");
    assert_eq!(
        err("a in b"),
        "unable to parse requirement: found 'b' expected: '('"
    );
    assert_eq!(
        err("a in (b c)"),
        "unable to parse requirement: found 'c', expected: ',' or ')'"
    );
    assert_eq!(
        err("a in (b"),
        "unable to parse requirement: found '', expected: ',' or ')'"
    );
    assert_eq!(
        err("a in (="),
        "unable to parse requirement: found '=', expected: ',', ')' or identifier"
    );
    assert_eq!(
        err("a in (b,="),
        "unable to parse requirement: found '=', expected: ',', or identifier"
    );
    assert_eq!(
        err("a=(b)"),
        "unable to parse requirement: found '(', expected: identifier"
    );
    assert_eq!(
        err("!"),
        "unable to parse requirement: found '', expected: identifier"
    );
}

#[test]
fn validation_errors_match_upstream() {
    assert_eq!(
        err("-a"),
        "unable to parse requirement: <nil>: Invalid value: \"-a\": name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"
    );
    assert_eq!(
        err("a=-b"),
        "unable to parse requirement: values[0][a]: Invalid value: \"-b\": a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"
    );
    assert_eq!(
        err("a>b"),
        "unable to parse requirement: values[0]: Invalid value: \"b\": for 'Gt', 'Lt' operators, the value must be an integer"
    );
}

#[test]
fn set_values_are_validated_in_sorted_order() {
    assert!(
        err("a in (z,-b)")
            .starts_with("unable to parse requirement: values[0][a]: Invalid value: \"-b\"")
    );
}

#[test]
fn matching_follows_upstream_semantics() {
    let l = labels(json!({"app": "web", "tier": "front", "n": "5", "weird": 3}));
    let yes = |s: &str| LabelSelector::parse(s).unwrap().matches(&l);
    assert!(yes("app=web"));
    assert!(yes("app==web,tier in (front,back)"));
    assert!(!yes("app!=web"));
    assert!(yes("missing!=x"));
    assert!(yes("missing notin (x)"));
    assert!(!yes("missing in (x)"));
    assert!(yes("app,!missing"));
    assert!(!yes("!app"));
    assert!(yes("n>4,n<6"));
    assert!(!yes("n>5"));
    assert!(!yes("app>1"));
    assert!(!yes("missing>1"));
    assert!(yes("weird"));
    assert!(!yes("weird="));
    assert!(yes(""));
    assert!(
        LabelSelector::parse("a")
            .unwrap()
            .matches_fn(|k| (k == "a").then_some(""))
    );
    let pod = json!({"metadata": {"name": "p", "labels": {"app": "web"}}});
    assert!(
        LabelSelector::parse("app=web")
            .unwrap()
            .matches_labels_of(&pod)
    );
    assert!(
        LabelSelector::parse("!app")
            .unwrap()
            .matches_labels_of(&json!({"metadata": {}}))
    );
    assert!(
        !LabelSelector::parse("app")
            .unwrap()
            .matches_labels_of(&json!({}))
    );
}

#[test]
fn exact_match_lookup() {
    let sel = LabelSelector::parse("a in (x),b=y,c in (p,q),d!=z").unwrap();
    assert_eq!(sel.requires_exact_match("a"), Some("x"));
    assert_eq!(sel.requires_exact_match("b"), Some("y"));
    assert_eq!(sel.requires_exact_match("c"), None);
    assert_eq!(sel.requires_exact_match("d"), None);
    assert_eq!(sel.requires_exact_match("e"), None);
}

#[test]
fn from_json_structured_selector() {
    let sel = LabelSelector::from_json(&json!({
        "matchLabels": {"app": "web"},
        "matchExpressions": [
            {"key": "tier", "operator": "In", "values": ["b", "a"]},
            {"key": "legacy", "operator": "DoesNotExist"}
        ]
    }))
    .unwrap();
    assert_eq!(sel.to_string(), "app=web,!legacy,tier in (a,b)");
    assert!(sel.matches(&labels(json!({"app": "web", "tier": "a"}))));
    assert!(!sel.matches(&labels(json!({"app": "web", "tier": "a", "legacy": "1"}))));

    let everything = LabelSelector::from_json(&json!({})).unwrap();
    assert!(everything.is_everything());
    let nothing = LabelSelector::from_json(&Value::Null).unwrap();
    assert!(!nothing.is_everything());
    assert!(!nothing.matches(&Map::new()));
}

#[test]
fn from_json_errors() {
    let e = |v: Value| LabelSelector::from_json(&v).unwrap_err().to_string();
    assert_eq!(
        e(json!({"matchExpressions": [{"key": "a", "operator": "Gt", "values": ["1"]}]})),
        "\"Gt\" is not a valid label selector operator"
    );
    assert_eq!(
        e(json!({"matchExpressions": [{"key": "a", "operator": "In"}]})),
        "values: Invalid value: null: for 'in', 'notin' operators, values set can't be empty"
    );
    assert_eq!(
        e(json!({"matchExpressions": [{"key": "a", "operator": "Exists", "values": ["x"]}]})),
        "values: Invalid value: [\"x\"]: values set must be empty for exists and does not exist"
    );
    assert!(
        e(json!({"matchLabels": {"-a": "b"}})).starts_with("key: Invalid value: \"-a\": name part")
    );
    assert_eq!(
        e(json!({"matchLabels": {"a": 1}})),
        "matchLabels[a]: Invalid value: 1: must be a string"
    );
    assert_eq!(
        e(json!([1])),
        "<nil>: Invalid value: [1]: must be a label selector object"
    );
    assert!(e(json!({"matchExpressions": {}})).starts_with("matchExpressions: Invalid value"));
}

#[test]
fn requirement_new_reports_all_problems() {
    let err = Requirement::new("a b", Operator::Equals, vec![]).unwrap_err();
    assert_eq!(err.0.len(), 2);
    assert!(err.to_string().starts_with("[key: Invalid value: \"a b\""));
}
