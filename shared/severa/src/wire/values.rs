//! How single values travel: reading typed values from the stream and writing request values.

use super::ARRAY_PREFIX;
use super::datetime::WireDateTime;
use super::escape::{escape_text, invalid_xml_char};
use super::reader::{Child, WireError, XmlIn};
use rust_decimal::Decimal;
use std::io::BufRead;
use std::str::FromStr;

/// A request body under construction. Text is always escaped; characters XML cannot carry are
/// refused with the member's name, so bad input fails before anything is sent.
#[derive(Debug, Default)]
pub struct XmlOut {
    buf: String,
}

impl XmlOut {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn into_string(self) -> String {
        self.buf
    }

    pub fn as_str(&self) -> &str {
        &self.buf
    }

    /// Appends markup as is (the caller guarantees it is well-formed).
    pub fn raw(&mut self, markup: &str) {
        self.buf.push_str(markup);
    }

    pub fn open(&mut self, prefix: &str, name: &str) {
        self.buf.push('<');
        self.push_qname(prefix, name);
        self.buf.push('>');
    }

    pub fn close(&mut self, prefix: &str, name: &str) {
        self.buf.push_str("</");
        self.push_qname(prefix, name);
        self.buf.push('>');
    }

    /// `<p:name i:nil="true"/>`, for clearing a value explicitly.
    pub fn nil(&mut self, prefix: &str, name: &str) {
        self.buf.push('<');
        self.push_qname(prefix, name);
        self.buf.push_str(" i:nil=\"true\"/>");
    }

    /// `<p:name>escaped text</p:name>`.
    pub fn leaf(&mut self, prefix: &str, name: &str, text: &str) -> Result<(), String> {
        if let Some(c) = invalid_xml_char(text) {
            return Err(format!(
                "{name} contains the character U+{:04X}, which XML cannot carry",
                c as u32
            ));
        }
        self.open(prefix, name);
        escape_text(&mut self.buf, text);
        self.close(prefix, name);
        Ok(())
    }

    fn push_qname(&mut self, prefix: &str, name: &str) {
        if !prefix.is_empty() {
            self.buf.push_str(prefix);
            self.buf.push(':');
        }
        self.buf.push_str(name);
    }
}

/// Writes a value as the element `<prefix:name>`. Errors name the member and the reason.
pub trait ToWire {
    fn to_wire(&self, out: &mut XmlOut, prefix: &str, name: &str) -> Result<(), String>;
}

/// Reads a value from the element the reader has just entered.
pub trait FromWire: Sized {
    fn from_wire<R: BufRead>(r: &mut XmlIn<R>, child: Child) -> Result<Self, WireError>;

    /// `None` for `i:nil` (and, for non-text scalars, for empty content).
    fn from_wire_opt<R: BufRead>(
        r: &mut XmlIn<R>,
        child: Child,
    ) -> Result<Option<Self>, WireError> {
        if child.nil {
            r.skip()?;
            return Ok(None);
        }
        Self::from_wire(r, child).map(Some)
    }

    /// Reads one list item onto the end of `items`. Entities override this to decode straight
    /// into the list's storage: they are large, and moving each one out of `from_wire` and into
    /// the list costs more than filling it in place.
    fn push_from_wire<R: BufRead>(
        r: &mut XmlIn<R>,
        child: Child,
        items: &mut Vec<Self>,
    ) -> Result<(), WireError> {
        items.push(Self::from_wire(r, child)?);
        Ok(())
    }
}

/// How items of a list of this type are named on the wire.
pub trait ListItem {
    const ITEM_PREFIX: &'static str;
    const ITEM_NAME: &'static str;
}

impl ListItem for String {
    const ITEM_PREFIX: &'static str = ARRAY_PREFIX;
    const ITEM_NAME: &'static str = "string";
}

/// `str::trim`, without its Unicode-aware scan when both ends are visible ASCII (the usual case
/// for scalar text, so trimming cannot change it).
#[inline]
pub(super) fn trim(text: &str) -> &str {
    match text.as_bytes() {
        [first, .., last] if first.is_ascii_graphic() && last.is_ascii_graphic() => text,
        [only] if only.is_ascii_graphic() => text,
        _ => text.trim(),
    }
}

/// Scalars: parsed from and written as text.
pub trait Scalar: Sized {
    const EXPECTED: &'static str;
    fn parse_text(text: &str) -> Option<Self>;
    fn write_text(&self) -> String;
}

