//! The error taxonomy of a Severa call: typed SOAP faults, transport failures, and the one
//! place that decides whether an error is worth retrying.

use serde::Serialize;
use std::fmt;

/// Severa's daily call quota as reported in the `Quota` / `UsedQuota` SOAP response headers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Quota {
    /// Daily limit for the organisation (`Quota`).
    pub limit: Option<u64>,
    /// Calls used so far today, UTC (`UsedQuota`).
    pub used: Option<u64>,
}

impl Quota {
    /// Share of the daily quota used, 0.0..=1.0 (and above when overrun), if both headers came.
    pub fn used_share(&self) -> Option<f64> {
        match (self.used, self.limit) {
            (Some(used), Some(limit)) if limit > 0 => Some(used as f64 / limit as f64),
            _ => None,
        }
    }

    pub fn is_known(&self) -> bool {
        self.limit.is_some() || self.used.is_some()
    }
}

/// The typed fault detail Severa puts in `s:Fault/detail` (namespace `Severa.API`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum FaultKind {
    AuthenticationFailure,
    NoPermission,
    Validation,
    NotFound,
    GeneralFailure,
    QuotaLimitExceeded,
    TosNotApproved,
}

impl FaultKind {
    pub const ALL: [FaultKind; 7] = [
        FaultKind::AuthenticationFailure,
        FaultKind::NoPermission,
        FaultKind::Validation,
        FaultKind::NotFound,
        FaultKind::GeneralFailure,
        FaultKind::QuotaLimitExceeded,
        FaultKind::TosNotApproved,
    ];

    /// Maps the local name of the `detail` child; anything unknown is a general failure.
    pub fn from_detail_name(name: &str) -> Self {
        match name {
            "AuthenticationFailureException" => Self::AuthenticationFailure,
            "NoPermissionException" => Self::NoPermission,
            "ValidationException" => Self::Validation,
            "NotFoundException" => Self::NotFound,
            "QuotaLimitExceededException" => Self::QuotaLimitExceeded,
            "TosNotApprovedException" => Self::TosNotApproved,
            _ => Self::GeneralFailure,
        }
    }

    /// The detail element name Severa uses for this kind.
    pub fn detail_name(self) -> &'static str {
        match self {
            Self::AuthenticationFailure => "AuthenticationFailureException",
            Self::NoPermission => "NoPermissionException",
            Self::Validation => "ValidationException",
            Self::NotFound => "NotFoundException",
            Self::GeneralFailure => "GeneralFailureException",
            Self::QuotaLimitExceeded => "QuotaLimitExceededException",
            Self::TosNotApproved => "TosNotApprovedException",
        }
    }

    /// What an operator should do about it; appended to error messages.
    pub fn hint(self) -> &'static str {
        match self {
            Self::AuthenticationFailure => {
                "check that the API add-on is active, the API user has the API right and SOAP API enabled, and the stored key is that user's current key"
            }
            Self::NoPermission => {
                "the API user's access profile does not allow this; give it wider rights"
            }
            Self::Validation => "the data sent was rejected; fix the input",
            Self::NotFound => "the referenced record does not exist in Severa",
            Self::GeneralFailure => "Severa could not process the request",
            Self::QuotaLimitExceeded => {
                "the daily call quota is used up; it resets at the UTC day change"
            }
            Self::TosNotApproved => "the API terms of service have not been approved in Severa",
        }
    }
}

impl fmt::Display for FaultKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.detail_name())
    }
}

/// A SOAP fault as Severa sent it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fault {
    pub kind: FaultKind,
    /// Local name of the detail element as received (kept when it is not one we know).
    pub detail_type: Option<String>,
    /// `faultcode`, e.g. `s:Client`.
    pub code: String,
    /// `faultstring`.
    pub message: String,
    /// `detail/*/Description`.
    pub description: Option<String>,
}

impl Fault {
    /// The most specific human-readable text Severa gave.
    pub fn text(&self) -> &str {
        match &self.description {
            Some(d) if !d.trim().is_empty() && self.message.trim().is_empty() => d,
            _ => &self.message,
        }
    }
}

/// Why a call failed without a SOAP fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum TransportKind {
    /// TCP/TLS connection could not be made.
    Connect,
    /// Connect or total timeout elapsed.
    Timeout,
    /// HTTP 429.
    RateLimited,
    /// An HTML page instead of SOAP (Severa's maintenance break).
    Maintenance,
    /// A non-SOAP HTTP error status (502/503/504 and others).
    HttpStatus,
    /// HTTP answer with no body where an envelope was expected.
    EmptyBody,
    /// The body ended or broke off before the envelope was complete.
    Truncated,
    /// The body was not a SOAP envelope.
    Malformed,
    /// A valid envelope without the result the operation always returns (e.g. a nil entity
    /// from UpdateHourEntry): Severa no longer has the record, or answered oddly.
    NoResult,
    /// The body exceeded the configured response size cap.
    TooLarge,
    /// Anything else the HTTP stack reported.
    Other,
}

