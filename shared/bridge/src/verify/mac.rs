//! HMAC-SHA256 and header helpers shared by the provider schemes.

use hmac::{Hmac, Mac};
use http::HeaderMap;
use sha2::Sha256;

use super::{SigningSecret, VerifyError};

pub(crate) type HmacSha256 = Hmac<Sha256>;

/// HMAC-SHA256 keyed with `secret`, ready for `update`.
pub(crate) fn keyed(secret: &SigningSecret) -> HmacSha256 {
    match HmacSha256::new_from_slice(secret.key()) {
        Ok(mac) => mac,
        // HMAC takes keys of any length (RFC 2104 hashes long keys, pads short ones), so hmac's
        // `new_from_slice` has no failing path; falling back to some default key would be far
        // worse than stopping, as a forger could sign with that key.
        Err(_) => unreachable!("HMAC accepts keys of any length"),
    }
}

/// The header's value as text; `None` when absent, an error when not visible ASCII.
pub(crate) fn header_str<'h>(
    headers: &'h HeaderMap,
    name: &'static str,
) -> Result<Option<&'h str>, VerifyError> {
    match headers.get(name) {
        None => Ok(None),
        Some(v) => v
            .to_str()
            .map(Some)
            .map_err(|_| VerifyError::MalformedHeader {
                header: name,
                reason: "not visible ASCII",
            }),
    }
}

/// Like [`header_str`] but absence is an error naming the header.
pub(crate) fn required_header<'h>(
    headers: &'h HeaderMap,
    name: &'static str,
) -> Result<&'h str, VerifyError> {
    header_str(headers, name)?.ok_or(VerifyError::MissingHeader(name))
}
