//! Kubernetes resource quantities (`500m`, `1.5Gi`, `2e3`) as exact numbers.
//!
//! A quantity is a signed decimal number followed by a suffix: a binary SI suffix (`Ki` … `Ei`,
//! powers of 1024), a decimal SI suffix (`n`, `u`, `m`, none, `k`, `M`, `G`, `T`, `P`, `E`) or a
//! decimal exponent (`e3`, `E-2`). Like upstream's `resource.Quantity`, precision below one
//! nano-unit is rounded up, so the value is kept as a count of nano-units in an `i128`; anything
//! that does not fit (beyond about 10^29) is refused instead of silently saturating.

use std::fmt;

use k8s_openapi::apimachinery::pkg::api::resource::Quantity;

const NANOS_PER_UNIT: i128 = 1_000_000_000;

/// A parsed quantity, exact to one nano-unit.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct QuantityValue {
    nanos: i128,
}

/// Why a quantity string was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum QuantityError {
    /// The text is not `<number><suffix>`.
    #[error(
        "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"
    )]
    Format,
    /// The suffix is not one Kubernetes knows.
    #[error("unknown quantity suffix {0:?}")]
    Suffix(String),
    /// The value is too large (or its exponent too far out) to represent.
    #[error("quantity is out of range")]
    Range,
}

impl QuantityValue {
    /// Zero.
    pub const ZERO: QuantityValue = QuantityValue { nanos: 0 };

    /// Parses quantity text such as `100m`, `1Gi` or `1.5e3`.
    pub fn parse(text: &str) -> Result<QuantityValue, QuantityError> {
        let (number, suffix) = split_number(text.trim())?;
        let multiplier = Multiplier::from_suffix(suffix)?;
        let nanos = number.to_nanos(multiplier)?;
        Ok(QuantityValue { nanos })
    }

    /// Parses the string inside a k8s-openapi [`Quantity`].
    pub fn from_quantity(quantity: &Quantity) -> Result<QuantityValue, QuantityError> {
        QuantityValue::parse(&quantity.0)
    }

    /// A whole number of units.
    pub fn from_units(units: i64) -> QuantityValue {
        QuantityValue {
            nanos: i128::from(units) * NANOS_PER_UNIT,
        }
    }

    /// The value in nano-units.
    pub fn nanos(self) -> i128 {
        self.nanos
    }

    /// True for zero.
    pub fn is_zero(self) -> bool {
        self.nanos == 0
    }

    /// The value in whole units, rounded away from zero like upstream's `Quantity.Value()`
    /// (so `1500m` is 2), saturating at the `i64` range.
    pub fn value(self) -> i64 {
        scaled(self.nanos, NANOS_PER_UNIT)
    }

    /// The value in thousandths, rounded away from zero like `Quantity.MilliValue()`.
    pub fn milli_value(self) -> i64 {
        scaled(self.nanos, 1_000_000)
    }

    /// The sum of two quantities, `None` on overflow.
    pub fn checked_add(self, other: QuantityValue) -> Option<QuantityValue> {
        self.nanos
            .checked_add(other.nanos)
            .map(|nanos| QuantityValue { nanos })
    }
}

impl fmt::Display for QuantityValue {
    /// Plain decimal units (`1.5`, `1073741824`), for messages; not the canonical API form.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let units = self.nanos / NANOS_PER_UNIT;
        let frac = (self.nanos % NANOS_PER_UNIT).unsigned_abs();
        if self.nanos < 0 && units == 0 {
            f.write_str("-")?;
        }
        if frac == 0 {
            write!(f, "{units}")
        } else {
            let digits = format!("{frac:09}");
            write!(f, "{units}.{}", digits.trim_end_matches('0'))
        }
    }
}

/// `nanos / per`, rounded away from zero and clamped into `i64`.
fn scaled(nanos: i128, per: i128) -> i64 {
    let quotient = nanos / per;
    let rounded = if nanos % per == 0 {
        quotient
    } else if nanos > 0 {
        quotient + 1
    } else {
        quotient - 1
    };
    i64::try_from(rounded).unwrap_or(if rounded > 0 { i64::MAX } else { i64::MIN })
}

/// The number part: sign, all its digits as one integer, and how many of them followed the point.
struct Number {
    negative: bool,
    digits: i128,
    fraction_len: u32,
}

/// The most significant digits kept; more than this cannot be exact in an `i128` anyway.
const MAX_DIGITS: usize = 36;

