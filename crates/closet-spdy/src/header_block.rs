//! Header blocks: the name/value lists carried by SYN_STREAM, SYN_REPLY and HEADERS.
//!
//! On the wire a block is zlib-compressed (see the crate's `compression` module); this module
//! is the uncompressed form: a u32 pair count, then each name and value with a u32 length.

use crate::frame::FrameError;

/// Separates the values of one header name inside a single SPDY value string.
const VALUE_SEPARATOR: char = '\0';

/// Header names and values of one SPDY stream, in the order they were added.
///
/// Names are kept lower-case, as SPDY requires and as Go's SPDY reader insists on (it rejects
/// a block with an upper-case name). A name appears once; several values of one name are
/// joined with NUL, the SPDY encoding of a multi-valued header.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Headers {
    pairs: Vec<(String, String)>,
}

impl Headers {
    /// An empty header list.
    pub fn new() -> Self {
        Self::default()
    }

    /// Builder form of [`Headers::insert`].
    #[must_use]
    pub fn with(mut self, name: &str, value: &str) -> Self {
        self.insert(name, value);
        self
    }

    /// Sets `name` to `value`, replacing any earlier values of that name.
    pub fn insert(&mut self, name: &str, value: &str) {
        let name = name.to_ascii_lowercase();
        match self.pairs.iter_mut().find(|(n, _)| *n == name) {
            Some((_, existing)) => *existing = value.to_owned(),
            None => self.pairs.push((name, value.to_owned())),
        }
    }

    /// Adds `value` as a further value of `name`.
    pub fn append(&mut self, name: &str, value: &str) {
        let name = name.to_ascii_lowercase();
        match self.pairs.iter_mut().find(|(n, _)| *n == name) {
            Some((_, existing)) => {
                existing.push(VALUE_SEPARATOR);
                existing.push_str(value);
            }
            None => self.pairs.push((name, value.to_owned())),
        }
    }

    /// The first value of `name` (compared without regard to case).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.get_all(name).next()
    }

    /// Every value of `name` (compared without regard to case).
    pub fn get_all<'a>(&'a self, name: &str) -> impl Iterator<Item = &'a str> + 'a {
        let joined = self
            .pairs
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str());
        joined.into_iter().flat_map(|v| v.split(VALUE_SEPARATOR))
    }

    /// Names with their joined values, in insertion order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.pairs.iter().map(|(n, v)| (n.as_str(), v.as_str()))
    }

    /// Number of distinct names.
    pub fn len(&self) -> usize {
        self.pairs.len()
    }

    /// Whether no header is set.
    pub fn is_empty(&self) -> bool {
        self.pairs.is_empty()
    }
}

/// Uncompressed size of `headers` once serialized.
pub(crate) fn serialized_len(headers: &Headers) -> usize {
    4 + headers
        .pairs
        .iter()
        .map(|(n, v)| 8 + n.len() + v.len())
        .sum::<usize>()
}

/// Serializes `headers` as SPDY/3 does before compression: a u32 pair count, then for each
/// pair a u32 length and the name, a u32 length and the value.
///
/// The caller has checked [`serialized_len`] against its limit, so every length fits in u32.
pub(crate) fn serialize(headers: &Headers) -> Vec<u8> {
    let mut out = Vec::with_capacity(serialized_len(headers));
    out.extend_from_slice(&u32_len(headers.pairs.len()).to_be_bytes());
    for (name, value) in &headers.pairs {
        out.extend_from_slice(&u32_len(name.len()).to_be_bytes());
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(&u32_len(value.len()).to_be_bytes());
        out.extend_from_slice(value.as_bytes());
    }
    out
}

fn u32_len(len: usize) -> u32 {
    u32::try_from(len).unwrap_or(u32::MAX)
}

/// Parses an uncompressed header block. Names are lower-cased and a repeated name has its
/// values appended, so a lenient peer's block still yields a well-formed [`Headers`].
pub(crate) fn parse(raw: &[u8]) -> Result<Headers, FrameError> {
    let mut cursor = raw;
    let count = take_u32(&mut cursor)?;
    // Each pair needs at least its two length fields, so a count larger than that is a lie
    // and must not size an allocation.
    if usize::try_from(count).map_or(true, |c| c > cursor.len() / 8) {
        return Err(FrameError::MalformedHeaderBlock(
            "pair count exceeds the block",
        ));
    }
    let mut headers = Headers::new();
    for _ in 0..count {
        let name = take_string(&mut cursor)?;
        let value = take_string(&mut cursor)?;
        headers.append(&name, &value);
    }
    if !cursor.is_empty() {
        return Err(FrameError::MalformedHeaderBlock(
            "bytes after the last pair",
        ));
    }
    Ok(headers)
}

fn take_u32(cursor: &mut &[u8]) -> Result<u32, FrameError> {
    let Some((head, rest)) = cursor.split_first_chunk::<4>() else {
        return Err(FrameError::MalformedHeaderBlock("truncated length"));
    };
    *cursor = rest;
    Ok(u32::from_be_bytes(*head))
}

fn take_string(cursor: &mut &[u8]) -> Result<String, FrameError> {
    let len = usize::try_from(take_u32(cursor)?).unwrap_or(usize::MAX);
    if len > cursor.len() {
        return Err(FrameError::MalformedHeaderBlock(
            "string runs past the block",
        ));
    }
    let (bytes, rest) = cursor.split_at(len);
    *cursor = rest;
    Ok(String::from_utf8_lossy(bytes).into_owned())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn names_are_lowercased_and_values_joined() {
        let mut headers = Headers::new().with("streamType", "error");
        headers.append("Port", "80");
        headers.append("port", "81");
        assert_eq!(headers.get("streamtype"), Some("error"));
        assert_eq!(headers.get("STREAMTYPE"), Some("error"));
        assert_eq!(headers.get_all("port").collect::<Vec<_>>(), ["80", "81"]);
        assert_eq!(headers.len(), 2);
        headers.insert("PORT", "82");
        assert_eq!(headers.get_all("port").collect::<Vec<_>>(), ["82"]);
    }

    #[test]
    fn serialize_then_parse() {
        let headers = Headers::new()
            .with("streamtype", "data")
            .with("port", "8080");
        let raw = serialize(&headers);
        assert_eq!(raw.len(), serialized_len(&headers));
        assert_eq!(parse(&raw).unwrap(), headers);
    }

    #[test]
    fn parse_rejects_lying_counts_and_lengths() {
        assert!(parse(&[0xff, 0xff, 0xff, 0xff]).is_err());
        assert!(parse(&[0, 0, 0, 1, 0, 0, 0, 9, b'a', 0, 0, 0, 0]).is_err());
        assert!(parse(&[0, 0, 0, 0, 1]).is_err());
        assert_eq!(parse(&[0, 0, 0, 0]).unwrap(), Headers::new());
    }
}
