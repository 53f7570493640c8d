//! Name and label syntax checks, with upstream's messages.
//!
//! Each check returns the list of problems as plain strings (empty means valid), like
//! apimachinery's `IsDNS1123Subdomain` family; callers wrap them into
//! [`FieldError`](crate::FieldError)s with the field path they know. The random suffix for
//! `metadata.generateName` is made here too, from caller-supplied randomness so it stays testable.

mod generate;

pub use generate::{GENERATE_NAME_ALPHABET, MAX_GENERATED_BASE_LEN, generate_name};

/// Longest DNS-1123 label (and object name of label-named kinds).
pub const DNS1123_LABEL_MAX_LEN: usize = 63;
/// Longest DNS-1123 subdomain.
pub const DNS1123_SUBDOMAIN_MAX_LEN: usize = 253;
/// Longest label value, and longest name part of a label key.
pub const LABEL_VALUE_MAX_LEN: usize = 63;

const DNS1123_LABEL_FMT: &str = "[a-z0-9]([-a-z0-9]*[a-z0-9])?";
const DNS1123_SUBDOMAIN_FMT: &str =
    r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*";
const DNS1123_LABEL_MSG: &str = "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character";
const DNS1123_SUBDOMAIN_MSG: &str = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character";
const LABEL_KEY_FMT: &str = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]";
const LABEL_KEY_MSG: &str = "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character";
const LABEL_VALUE_FMT: &str = "(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?";
const LABEL_VALUE_MSG: &str = "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character";

/// Checks an RFC 1123 label: at most 63 bytes of `[a-z0-9-]`, alphanumeric at both ends.
pub fn is_dns1123_label(value: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if value.len() > DNS1123_LABEL_MAX_LEN {
        errs.push(max_len_chars(DNS1123_LABEL_MAX_LEN));
    }
    if !matches_dns_label(value) {
        // A valid subdomain that is not a valid label can only be at fault for its dots.
        if matches_dns_subdomain(value) {
            errs.push("must not contain dots".to_owned());
        } else {
            errs.push(regex_error(
                DNS1123_LABEL_MSG,
                DNS1123_LABEL_FMT,
                &["my-name", "123-abc"],
            ));
        }
    }
    errs
}

/// Checks an RFC 1123 subdomain: at most 253 bytes of dot-separated labels.
pub fn is_dns1123_subdomain(value: &str) -> Vec<String> {
    dns1123_subdomain(value, max_len_chars)
}

/// Checks a qualified name (a label key, annotation key, finalizer...): an optional DNS
/// subdomain prefix and `/`, then a name of at most 63 bytes.
pub fn is_qualified_name(value: &str) -> Vec<String> {
    let mut errs = Vec::new();
    let parts: Vec<&str> = value.split('/').collect();
    let name = match parts.as_slice() {
        [name] => *name,
        [prefix, name] => {
            if prefix.is_empty() {
                errs.push("prefix part must be non-empty".to_owned());
            } else {
                // Label syntax comes from apimachinery's newer `content` package, which counts
                // lengths in bytes, unlike the object-name checks above.
                let msgs = dns1123_subdomain(prefix, max_len_bytes);
                errs.extend(msgs.into_iter().map(|m| format!("prefix part {m}")));
            }
            *name
        }
        _ => {
            let example = regex_error(
                LABEL_KEY_MSG,
                LABEL_KEY_FMT,
                &["MyName", "my.name", "123-abc"],
            );
            errs.push(format!(
                "a valid label key {example} with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"
            ));
            return errs;
        }
    };
    if name.is_empty() {
        errs.push("name part must be non-empty".to_owned());
    } else if name.len() > LABEL_VALUE_MAX_LEN {
        errs.push(format!("name part {}", max_len_bytes(LABEL_VALUE_MAX_LEN)));
    }
    if !matches_label_chars(name) {
        let msg = regex_error(
            LABEL_KEY_MSG,
            LABEL_KEY_FMT,
            &["MyName", "my.name", "123-abc"],
        );
        errs.push(format!("name part {msg}"));
    }
    errs
}

/// Checks a label value: empty, or at most 63 bytes of `[-A-Za-z0-9_.]`, alphanumeric at both
/// ends.
pub fn is_label_value(value: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if value.len() > LABEL_VALUE_MAX_LEN {
        errs.push(max_len_bytes(LABEL_VALUE_MAX_LEN));
    }
    if !value.is_empty() && !matches_label_chars(value) {
        errs.push(regex_error(
            LABEL_VALUE_MSG,
            LABEL_VALUE_FMT,
            &["MyValue", "my_value", "12345"],
        ));
    }
    errs
}

