//! `xs:dateTime` as Severa sends and accepts it.

use chrono::{DateTime, FixedOffset, NaiveDate, NaiveDateTime, NaiveTime, Offset, TimeZone, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::str::FromStr;

/// A date or date-time exactly as the wire gives it: date only (`2024-05-02`), local without
/// a zone (`2024-05-02T10:00:00`, WCF's "unspecified" kind), or with `Z` / an offset.
/// Fractions of a second are kept to the nanosecond.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct WireDateTime {
    pub local: NaiveDateTime,
    pub offset: Option<FixedOffset>,
    pub date_only: bool,
}

impl WireDateTime {
    pub fn date(date: NaiveDate) -> Self {
        Self {
            local: date.and_time(NaiveTime::MIN),
            offset: None,
            date_only: true,
        }
    }

    pub fn utc(at: DateTime<Utc>) -> Self {
        Self {
            local: at.naive_utc(),
            offset: Some(Utc.fix()),
            date_only: false,
        }
    }

    /// The instant in UTC. A value without a zone is read as UTC, which is how Severa documents
    /// its changed-since arguments and timestamps.
    pub fn to_utc(&self) -> DateTime<Utc> {
        match self.offset {
            Some(off) => match off.from_local_datetime(&self.local).single() {
                Some(dt) => dt.with_timezone(&Utc),
                None => Utc.from_utc_datetime(&self.local),
            },
            None => Utc.from_utc_datetime(&self.local),
        }
    }

    pub fn naive_date(&self) -> NaiveDate {
        self.local.date()
    }
}

/// Why a date-time text was not understood.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DateTimeParseError(pub String);

impl fmt::Display for DateTimeParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "not an xs:dateTime: {:?}", self.0)
    }
}

impl std::error::Error for DateTimeParseError {}

impl FromStr for WireDateTime {
    type Err = DateTimeParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let text = super::values::trim(s);
        if let Some(fast) = parse_fixed(text) {
            return Ok(fast);
        }
        let err = || DateTimeParseError(text.chars().take(64).collect());
        if text.len() == 10 {
            let date = NaiveDate::parse_from_str(text, "%Y-%m-%d").map_err(|_| err())?;
            return Ok(Self::date(date));
        }
        let (body, offset) = split_offset(text).ok_or_else(err)?;
        let local = NaiveDateTime::parse_from_str(body, "%Y-%m-%dT%H:%M:%S%.f")
            .or_else(|_| NaiveDateTime::parse_from_str(body, "%Y-%m-%dT%H:%M"))
            .map_err(|_| err())?;
        Ok(Self {
            local,
            offset,
            date_only: false,
        })
    }
}

/// Fixed-position parse of the shapes WCF writes (`YYYY-MM-DD`, `YYYY-MM-DDTHH:MM:SS[.f…]`
/// with optional `Z`); anything else falls back to the general parser.
fn parse_fixed(text: &str) -> Option<WireDateTime> {
    let b = text.as_bytes();
    let num = |range: std::ops::Range<usize>| -> Option<u32> {
        let mut v = 0u32;
        for &c in b.get(range)? {
            if !c.is_ascii_digit() {
                return None;
            }
            v = v * 10 + u32::from(c - b'0');
        }
        Some(v)
    };
    if b.len() < 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let date = NaiveDate::from_ymd_opt(num(0..4)? as i32, num(5..7)?, num(8..10)?)?;
    if b.len() == 10 {
        return Some(WireDateTime::date(date));
    }
    if b.len() < 19 || b[10] != b'T' || b[13] != b':' || b[16] != b':' {
        return None;
    }
    let (h, m, sec) = (num(11..13)?, num(14..16)?, num(17..19)?);
    let mut rest = &b[19..];
    let mut nanos = 0u32;
    if let Some((b'.', frac)) = rest.split_first() {
        let digits = frac.iter().take_while(|c| c.is_ascii_digit()).count();
        if digits == 0 || digits > 9 {
            return None;
        }
        for (i, &c) in frac[..digits].iter().enumerate() {
            nanos += u32::from(c - b'0') * 10u32.pow(8 - i as u32);
        }
        rest = &frac[digits..];
    }
    let offset = match rest {
        [] => None,
        [b'Z'] => Some(Utc.fix()),
        _ => return None,
    };
    let time = NaiveTime::from_hms_nano_opt(h, m, sec, nanos)?;
    Some(WireDateTime {
        local: date.and_time(time),
        offset,
        date_only: false,
    })
}

