//! Secrets Manager as [`SecretSource`].

use super::error::sdk_error;
use crate::ports::{PortError, SecretSource};
use async_trait::async_trait;
use secrecy::SecretString;

const SERVICE: &str = "SecretsManager";
const ACTION: &str = "GetSecretValue";

/// Reads secret strings. No caching here: callers decide how long a value may live.
#[derive(Debug, Clone)]
pub struct SecretsManagerSource {
    client: aws_sdk_secretsmanager::Client,
}

impl SecretsManagerSource {
    pub fn new(client: aws_sdk_secretsmanager::Client) -> Self {
        Self { client }
    }

    pub fn from_config(config: &aws_config::SdkConfig) -> Self {
        Self::new(aws_sdk_secretsmanager::Client::new(config))
    }
}

#[async_trait]
impl SecretSource for SecretsManagerSource {
    /// Asks for stage AWSCURRENT explicitly: the API defaults to it, but moto (and any
    /// emulator with the same quirk) can return a stale version when the stage is left out.
    async fn current(&self, secret_id: &str) -> Result<SecretString, PortError> {
        let target = format!("secret {secret_id}");
        let output = self
            .client
            .get_secret_value()
            .secret_id(secret_id)
            .version_stage("AWSCURRENT")
            .send()
            .await
            // detail_ok = false: a garbled response body could contain the value.
            .map_err(|e| sdk_error(SERVICE, ACTION, &target, &e, false))?;
        match (output.secret_string, output.secret_binary.is_some()) {
            // Zeroed, not only freed, when the value is dropped (the SDK's own buffers are not ours).
            (Some(value), _) => Ok(severa::into_secret_string(value)),
            (None, true) => Err(PortError {
                service: SERVICE,
                action: ACTION,
                message: format!(
                    "{target}: the current version is binary (SecretBinary); store the value \
                     as a secret string"
                ),
                retryable: false,
            }),
            (None, false) => Err(PortError {
                service: SERVICE,
                action: ACTION,
                message: format!("{target}: the current version has no value"),
                retryable: false,
            }),
        }
    }
}
