//! The query parameters of a log request (`PodLogOptions`), parsed and checked.

use crate::status::{Failure, bad_request};

/// Which of a container's streams to return.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) enum StreamFilter {
    /// Both, interleaved as written.
    #[default]
    All,
    /// Only stdout.
    Stdout,
    /// Only stderr.
    Stderr,
}

/// What a log request asks for.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct LogOptions {
    /// Keep the stream open and send new lines until the container stops.
    pub(crate) follow: bool,
    /// Read the instance before the current one.
    pub(crate) previous: bool,
    /// Prefix each line with its RFC 3339 timestamp.
    pub(crate) timestamps: bool,
    /// Start this many lines before the end.
    pub(crate) tail_lines: Option<u64>,
    /// Only lines written at or after this time.
    pub(crate) since: Option<jiff::Timestamp>,
    /// Stop after this many bytes.
    pub(crate) limit_bytes: Option<u64>,
    /// Which streams.
    pub(crate) stream: StreamFilter,
}

impl LogOptions {
    /// Parses a raw query string as upstream validates `PodLogOptions`: negative counts and
    /// both `sinceSeconds` and `sinceTime` are refused.
    pub(crate) fn parse(query: &str, now: jiff::Timestamp) -> Result<Self, Failure> {
        let mut opts = Self::default();
        let mut since_seconds = None;
        let mut since_time = None;
        for (key, value) in form_pairs(query) {
            match key.as_str() {
                "follow" => opts.follow = parse_bool(&key, &value)?,
                "previous" => opts.previous = parse_bool(&key, &value)?,
                "timestamps" => opts.timestamps = parse_bool(&key, &value)?,
                "tailLines" => {
                    let n = parse_int(&key, &value)?;
                    opts.tail_lines = Some(u64::try_from(n).map_err(|_| {
                        invalid("tailLines", &value, "must be greater than or equal to 0")
                    })?);
                }
                "limitBytes" => {
                    let n = parse_int(&key, &value)?;
                    if n < 1 {
                        return Err(invalid("limitBytes", &value, "must be greater than 0"));
                    }
                    opts.limit_bytes = u64::try_from(n).ok();
                }
                "sinceSeconds" => {
                    let n = parse_int(&key, &value)?;
                    if n < 1 {
                        return Err(invalid("sinceSeconds", &value, "must be greater than 0"));
                    }
                    since_seconds = Some(n);
                }
                "sinceTime" => {
                    let t = value.parse::<jiff::Timestamp>().map_err(|_| {
                        bad_request(format!("sinceTime {value:?} is not an RFC 3339 time"))
                    })?;
                    since_time = Some(t);
                }
                "stream" => {
                    opts.stream = match value.as_str() {
                        "" | "All" => StreamFilter::All,
                        "Stdout" => StreamFilter::Stdout,
                        "Stderr" => StreamFilter::Stderr,
                        _ => {
                            return Err(invalid(
                                "stream",
                                &value,
                                "supported values: \"All\", \"Stdout\", \"Stderr\"",
                            ));
                        }
                    }
                }
                _ => {}
            }
        }
        opts.since = match (since_seconds, since_time) {
            (Some(_), Some(_)) => {
                return Err(bad_request(
                    "at most one of sinceTime or sinceSeconds may be specified",
                ));
            }
            (Some(secs), None) => Some(
                now.checked_sub(jiff::SignedDuration::from_secs(secs))
                    .unwrap_or(jiff::Timestamp::MIN),
            ),
            (None, t) => t,
        };
        if opts.stream != StreamFilter::All && opts.tail_lines.is_some() {
            return Err(bad_request(
                "tailLines cannot be combined with a stream other than All",
            ));
        }
        Ok(opts)
    }
}

/// `key=value` pairs of a query string, percent-decoded, `+` read as a space.
pub(crate) fn form_pairs(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (decode(k), decode(v))
        })
        .collect()
}

fn decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = bytes
                    .get(i + 1..i + 3)
                    .and_then(|h| std::str::from_utf8(h).ok())
                    .and_then(|h| u8::from_str_radix(h, 16).ok());
                if let Some(b) = hex {
                    out.push(b);
                    i += 2;
                } else {
                    out.push(b'%');
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A boolean as Go's `strconv.ParseBool` reads it; an empty value (`?follow`) is true.
pub(crate) fn parse_bool(key: &str, value: &str) -> Result<bool, Failure> {
    match value {
        "" | "1" | "t" | "T" | "true" | "TRUE" | "True" => Ok(true),
        "0" | "f" | "F" | "false" | "FALSE" | "False" => Ok(false),
        _ => Err(bad_request(format!("{key}: {value:?} is not a boolean"))),
    }
}

fn parse_int(key: &str, value: &str) -> Result<i64, Failure> {
    value
        .parse()
        .map_err(|_| bad_request(format!("{key}: {value:?} is not an integer")))
}

fn invalid(field: &str, value: &str, why: &str) -> Failure {
    bad_request(format!("{field}: Invalid value: {value}: {why}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> jiff::Timestamp {
        "2024-05-01T12:00:00Z".parse().unwrap()
    }

    #[test]
    fn every_option_parses() {
        let opts = LogOptions::parse(
            "container=web&follow=true&previous=1&timestamps=true&tailLines=10&limitBytes=500&sinceSeconds=60",
            now(),
        )
        .unwrap();
        assert!(opts.follow && opts.previous && opts.timestamps);
        assert_eq!(opts.tail_lines, Some(10));
        assert_eq!(opts.limit_bytes, Some(500));
        assert_eq!(opts.since, Some("2024-05-01T11:59:00Z".parse().unwrap()));
    }

    #[test]
    fn since_time_is_rfc3339() {
        let opts = LogOptions::parse("sinceTime=2024-05-01T10%3A00%3A00Z", now()).unwrap();
        assert_eq!(opts.since, Some("2024-05-01T10:00:00Z".parse().unwrap()));
        assert!(LogOptions::parse("sinceTime=yesterday", now()).is_err());
    }

    #[test]
    fn bad_values_are_refused() {
        for query in [
            "tailLines=-1",
            "limitBytes=0",
            "sinceSeconds=0",
            "follow=maybe",
            "sinceSeconds=5&sinceTime=2024-05-01T10:00:00Z",
            "stream=Both",
            "tailLines=x",
        ] {
            let err = LogOptions::parse(query, now()).unwrap_err();
            assert_eq!(err.0.code, 400, "{query}");
        }
    }

    #[test]
    fn defaults_are_everything_once() {
        let opts = LogOptions::parse("", now()).unwrap();
        assert_eq!(opts, LogOptions::default());
    }
}
