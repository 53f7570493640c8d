//! JSON and value text exactly as Go writes them, where upstream's bytes leak into what
//! clients see: FieldsV1 keys (json-iterator in its standard-library mode), the
//! last-applied annotation (encoding/json) and conflict paths (`fmt`'s `%q` and `%v`).
//!
//! The differences from serde_json that matter: map keys sorted, `<`, `>`, `&`, U+2028 and
//! U+2029 escaped as `\u003c`..., other control characters as `\u00XX` except `\n`, `\r`,
//! `\t`, and floats formatted like `strconv.FormatFloat` (`80`, `1e+21`, `1e-7`).

use std::fmt::Write as _;

use serde_json::{Number, Value};

const HEX: &[u8; 16] = b"0123456789abcdef";

/// Appends `s` as a JSON string, escaped as Go's standard-library-compatible encoders do.
pub(crate) fn write_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '<' | '>' | '&' | '\u{0}'..='\u{1f}' => {
                let b = c as u32;
                out.push_str("\\u00");
                out.push(HEX[(b >> 4) as usize] as char);
                out.push(HEX[(b & 0xf) as usize] as char);
            }
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Appends a number the way Go writes a JSON number: integers as they are, floats in the
/// shortest form, with an exponent only below 1e-6 or from 1e21 on.
pub(crate) fn write_number(out: &mut String, n: &Number) {
    if let Some(f) = n.as_f64().filter(|_| n.is_f64()) {
        let abs = f.abs();
        if abs != 0.0 && !(1e-6..1e21).contains(&abs) {
            let (mantissa, exp) = split_exp(f);
            let sign = if exp < 0 { '-' } else { '+' };
            let _ = write!(out, "{mantissa}e{sign}{}", exp.unsigned_abs());
        } else {
            let _ = write!(out, "{f}");
        }
    } else {
        let _ = write!(out, "{n}");
    }
}

/// Appends `value` as compact JSON with sorted object keys, as Go encodes a decoded map.
pub(crate) fn write_value(out: &mut String, value: &Value) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => write_number(out, n),
        Value::String(s) => write_string(out, s),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_value(out, item);
            }
            out.push(']');
        }
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (i, key) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_string(out, key);
                out.push(':');
                write_value(out, &map[key]);
            }
            out.push('}');
        }
    }
}

/// `value` as Go-encoded JSON text.
pub(crate) fn to_string(value: &Value) -> String {
    let mut out = String::new();
    write_value(&mut out, value);
    out
}

/// `s` quoted as Go's `%q` does.
pub(crate) fn quote(s: &str) -> String {
    closet_types::field::go_quote(s)
}

/// A float as Go's `%v` prints it: shortest digits, exponent form (`1e+06`) from 1e6 on and
/// below 1e-4.
pub(crate) fn float_v(f: f64) -> String {
    if f == 0.0 {
        return format!("{f}");
    }
    let (mantissa, exp) = split_exp(f);
    if !(-4..6).contains(&exp) {
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{mantissa}e{sign}{:02}", exp.unsigned_abs())
    } else {
        format!("{f}")
    }
}

/// The shortest decimal mantissa and the exponent of `f` (`1.5e-7` → `("1.5", -7)`).
fn split_exp(f: f64) -> (String, i32) {
    let text = format!("{f:e}");
    match text.split_once('e') {
        Some((mantissa, exp)) => (mantissa.to_string(), exp.parse().unwrap_or(0)),
        None => (text, 0),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn strings_escape_like_go() {
        let mut out = String::new();
        write_string(&mut out, "a<b>&\"\\\n\u{1}\u{2028}é");
        assert_eq!(out, r#""a\u003cb\u003e\u0026\"\\\n\u0001\u2028é""#);
    }

    #[test]
    fn numbers_format_like_go() {
        let text = |v: Value| to_string(&v);
        assert_eq!(text(json!(80)), "80");
        assert_eq!(text(json!(80.0)), "80");
        assert_eq!(text(json!(1.5)), "1.5");
        assert_eq!(text(json!(1e21)), "1e+21");
        assert_eq!(text(json!(1.5e-7)), "1.5e-7");
        assert_eq!(text(json!(1e-10)), "1e-10");
        assert_eq!(text(json!(-0.0)), "-0");
    }

    #[test]
    fn maps_sort_keys() {
        assert_eq!(
            to_string(&json!({"b": 1, "a": [true, null]})),
            r#"{"a":[true,null],"b":1}"#
        );
    }

    #[test]
    fn percent_v_floats() {
        assert_eq!(float_v(80.0), "80");
        assert_eq!(float_v(1e6), "1e+06");
        assert_eq!(float_v(123456.0), "123456");
        assert_eq!(float_v(0.0001), "0.0001");
        assert_eq!(float_v(0.00001), "1e-05");
    }

    #[test]
    fn percent_q() {
        assert_eq!(quote("web"), "\"web\"");
        assert_eq!(quote("a\"b\u{1}"), "\"a\\\"b\\x01\"");
    }
}
