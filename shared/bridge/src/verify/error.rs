//! The one error type of webhook verification, with the HTTP answer it implies.

use http::StatusCode;

use super::SecretFormatError;

/// Why a webhook delivery was not accepted.
///
/// Messages name headers and describe shapes; they never contain the secret, the expected
/// signature, or any received header value (a received signature could be a valid one replayed).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    /// A required header is absent; holds its (lowercase) name.
    #[error("missing header `{0}`")]
    MissingHeader(&'static str),
    /// A header is present but unusable (non-ASCII, empty, not a number, wrong prefix, ...).
    #[error("malformed header `{header}`: {reason}")]
    MalformedHeader {
        header: &'static str,
        reason: &'static str,
    },
    /// No supplied signature matches the body under our secret.
    #[error("signature does not match")]
    BadSignature,
    /// Authentic, but signed outside the tolerance window: a replay or a badly skewed clock.
    /// `skew_seconds` is `now - timestamp`: positive means too old, negative means from the future.
    #[error("webhook timestamp is {} by {}s (tolerance {tolerance_seconds}s)",
        if *.skew_seconds >= 0 { "too old" } else { "too far in the future" },
        .skew_seconds.unsigned_abs())]
    StaleTimestamp {
        skew_seconds: i64,
        tolerance_seconds: i64,
    },
    /// Our configured secret is unusable: an operator problem, not the caller's.
    #[error("bad signing secret format: {0}")]
    SecretFormat(#[from] SecretFormatError),
}

impl VerifyError {
    /// The status a webhook endpoint should answer with.
    ///
    /// A delivery that does not carry what authenticates it — any missing header of the scheme,
    /// or a malformed or wrong signature — is `401`; a malformed id/timestamp or a stale timestamp
    /// is `400` (the request is not a valid delivery); a bad configured secret is `500`, since
    /// only we can fix it and the sender should retry later.
    pub fn http_status(&self) -> StatusCode {
        match self {
            Self::MissingHeader(_) => StatusCode::UNAUTHORIZED,
            Self::MalformedHeader { header: h, .. } => {
                if is_signature_header(h) {
                    StatusCode::UNAUTHORIZED
                } else {
                    StatusCode::BAD_REQUEST
                }
            }
            Self::BadSignature => StatusCode::UNAUTHORIZED,
            Self::StaleTimestamp { .. } => StatusCode::BAD_REQUEST,
            Self::SecretFormat(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// A text safe to put in the response body: it names a missing or malformed header (the
    /// sender needs that to fix its request) but never a value, the secret, or why a signature
    /// did not match.
    pub fn public_message(&self) -> String {
        match self {
            Self::MissingHeader(h) => format!("missing header {h}"),
            Self::MalformedHeader { header, .. } if !is_signature_header(header) => {
                format!("malformed header {header}")
            }
            Self::StaleTimestamp { .. } => "stale timestamp".to_string(),
            Self::SecretFormat(_) => "internal error".to_string(),
            Self::MalformedHeader { .. } | Self::BadSignature => "invalid signature".to_string(),
        }
    }
}

fn is_signature_header(name: &str) -> bool {
    name == super::standard_webhooks::SIGNATURE_HEADER || name == super::toggl::SIGNATURE_HEADER
}