/// Splits `...Z`, `...+hh:mm`, `...-hh:mm` off the end of a date-time.
fn split_offset(text: &str) -> Option<(&str, Option<FixedOffset>)> {
    if let Some(body) = text.strip_suffix('Z').or_else(|| text.strip_suffix('z')) {
        return Some((body, Some(Utc.fix())));
    }
    let time_start = text.find('T')?;
    let tail = &text[time_start..];
    if let Some(rel) = tail.rfind(['+', '-']) {
        let idx = time_start + rel;
        let (body, zone) = text.split_at(idx);
        let sign = if zone.starts_with('-') { -1 } else { 1 };
        let digits = &zone[1..];
        let (h, m) = digits
            .split_once(':')
            .unwrap_or((digits.get(..2)?, digits.get(2..)?));
        let hours: i32 = h.parse().ok()?;
        let minutes: i32 = if m.is_empty() { 0 } else { m.parse().ok()? };
        if hours > 14 || minutes > 59 {
            return None;
        }
        let secs = sign * (hours * 3600 + minutes * 60);
        return Some((body, Some(FixedOffset::east_opt(secs)?)));
    }
    Some((text, None))
}

impl fmt::Display for WireDateTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.date_only {
            return write!(f, "{}", self.local.format("%Y-%m-%d"));
        }
        write!(f, "{}", self.local.format("%Y-%m-%dT%H:%M:%S%.f"))?;
        match self.offset {
            None => Ok(()),
            Some(off) if off.local_minus_utc() == 0 => f.write_str("Z"),
            Some(off) => {
                let secs = off.local_minus_utc();
                let sign = if secs < 0 { '-' } else { '+' };
                let abs = secs.abs();
                write!(f, "{sign}{:02}:{:02}", abs / 3600, (abs % 3600) / 60)
            }
        }
    }
}

impl Serialize for WireDateTime {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for WireDateTime {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

impl From<NaiveDate> for WireDateTime {
    fn from(date: NaiveDate) -> Self {
        Self::date(date)
    }
}

impl From<DateTime<Utc>> for WireDateTime {
    fn from(at: DateTime<Utc>) -> Self {
        Self::utc(at)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> WireDateTime {
        s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn accepts_every_xs_datetime_form() {
        let utc = |s: &str| parse(s).to_utc().to_rfc3339();
        assert_eq!(utc("2024-05-02"), "2024-05-02T00:00:00+00:00");
        assert_eq!(utc("2024-05-02T10:11:12"), "2024-05-02T10:11:12+00:00");
        assert_eq!(utc("2024-05-02T10:11:12Z"), "2024-05-02T10:11:12+00:00");
        assert_eq!(
            utc("2024-05-02T10:11:12.1234567"),
            "2024-05-02T10:11:12.123456700+00:00"
        );
        assert_eq!(
            utc("2024-05-02T10:11:12.5Z"),
            "2024-05-02T10:11:12.500+00:00"
        );
        assert_eq!(
            utc("2024-05-02T12:11:12+02:00"),
            "2024-05-02T10:11:12+00:00"
        );
        assert_eq!(
            utc("2024-05-02T05:11:12.25-05:00"),
            "2024-05-02T10:11:12.250+00:00"
        );
        assert_eq!(utc(" 2024-05-02T10:11 "), "2024-05-02T10:11:00+00:00");
    }

    #[test]
    fn rejects_garbage() {
        for bad in [
            "",
            "yesterday",
            "2024-13-01",
            "2024-05-02T25:00:00",
            "2024-05-02T10:00:00+99:00",
        ] {
            assert!(bad.parse::<WireDateTime>().is_err(), "{bad}");
        }
    }

    #[test]
    fn writes_back_what_it_read() {
        for s in [
            "2024-05-02",
            "2024-05-02T10:11:12",
            "2024-05-02T10:11:12Z",
            "2024-05-02T10:11:12.250+02:00",
        ] {
            assert_eq!(parse(s).to_string(), s);
        }
    }
}
