//! What `bridgectl secret rotate` does: test the new key, stage it as `AWSPENDING` in the shape
//! of the current value, then either let Secrets Manager run the rotation function and watch
//! the outcome, or run the same four steps here (no rotation function attached, e.g. moto).

use super::check::{KeyAccepted, KeyCheck, KeyCheckError};
use super::steps::{Rotation, RotationError, RotationEvent, RotationStep, StepOutcome};
use super::versions::{
    AWSCURRENT, AWSPENDING, AWSPREVIOUS, RotationStart, SecretDescription, SecretVersions,
};
use crate::ports::PortError;
use crate::secrets::SeveraCredentials;
use severa::ApiKey;
use std::sync::Arc;
use std::time::Duration;

/// Where the four steps ran.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RotationMode {
    /// In this process, through the same [`Rotation`] code the rotation function runs.
    InProcess,
    /// In the rotation function attached to the secret, started with `RotateSecret`.
    RotationFunction,
}

impl RotationMode {
    pub fn name(self) -> &'static str {
        match self {
            Self::InProcess => "in-process",
            Self::RotationFunction => "rotation-function",
        }
    }
}

/// A finished rotation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RotationReport {
    pub secret_id: String,
    /// The version that is `AWSCURRENT` now.
    pub version_id: String,
    /// The version that was `AWSCURRENT` before (now `AWSPREVIOUS`).
    pub previous_version_id: Option<String>,
    pub mode: RotationMode,
    /// Where Severa accepted the new key.
    pub endpoint: String,
}

/// Why `bridgectl secret rotate` stopped. Never contains a key.
#[derive(Debug, Clone, thiserror::Error)]
pub enum OperatorError {
    /// The new key failed the pre-check; nothing was staged.
    #[error("nothing was staged: {0}")]
    NewKeyRejected(KeyCheckError),
    /// The new key could not be tested; nothing was staged.
    #[error("nothing was staged: {0}")]
    NewKeyUntested(KeyCheckError),
    #[error(
        "the new key is staged as version {version_id} of secret {secret_id}, but the rotation \
         failed: {source}"
    )]
    Rotation {
        secret_id: String,
        version_id: String,
        source: RotationError,
    },
    #[error(
        "the new key is staged as version {version_id} of secret {secret_id}, but Secrets Manager \
         has not made it AWSCURRENT within {waited_secs} s. Secrets Manager retries failed steps \
         on its own; the reason is in the rotation function's logs ({function}). Watch with \
         `aws secretsmanager describe-secret --secret-id {secret_id}`; AWSCURRENT (the key in \
         use) is unchanged until it finishes. If the function cannot run, stage the key again \
         with `bridgectl secret rotate --in-process`, which runs the steps from here"
    )]
    NotFinished {
        secret_id: String,
        version_id: String,
        waited_secs: u64,
        function: String,
    },
    #[error(
        "version {version_id} of secret {secret_id} stopped being AWSPENDING before it became \
         AWSCURRENT (its labels now: {stages}): another key was staged or the rotation was \
         cancelled; AWSCURRENT is unchanged"
    )]
    Superseded {
        secret_id: String,
        version_id: String,
        stages: String,
    },
    #[error(transparent)]
    Store(PortError),
}

impl OperatorError {
    /// Whether Severa itself refused the key (exit code 2 in `bridgectl`).
    pub fn is_key_rejection(&self) -> bool {
        matches!(
            self,
            Self::NewKeyRejected(_)
                | Self::Rotation {
                    source: RotationError::KeyRejected { .. },
                    ..
                }
        )
    }
}

/// The operator's side of a rotation.
#[derive(Clone)]
pub struct Operator {
    versions: Arc<dyn SecretVersions>,
    check: KeyCheck,
    rotation: Rotation,
    poll_interval: Duration,
}

impl Operator {
    pub fn new(versions: Arc<dyn SecretVersions>, check: KeyCheck) -> Self {
        Self {
            rotation: Rotation::new(versions.clone(), check.clone()),
            versions,
            check,
            poll_interval: Duration::from_secs(2),
        }
    }

    /// How often the outcome of a rotation run by Secrets Manager is looked up.
    pub fn with_poll_interval(mut self, interval: Duration) -> Self {
        self.poll_interval = interval;
        self
    }

    /// Tests `key` as the rotation would: at the endpoint of `secret_id`'s current value (when
    /// given and no override is set). Stages nothing.
    pub async fn check_key(
        &self,
        secret_id: Option<&str>,
        key: ApiKey,
    ) -> Result<KeyAccepted, OperatorError> {
        let endpoint = match secret_id {
            Some(secret_id) => {
                let description = self.describe(secret_id).await?;
                self.current_credentials(secret_id, &description)
                    .await?
                    .and_then(|c| c.endpoint)
            }
            None => None,
        };
        let credentials = SeveraCredentials {
            api_key: key,
            endpoint,
        };
        self.check
            .check(&credentials)
            .await
            .map_err(pre_check_error)
    }

