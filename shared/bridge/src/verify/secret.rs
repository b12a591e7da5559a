//! Signing secrets that cannot leak through `Debug`, `Display` or error messages.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use secrecy::{ExposeSecret, SecretSlice};

/// Prefix of Standard Webhooks symmetric secrets (`whsec_<base64 of the key bytes>`).
const WHSEC_PREFIX: &str = "whsec_";
/// Standard Webhooks requires symmetric keys of 24–64 random bytes.
const WHSEC_MIN_BYTES: usize = 24;
const WHSEC_MAX_BYTES: usize = 64;

/// An HMAC key shared with a webhook sender.
///
/// Held in a [`secrecy::SecretSlice`] so it is zeroed on drop and never printed: `Debug` and
/// `Display` both render `[REDACTED]`. The only way to read the bytes is inside this module's
/// siblings, which feed them straight into HMAC.
#[derive(Clone)]
pub struct SigningSecret(SecretSlice<u8>);

impl SigningSecret {
    /// Parses a Standard Webhooks secret: `whsec_` followed by standard (padded) base64 of 24–64
    /// key bytes, as the spec prescribes. Surrounding whitespace is rejected rather than trimmed
    /// so a stray newline from a secrets file shows up as a config error, not as every delivery
    /// failing with "bad signature".
    pub fn from_standard_webhooks(encoded: &str) -> Result<Self, SecretFormatError> {
        check_not_blank(encoded)?;
        let b64 = encoded
            .strip_prefix(WHSEC_PREFIX)
            .ok_or(SecretFormatError::MissingWhsecPrefix)?;
        // The decode error is dropped: its message can quote a byte of the secret.
        let bytes = STANDARD
            .decode(b64)
            .map_err(|_| SecretFormatError::InvalidBase64)?;
        let bytes = SecretSlice::from(bytes);
        let len = bytes.expose_secret().len();
        if !(WHSEC_MIN_BYTES..=WHSEC_MAX_BYTES).contains(&len) {
            return Err(SecretFormatError::BadKeyLength);
        }
        Ok(Self(bytes))
    }

    /// Takes a provider's plain-text secret as its UTF-8 bytes (Toggl Track uses the subscription
    /// `secret` string directly as the HMAC key).
    pub fn from_plain(secret: &str) -> Result<Self, SecretFormatError> {
        check_not_blank(secret)?;
        Ok(Self(SecretSlice::from(secret.as_bytes().to_vec())))
    }

    /// Wraps raw key bytes, e.g. freshly generated ones for an outbound endpoint.
    pub fn from_bytes(bytes: Vec<u8>) -> Result<Self, SecretFormatError> {
        if bytes.is_empty() {
            return Err(SecretFormatError::Empty);
        }
        Ok(Self(SecretSlice::from(bytes)))
    }

    /// Key bytes for the HMAC; crate-private so callers cannot log them.
    pub(crate) fn key(&self) -> &[u8] {
        self.0.expose_secret()
    }
}

fn check_not_blank(s: &str) -> Result<(), SecretFormatError> {
    if s.is_empty() {
        Err(SecretFormatError::Empty)
    } else if s.trim() != s {
        Err(SecretFormatError::SurroundingWhitespace)
    } else {
        Ok(())
    }
}

impl fmt::Debug for SigningSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SigningSecret([REDACTED])")
    }
}

impl fmt::Display for SigningSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[REDACTED]")
    }
}

/// Why a configured secret was rejected. Variants describe the shape only, never the content.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SecretFormatError {
    #[error("secret is empty")]
    Empty,
    #[error("secret has leading or trailing whitespace")]
    SurroundingWhitespace,
    #[error("secret does not start with `whsec_`")]
    MissingWhsecPrefix,
    #[error("secret after `whsec_` is not valid standard base64")]
    InvalidBase64,
    #[error("secret must decode to 24–64 bytes")]
    BadKeyLength,
}