fn split_number(text: &str) -> Result<(Number, &str), QuantityError> {
    let bytes = text.as_bytes();
    let mut pos = 0;
    let mut negative = false;
    if let Some(&sign) = bytes.first()
        && (sign == b'+' || sign == b'-')
    {
        negative = sign == b'-';
        pos = 1;
    }
    let mut digits: i128 = 0;
    let mut count = 0usize;
    let mut fraction_len = 0u32;
    let mut seen_point = false;
    let mut seen_digit = false;
    while let Some(&b) = bytes.get(pos) {
        match b {
            b'0'..=b'9' => {
                seen_digit = true;
                // Leading zeros do not count against the digit budget.
                if digits != 0 || b != b'0' {
                    count += 1;
                }
                if count > MAX_DIGITS {
                    return Err(QuantityError::Range);
                }
                digits = digits * 10 + i128::from(b - b'0');
                if seen_point {
                    fraction_len += 1;
                }
            }
            b'.' if !seen_point => seen_point = true,
            _ => break,
        }
        pos += 1;
    }
    if !seen_digit {
        return Err(QuantityError::Format);
    }
    let suffix = text.get(pos..).ok_or(QuantityError::Format)?;
    Ok((
        Number {
            negative,
            digits,
            fraction_len,
        },
        suffix,
    ))
}

/// What the suffix multiplies the number by.
enum Multiplier {
    /// 10^n.
    Decimal(i32),
    /// 1024^n.
    Binary(u32),
}

impl Multiplier {
    fn from_suffix(suffix: &str) -> Result<Multiplier, QuantityError> {
        let multiplier = match suffix {
            "" => Multiplier::Decimal(0),
            "n" => Multiplier::Decimal(-9),
            "u" => Multiplier::Decimal(-6),
            "m" => Multiplier::Decimal(-3),
            "k" => Multiplier::Decimal(3),
            "M" => Multiplier::Decimal(6),
            "G" => Multiplier::Decimal(9),
            "T" => Multiplier::Decimal(12),
            "P" => Multiplier::Decimal(15),
            "E" => Multiplier::Decimal(18),
            "Ki" => Multiplier::Binary(1),
            "Mi" => Multiplier::Binary(2),
            "Gi" => Multiplier::Binary(3),
            "Ti" => Multiplier::Binary(4),
            "Pi" => Multiplier::Binary(5),
            "Ei" => Multiplier::Binary(6),
            other => return parse_exponent(other),
        };
        Ok(multiplier)
    }
}

fn parse_exponent(suffix: &str) -> Result<Multiplier, QuantityError> {
    let unknown = || QuantityError::Suffix(suffix.to_owned());
    let rest = suffix.strip_prefix(['e', 'E']).ok_or_else(unknown)?;
    let unsigned = rest.strip_prefix(['+', '-']).unwrap_or(rest);
    if unsigned.is_empty() || !unsigned.bytes().all(|b| b.is_ascii_digit()) {
        return Err(unknown());
    }
    let exponent: i32 = rest.parse().map_err(|_| QuantityError::Range)?;
    Ok(Multiplier::Decimal(exponent))
}

impl Number {
    fn to_nanos(&self, multiplier: Multiplier) -> Result<i128, QuantityError> {
        let fraction = i32::try_from(self.fraction_len).map_err(|_| QuantityError::Range)?;
        let (mantissa, exp10) = match multiplier {
            Multiplier::Decimal(exp) => (self.digits, exp),
            Multiplier::Binary(power) => {
                let factor = 1i128 << (10 * power);
                (
                    self.digits
                        .checked_mul(factor)
                        .ok_or(QuantityError::Range)?,
                    0,
                )
            }
        };
        // nanos = mantissa * 10^(exp10 + 9 - fraction)
        let exp = exp10
            .checked_add(9)
            .and_then(|e| e.checked_sub(fraction))
            .ok_or(QuantityError::Range)?;
        let magnitude = if exp >= 0 {
            let factor = pow10(exp).ok_or(QuantityError::Range)?;
            mantissa.checked_mul(factor).ok_or(QuantityError::Range)?
        } else {
            match pow10(-exp) {
                // Round up to the next nano-unit, as upstream does.
                Some(divisor) => (mantissa + divisor - 1) / divisor,
                None => i128::from(mantissa != 0),
            }
        };
        Ok(if self.negative { -magnitude } else { magnitude })
    }
}

