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

impl From<InvalidJob> for JobError {
    fn from(e: InvalidJob) -> Self {
        Self::Malformed(e)
    }
}
