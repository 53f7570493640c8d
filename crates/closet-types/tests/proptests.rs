//! Property tests: printing and parsing agree, and no input makes a parser panic.

#![allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]

use closet_types::continue_token::ContinueToken;
use closet_types::fields::{FieldOperator, FieldRequirement, escape_value, unescape_value};
use closet_types::labels::{Operator, Requirement};
use closet_types::names::{NameRule, generate_name, is_dns1123_label};
use closet_types::params::WriteVerb;
use closet_types::{
    DeleteOptions, FieldSelector, GetParams, LabelSelector, ListParams, WriteParams,
};
use proptest::prelude::*;
use serde_json::Value;

fn label_key() -> impl Strategy<Value = String> {
    let prefix = "([a-z0-9]([-a-z0-9]{0,6}[a-z0-9])?\\.){0,2}[a-z0-9]{1,5}/";
    let name = "[A-Za-z0-9]([-A-Za-z0-9_.]{0,20}[A-Za-z0-9])?";
    (proptest::option::of(prefix), name, any::<u8>()).prop_map(|(p, n, pick)| match pick % 8 {
        // The keywords are valid keys; make sure they print and parse back.
        0 => "in".to_owned(),
        1 => "notin".to_owned(),
        _ => format!("{}{n}", p.unwrap_or_default()),
    })
}

fn label_value() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(String::new()),
        Just("in".to_owned()),
        "[A-Za-z0-9]([-A-Za-z0-9_.]{0,20}[A-Za-z0-9])?",
    ]
}

fn requirement() -> impl Strategy<Value = Requirement> {
    let op = prop_oneof![
        Just(Operator::Equals),
        Just(Operator::DoubleEquals),
        Just(Operator::NotEquals),
        Just(Operator::In),
        Just(Operator::NotIn),
        Just(Operator::Exists),
        Just(Operator::DoesNotExist),
        Just(Operator::GreaterThan),
        Just(Operator::LessThan),
    ];
    (
        label_key(),
        op,
        proptest::collection::vec(label_value(), 1..4),
        0u32..100_000,
    )
        .prop_map(|(key, op, values, n)| {
            let values = match op {
                Operator::Exists | Operator::DoesNotExist => vec![],
                Operator::In | Operator::NotIn => values,
                Operator::GreaterThan | Operator::LessThan => vec![n.to_string()],
                _ => values[..1].to_vec(),
            };
            Requirement::new(&key, op, values).unwrap()
        })
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        "[a-zA-Z/.-]{0,8}".prop_map(Value::from),
        prop_oneof![
            Just("In"),
            Just("NotIn"),
            Just("Exists"),
            Just("matchLabels")
        ]
        .prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 32, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
            proptest::collection::btree_map(
                prop_oneof![
                    Just("matchLabels".to_owned()),
                    Just("matchExpressions".to_owned()),
                    Just("key".to_owned()),
                    Just("operator".to_owned()),
                    Just("values".to_owned()),
                    Just("kind".to_owned()),
                    Just("dryRun".to_owned()),
                    Just("preconditions".to_owned()),
                    Just("gracePeriodSeconds".to_owned()),
                    "[a-z]{1,6}",
                ],
                inner,
                0..4,
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    #[test]
    fn label_selector_prints_and_parses_back(reqs in proptest::collection::vec(requirement(), 0..6)) {
        let sel = LabelSelector::from_requirements(reqs);
        let text = sel.to_string();
        prop_assert_eq!(LabelSelector::parse(&text).unwrap(), sel, "{}", text);
    }

    #[test]
    fn parsed_label_selectors_are_canonical(s in "[a-c!=(),<> in0-9\t]{0,30}") {
        if let Ok(sel) = LabelSelector::parse(&s) {
            let text = sel.to_string();
            prop_assert_eq!(LabelSelector::parse(&text).unwrap(), sel, "{} -> {}", s, text);
        }
    }

    #[test]
    fn field_values_escape_and_unescape(v in any::<String>()) {
        prop_assert_eq!(unescape_value(&escape_value(&v)).unwrap(), v);
    }

    #[test]
    fn field_selector_prints_and_parses_back(
        terms in proptest::collection::vec(("[a-z][a-z.]{0,12}", any::<bool>(), any::<String>()), 0..5)
    ) {
        let mut reqs: Vec<FieldRequirement> = terms
            .into_iter()
            .map(|(field, eq, value)| FieldRequirement {
                field,
                operator: if eq { FieldOperator::Equals } else { FieldOperator::NotEquals },
                value,
            })
            .collect();
        let text = FieldSelector::from_requirements(reqs.clone()).to_string();
        let mut back = FieldSelector::parse(&text).unwrap().requirements().to_vec();
        let key = |r: &FieldRequirement| (r.field.clone(), r.operator == FieldOperator::Equals, r.value.clone());
        reqs.sort_by_key(key);
        back.sort_by_key(key);
        prop_assert_eq!(back, reqs, "{}", text);
    }

    #[test]
    fn continue_tokens_round_trip(revision in any::<i64>(), start_after in ".{1,40}") {
        prop_assume!(revision != 0);
        let t = ContinueToken { revision, start_after };
        prop_assert_eq!(ContinueToken::decode(&t.encode()).unwrap(), t);
    }

    #[test]
    fn generated_names_are_valid_labels(base in "[a-z0-9][-a-z0-9]{0,80}", seed in any::<u32>()) {
        // Bases over 63 bytes fail the label rule but pass the subdomain rule; either way the
        // cut to 58 bytes plus the suffix must give a valid label.
        let rule = if base.len() <= 63 { NameRule::Dns1123Label } else { NameRule::Dns1123Subdomain };
        prop_assert!(rule.validate_prefix(&base).is_empty());
        let mut state = seed;
        let name = generate_name(&base, || {
            state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            state >> 8
        });
        prop_assert!(is_dns1123_label(&name).is_empty(), "{}", name);
        prop_assert!(name.len() <= 63);
    }

    #[test]
    fn no_string_makes_a_parser_panic(s in any::<String>()) {
        let _ = LabelSelector::parse(&s);
        let _ = FieldSelector::parse(&s);
        let _ = ListParams::parse(&s);
        let _ = GetParams::parse(&s);
        let _ = WriteParams::parse(&s, WriteVerb::Patch);
        let _ = DeleteOptions::from_query(&s);
        let _ = DeleteOptions::from_request(&s, None);
        let _ = ContinueToken::decode(&s);
        let _ = unescape_value(&s);
        for rule in [NameRule::Dns1123Subdomain, NameRule::Dns1123Label, NameRule::PathSegment] {
            let _ = rule.validate(&s);
            let _ = rule.validate_prefix(&s);
        }
        let _ = generate_name(&s, || 7);
    }

    #[test]
    fn query_shaped_strings_do_not_panic(
        s in "(labelSelector|fieldSelector|limit|watch|resourceVersion|resourceVersionMatch|continue|sendInitialEvents|dryRun|gracePeriodSeconds|propagationPolicy|includeObject)=[a-zA-Z0-9%=,!()+-]{0,12}(&(watch|limit|sendInitialEvents|resourceVersion)=[a-zA-Z0-9]{0,5}){0,3}"
    ) {
        let _ = ListParams::parse(&s);
        let _ = DeleteOptions::from_query(&s);
        let _ = WriteParams::parse(&s, WriteVerb::Create);
    }

    #[test]
    fn no_json_makes_a_reader_panic(v in json_value()) {
        let _ = LabelSelector::from_json(&v);
        let _ = DeleteOptions::from_json(&v);
        let _ = DeleteOptions::from_request("dryRun=All", Some(&v));
    }
}
