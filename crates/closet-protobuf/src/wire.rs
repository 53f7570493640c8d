//! The protobuf wire format: varints, keys and length-delimited slices, read without copying.
//!
//! Every length is checked against the bytes that remain before anything is sliced, so a
//! hostile length costs one comparison, never an allocation.

use crate::error::Reason;

/// One value on the wire, borrowed from the input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Value<'a> {
    /// Wire type 0.
    Varint(u64),
    /// Wire type 1.
    Fixed64(u64),
    /// Wire type 2: strings, bytes, messages and packed lists.
    Len(&'a [u8]),
    /// Wire type 5.
    Fixed32(u32),
}

impl Value<'_> {
    /// The wire type's name, for errors.
    pub(crate) fn wire_type(&self) -> &'static str {
        match self {
            Value::Varint(_) => "varint",
            Value::Fixed64(_) => "fixed64",
            Value::Len(_) => "length-delimited",
            Value::Fixed32(_) => "fixed32",
        }
    }
}

/// Reads `(field number, value)` pairs from one message's bytes.
pub(crate) struct Reader<'a> {
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    pub(crate) fn new(buf: &'a [u8]) -> Self {
        Self { buf }
    }

    /// The next field, or `None` at the end of the message.
    pub(crate) fn next_field(&mut self) -> Result<Option<(u32, Value<'a>)>, Reason> {
        if self.buf.is_empty() {
            return Ok(None);
        }
        let key = self.varint()?;
        let tag = key >> 3;
        if tag == 0 || tag > u64::from(MAX_TAG) {
            return Err(Reason::InvalidTag(tag));
        }
        let value = match key & 7 {
            0 => Value::Varint(self.varint()?),
            1 => Value::Fixed64(u64::from_le_bytes(self.take_array()?)),
            2 => {
                let len = self.varint()?;
                let len = usize::try_from(len).map_err(|_| Reason::Truncated)?;
                Value::Len(self.take(len)?)
            }
            5 => Value::Fixed32(u32::from_le_bytes(self.take_array()?)),
            // 3 and 4 are proto2 groups, which no Kubernetes message uses; 6 and 7 do not exist.
            other => return Err(Reason::WireType(other as u8)),
        };
        // Checked above: tag fits in 29 bits.
        Ok(Some((tag as u32, value)))
    }

    /// A base-128 varint of at most ten bytes.
    pub(crate) fn varint(&mut self) -> Result<u64, Reason> {
        let mut value = 0u64;
        for (i, &byte) in self.buf.iter().enumerate().take(10) {
            let bits = u64::from(byte & 0x7f);
            if i == 9 && byte > 1 {
                return Err(Reason::VarintOverflow);
            }
            value |= bits << (7 * i);
            if byte & 0x80 == 0 {
                self.buf = &self.buf[i + 1..];
                return Ok(value);
            }
        }
        if self.buf.len() >= 10 {
            Err(Reason::VarintOverflow)
        } else {
            Err(Reason::Truncated)
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    fn take(&mut self, len: usize) -> Result<&'a [u8], Reason> {
        if len > self.buf.len() {
            return Err(Reason::Truncated);
        }
        let (head, tail) = self.buf.split_at(len);
        self.buf = tail;
        Ok(head)
    }

    fn take_array<const N: usize>(&mut self) -> Result<[u8; N], Reason> {
        let bytes = self.take(N)?;
        let mut out = [0; N];
        out.copy_from_slice(bytes);
        Ok(out)
    }
}

/// The largest field number protobuf allows.
const MAX_TAG: u32 = (1 << 29) - 1;

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]
mod tests {
    use super::*;

    #[test]
    fn reads_fields_of_each_wire_type() {
        let bytes = [
            0x08, 0x96, 0x01, // 1: varint 150
            0x12, 0x02, b'h', b'i', // 2: "hi"
            0x19, 1, 0, 0, 0, 0, 0, 0, 0, // 3: fixed64 1
            0x25, 2, 0, 0, 0, // 4: fixed32 2
        ];
        let mut reader = Reader::new(&bytes);
        assert_eq!(reader.next_field().unwrap(), Some((1, Value::Varint(150))));
        assert_eq!(reader.next_field().unwrap(), Some((2, Value::Len(b"hi"))));
        assert_eq!(reader.next_field().unwrap(), Some((3, Value::Fixed64(1))));
        assert_eq!(reader.next_field().unwrap(), Some((4, Value::Fixed32(2))));
        assert_eq!(reader.next_field().unwrap(), None);
    }

    #[test]
    fn rejects_bad_input() {
        let cases: &[(&[u8], Reason)] = &[
            (&[0x0a, 0x05, b'a'], Reason::Truncated),
            (&[0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f], Reason::Truncated),
            (&[0x08], Reason::Truncated),
            (&[0x08, 0x80], Reason::Truncated),
            (
                &[
                    0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f,
                ],
                Reason::VarintOverflow,
            ),
            (&[0x00], Reason::InvalidTag(0)),
            (&[0x0b], Reason::WireType(3)),
            (&[0x0e], Reason::WireType(6)),
            (&[0x19, 0x01], Reason::Truncated),
        ];
        for (bytes, reason) in cases {
            let got = Reader::new(bytes).next_field().unwrap_err();
            assert_eq!(&got, reason, "{bytes:x?}");
        }
    }

    #[test]
    fn reads_the_largest_varint() {
        let bytes = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01];
        assert_eq!(Reader::new(&bytes).varint().unwrap(), u64::MAX);
    }
}
