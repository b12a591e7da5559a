//! Standard Webhooks (<https://www.standardwebhooks.com>), symmetric `v1` scheme, as also sent by
//! Svix-powered providers.
//!
//! The sender signs `{webhook-id}.{webhook-timestamp}.{raw body}` with HMAC-SHA256 and sends
//! `webhook-signature: v1,<base64> [v1,<base64> ...]`; several entries allow secret rotation.
//! Entries of other versions (e.g. `v1a` asymmetric) are ignored, not rejected, so a sender adding
//! a scheme does not break us.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, TimeDelta, Utc};
use hmac::Mac as _;
use http::{HeaderMap, HeaderValue};

use super::mac::{self, HmacSha256};
use super::{SigningSecret, VerifyError};

/// Unique message id; stable across retries, so it doubles as the idempotency key.
pub const ID_HEADER: &str = "webhook-id";
/// Unix seconds at which the message was signed.
pub const TIMESTAMP_HEADER: &str = "webhook-timestamp";
/// Space-separated `version,signature` entries.
pub const SIGNATURE_HEADER: &str = "webhook-signature";
/// Replay window the spec and its reference libraries use (±5 minutes).
pub const DEFAULT_TOLERANCE: TimeDelta = TimeDelta::minutes(5);

/// The symmetric HMAC-SHA256 signature version.
const VERSION: &str = "v1";

/// What a successful verification vouches for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// The `webhook-id`: use it to drop redelivered duplicates.
    pub webhook_id: String,
    /// The signed `webhook-timestamp`.
    pub timestamp: DateTime<Utc>,
}

/// Verifies a received delivery from its headers and RAW body bytes.
///
/// Header names are matched case-insensitively (that is how [`HeaderMap`] stores them, and what
/// `lambda_http::Request::headers()` hands over). Several `webhook-signature` header lines are
/// treated as one space-separated list.
pub fn verify(
    headers: &HeaderMap,
    raw_body: &[u8],
    secret: &SigningSecret,
    now: DateTime<Utc>,
    tolerance: TimeDelta,
) -> Result<Verified, VerifyError> {
    let webhook_id = mac::required_header(headers, ID_HEADER)?;
    let timestamp = mac::required_header(headers, TIMESTAMP_HEADER)?;
    let mut signatures = String::new();
    for value in headers.get_all(SIGNATURE_HEADER) {
        let value = value.to_str().map_err(|_| VerifyError::MalformedHeader {
            header: SIGNATURE_HEADER,
            reason: "not visible ASCII",
        })?;
        signatures.push(' ');
        signatures.push_str(value);
    }
    if signatures.is_empty() {
        return Err(VerifyError::MissingHeader(SIGNATURE_HEADER));
    }
    verify_parts(
        webhook_id,
        timestamp,
        &signatures,
        raw_body,
        secret,
        now,
        tolerance,
    )
}

/// [`verify`] on already extracted header values, for callers that do not hold a [`HeaderMap`].
///
/// The signature is checked before the timestamp, so [`VerifyError::StaleTimestamp`] only ever
/// reports authentic-but-late deliveries (replays, skewed clocks, long retry queues), never
/// forgeries.
pub fn verify_parts(
    webhook_id: &str,
    timestamp: &str,
    signatures: &str,
    raw_body: &[u8],
    secret: &SigningSecret,
    now: DateTime<Utc>,
    tolerance: TimeDelta,
) -> Result<Verified, VerifyError> {
    if webhook_id.is_empty() {
        return Err(malformed(ID_HEADER, "empty"));
    }
    let signed_at = parse_timestamp(timestamp)?;
    if signatures.trim().is_empty() {
        return Err(malformed(SIGNATURE_HEADER, "empty"));
    }

    // The timestamp is signed as the exact header text, not a re-formatted number.
    let expected = content_mac(secret, webhook_id, timestamp, raw_body);
    let matched = signatures
        .split_ascii_whitespace()
        .filter_map(|entry| entry.split_once(','))
        .filter(|(version, _)| *version == VERSION)
        .filter_map(|(_, sig)| STANDARD.decode(sig).ok())
        // `verify_slice` compares in constant time.
        .any(|sig| expected.clone().verify_slice(&sig).is_ok());
    if !matched {
        return Err(VerifyError::BadSignature);
    }

    let skew = now.signed_duration_since(signed_at);
    if skew > tolerance || skew < -tolerance {
        return Err(VerifyError::StaleTimestamp {
            skew_seconds: skew.num_seconds(),
            tolerance_seconds: tolerance.num_seconds(),
        });
    }
    Ok(Verified {
        webhook_id: webhook_id.to_owned(),
        timestamp: signed_at,
    })
}

/// The `v1,<base64>` signature of a message, for outbound deliveries and tests.
pub fn sign(
    secret: &SigningSecret,
    webhook_id: &str,
    timestamp: DateTime<Utc>,
    raw_body: &[u8],
) -> String {
    let ts = timestamp.timestamp().to_string();
    let tag = content_mac(secret, webhook_id, &ts, raw_body)
        .finalize()
        .into_bytes();
    format!("{VERSION},{}", STANDARD.encode(tag))
}

/// The three headers of a signed outbound delivery.
///
/// Fails with [`VerifyError::MalformedHeader`] when `webhook_id` cannot be a header value
/// (control characters or non-ASCII).
pub fn signed_headers(
    secret: &SigningSecret,
    webhook_id: &str,
    timestamp: DateTime<Utc>,
    raw_body: &[u8],
) -> Result<HeaderMap, VerifyError> {
    // `HeaderValue` also takes bytes above 0x7F, but `verify` (like most receivers) reads only
    // visible ASCII: such an id would make a delivery no receiver can verify.
    let id = HeaderValue::from_str(webhook_id)
        .ok()
        .filter(|v| v.to_str().is_ok())
        .ok_or_else(|| malformed(ID_HEADER, "not a valid header value"))?;
    let signature = sign(secret, webhook_id, timestamp, raw_body);
    let mut headers = HeaderMap::with_capacity(3);
    headers.insert(ID_HEADER, id);
    headers.insert(TIMESTAMP_HEADER, HeaderValue::from(timestamp.timestamp()));
    // Base64 plus "v1," is always a valid header value; the error arm is unreachable in practice.
    let signature = HeaderValue::from_str(&signature)
        .map_err(|_| malformed(SIGNATURE_HEADER, "not a valid header value"))?;
    headers.insert(SIGNATURE_HEADER, signature);
    Ok(headers)
}

fn content_mac(
    secret: &SigningSecret,
    webhook_id: &str,
    timestamp: &str,
    raw_body: &[u8],
) -> HmacSha256 {
    let mut mac = mac::keyed(secret);
    mac.update(webhook_id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.as_bytes());
    mac.update(b".");
    mac.update(raw_body);
    mac
}

fn parse_timestamp(text: &str) -> Result<DateTime<Utc>, VerifyError> {
    let secs: i64 = text
        .parse()
        .map_err(|_| malformed(TIMESTAMP_HEADER, "not an integer of unix seconds"))?;
    DateTime::from_timestamp(secs, 0).ok_or_else(|| malformed(TIMESTAMP_HEADER, "out of range"))
}

fn malformed(header: &'static str, reason: &'static str) -> VerifyError {
    VerifyError::MalformedHeader { header, reason }
}
