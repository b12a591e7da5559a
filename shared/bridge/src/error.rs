//! The error taxonomy of a job: the one place that decides retry (back off, try again) versus
//! dead-letter (no retry can help; a person must look).

use crate::job::InvalidJob;
use crate::ports::PortError;
use severa::{FaultKind, SeveraError};

/// Why a job did not apply.
#[derive(Debug, thiserror::Error)]
pub enum JobError {
    /// The message is not a job this worker can read.
    #[error("malformed job: {0}")]
    Malformed(InvalidJob),
    /// A business key in the job matches nothing in Severa.
    #[error("{what} not found in Severa: {detail}")]
    Unresolved { what: &'static str, detail: String },
    /// Severa answered with a fault or could not be reached.
    #[error(transparent)]
    Severa(SeveraError),
    /// Severa rejected the key again after the key was re-read from the secret store: the
    /// stored key is wrong or being rotated. Retried, so a fixed secret lets the job through.
    #[error("Severa rejected the API key even after re-reading the secret: {0}")]
    KeyRejected(SeveraError),
    /// The queue, table or secret store failed.
    #[error(transparent)]
    Infrastructure(PortError),
    /// An outbound delivery to a sync's target failed.
    #[error(transparent)]
    Delivery(DeliveryError),
    /// The job could not be tried on this receive; it waits and comes back. On its last
    /// allowed receive (or past its age) it is dead-lettered with this as the reason.
    #[error(transparent)]
    Blocked(Blocked),
}

/// What kept a job from being tried (see [`JobError::Blocked`]).
#[derive(Debug, Clone, thiserror::Error)]
pub enum Blocked {
    /// Another invocation holds the job's idempotency claim (a duplicate delivery of the same
    /// job, or a redelivery while the first is still running).
    #[error("claim held by another invocation (until {until}); the job was not tried")]
    ClaimHeld { until: String },
    /// Another job of the same external record holds the record's writer lock.
    #[error(
        "another job of the same record holds the record's lock (until {until}); the job was not tried"
    )]
    RecordBusy { until: String },
    /// Severa's circuit breaker is open: the job waits without calling Severa.
    #[error("Severa's circuit breaker is open ({reason}); the job was not tried")]
    SeveraUnavailable { reason: String },
}

impl Blocked {
    /// The `error_type` of log lines and DLQ attributes.
    pub fn type_name(&self) -> &'static str {
        match self {
            Self::ClaimHeld { .. } => "InProgress",
            Self::RecordBusy { .. } => "RecordBusy",
            Self::SeveraUnavailable { .. } => "SeveraUnavailable",
        }
    }
}

/// Why the other software did not take an outbound delivery. Never carries a secret, the
/// target's query string or its answer body beyond a short excerpt.
#[derive(Debug, Clone, thiserror::Error)]
#[error("sync {sync}: {failure}")]
pub struct DeliveryError {
    pub sync: String,
    pub failure: DeliveryFailure,
}

/// The kinds of delivery failure, each with its retry rule.
#[derive(Debug, Clone, thiserror::Error)]
pub enum DeliveryFailure {
    /// The target answered a non-2xx status.
    #[error("the target {target} answered HTTP {status}{excerpt}")]
    Status {
        target: String,
        status: u16,
        /// `: <first bytes of the body>` or empty.
        excerpt: String,
    },
    /// No answer within the target's timeout.
    #[error("the target {target} did not answer within {seconds} s")]
    Timeout { target: String, seconds: u64 },
    /// Connection refused, DNS, TLS, reset.
    #[error("the target {target} could not be reached: {message}")]
    Unreachable { target: String, message: String },
    /// The worker cannot deliver this job as configured (unknown sync, no sync configuration,
    /// unreadable signing secret).
    #[error("{0}")]
    Config(String),
}

impl DeliveryFailure {
    /// Standard Webhooks receivers' contract: 2xx is success; 408, 429 and 5xx mean "later";
    /// any other 4xx (and a 3xx: redirects are not followed) means no retry will help.
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Status { status, .. } => matches!(status, 408 | 429 | 500..=599),
            Self::Timeout { .. } | Self::Unreachable { .. } => true,
            Self::Config(_) => false,
        }
    }

    fn type_name(&self) -> String {
        match self {
            Self::Status { status, .. } => format!("Delivery.HTTP{status}"),
            Self::Timeout { .. } => "Delivery.Timeout".into(),
            Self::Unreachable { .. } => "Delivery.Unreachable".into(),
            Self::Config(_) => "Delivery.Config".into(),
        }
    }
}

impl JobError {
    /// Retry (transport, 5xx, maintenance, timeouts, quota, key still rejected, AWS hiccups) or
    /// dead-letter (validation, not found, no permission, unresolvable reference, malformed).
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Malformed(_) | Self::Unresolved { .. } => false,
            Self::Severa(e) => e.is_retryable(),
            Self::KeyRejected(_) => true,
            Self::Infrastructure(e) => e.retryable,
            Self::Delivery(e) => e.failure.is_retryable(),
            Self::Blocked(_) => true,
        }
    }

    /// Stable name for DLQ attributes, logs and metrics.
    pub fn error_type(&self) -> String {
        match self {
            Self::Malformed(_) => "MalformedJob".into(),
            Self::Unresolved { .. } => "UnresolvedReference".into(),
            Self::Severa(e) => e.type_name(),
            Self::KeyRejected(_) => "KeyRejected".into(),
            Self::Infrastructure(e) => format!("{}.{}", e.service, e.action),
            Self::Delivery(e) => e.failure.type_name(),
            Self::Blocked(b) => b.type_name().into(),
        }
    }

    /// An authentication fault: the caller re-reads the key once and tries again.
    pub fn is_authentication_failure(&self) -> bool {
        matches!(self, Self::Severa(e) if e.fault_kind() == Some(FaultKind::AuthenticationFailure))
    }
}

impl From<SeveraError> for JobError {
    fn from(e: SeveraError) -> Self {
        Self::Severa(e)
    }
}

impl From<PortError> for JobError {
    fn from(e: PortError) -> Self {
        Self::Infrastructure(e)
    }
}

impl From<DeliveryError> for JobError {
    fn from(e: DeliveryError) -> Self {
        Self::Delivery(e)
    }
}

impl From<InvalidJob> for JobError {
    fn from(e: InvalidJob) -> Self {
        Self::Malformed(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(status: u16) -> JobError {
        JobError::Delivery(DeliveryError {
            sync: "invoices".into(),
            failure: DeliveryFailure::Status {
                target: "https://erp.example/hook".into(),
                status,
                excerpt: String::new(),
            },
        })
    }

    #[test]
    fn delivery_retry_rule() {
        for retried in [408, 429, 500, 502, 503, 504] {
            assert!(status(retried).is_retryable(), "{retried}");
        }
        for permanent in [301, 400, 401, 403, 404, 410, 413, 422] {
            assert!(!status(permanent).is_retryable(), "{permanent}");
        }
        assert_eq!(status(503).error_type(), "Delivery.HTTP503");
        let timeout = JobError::Delivery(DeliveryError {
            sync: "invoices".into(),
            failure: DeliveryFailure::Timeout {
                target: "https://erp.example/hook".into(),
                seconds: 10,
            },
        });
        assert!(timeout.is_retryable());
        assert_eq!(timeout.error_type(), "Delivery.Timeout");
    }
}
