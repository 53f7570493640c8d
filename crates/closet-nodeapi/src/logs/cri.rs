//! The CRI log format and what a log request makes of it.
//!
//! containerd writes one record per line: `<RFC 3339 time> <stdout|stderr> <tag> <content>`,
//! where the tag is `F` for a full line or `P` for a piece of a longer one (the next
//! records continue it). [`Formatter`] turns records into the text a client sees: since and
//! stream filters, the timestamp prefix at the start of each logical line, and the byte
//! limit.

use super::options::{LogOptions, StreamFilter};

/// Which stream a record came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Stream {
    /// stdout.
    Stdout,
    /// stderr.
    Stderr,
}

/// One record of a CRI log file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Record<'a> {
    /// The time as written in the file (already RFC 3339 with nanoseconds).
    pub(crate) time_text: &'a str,
    /// The time, parsed.
    pub(crate) time: jiff::Timestamp,
    /// The stream.
    pub(crate) stream: Stream,
    /// Whether the line continues in the next record (`P`).
    pub(crate) partial: bool,
    /// The content, without the line's newline.
    pub(crate) content: &'a [u8],
}

/// Parses one line of a CRI log file (without its newline). `None` for a malformed line,
/// which readers skip, as kubelet does.
pub(crate) fn parse(line: &[u8]) -> Option<Record<'_>> {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let (time_bytes, rest) = split_space(line)?;
    let (stream_bytes, rest) = split_space(rest)?;
    // The content may be empty, in which case the separating space may be missing too.
    let (tag, content) = split_space(rest).unwrap_or((rest, &[][..]));
    let time_text = std::str::from_utf8(time_bytes).ok()?;
    let time = time_text.parse::<jiff::Timestamp>().ok()?;
    let stream = match stream_bytes {
        b"stdout" => Stream::Stdout,
        b"stderr" => Stream::Stderr,
        _ => return None,
    };
    // Tags may carry more than one flag, separated by ':'; the first is P or F.
    let partial = match tag.split(|b| *b == b':').next()? {
        b"P" => true,
        b"F" => false,
        _ => return None,
    };
    Some(Record {
        time_text,
        time,
        stream,
        partial,
        content,
    })
}

fn split_space(bytes: &[u8]) -> Option<(&[u8], &[u8])> {
    let at = bytes.iter().position(|b| *b == b' ')?;
    Some((&bytes[..at], &bytes[at + 1..]))
}

/// Turns records into response text, applying a request's filters.
#[derive(Debug)]
pub(crate) struct Formatter {
    since: Option<jiff::Timestamp>,
    stream: StreamFilter,
    timestamps: bool,
    bytes_left: Option<u64>,
    /// Per stream: whether the next record starts a logical line (gets the prefix).
    line_start: [bool; 2],
}

impl Formatter {
    /// A formatter for `opts`.
    pub(crate) fn new(opts: &LogOptions) -> Self {
        Self {
            since: opts.since,
            stream: opts.stream,
            timestamps: opts.timestamps,
            bytes_left: opts.limit_bytes,
            line_start: [true, true],
        }
    }

    /// Whether the byte limit has been reached: nothing more will be written.
    pub(crate) fn exhausted(&self) -> bool {
        self.bytes_left == Some(0)
    }

    /// Appends the text of one file line to `out` (nothing if filtered out or malformed).
    pub(crate) fn line(&mut self, line: &[u8], out: &mut Vec<u8>) {
        if let Some(record) = parse(line) {
            self.record(&record, out);
        }
    }

