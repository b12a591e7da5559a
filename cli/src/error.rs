//! How a failed command is reported: the exit code and the single stderr line, so scripts can
//! tell "Severa said no" (exit 2, JSON) from "we could not ask" (exit 1, text).

use severa::SeveraError;

/// Exit code for a SOAP fault.
pub const EXIT_FAULT: u8 = 2;
/// Exit code for every other failure (usage, configuration, transport).
pub const EXIT_FAILURE: u8 = 1;

/// Why a command failed.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// The command line is wrong (bad parameter, unknown name, unreadable file).
    #[error("{0}")]
    Usage(String),
    /// The call does not match Severa's service contract; nothing was sent. A usage error too
    /// (exit 1), kept apart so `--force` can override exactly these.
    #[error("{0}; not sent (--force sends it anyway)")]
    Refused(crate::contract_check::Refusals),
    /// The environment is wrong (missing key, bad endpoint).
    #[error("{0}")]
    Config(String),
    /// Severa answered with a fault, or the call failed on the way (boxed: it is large and
    /// every `Result` here would carry its size).
    #[error("{0}")]
    Severa(Box<SeveraError>),
}

impl From<SeveraError> for CliError {
    fn from(err: SeveraError) -> Self {
        Self::Severa(Box::new(err))
    }
}

impl CliError {
    pub fn exit_code(&self) -> u8 {
        match self {
            Self::Severa(e) if e.fault_kind().is_some() => EXIT_FAULT,
            _ => EXIT_FAILURE,
        }
    }

    /// The one stderr line: JSON for a SOAP fault, `bridgectl: <reason>` otherwise.
    pub fn render(&self) -> String {
        match self {
            Self::Severa(e) if e.fault_kind().is_some() => serde_json::json!({
                "error": e.type_name(),
                "message": one_line(&e.to_string()),
                "retryable": e.is_retryable(),
            })
            .to_string(),
            Self::Severa(e) if matches!(**e, SeveraError::Transport { .. }) => {
                let retry = if e.is_retryable() {
                    "retryable"
                } else {
                    "not retryable"
                };
                format!(
                    "bridgectl: {} [{}, {retry}]",
                    one_line(&e.to_string()),
                    e.type_name()
                )
            }
            other => format!("bridgectl: {}", one_line(&other.to_string())),
        }
    }
}

/// Collapses line breaks so a message from a server can never span several stderr lines.
pub fn one_line(text: &str) -> String {
    text.split(['\r', '\n'])
        .map(str::trim)
        .filter(|part| !part.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use severa::{Fault, FaultKind, Quota, TransportKind};

    #[test]
    fn faults_render_as_one_json_line_with_exit_2() {
        let err = CliError::from(SeveraError::Fault {
            operation: "GetVersion".into(),
            fault: Box::new(Fault {
                kind: FaultKind::AuthenticationFailure,
                detail_type: Some("AuthenticationFailureException".into()),
                code: "s:Client".into(),
                message: "Access\ndenied".into(),
                description: None,
            }),
            quota: Quota::default(),
        });
        assert_eq!(err.exit_code(), 2);
        let line = err.render();
        assert!(!line.contains('\n'));
        let json: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(json["error"], "AuthenticationFailureException");
        assert_eq!(json["retryable"], false);
        assert!(json["message"].as_str().unwrap().contains("Access denied"));
    }

    #[test]
    fn transport_errors_render_as_text_with_exit_1() {
        let err = CliError::from(SeveraError::Transport {
            operation: "GetVersion".into(),
            kind: TransportKind::Connect,
            status: None,
            message: "connection refused".into(),
            quota: Quota::default(),
        });
        assert_eq!(err.exit_code(), 1);
        let line = err.render();
        assert!(line.starts_with("bridgectl: "), "{line}");
        assert!(line.ends_with("[Transport.Connect, retryable]"), "{line}");
    }
}
