//! Messages whose Go types write their own JSON: times, quantities, int-or-string, raw JSON,
//! string lists and the CRD schema unions.

use serde_json::Value;

use crate::decode::{self, expect_len, expect_varint, string};
use crate::error::{DecodeError, Reason};
use crate::schema::{self, Kind, Message, Special};
use crate::wire::{self, Reader};

/// Decodes a message whose [`Special`] is not `None`; `None` means Go writes nothing.
pub(crate) fn decode(
    msg: &'static Message,
    parts: &[&[u8]],
    depth: usize,
) -> Result<Option<Value>, DecodeError> {
    match msg.special {
        Special::Time => time(parts, false),
        Special::MicroTime => time(parts, true),
        Special::Quantity => quantity(parts),
        Special::IntOrString => int_or_string(parts),
        Special::RawJson => raw_json(parts),
        Special::StringList => string_list(parts),
        Special::SchemaOrArray | Special::SchemaOrBool | Special::SchemaOrStringArray => {
            schema_union(msg, parts, depth)
        }
        Special::None => decode::message(msg, parts, depth),
    }
}

/// Calls `f` for every field of the concatenated parts.
fn each<'a>(
    parts: &[&'a [u8]],
    mut f: impl FnMut(u32, wire::Value<'a>) -> Result<(), DecodeError>,
) -> Result<(), DecodeError> {
    for part in parts {
        let mut reader = Reader::new(part);
        while let Some((tag, value)) = reader.next_field()? {
            f(tag, value)?;
        }
    }
    Ok(())
}

/// `metav1.Time` and `metav1.MicroTime`: `{1: seconds, 2: nanos}` since the Unix epoch.
fn time(parts: &[&[u8]], micro: bool) -> Result<Option<Value>, DecodeError> {
    // Go encodes the zero time as an empty message, and decodes an empty message as zero.
    if parts.iter().all(|p| p.is_empty()) {
        return Ok(None);
    }
    let mut seconds = 0i64;
    let mut nanos = 0i32;
    each(parts, |tag, value| {
        match tag {
            1 => seconds = expect_varint(value)? as i64,
            2 => nanos = expect_varint(value)? as i32,
            _ => {}
        }
        Ok(())
    })?;
    // Older encoders wrote the zero time as its Unix seconds.
    if seconds == ZERO_TIME_SECONDS && nanos == 0 {
        return Ok(None);
    }
    format_time(seconds, nanos, micro)
        .map(|s| Some(Value::String(s)))
        .ok_or_else(|| Reason::TimeOutOfRange(seconds).into())
}

/// Seconds from the Unix epoch to Go's zero time, 0001-01-01T00:00:00Z.
const ZERO_TIME_SECONDS: i64 = -62_135_596_800;

/// RFC 3339 in UTC, as Go formats `time.RFC3339` (whole seconds) or metav1's `RFC3339Micro`
/// (six fractional digits, truncated). `None` outside years 0000 to 9999.
pub(crate) fn format_time(seconds: i64, nanos: i32, micro: bool) -> Option<String> {
    // `time.Unix` carries nanoseconds outside [0, 1e9) into the seconds.
    let total = i128::from(seconds) + i128::from(nanos).div_euclid(1_000_000_000);
    let nanos = i128::from(nanos).rem_euclid(1_000_000_000);
    const MIN: i128 = -62_167_219_200; // 0000-01-01T00:00:00Z
    const MAX: i128 = 253_402_300_799; // 9999-12-31T23:59:59Z
    if !(MIN..=MAX).contains(&total) {
        return None;
    }
    let days = total.div_euclid(86_400);
    let second_of_day = total.rem_euclid(86_400);
    let (year, month, day) = civil_from_days(days);
    let (hour, minute, second) = (
        second_of_day / 3600,
        second_of_day / 60 % 60,
        second_of_day % 60,
    );
    let mut out = format!("{year:04}-{month:02}-{day:02}T{hour:02}:{minute:02}:{second:02}");
    if micro {
        out.push_str(&format!(".{:06}", nanos / 1000));
    }
    out.push('Z');
    Some(out)
}

/// Proleptic Gregorian date of a day count from 1970-01-01 (Howard Hinnant's algorithm).
fn civil_from_days(days: i128) -> (i128, i128, i128) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i128::from(month <= 2);
    (year, month, day)
}

/// `resource.Quantity`: the canonical string in field 1, which is also its JSON form.
fn quantity(parts: &[&[u8]]) -> Result<Option<Value>, DecodeError> {
    let mut text = None;
    each(parts, |tag, value| {
        if tag == 1 {
            text = Some(string(expect_len(value)?)?);
        }
        Ok(())
    })?;
    match text {
        // An empty message is Go's zero Quantity.
        None => Ok(Some(Value::String("0".into()))),
        // Go's ParseQuantity rejects the empty string.
        Some(s) if s.is_empty() => Err(Reason::EmptyQuantity.into()),
        Some(s) => Ok(Some(Value::String(s))),
    }
}

