//! Secrets Manager as [`SecretVersions`]: versions, staging labels and rotation, for the
//! rotation function and `bridgectl secret`.

use super::error::sdk_error;
use crate::ports::PortError;
use crate::rotation::{AWSCURRENT, AWSPENDING, RotationStart, SecretDescription, SecretVersions};
use async_trait::async_trait;
use aws_sdk_secretsmanager::error::ProvideErrorMetadata;
use secrecy::{ExposeSecret, SecretString};

const SERVICE: &str = "SecretsManager";

/// Secret versions through the Secrets Manager API. No caching: rotation must see the store.
#[derive(Debug, Clone)]
pub struct SecretsManagerVersions {
    client: aws_sdk_secretsmanager::Client,
}

impl SecretsManagerVersions {
    pub fn new(client: aws_sdk_secretsmanager::Client) -> Self {
        Self { client }
    }

    pub fn from_config(config: &aws_config::SdkConfig) -> Self {
        Self::new(aws_sdk_secretsmanager::Client::new(config))
    }
}

fn target(secret_id: &str) -> String {
    format!("secret {secret_id}")
}

#[async_trait]
impl SecretVersions for SecretsManagerVersions {
    async fn describe(&self, secret_id: &str) -> Result<SecretDescription, PortError> {
        let out = self
            .client
            .describe_secret()
            .secret_id(secret_id)
            .send()
            .await
            .map_err(|e| sdk_error(SERVICE, "DescribeSecret", &target(secret_id), &e, true))?;
        Ok(SecretDescription {
            versions: out
                .version_ids_to_stages
                .unwrap_or_default()
                .into_iter()
                .collect(),
            // moto reports "" when no function is attached.
            rotation_function: out.rotation_lambda_arn.filter(|arn| !arn.trim().is_empty()),
        })
    }

    async fn value(
        &self,
        secret_id: &str,
        version_id: &str,
        stage: &str,
    ) -> Result<Option<SecretString>, PortError> {
        const ACTION: &str = "GetSecretValue";
        let result = self
            .client
            .get_secret_value()
            .secret_id(secret_id)
            .version_id(version_id)
            .version_stage(stage)
            .send()
            .await;
        let output = match result {
            Ok(output) => output,
            Err(e)
                if e.as_service_error()
                    .is_some_and(|se| se.is_resource_not_found_exception()) =>
            {
                return Ok(None);
            }
            // detail_ok = false: a garbled response body could contain the value.
            Err(e) => return Err(sdk_error(SERVICE, ACTION, &target(secret_id), &e, false)),
        };
        match (output.secret_string, output.secret_binary.is_some()) {
            (Some(value), _) => Ok(Some(severa::into_secret_string(value))),
            (None, true) => Err(PortError {
                service: SERVICE,
                action: ACTION,
                message: format!(
                    "{}: version {version_id} is binary (SecretBinary); stage the key as a \
                     secret string",
                    target(secret_id)
                ),
                retryable: false,
            }),
            (None, false) => Ok(None),
        }
    }

    async fn put_pending(
        &self,
        secret_id: &str,
        version_id: &str,
        value: &SecretString,
    ) -> Result<(), PortError> {
        self.client
            .put_secret_value()
            .secret_id(secret_id)
            .client_request_token(version_id)
            .secret_string(value.expose_secret())
            .version_stages(AWSPENDING)
            .send()
            .await
            .map_err(|e| sdk_error(SERVICE, "PutSecretValue", &target(secret_id), &e, false))?;
        Ok(())
    }

    async fn move_current(
        &self,
        secret_id: &str,
        to_version: &str,
        from_version: Option<&str>,
    ) -> Result<(), PortError> {
        self.client
            .update_secret_version_stage()
            .secret_id(secret_id)
            .version_stage(AWSCURRENT)
            .move_to_version_id(to_version)
            .set_remove_from_version_id(from_version.map(str::to_string))
            .send()
            .await
            .map_err(|e| {
                sdk_error(
                    SERVICE,
                    "UpdateSecretVersionStage",
                    &target(secret_id),
                    &e,
                    true,
                )
            })?;
        Ok(())
    }

    async fn start_rotation(
        &self,
        secret_id: &str,
        version_id: &str,
    ) -> Result<RotationStart, PortError> {
        let result = self
            .client
            .rotate_secret()
            .secret_id(secret_id)
            .client_request_token(version_id)
            .send()
            .await;
        match result {
            Ok(_) => Ok(RotationStart::Started),
            // With AWSPENDING already on another version than AWSCURRENT (ours, just staged),
            // Secrets Manager may answer that a previous rotation is in progress and will be
            // reattempted — that rotation is ours. The caller watches the labels either way.
            Err(e)
                if e.as_service_error().is_some_and(|se| {
                    se.is_invalid_request_exception()
                        && se
                            .message()
                            .is_some_and(|m| m.to_ascii_lowercase().contains("previous rotation"))
                }) =>
            {
                let message = e
                    .as_service_error()
                    .and_then(|se| se.message())
                    .unwrap_or_default()
                    .to_string();
                Ok(RotationStart::PreviousReattempted(message))
            }
            Err(e) => Err(sdk_error(
                SERVICE,
                "RotateSecret",
                &target(secret_id),
                &e,
                true,
            )),
        }
    }
}