macro_rules! scalar_via_fromstr {
    ($($t:ty => $expected:literal),* $(,)?) => {$(
        impl Scalar for $t {
            const EXPECTED: &'static str = $expected;
            fn parse_text(text: &str) -> Option<Self> {
                <$t>::from_str(trim(text)).ok()
            }
            fn write_text(&self) -> String {
                self.to_string()
            }
        }
    )*};
}

scalar_via_fromstr!(i32 => "an integer", i64 => "an integer", u64 => "a non-negative integer", WireDateTime => "an xs:dateTime");

impl Scalar for f64 {
    const EXPECTED: &'static str = "a number";
    fn parse_text(text: &str) -> Option<Self> {
        match trim(text) {
            "INF" => Some(f64::INFINITY),
            "-INF" => Some(f64::NEG_INFINITY),
            "NaN" => Some(f64::NAN),
            t => t.parse().ok(),
        }
    }
    fn write_text(&self) -> String {
        self.to_string()
    }
}

impl Scalar for Decimal {
    const EXPECTED: &'static str = "a decimal number";
    fn parse_text(text: &str) -> Option<Self> {
        let t = trim(text);
        plain_decimal(t)
            .or_else(|| Decimal::from_str(t).ok())
            .or_else(|| Decimal::from_scientific(t).ok())
    }
    fn write_text(&self) -> String {
        self.normalize().to_string()
    }
}

/// `[-]digits[.digits]` with at most 18 digits, the shape WCF writes decimals in, read without
/// rust_decimal's general parser (a measurable share of a typed parse). Gives the same
/// mantissa, scale and sign as `Decimal::from_str`; anything else (`+`, `.5`, exponents, long
/// or negative-zero values) returns `None` and takes the general path.
fn plain_decimal(text: &str) -> Option<Decimal> {
    let (negative, digits) = match text.as_bytes() {
        [b'-', rest @ ..] => (true, rest),
        all => (false, all),
    };
    let (int, frac) = match digits.iter().position(|&b| b == b'.') {
        Some(dot) if dot + 1 < digits.len() => (&digits[..dot], &digits[dot + 1..]),
        Some(_) => return None,
        None => (digits, &digits[digits.len()..]),
    };
    if int.is_empty() || int.len() + frac.len() > 18 {
        return None;
    }
    // At most 18 digits: no overflow.
    let mut mantissa = 0i64;
    for part in [int, frac] {
        for &c in part {
            if !c.is_ascii_digit() {
                return None;
            }
            mantissa = mantissa * 10 + i64::from(c - b'0');
        }
    }
    if negative && mantissa == 0 {
        return None;
    }
    let mantissa = if negative { -mantissa } else { mantissa };
    Decimal::try_new(mantissa, u32::try_from(frac.len()).ok()?).ok()
}

impl Scalar for bool {
    const EXPECTED: &'static str = "true or false";
    fn parse_text(text: &str) -> Option<Self> {
        match trim(text) {
            "true" | "1" => Some(true),
            "false" | "0" => Some(false),
            _ => None,
        }
    }
    fn write_text(&self) -> String {
        if *self { "true" } else { "false" }.to_string()
    }
}

macro_rules! wire_for_scalar {
    ($($t:ty),*) => {$(
        impl FromWire for $t {
            fn from_wire<R: BufRead>(r: &mut XmlIn<R>, child: Child) -> Result<Self, WireError> {
                match Self::from_wire_opt(r, child)? {
                    Some(v) => Ok(v),
                    None => Err(WireError::BadValue {
                        member: String::new(),
                        value: String::new(),
                        expected: <$t as Scalar>::EXPECTED,
                    }),
                }
            }

            fn from_wire_opt<R: BufRead>(
                r: &mut XmlIn<R>,
                child: Child,
            ) -> Result<Option<Self>, WireError> {
                if child.nil {
                    r.skip()?;
                    return Ok(None);
                }
                r.with_text(|text| {
                    if trim(text).is_empty() {
                        return Ok(None);
                    }
                    match <$t as Scalar>::parse_text(text) {
                        Some(v) => Ok(Some(v)),
                        None => Err(WireError::BadValue {
                            member: String::new(),
                            value: text.chars().take(64).collect(),
                            expected: <$t as Scalar>::EXPECTED,
                        }),
                    }
                })?
            }
        }

        impl ToWire for $t {
            fn to_wire(&self, out: &mut XmlOut, prefix: &str, name: &str) -> Result<(), String> {
                out.leaf(prefix, name, &Scalar::write_text(self))
            }
        }
    )*};
}

