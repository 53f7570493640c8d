//! Labels and label selectors rendered the way upstream prints them: `labels.FormatLabels`
//! for plain maps and the selector syntax (`app=web,tier in (a,b),!canary`) for
//! `LabelSelector`s, including upstream's refusal of selectors the API would reject.

use serde_json::Value;

use super::format::{at, opt_str, text};

/// A string map as sorted `k=v` pairs joined by commas, `<none>` when empty.
pub(super) fn format_labels(map: Option<&Value>) -> String {
    let Some(map) = map.and_then(Value::as_object) else {
        return "<none>".to_string();
    };
    let mut pairs: Vec<String> = map
        .iter()
        .map(|(k, v)| format!("{k}={}", text(v)))
        .collect();
    if pairs.is_empty() {
        return "<none>".to_string();
    }
    pairs.sort();
    pairs.join(",")
}

/// A label selector as upstream's `metav1.FormatLabelSelector` prints it: `<none>` for an
/// empty selector, `<error>` for one the API would reject.
pub(super) fn format_label_selector(sel: Option<&Value>) -> String {
    match selector_string(sel) {
        Some(s) if s.is_empty() => "<none>".to_string(),
        Some(s) => s,
        None => "<error>".to_string(),
    }
}

/// A label selector in the `key=value,key in (a,b),!key` syntax, sorted by key; `None` when it
/// cannot be turned into a selector (unknown operator, bad key or value).
pub(super) fn selector_string(sel: Option<&Value>) -> Option<String> {
    let sel = match sel {
        None | Some(Value::Null) => return Some(String::new()),
        Some(Value::Object(m)) => m,
        Some(_) => return None,
    };
    let mut reqs: Vec<(&str, String)> = Vec::new();
    match sel.get("matchLabels") {
        None | Some(Value::Null) => {}
        Some(Value::Object(labels)) => {
            for (k, v) in labels {
                let v = v.as_str()?;
                if !is_qualified_name(k) || !is_label_value(v) {
                    return None;
                }
                reqs.push((k, format!("{k}={v}")));
            }
        }
        Some(_) => return None,
    }
    match sel.get("matchExpressions") {
        None | Some(Value::Null) => {}
        Some(Value::Array(exprs)) => {
            for e in exprs {
                reqs.push(expression(e)?);
            }
        }
        Some(_) => return None,
    }
    // Upstream keeps requirements sorted by key; a stable sort keeps duplicates in input order.
    reqs.sort_by(|a, b| a.0.cmp(b.0));
    Some(
        reqs.into_iter()
            .map(|(_, r)| r)
            .collect::<Vec<_>>()
            .join(","),
    )
}

/// One `matchExpressions` entry as (key, rendered requirement).
fn expression(e: &Value) -> Option<(&str, String)> {
    let key = opt_str(e, &["key"])?;
    if !is_qualified_name(key) {
        return None;
    }
    let mut values = Vec::new();
    match at(e, &["values"]) {
        None | Some(Value::Null) => {}
        Some(Value::Array(vs)) => {
            for v in vs {
                let v = v.as_str()?;
                if !is_label_value(v) {
                    return None;
                }
                values.push(v);
            }
        }
        Some(_) => return None,
    }
    values.sort_unstable();
    let rendered = match opt_str(e, &["operator"])? {
        "In" | "NotIn" if values.is_empty() => return None,
        "In" => format!("{key} in ({})", values.join(",")),
        "NotIn" => format!("{key} notin ({})", values.join(",")),
        "Exists" | "DoesNotExist" if !values.is_empty() => return None,
        "Exists" => key.to_string(),
        "DoesNotExist" => format!("!{key}"),
        _ => return None,
    };
    Some((key, rendered))
}

/// A label key: an optional DNS-subdomain prefix and `/`, then a name of at most 63
/// characters.
fn is_qualified_name(key: &str) -> bool {
    let (prefix, name) = match key.split_once('/') {
        Some((p, n)) => (Some(p), n),
        None => (None, key),
    };
    let prefix_ok = prefix.is_none_or(|p| {
        !p.is_empty()
            && p.len() <= 253
            && p.split('.').all(|part| {
                !part.is_empty()
                    && part
                        .bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                    && !part.starts_with('-')
                    && !part.ends_with('-')
            })
    });
    prefix_ok && !name.is_empty() && is_label_value(name)
}

/// A label value: empty, or up to 63 of `[A-Za-z0-9._-]` starting and ending alphanumeric.
fn is_label_value(v: &str) -> bool {
    let alnum = |c: Option<u8>| c.is_some_and(|b| b.is_ascii_alphanumeric());
    v.is_empty()
        || (v.len() <= 63
            && alnum(v.bytes().next())
            && alnum(v.bytes().last())
            && v.bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.')))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn plain_label_maps() {
        assert_eq!(format_labels(Some(&json!({"b": "2", "a": "1"}))), "a=1,b=2");
        assert_eq!(format_labels(Some(&json!({}))), "<none>");
        assert_eq!(format_labels(None), "<none>");
    }

    #[test]
    fn selectors_sort_by_key() {
        let sel = json!({
            "matchLabels": {"app": "web"},
            "matchExpressions": [
                {"key": "tier", "operator": "In", "values": ["b", "a"]},
                {"key": "canary", "operator": "DoesNotExist"},
                {"key": "zone", "operator": "Exists"},
                {"key": "env", "operator": "NotIn", "values": ["dev"]}
            ]
        });
        assert_eq!(
            format_label_selector(Some(&sel)),
            "app=web,!canary,env notin (dev),tier in (a,b),zone"
        );
        let prefixed = json!({"matchLabels": {"app.kubernetes.io/name": "x"}});
        assert_eq!(
            format_label_selector(Some(&prefixed)),
            "app.kubernetes.io/name=x"
        );
    }

    #[test]
    fn empty_and_invalid_selectors() {
        assert_eq!(format_label_selector(Some(&json!({}))), "<none>");
        assert_eq!(format_label_selector(None), "<none>");
        assert_eq!(selector_string(Some(&json!({}))).as_deref(), Some(""));
        let bad = [
            json!({"matchExpressions": [{"key": "a", "operator": "Near"}]}),
            json!({"matchExpressions": [{"key": "a", "operator": "In", "values": []}]}),
            json!({"matchExpressions": [{"key": "a", "operator": "Exists", "values": ["x"]}]}),
            json!({"matchLabels": {"a": "b c"}}),
            json!({"matchLabels": {"Bad_Prefix/a": "b"}}),
            json!({"matchLabels": {"a": 1}}),
            json!("app=web"),
        ];
        for b in bad {
            assert_eq!(format_label_selector(Some(&b)), "<error>", "{b}");
        }
    }
}