    /// Appends the text of `record` to `out`.
    pub(crate) fn record(&mut self, record: &Record<'_>, out: &mut Vec<u8>) {
        if self.exhausted() {
            return;
        }
        let wanted = matches!(
            (self.stream, record.stream),
            (StreamFilter::All, _)
                | (StreamFilter::Stdout, Stream::Stdout)
                | (StreamFilter::Stderr, Stream::Stderr)
        );
        if !wanted || self.since.is_some_and(|since| record.time < since) {
            return;
        }
        let slot = match record.stream {
            Stream::Stdout => 0,
            Stream::Stderr => 1,
        };
        let mut text = Vec::with_capacity(record.content.len() + 40);
        if self.timestamps && self.line_start[slot] {
            text.extend_from_slice(record.time_text.as_bytes());
            text.push(b' ');
        }
        text.extend_from_slice(record.content);
        if !record.partial {
            text.push(b'\n');
        }
        self.line_start[slot] = !record.partial;
        if let Some(left) = &mut self.bytes_left {
            let take = usize::try_from(*left).unwrap_or(usize::MAX).min(text.len());
            text.truncate(take);
            *left -= take as u64;
        }
        out.extend_from_slice(&text);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOG: &str = "\
2024-05-01T10:00:00.000000001Z stdout F hello
2024-05-01T10:00:01.5Z stderr F oops
2024-05-01T10:00:02Z stdout P part one,
2024-05-01T10:00:03Z stdout F  part two
2024-05-01T10:00:04Z stdout F
not a log line
2024-05-01T10:00:05+02:00 stdout F zoned
";

    fn render(opts: &LogOptions) -> String {
        let mut f = Formatter::new(opts);
        let mut out = Vec::new();
        for line in LOG.lines() {
            f.line(line.as_bytes(), &mut out);
        }
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn records_parse() {
        let r = parse(b"2024-05-01T10:00:02Z stdout P a b ").unwrap();
        assert_eq!(r.stream, Stream::Stdout);
        assert!(r.partial);
        assert_eq!(r.content, b"a b ");
        let r = parse(b"2024-05-01T10:00:02Z stderr F:x").unwrap();
        assert_eq!(
            (r.stream, r.partial, r.content),
            (Stream::Stderr, false, &b""[..])
        );
        assert!(parse(b"2024-05-01T10:00:02Z stdin F x").is_none());
        assert!(parse(b"yesterday stdout F x").is_none());
        assert!(parse(b"2024-05-01T10:00:02Z stdout Q x").is_none());
    }

    #[test]
    fn partial_records_join_into_one_line() {
        assert_eq!(
            render(&LogOptions::default()),
            "hello\noops\npart one, part two\n\nzoned\n"
        );
    }

    #[test]
    fn timestamps_prefix_logical_lines_only() {
        let opts = LogOptions {
            timestamps: true,
            ..LogOptions::default()
        };
        assert_eq!(
            render(&opts),
            "2024-05-01T10:00:00.000000001Z hello\n\
             2024-05-01T10:00:01.5Z oops\n\
             2024-05-01T10:00:02Z part one, part two\n\
             2024-05-01T10:00:04Z \n\
             2024-05-01T10:00:05+02:00 zoned\n"
        );
    }

    #[test]
    fn since_compares_instants_across_offsets() {
        let opts = LogOptions {
            since: Some("2024-05-01T08:00:04Z".parse().unwrap()),
            ..LogOptions::default()
        };
        // 10:00:05+02:00 is 08:00:05Z: after; everything at 10:00Z is too.
        assert_eq!(render(&opts), "hello\noops\npart one, part two\n\nzoned\n");
        let opts = LogOptions {
            since: Some("2024-05-01T10:00:01.5Z".parse().unwrap()),
            ..LogOptions::default()
        };
        assert_eq!(render(&opts), "oops\npart one, part two\n\n");
    }

    #[test]
    fn stream_filter_and_limit() {
        let opts = LogOptions {
            stream: StreamFilter::Stderr,
            ..LogOptions::default()
        };
        assert_eq!(render(&opts), "oops\n");
        let opts = LogOptions {
            limit_bytes: Some(8),
            ..LogOptions::default()
        };
        assert_eq!(render(&opts), "hello\noo");
    }
}