/// Checks that a name can be one segment of a URL path: not `.` or `..`, no `/` or `%`.
pub fn is_valid_path_segment_name(name: &str) -> Vec<String> {
    if name == "." || name == ".." {
        return vec![format!("may not be '{name}'")];
    }
    is_valid_path_segment_prefix(name)
}

/// Like [`is_valid_path_segment_name`], for a `generateName` that a suffix will extend.
pub fn is_valid_path_segment_prefix(name: &str) -> Vec<String> {
    ["/", "%"]
        .iter()
        .filter(|bad| name.contains(**bad))
        .map(|bad| format!("may not contain '{bad}'"))
        .collect()
}

/// The naming rule a kind applies to `metadata.name`, as its registry entry declares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NameRule {
    /// Most kinds: a DNS-1123 subdomain (ConfigMap, Deployment, Pod...).
    Dns1123Subdomain,
    /// Kinds whose names become DNS labels or hostnames (Namespace, Service...).
    Dns1123Label,
    /// Kinds that only need a usable URL path segment (RBAC roles, for example).
    PathSegment,
}

impl NameRule {
    /// Problems with `name` as a full object name; empty means valid.
    pub fn validate(&self, name: &str) -> Vec<String> {
        match self {
            Self::Dns1123Subdomain => is_dns1123_subdomain(name),
            Self::Dns1123Label => is_dns1123_label(name),
            Self::PathSegment => is_valid_path_segment_name(name),
        }
    }

    /// Problems with `generate_name` as a prefix that a random suffix will complete.
    pub fn validate_prefix(&self, generate_name: &str) -> Vec<String> {
        match self {
            Self::Dns1123Subdomain => is_dns1123_subdomain(&mask_trailing_dash(generate_name)),
            Self::Dns1123Label => is_dns1123_label(&mask_trailing_dash(generate_name)),
            Self::PathSegment => is_valid_path_segment_prefix(generate_name),
        }
    }
}

/// A prefix may end in `-` because the suffix follows. Upstream swaps the last *two* bytes for
/// an `a`; we keep that exactly so the same prefixes are accepted and refused as upstream.
fn mask_trailing_dash(name: &str) -> String {
    match name.strip_suffix('-') {
        // Upstream cuts bytes; a non-ASCII name is invalid either way, so leave it whole
        // rather than risk cutting it into something valid.
        Some(rest) if name.len() > 1 && rest.is_ascii() => {
            format!("{}a", &rest[..rest.len() - 1])
        }
        _ => name.to_owned(),
    }
}

fn dns1123_subdomain(value: &str, max_len: fn(usize) -> String) -> Vec<String> {
    let mut errs = Vec::new();
    if value.len() > DNS1123_SUBDOMAIN_MAX_LEN {
        errs.push(max_len(DNS1123_SUBDOMAIN_MAX_LEN));
    }
    if !matches_dns_subdomain(value) {
        errs.push(regex_error(
            DNS1123_SUBDOMAIN_MSG,
            DNS1123_SUBDOMAIN_FMT,
            &["example.com"],
        ));
    }
    errs
}

fn matches_dns_label(value: &str) -> bool {
    let b = value.as_bytes();
    let alnum = |c: &u8| c.is_ascii_lowercase() || c.is_ascii_digit();
    match (b.first(), b.last()) {
        (Some(first), Some(last)) => {
            alnum(first) && alnum(last) && b.iter().all(|c| alnum(c) || *c == b'-')
        }
        _ => false,
    }
}

fn matches_dns_subdomain(value: &str) -> bool {
    value.split('.').all(matches_dns_label)
}

/// `([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]`, shared by label key names and label values.
fn matches_label_chars(value: &str) -> bool {
    let b = value.as_bytes();
    match (b.first(), b.last()) {
        (Some(first), Some(last)) => {
            first.is_ascii_alphanumeric()
                && last.is_ascii_alphanumeric()
                && b.iter()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'))
        }
        _ => false,
    }
}

fn max_len_chars(n: usize) -> String {
    format!("must be no more than {n} characters")
}

fn max_len_bytes(n: usize) -> String {
    format!("must be no more than {n} bytes")
}

/// Upstream's `RegexError`, including its doubled space between examples.
fn regex_error(msg: &str, regex: &str, examples: &[&str]) -> String {
    let mut out = format!("{msg} (e.g. ");
    for (i, ex) in examples.iter().enumerate() {
        if i > 0 {
            out.push_str(" or ");
        }
        out.push_str(&format!("'{ex}', "));
    }
    out.push_str(&format!("regex used for validation is '{regex}')"));
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]
mod tests;
