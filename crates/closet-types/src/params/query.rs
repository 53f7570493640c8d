//! Reading raw query strings the way Go's `url.Values` and apimachinery's conversions do.

use super::ParamsError;

/// The decoded `key=value` pairs of a query string, in order.
pub(super) struct Query {
    pairs: Vec<(String, String)>,
}

impl Query {
    /// Decodes percent-escapes and `+` as space; a leading `?` is tolerated.
    pub(super) fn parse(raw: &str) -> Self {
        let raw = raw.strip_prefix('?').unwrap_or(raw);
        let pairs = form_urlencoded::parse(raw.as_bytes())
            .into_owned()
            .collect();
        Self { pairs }
    }

    /// The first value of `key`, as Go's `Values.Get` and the option conversions use.
    pub(super) fn first(&self, key: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// Every value of `key`, for repeatable parameters such as `dryRun`.
    pub(super) fn all(&self, key: &str) -> Vec<String> {
        self.pairs
            .iter()
            .filter(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
            .collect()
    }

    /// A string parameter; empty counts as absent, as every upstream check uses `len(x) > 0`.
    pub(super) fn string(&self, key: &str) -> Option<String> {
        self.first(key).filter(|v| !v.is_empty()).map(str::to_owned)
    }

    /// An integer parameter. Present but empty is an error, as in Go's `strconv.ParseInt`.
    pub(super) fn int(&self, key: &'static str) -> Result<Option<i64>, ParamsError> {
        let Some(text) = self.first(key) else {
            return Ok(None);
        };
        match text.parse::<i64>() {
            Ok(n) => Ok(Some(n)),
            Err(e) => {
                use std::num::IntErrorKind;
                let out_of_range = matches!(
                    e.kind(),
                    IntErrorKind::PosOverflow | IntErrorKind::NegOverflow
                );
                Err(ParamsError::Integer {
                    param: key,
                    value: text.to_owned(),
                    out_of_range,
                })
            }
        }
    }

    /// A boolean parameter. A bare `?watch` (empty value) means true, as upstream reads it.
    /// Upstream takes anything but `0`/`false` as true; we refuse words that are neither, so a
    /// typo does not silently turn a feature on.
    pub(super) fn bool(&self, key: &'static str) -> Result<Option<bool>, ParamsError> {
        let Some(text) = self.first(key) else {
            return Ok(None);
        };
        match parse_bool(text) {
            Some(b) => Ok(Some(b)),
            None => Err(ParamsError::Bool {
                param: key,
                value: text.to_owned(),
            }),
        }
    }

    /// A boolean that never fails, for `pretty`: upstream runs Go's `strconv.ParseBool` and
    /// treats anything it refuses, the empty string included, as false.
    pub(super) fn lenient_bool(&self, key: &str) -> bool {
        matches!(
            self.first(key),
            Some("1" | "t" | "T" | "true" | "TRUE" | "True")
        )
    }
}

/// Go's `strconv.ParseBool` spellings, case-insensitive true/false, and empty for true.
fn parse_bool(text: &str) -> Option<bool> {
    match text {
        "" | "1" | "t" | "T" => Some(true),
        "0" | "f" | "F" => Some(false),
        t if t.eq_ignore_ascii_case("true") => Some(true),
        t if t.eq_ignore_ascii_case("false") => Some(false),
        _ => None,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]
mod tests {
    use super::*;

    #[test]
    fn decodes_and_keeps_first() {
        let q = Query::parse(
            "?labelSelector=app%3Dweb%2Ctier+in+(a)&limit=5&limit=7&dryRun=All&dryRun=x",
        );
        assert_eq!(q.first("labelSelector"), Some("app=web,tier in (a)"));
        assert_eq!(q.int("limit").unwrap(), Some(5));
        assert_eq!(q.all("dryRun"), ["All", "x"]);
        assert_eq!(q.first("missing"), None);
    }

    #[test]
    fn integers_fail_like_go() {
        let q = Query::parse("a=abc&b=99999999999999999999&c=");
        assert_eq!(
            q.int("a").unwrap_err().to_string(),
            r#"strconv.ParseInt: parsing "abc": invalid syntax"#
        );
        assert_eq!(
            q.int("b").unwrap_err().to_string(),
            r#"strconv.ParseInt: parsing "99999999999999999999": value out of range"#
        );
        assert!(q.int("c").is_err());
    }

    #[test]
    fn booleans() {
        let q = Query::parse("a&b=TRUE&c=0&d=False&e=yes&f=1");
        assert_eq!(q.bool("a").unwrap(), Some(true));
        assert_eq!(q.bool("b").unwrap(), Some(true));
        assert_eq!(q.bool("c").unwrap(), Some(false));
        assert_eq!(q.bool("d").unwrap(), Some(false));
        assert_eq!(q.bool("f").unwrap(), Some(true));
        assert_eq!(
            q.bool("e").unwrap_err().to_string(),
            r#"strconv.ParseBool: parsing "yes": invalid syntax"#
        );
        assert!(!q.lenient_bool("e"));
        assert!(!q.lenient_bool("a"));
        assert!(q.lenient_bool("b"));
    }
}
