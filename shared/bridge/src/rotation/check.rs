//! Testing a Severa API key: the one check `testSecret` and `bridgectl secret rotate|--check`
//! share, so "accepted" means the same everywhere.

use crate::secrets::SeveraCredentials;
use severa::{FaultKind, SeveraClient, SeveraConfig, SeveraError};

/// Tests keys with `GetEntitySchemaVersion`: one call, a tiny answer, and authenticated like
/// every Severa call (each answer carries the organisation's quota headers, so Severa must know
/// whose key it is). Severa also recommends calling it on every run.
#[derive(Debug, Clone)]
pub struct KeyCheck {
    /// Used when the secret names no endpoint, as in the worker.
    endpoint_override: Option<String>,
    /// Timeouts and user agent; its endpoint is the fallback (production by default).
    config: SeveraConfig,
}

/// Severa accepted the key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyAccepted {
    pub endpoint: String,
    pub entity_schema_version: String,
}

/// Why a key did not pass. Never contains the key.
#[derive(Debug, Clone, thiserror::Error)]
pub enum KeyCheckError {
    /// Severa answered `AuthenticationFailureException`: the key is wrong, revoked, or its user
    /// is inactive.
    #[error(
        "the key was rejected by Severa at {endpoint} ({fault}): check that the whole key was \
         copied from Severa (user profile → SOAP API), that it is the newest one, and that the \
         API user is active"
    )]
    Rejected { endpoint: String, fault: String },
    /// Severa could not be asked, or answered something that proves nothing about the key.
    #[error("the key could not be tested against Severa at {endpoint}: {reason}")]
    Unverified {
        endpoint: String,
        reason: String,
        retryable: bool,
    },
}

impl KeyCheckError {
    /// Whether Severa said no to the key itself (as opposed to "could not tell").
    pub fn is_rejection(&self) -> bool {
        matches!(self, Self::Rejected { .. })
    }
}

impl KeyCheck {
    pub fn new(endpoint_override: Option<String>, config: SeveraConfig) -> Self {
        Self {
            endpoint_override: endpoint_override.filter(|e| !e.trim().is_empty()),
            config,
        }
    }

    /// The endpoint a key is tested at: where the worker will use it
    /// ([`SeveraCredentials::endpoint_or`]).
    pub fn endpoint_for(&self, credentials: &SeveraCredentials) -> String {
        credentials.endpoint_or(self.endpoint_override.as_deref(), &self.config.endpoint)
    }

    /// One authenticated call with the key; `Ok` only when Severa answered it.
    pub async fn check(
        &self,
        credentials: &SeveraCredentials,
    ) -> Result<KeyAccepted, KeyCheckError> {
        let endpoint = self.endpoint_for(credentials);
        let key = credentials.api_key.clone();
        let client = SeveraClient::new(
            SeveraConfig {
                endpoint: endpoint.clone(),
                ..self.config.clone()
            },
            key,
        )
        .map_err(|e| unverified(&endpoint, &e, credentials))?;
        match client.get_entity_schema_version().await {
            Ok(answer) => Ok(KeyAccepted {
                endpoint,
                entity_schema_version: answer.value,
            }),
            Err(e) if e.fault_kind() == Some(FaultKind::AuthenticationFailure) => {
                Err(KeyCheckError::Rejected {
                    endpoint,
                    fault: e.type_name(),
                })
            }
            Err(e) => Err(unverified(&endpoint, &e, credentials)),
        }
    }
}

/// Severa's own text is kept (quota, maintenance), minus the key should a server echo it.
fn unverified(endpoint: &str, err: &SeveraError, credentials: &SeveraCredentials) -> KeyCheckError {
    KeyCheckError::Unverified {
        endpoint: endpoint.to_string(),
        reason: redact(&err.to_string(), credentials.api_key.expose()),
        retryable: err.is_retryable(),
    }
}

/// Replaces `key` in `text` (keys shorter than 4 characters are left: they would mangle text
/// and cannot be real Severa keys).
pub(crate) fn redact(text: &str, key: &str) -> String {
    let key = key.trim();
    if key.len() < 4 {
        return text.to_string();
    }
    text.replace(key, "<redacted>")
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::SecretString;

    #[test]
    fn endpoint_order_is_secret_then_configured_then_production() {
        let json = SeveraCredentials::parse(&SecretString::from(
            r#"{"api_key":"k-123456","endpoint":"http://secret/API.svc"}"#,
        ))
        .unwrap();
        let plain = SeveraCredentials::parse(&SecretString::from("k-123456")).unwrap();
        let config = SeveraConfig::with_endpoint("http://config/API.svc");
        let configured = KeyCheck::new(Some("http://configured/API.svc".into()), config.clone());
        // A key for another environment is never sent to the configured one.
        assert_eq!(configured.endpoint_for(&json), "http://secret/API.svc");
        assert_eq!(configured.endpoint_for(&plain), "http://configured/API.svc");
        let without = KeyCheck::new(Some("  ".into()), config);
        assert_eq!(without.endpoint_for(&json), "http://secret/API.svc");
        assert_eq!(without.endpoint_for(&plain), "http://config/API.svc");
    }

    #[test]
    fn redaction() {
        assert_eq!(redact("a key-123 b", "key-123"), "a <redacted> b");
        assert_eq!(redact("abc", "ab"), "abc");
    }
}
