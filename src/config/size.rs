//! Sizes in the config file (`max_body_bytes = "16m"`), read as nginx reads
//! them.
//!
//! The webhook usually sits behind nginx, whose `client_max_body_size 16m`
//! means 16 MiB. A size here must mean the same, never silently differ from
//! the proxy in front: `k`, `m`, `g` (any case) and `KiB`, `MiB`, `GiB`,
//! `TiB` are binary; a plain number (or `B`) is bytes. Decimal-looking
//! units (`16MB`, `16mb`, `1GB`) are ambiguous, so they are refused with the
//! spelling to use instead.

use std::fmt;

use serde::de::{self, Deserializer, Unexpected, Visitor};

/// A number of bytes from the config file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Size(u64);

impl Size {
    /// The number of bytes.
    pub fn as_u64(self) -> u64 {
        self.0
    }
}

impl From<Size> for u64 {
    fn from(size: Size) -> u64 {
        size.0
    }
}

/// Why a text is not a size: the whole sentence after "expected".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SizeError(String);

impl fmt::Display for SizeError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(&self.0)
    }
}

/// The binary units (lower case) and their factors.
const BINARY: [(&str, u32); 9] = [
    ("", 0),
    ("b", 0),
    ("k", 10),
    ("kib", 10),
    ("m", 20),
    ("mib", 20),
    ("g", 30),
    ("gib", 30),
    ("tib", 40),
];

/// The decimal units refused as ambiguous, with the binary spelling to use.
const AMBIGUOUS: [(&str, &str); 4] = [("kb", "KiB"), ("mb", "MiB"), ("gb", "GiB"), ("tb", "TiB")];

/// What a size looks like, for messages.
const EXPECTED: &str = "a size such as `\"16MiB\"`, or a number of bytes";

/// Parses `16m`, `16 MiB`, `1024`; refuses `16MB` with the fix.
pub fn parse(text: &str) -> Result<u64, SizeError> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let unit = unit.trim().to_ascii_lowercase();
    let general = EXPECTED;
    if let Some((_, binary)) = AMBIGUOUS.iter().find(|(name, _)| *name == unit) {
        let short = binary.chars().next().unwrap_or('m').to_ascii_lowercase();
        return Err(SizeError(format!(
            "a binary size: `{number}{}` is ambiguous (10^n or 2^n bytes); write `{number}{binary}` or `{number}{short}` (nginx's spelling, binary), or the number of bytes",
            &text[split..].trim()
        )));
    }
    let Some((_, shift)) = BINARY.iter().find(|(name, _)| *name == unit) else {
        return Err(SizeError(general.to_owned()));
    };
    let bytes = match number.parse::<u64>() {
        Ok(whole) => whole.checked_mul(1u64 << shift),
        Err(_) => number
            .parse::<f64>()
            .ok()
            .filter(|value| value.is_finite() && *value >= 0.0)
            .map(|value| value * (1u64 << shift) as f64)
            .filter(|bytes| *bytes < u64::MAX as f64)
            .map(|bytes| bytes as u64),
    };
    bytes.ok_or_else(|| SizeError(general.to_owned()))
}

impl<'de> de::Deserialize<'de> for Size {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Size, D::Error> {
        struct SizeVisitor;

        impl Visitor<'_> for SizeVisitor {
            type Value = Size;

            fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
                formatter.write_str(EXPECTED)
            }

            fn visit_u64<E: de::Error>(self, value: u64) -> Result<Size, E> {
                Ok(Size(value))
            }

            fn visit_i64<E: de::Error>(self, value: i64) -> Result<Size, E> {
                u64::try_from(value)
                    .map(Size)
                    .map_err(|_| E::invalid_value(Unexpected::Signed(value), &self))
            }

            fn visit_str<E: de::Error>(self, value: &str) -> Result<Size, E> {
                parse(value)
                    .map(Size)
                    .map_err(|error| E::invalid_value(Unexpected::Str(value), &error.0.as_str()))
            }
        }

        deserializer.deserialize_any(SizeVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nginx_spelling_is_binary() {
        for (text, bytes) in [
            ("16m", 16 << 20),
            ("16M", 16 << 20),
            ("16MiB", 16 << 20),
            ("16 mib", 16 << 20),
            ("64k", 64 << 10),
            ("1g", 1 << 30),
            ("1GiB", 1 << 30),
            ("1.5KiB", 1536),
            ("4250000", 4_250_000),
            ("12B", 12),
        ] {
            assert_eq!(parse(text), Ok(bytes), "{text}");
        }
    }

    #[test]
    fn decimal_units_are_refused_with_the_fix() {
        for (text, fix) in [
            ("16MB", "`16MiB` or `16m`"),
            ("16mb", "`16MiB` or `16m`"),
            ("1GB", "`1GiB` or `1g`"),
            ("10 kB", "`10KiB` or `10k`"),
        ] {
            let message = parse(text).unwrap_err().0;
            assert!(message.contains(fix), "{text}: {message}");
            assert!(message.contains("ambiguous"), "{text}: {message}");
        }
        for bad in ["many", "12 parsecs", "-1m", "", "1.2.3m"] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }
}