/// `intstr.IntOrString`: `{1: type, 2: intVal, 3: strVal}` → a number (type 0) or string (1).
fn int_or_string(parts: &[&[u8]]) -> Result<Option<Value>, DecodeError> {
    let (mut kind, mut int, mut text) = (0i64, 0i32, String::new());
    each(parts, |tag, value| {
        match tag {
            1 => kind = expect_varint(value)? as i64,
            2 => int = expect_varint(value)? as i32,
            3 => text = string(expect_len(value)?)?,
            _ => {}
        }
        Ok(())
    })?;
    match kind {
        0 => Ok(Some(Value::from(int))),
        1 => Ok(Some(Value::String(text))),
        other => Err(Reason::IntOrStringType(other).into()),
    }
}

/// Raw JSON bytes in field 1, written into the object as they are (Go's `RawExtension`,
/// `FieldsV1` and apiextensions `JSON` all marshal to their bytes; empty is `null`).
fn raw_json(parts: &[&[u8]]) -> Result<Option<Value>, DecodeError> {
    let mut raw: &[u8] = &[];
    each(parts, |tag, value| {
        if tag == 1 {
            raw = expect_len(value)?;
        }
        Ok(())
    })?;
    if raw.is_empty() {
        return Ok(None);
    }
    // serde_json bounds its own recursion (128 levels).
    serde_json::from_slice(raw)
        .map(Some)
        .map_err(|e| Reason::EmbeddedJson(e).into())
}

/// A string slice type wrapped as `{1: repeated items}`; nil is `null`.
fn string_list(parts: &[&[u8]]) -> Result<Option<Value>, DecodeError> {
    let mut items = Vec::new();
    each(parts, |tag, value| {
        if tag == 1 {
            items.push(Value::String(string(expect_len(value)?)?));
        }
        Ok(())
    })?;
    Ok((!items.is_empty()).then_some(Value::Array(items)))
}

/// The CRD schema unions, each with the `JSONSchemaProps` message in one of its fields:
/// - `JSONSchemaPropsOrArray {1: schema, 2: repeated schemas}`: the list if any, else the schema;
/// - `JSONSchemaPropsOrBool {1: allows, 2: schema}`: the schema if set, else the bool;
/// - `JSONSchemaPropsOrStringArray {1: schema, 2: repeated strings}`: the list if any, else
///   the schema.
fn schema_union(
    msg: &'static Message,
    parts: &[&[u8]],
    depth: usize,
) -> Result<Option<Value>, DecodeError> {
    let schema_tag = if msg.special == Special::SchemaOrBool {
        2
    } else {
        1
    };
    let props = msg
        .field(schema_tag)
        .and_then(|(_, f)| match f.kind {
            Kind::Message(index) => Some(schema::message(index)),
            _ => None,
        })
        .ok_or(Reason::Truncated)?;
    let mut schema_parts = Vec::new();
    let mut list = Vec::new();
    let mut allows = false;
    each(parts, |tag, value| {
        match (msg.special, tag) {
            (_, t) if t == schema_tag => schema_parts.push(expect_len(value)?),
            (Special::SchemaOrBool, 1) => allows = expect_varint(value)? != 0,
            (Special::SchemaOrArray, 2) => {
                let index = list.len();
                let item = decode::message(props, &[expect_len(value)?], depth + 1)
                    .map_err(|e| e.at_index(index))?;
                list.push(item.unwrap_or(Value::Null));
            }
            (Special::SchemaOrStringArray, 2) => {
                list.push(Value::String(string(expect_len(value)?)?));
            }
            _ => {}
        }
        Ok(())
    })?;
    if !list.is_empty() {
        return Ok(Some(Value::Array(list)));
    }
    if !schema_parts.is_empty() {
        return decode::message(props, &schema_parts, depth + 1);
    }
    Ok(match msg.special {
        Special::SchemaOrBool => Some(Value::Bool(allows)),
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_times_like_go() {
        let cases = [
            (0, 0, false, "1970-01-01T00:00:00Z"),
            (1_700_000_000, 999_999_999, false, "2023-11-14T22:13:20Z"),
            (
                1_700_000_000,
                123_456_789,
                true,
                "2023-11-14T22:13:20.123456Z",
            ),
            (951_782_400, 0, false, "2000-02-29T00:00:00Z"),
            (-1, 0, false, "1969-12-31T23:59:59Z"),
            (-1, 500_000_000, true, "1969-12-31T23:59:59.500000Z"),
            (0, -1, true, "1969-12-31T23:59:59.999999Z"),
            (253_402_300_799, 0, false, "9999-12-31T23:59:59Z"),
            (-62_167_219_200, 0, false, "0000-01-01T00:00:00Z"),
        ];
        for (seconds, nanos, micro, want) in cases {
            assert_eq!(format_time(seconds, nanos, micro).as_deref(), Some(want));
        }
        assert_eq!(format_time(253_402_300_800, 0, false), None);
        assert_eq!(format_time(i64::MIN, i32::MIN, false), None);
    }
}