wire_for_scalar!(i32, i64, u64, f64, bool, Decimal, WireDateTime);

impl FromWire for String {
    fn from_wire<R: BufRead>(r: &mut XmlIn<R>, child: Child) -> Result<Self, WireError> {
        if child.nil {
            r.skip()?;
            return Ok(String::new());
        }
        r.read_text()
    }
}

impl ToWire for String {
    fn to_wire(&self, out: &mut XmlOut, prefix: &str, name: &str) -> Result<(), String> {
        out.leaf(prefix, name, self)
    }
}

impl ToWire for str {
    fn to_wire(&self, out: &mut XmlOut, prefix: &str, name: &str) -> Result<(), String> {
        out.leaf(prefix, name, self)
    }
}

impl<T: ToWire + ?Sized> ToWire for &T {
    fn to_wire(&self, out: &mut XmlOut, prefix: &str, name: &str) -> Result<(), String> {
        (**self).to_wire(out, prefix, name)
    }
}

impl<T: FromWire> FromWire for Option<T> {
    fn from_wire<R: BufRead>(r: &mut XmlIn<R>, child: Child) -> Result<Self, WireError> {
        T::from_wire_opt(r, child)
    }
}

/// Unset members are omitted from requests.
impl<T: ToWire> ToWire for Option<T> {
    fn to_wire(&self, out: &mut XmlOut, prefix: &str, name: &str) -> Result<(), String> {
        match self {
            Some(v) => v.to_wire(out, prefix, name),
            None => Ok(()),
        }
    }
}

/// Lists: `i:nil`, an empty element and an absent element all read as empty.
impl<T: FromWire> FromWire for Vec<T> {
    fn from_wire<R: BufRead>(r: &mut XmlIn<R>, child: Child) -> Result<Self, WireError> {
        let mut items = Vec::new();
        if child.nil {
            r.skip()?;
            return Ok(items);
        }
        while let Some(item) = r.next_child()? {
            if item.nil {
                r.skip()?;
                continue;
            }
            T::push_from_wire(r, item, &mut items)?;
        }
        Ok(items)
    }
}

impl<T: ToWire + ListItem> ToWire for Vec<T> {
    fn to_wire(&self, out: &mut XmlOut, prefix: &str, name: &str) -> Result<(), String> {
        out.open(prefix, name);
        for item in self {
            item.to_wire(out, T::ITEM_PREFIX, T::ITEM_NAME)?;
        }
        out.close(prefix, name);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The fast path must give exactly what rust_decimal's parser gives (mantissa, scale, sign),
    /// or step aside for the general parser.
    #[test]
    fn plain_decimals_match_the_general_parser() {
        let fast = [
            "0",
            "1",
            "-1",
            "7.5",
            "-7.5",
            "0.0000",
            "1.50",
            "20.0100",
            "007.250",
            "999999999999999999",
            "123456789.123456789",
            "0.00000000000000001",
            "-99999999999999.9999",
        ];
        for case in fast {
            let got = plain_decimal(case).unwrap_or_else(|| panic!("{case:?}: not read"));
            let want = Decimal::from_str(case).unwrap_or_else(|e| panic!("{case:?}: {e}"));
            assert_eq!(
                (got.mantissa(), got.scale(), got.is_sign_negative()),
                (want.mantissa(), want.scale(), want.is_sign_negative()),
                "{case:?}"
            );
            assert_eq!(got.to_string(), want.to_string(), "{case:?}");
        }
        let general_only = [
            "-0",
            "-0.00",
            "9999999999999999999",
            "12345678.1234567890123",
            ".5",
            "5.",
            "+5",
            "1.2.3",
            "1e3",
            "-",
            "",
            "1_000",
            "- 1",
            "1.-2",
            "--1",
            "\u{663}",
        ];
        for case in general_only {
            assert_eq!(plain_decimal(case), None, "{case:?}");
        }
        let read = |t: &str| Decimal::parse_text(t).map(|d| d.to_string());
        assert_eq!(read(" 20.0100 ").as_deref(), Some("20.0100"));
        assert_eq!(
            read("-0.00").as_deref(),
            Decimal::from_str("-0.00")
                .ok()
                .map(|d| d.to_string())
                .as_deref()
        );
        assert_eq!(read("1e3").as_deref(), Some("1000"));
        assert_eq!(read("+5").as_deref(), Some("5"));
    }
}
