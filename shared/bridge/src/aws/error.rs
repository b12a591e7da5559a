//! SDK errors → [`PortError`], with `retryable` set from the error code / HTTP status.

use crate::ports::PortError;
use aws_sdk_sqs::config::http::HttpResponse;
use aws_sdk_sqs::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};

/// Codes that mean "try again later": throttling, capacity, transient server-side trouble,
/// credentials or clock problems the SDK fixes on the next attempt.
const RETRYABLE_CODES: &[&str] = &[
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "RequestThrottled",
    "RequestThrottledException",
    "TooManyRequestsException",
    "ProvisionedThroughputExceededException",
    "RequestLimitExceeded",
    "LimitExceededException",
    "TransactionConflictException",
    "TransactionInProgressException",
    "InternalError",
    "InternalFailure",
    "InternalServerError",
    "InternalServiceError",
    "InternalServiceErrorException",
    "ServiceUnavailable",
    "ServiceUnavailableException",
    "RequestTimeout",
    "RequestTimeoutException",
    "RequestExpired",
    "ExpiredToken",
    "ExpiredTokenException",
    "IDPCommunicationError",
    "KMS.ThrottlingException",
];

/// Codes that mean a name/URL is wrong (or points at another region / account).
const NOT_FOUND_CODES: &[&str] = &[
    "ResourceNotFoundException",
    "QueueDoesNotExist",
    "AWS.SimpleQueueService.NonExistentQueue",
];

/// Codes that mean the caller's identity may not do this.
const ACCESS_CODES: &[&str] = &[
    "AccessDenied",
    "AccessDeniedException",
    "UnrecognizedClientException",
    "InvalidClientTokenId",
    "SignatureDoesNotMatch",
    "MissingAuthenticationToken",
    "KMS.AccessDeniedException",
];

/// Whether a service error is worth another attempt.
pub(crate) fn is_retryable(code: Option<&str>, status: Option<u16>) -> bool {
    match code {
        Some(c) if RETRYABLE_CODES.contains(&c) => true,
        Some(c) if NOT_FOUND_CODES.contains(&c) || ACCESS_CODES.contains(&c) => false,
        _ => matches!(status, Some(429) | Some(500..=599)),
    }
}

/// An operator's next step for a non-retryable code.
fn hint(code: Option<&str>) -> &'static str {
    match code {
        Some(c) if NOT_FOUND_CODES.contains(&c) => {
            " (check the configured name/URL, the region and the account)"
        }
        Some(c) if ACCESS_CODES.contains(&c) => {
            " (check the function role's IAM policy and the credentials in use)"
        }
        _ => "",
    }
}

/// Maps any SDK error. `target` names the resource, e.g. `queue https://…` or `table jobs`.
/// `detail_ok` is false for calls whose response may carry a secret: then transport and
/// parse errors are reported without their source chain.
pub(crate) fn sdk_error<E>(
    service: &'static str,
    action: &'static str,
    target: &str,
    err: &SdkError<E, HttpResponse>,
    detail_ok: bool,
) -> PortError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    let (message, retryable) = match err {
        SdkError::ServiceError(ctx) => {
            let e = ctx.err();
            let status = ctx.raw().status().as_u16();
            let code = e.code();
            let retryable = is_retryable(code, Some(status));
            let text = e.message().unwrap_or("no message");
            (
                format!(
                    "{target}: {} (HTTP {status}): {text}{}",
                    code.unwrap_or("unknown error"),
                    hint(code)
                ),
                retryable,
            )
        }
        SdkError::TimeoutError(_) => (format!("{target}: timed out"), true),
        SdkError::DispatchFailure(d) => {
            // A user error (bad endpoint URL, missing region) will not fix itself.
            let retryable = !d.is_user();
            (
                format!(
                    "{target}: could not send the request: {}",
                    DisplayErrorContext(err)
                ),
                retryable,
            )
        }
        SdkError::ResponseError(_) if !detail_ok => {
            (format!("{target}: the response could not be read"), true)
        }
        SdkError::ResponseError(_) => (
            format!(
                "{target}: the response could not be read: {}",
                DisplayErrorContext(err)
            ),
            true,
        ),
        SdkError::ConstructionFailure(_) => (
            format!(
                "{target}: the request could not be built (configuration: region, endpoint, \
                 credentials?): {}",
                DisplayErrorContext(err)
            ),
            false,
        ),
        _ => (format!("{target}: {}", DisplayErrorContext(err)), false),
    };
    PortError {
        service,
        action,
        message,
        retryable,
    }
}

/// A request that could not be built locally (a required field missing): a bug, not retryable.
pub(crate) fn build_error(
    service: &'static str,
    action: &'static str,
    target: &str,
    err: impl std::fmt::Display,
) -> PortError {
    PortError {
        service,
        action,
        message: format!("{target}: invalid request: {err}"),
        retryable: false,
    }
}

#[cfg(test)]
mod tests {
    use super::is_retryable;

    #[test]
    fn classification() {
        assert!(is_retryable(Some("ThrottlingException"), Some(400)));
        assert!(is_retryable(
            Some("ProvisionedThroughputExceededException"),
            Some(400)
        ));
        assert!(is_retryable(None, Some(503)));
        assert!(is_retryable(Some("Whatever"), Some(500)));
        assert!(is_retryable(None, Some(429)));
        assert!(!is_retryable(Some("ResourceNotFoundException"), Some(400)));
        assert!(!is_retryable(Some("AccessDeniedException"), Some(400)));
        assert!(!is_retryable(Some("ValidationException"), Some(400)));
        assert!(!is_retryable(
            Some("ConditionalCheckFailedException"),
            Some(400)
        ));
        assert!(!is_retryable(Some("QueueDoesNotExist"), Some(400)));
    }
}