    /// Tests `key`, stages it as version `version_id` (`AWSPENDING`, same shape as the current
    /// value: JSON keeps its endpoint) and runs the rotation: through the attached rotation
    /// function unless `in_process` is asked for or none is attached. Waits up to `wait` for a
    /// rotation function.
    pub async fn rotate(
        &self,
        secret_id: &str,
        key: ApiKey,
        version_id: &str,
        in_process: bool,
        wait: Duration,
    ) -> Result<RotationReport, OperatorError> {
        let description = self.describe(secret_id).await?;
        let endpoint = self
            .current_credentials(secret_id, &description)
            .await?
            .and_then(|c| c.endpoint);
        let new = SeveraCredentials {
            api_key: key,
            endpoint,
        };
        let accepted = self.check.check(&new).await.map_err(pre_check_error)?;
        self.versions
            .put_pending(secret_id, version_id, &new.to_secret_string())
            .await
            .map_err(OperatorError::Store)?;
        tracing::info!(
            secret_id,
            version_id,
            "new key staged as AWSPENDING after Severa accepted it"
        );
        let function = description.rotation_function.filter(|_| !in_process);
        let (mode, previous_version_id) = match function {
            None => (
                RotationMode::InProcess,
                self.run_steps(secret_id, version_id).await?,
            ),
            Some(function) => {
                match self
                    .versions
                    .start_rotation(secret_id, version_id)
                    .await
                    .map_err(OperatorError::Store)?
                {
                    RotationStart::Started => {}
                    RotationStart::PreviousReattempted(message) => tracing::info!(
                        secret_id,
                        version_id,
                        message,
                        "Secrets Manager reattempts the pending rotation, which is this version"
                    ),
                }
                let previous = self
                    .wait_for(secret_id, version_id, wait, &function)
                    .await?;
                (RotationMode::RotationFunction, previous)
            }
        };
        Ok(RotationReport {
            secret_id: secret_id.to_string(),
            version_id: version_id.to_string(),
            previous_version_id,
            mode,
            endpoint: accepted.endpoint,
        })
    }

    /// The four steps in order, as Secrets Manager would invoke them; returns the version that
    /// was `AWSCURRENT` before.
    pub async fn run_steps(
        &self,
        secret_id: &str,
        version_id: &str,
    ) -> Result<Option<String>, OperatorError> {
        let mut previous = None;
        for step in RotationStep::ALL {
            let event = RotationEvent {
                step,
                secret_id: secret_id.to_string(),
                client_request_token: version_id.to_string(),
            };
            let outcome =
                self.rotation
                    .handle(&event)
                    .await
                    .map_err(|source| OperatorError::Rotation {
                        secret_id: secret_id.to_string(),
                        version_id: version_id.to_string(),
                        source,
                    })?;
            if let StepOutcome::Promoted { previous: p } = outcome {
                previous = p;
            }
        }
        Ok(previous)
    }

    /// Polls the secret until `version_id` is `AWSCURRENT` (then returns the `AWSPREVIOUS`
    /// version), stops being `AWSPENDING`, or `wait` passes. `function` names the rotation
    /// function for the operator's next step.
    pub async fn wait_for(
        &self,
        secret_id: &str,
        version_id: &str,
        wait: Duration,
        function: &str,
    ) -> Result<Option<String>, OperatorError> {
        let started = tokio::time::Instant::now();
        loop {
            let description = self.describe(secret_id).await?;
            if description.has_stage(version_id, AWSCURRENT) {
                return Ok(description.version_with(AWSPREVIOUS).map(str::to_string));
            }
            if !description.has_stage(version_id, AWSPENDING) {
                return Err(OperatorError::Superseded {
                    secret_id: secret_id.to_string(),
                    version_id: version_id.to_string(),
                    stages: description.stages_text(version_id),
                });
            }
            if started.elapsed() >= wait {
                return Err(OperatorError::NotFinished {
                    secret_id: secret_id.to_string(),
                    version_id: version_id.to_string(),
                    waited_secs: wait.as_secs(),
                    function: function.to_string(),
                });
            }
            tokio::time::sleep(self.poll_interval).await;
        }
    }

    async fn describe(&self, secret_id: &str) -> Result<SecretDescription, OperatorError> {
        self.versions
            .describe(secret_id)
            .await
            .map_err(OperatorError::Store)
    }

    /// The current value, parsed; `None` (and a warning) when there is none or it does not
    /// parse — staging a good key is how such a secret gets fixed.
    async fn current_credentials(
        &self,
        secret_id: &str,
        description: &SecretDescription,
    ) -> Result<Option<SeveraCredentials>, OperatorError> {
        let Some(current) = description.version_with(AWSCURRENT) else {
            tracing::warn!(secret_id, "the secret has no AWSCURRENT version yet");
            return Ok(None);
        };
        let Some(value) = self
            .versions
            .value(secret_id, current, AWSCURRENT)
            .await
            .map_err(OperatorError::Store)?
        else {
            return Ok(None);
        };
        match SeveraCredentials::parse(&value) {
            Ok(credentials) => Ok(Some(credentials)),
            Err(e) => {
                tracing::warn!(
                    secret_id,
                    error = %e,
                    "the current value is not a Severa key secret; the new key is staged as a plain key"
                );
                Ok(None)
            }
        }
    }
}

fn pre_check_error(err: KeyCheckError) -> OperatorError {
    if err.is_rejection() {
        OperatorError::NewKeyRejected(err)
    } else {
        OperatorError::NewKeyUntested(err)
    }
}