impl TransportKind {
    pub fn name(self) -> &'static str {
        match self {
            Self::Connect => "Connect",
            Self::Timeout => "Timeout",
            Self::RateLimited => "RateLimited",
            Self::Maintenance => "Maintenance",
            Self::HttpStatus => "HttpStatus",
            Self::EmptyBody => "EmptyBody",
            Self::Truncated => "Truncated",
            Self::Malformed => "Malformed",
            Self::NoResult => "NoResult",
            Self::TooLarge => "TooLarge",
            Self::Other => "Other",
        }
    }
}

/// Every way a Severa call can fail. Messages never contain the API key.
#[derive(Debug, thiserror::Error)]
pub enum SeveraError {
    #[error("Severa rejected {operation} with {}: {} ({})", fault.kind, fault.text(), fault.kind.hint())]
    Fault {
        operation: String,
        /// Boxed: keeps `Result<_, SeveraError>` small on the happy path.
        fault: Box<Fault>,
        quota: Quota,
    },
    #[error("calling Severa {operation} failed ({}{}): {message}", kind.name(), status.map(|s| format!(", HTTP {s}")).unwrap_or_default())]
    Transport {
        operation: String,
        kind: TransportKind,
        status: Option<u16>,
        message: String,
        quota: Quota,
    },
    /// The request could not be built from the values given (not retryable: the input is wrong).
    #[error("cannot send {operation} to Severa: {message}")]
    Request { operation: String, message: String },
    /// The client's [`crate::CallGate`] held the call back after it waited for its slot: nothing
    /// was sent (retryable: try again when the caller's reason has passed).
    #[error("{operation} was not sent to Severa: {reason}")]
    HeldBack { operation: String, reason: String },
    #[error("Severa client configuration: {0}")]
    Config(String),
}

impl SeveraError {
    /// The one rule for retrying: transport trouble, 5xx without a fault, 429 and an exhausted
    /// quota are worth another try later; every other fault and bad input is not.
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Fault { fault, .. } => fault.kind == FaultKind::QuotaLimitExceeded,
            Self::Transport { kind, status, .. } => match kind {
                TransportKind::TooLarge => false,
                TransportKind::HttpStatus => match status {
                    Some(s) => *s >= 500 || *s == 408 || *s == 429,
                    None => true,
                },
                _ => true,
            },
            Self::HeldBack { .. } => true,
            Self::Request { .. } | Self::Config(_) => false,
        }
    }

    /// Quota headers of the failed call, when the answer carried them.
    pub fn quota(&self) -> Quota {
        match self {
            Self::Fault { quota, .. } | Self::Transport { quota, .. } => *quota,
            _ => Quota::default(),
        }
    }

    pub fn fault_kind(&self) -> Option<FaultKind> {
        match self {
            Self::Fault { fault, .. } => Some(fault.kind),
            _ => None,
        }
    }

    /// A stable, machine-readable name: the fault detail name, or `Transport.<Kind>`.
    pub fn type_name(&self) -> String {
        match self {
            Self::Fault { fault, .. } => fault
                .detail_type
                .clone()
                .unwrap_or_else(|| fault.kind.detail_name().to_string()),
            Self::Transport { kind, .. } => format!("Transport.{}", kind.name()),
            Self::Request { .. } => "InvalidRequest".to_string(),
            Self::HeldBack { .. } => "HeldBack".to_string(),
            Self::Config(_) => "Configuration".to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fault(kind: FaultKind) -> SeveraError {
        SeveraError::Fault {
            operation: "AddNewHourEntry".into(),
            fault: Box::new(Fault {
                kind,
                detail_type: Some(kind.detail_name().into()),
                code: "s:Client".into(),
                message: "m".into(),
                description: None,
            }),
            quota: Quota::default(),
        }
    }

    fn transport(kind: TransportKind, status: Option<u16>) -> SeveraError {
        SeveraError::Transport {
            operation: "GetVersion".into(),
            kind,
            status,
            message: "x".into(),
            quota: Quota::default(),
        }
    }

    #[test]
    fn only_quota_faults_are_retryable() {
        for kind in FaultKind::ALL {
            assert_eq!(
                fault(kind).is_retryable(),
                kind == FaultKind::QuotaLimitExceeded,
                "{kind}"
            );
        }
    }

    #[test]
    fn transport_errors_are_retryable_except_oversize_and_client_statuses() {
        assert!(transport(TransportKind::Connect, None).is_retryable());
        assert!(transport(TransportKind::Timeout, None).is_retryable());
        assert!(transport(TransportKind::RateLimited, Some(429)).is_retryable());
        assert!(transport(TransportKind::Maintenance, Some(503)).is_retryable());
        assert!(transport(TransportKind::HttpStatus, Some(502)).is_retryable());
        assert!(transport(TransportKind::HttpStatus, Some(504)).is_retryable());
        assert!(transport(TransportKind::Truncated, Some(200)).is_retryable());
        assert!(!transport(TransportKind::HttpStatus, Some(404)).is_retryable());
        assert!(!transport(TransportKind::TooLarge, Some(200)).is_retryable());
    }

    #[test]
    fn unknown_detail_maps_to_general_failure() {
        assert_eq!(
            FaultKind::from_detail_name("SomethingNewException"),
            FaultKind::GeneralFailure
        );
        for kind in FaultKind::ALL {
            assert_eq!(FaultKind::from_detail_name(kind.detail_name()), kind);
        }
    }
}