fn pow10(exp: i32) -> Option<i128> {
    10i128.checked_pow(u32::try_from(exp).ok()?)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn nanos(text: &str) -> i128 {
        QuantityValue::parse(text).unwrap().nanos()
    }

    #[test]
    fn decimal_suffixes() {
        assert_eq!(nanos("1"), 1_000_000_000);
        assert_eq!(nanos("100m"), 100_000_000);
        assert_eq!(nanos("5n"), 5);
        assert_eq!(nanos("7u"), 7_000);
        assert_eq!(nanos("2k"), 2_000 * NANOS_PER_UNIT);
        assert_eq!(nanos("3M"), 3_000_000 * NANOS_PER_UNIT);
        assert_eq!(QuantityValue::parse("1G").unwrap().value(), 1_000_000_000);
        assert_eq!(
            QuantityValue::parse("1T").unwrap().value(),
            1_000_000_000_000
        );
        assert_eq!(
            QuantityValue::parse("1P").unwrap().value(),
            1_000_000_000_000_000
        );
        assert_eq!(
            QuantityValue::parse("1E").unwrap().value(),
            1_000_000_000_000_000_000
        );
    }

    #[test]
    fn binary_suffixes() {
        assert_eq!(QuantityValue::parse("1Ki").unwrap().value(), 1024);
        assert_eq!(
            QuantityValue::parse("64Mi").unwrap().value(),
            64 * 1024 * 1024
        );
        assert_eq!(
            QuantityValue::parse("1.5Gi").unwrap().value(),
            3 * 512 * 1024 * 1024
        );
        assert_eq!(QuantityValue::parse("2Ti").unwrap().value(), 2 << 40);
        assert_eq!(QuantityValue::parse("1Pi").unwrap().value(), 1 << 50);
        assert_eq!(QuantityValue::parse("7Ei").unwrap().value(), 7 << 60);
    }

    #[test]
    fn exponents_and_fractions() {
        assert_eq!(QuantityValue::parse("1e3").unwrap().value(), 1000);
        assert_eq!(QuantityValue::parse("1E3").unwrap().value(), 1000);
        assert_eq!(QuantityValue::parse("12e-1").unwrap().milli_value(), 1200);
        assert_eq!(QuantityValue::parse("1e+2").unwrap().value(), 100);
        assert_eq!(QuantityValue::parse("0.5").unwrap().milli_value(), 500);
        assert_eq!(QuantityValue::parse(".5").unwrap().milli_value(), 500);
        assert_eq!(QuantityValue::parse("2.").unwrap().value(), 2);
        assert_eq!(QuantityValue::parse("+1").unwrap().value(), 1);
        assert_eq!(QuantityValue::parse("-1.5").unwrap().value(), -2);
    }

    #[test]
    fn rounds_up_like_upstream() {
        // Sub-nano precision rounds up to one nano-unit.
        assert_eq!(nanos("1e-10"), 1);
        assert_eq!(nanos("0.1n"), 1);
        // Value() and MilliValue() round away from zero.
        assert_eq!(QuantityValue::parse("1500m").unwrap().value(), 2);
        assert_eq!(QuantityValue::parse("1m").unwrap().value(), 1);
        assert_eq!(QuantityValue::parse("100u").unwrap().milli_value(), 1);
        assert_eq!(QuantityValue::parse("0").unwrap().value(), 0);
    }

    #[test]
    fn refuses_bad_text() {
        for bad in [
            "", "m", "1K", "1ki", "1Gb", "abc", "1.2.3", "1e", "1e+", "1 Gi", "--1", "1mm",
        ] {
            assert!(QuantityValue::parse(bad).is_err(), "{bad:?} parsed");
        }
        assert_eq!(QuantityValue::parse("1e40"), Err(QuantityError::Range));
        assert_eq!(
            QuantityValue::parse("1e99999999999"),
            Err(QuantityError::Range)
        );
        assert_eq!(QuantityValue::parse("1e-99999").unwrap().nanos(), 1);
    }

    #[test]
    fn orders_and_displays() {
        let small = QuantityValue::parse("999Mi").unwrap();
        let large = QuantityValue::parse("1Gi").unwrap();
        assert!(small < large);
        assert_eq!(
            QuantityValue::parse("1000m").unwrap(),
            QuantityValue::parse("1").unwrap()
        );
        assert_eq!(QuantityValue::parse("250m").unwrap().to_string(), "0.25");
        assert_eq!(QuantityValue::parse("-250m").unwrap().to_string(), "-0.25");
        assert_eq!(QuantityValue::parse("2Ki").unwrap().to_string(), "2048");
    }
}
