//! The port rotation needs from the secret store: versions and their staging labels.

use crate::ports::PortError;
use async_trait::async_trait;
use secrecy::SecretString;
use std::collections::BTreeMap;

/// The label clients read (the worker asks for it explicitly).
pub const AWSCURRENT: &str = "AWSCURRENT";
/// The label of the version a rotation is promoting.
pub const AWSPENDING: &str = "AWSPENDING";
/// The label Secrets Manager moves to the version `AWSCURRENT` left.
pub const AWSPREVIOUS: &str = "AWSPREVIOUS";

/// A secret's versions and rotation settings (never its values).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SecretDescription {
    /// Version id → its staging labels (versions without labels are left out by the store).
    pub versions: BTreeMap<String, Vec<String>>,
    /// ARN of the rotation function attached to the secret, if any.
    pub rotation_function: Option<String>,
}

impl SecretDescription {
    /// Whether `version_id` carries `stage`.
    pub fn has_stage(&self, version_id: &str, stage: &str) -> bool {
        self.versions
            .get(version_id)
            .is_some_and(|stages| stages.iter().any(|s| s == stage))
    }

    /// The version carrying `stage` (labels are unique within a secret).
    pub fn version_with(&self, stage: &str) -> Option<&str> {
        self.versions
            .iter()
            .find(|(_, stages)| stages.iter().any(|s| s == stage))
            .map(|(id, _)| id.as_str())
    }

    /// `AWSCURRENT, AWSPENDING` or `none`, for messages.
    pub fn stages_text(&self, version_id: &str) -> String {
        match self.versions.get(version_id) {
            Some(stages) if !stages.is_empty() => stages.join(", "),
            Some(_) => "no labels".into(),
            None => "no such version".into(),
        }
    }
}

/// How a request to start a rotation was taken.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RotationStart {
    /// The store invokes the rotation function for the version.
    Started,
    /// The store refused a new rotation because one is still in progress and said it will
    /// reattempt that one; the store's message is kept for the operator.
    PreviousReattempted(String),
}

/// Secret versions and staging labels, as the rotation steps and `bridgectl secret` use them.
#[async_trait]
pub trait SecretVersions: Send + Sync {
    async fn describe(&self, secret_id: &str) -> Result<SecretDescription, PortError>;

    /// The value of `version_id` when it carries `stage`; `None` when that version has no
    /// value (the store creates an empty `AWSPENDING` version when a rotation starts without a
    /// staged key) or does not exist.
    async fn value(
        &self,
        secret_id: &str,
        version_id: &str,
        stage: &str,
    ) -> Result<Option<SecretString>, PortError>;

    /// Creates version `version_id` with `value`, labelled `AWSPENDING` only (the label moves
    /// from any older version). Idempotent for the same id and value.
    async fn put_pending(
        &self,
        secret_id: &str,
        version_id: &str,
        value: &SecretString,
    ) -> Result<(), PortError>;

    /// Moves `AWSCURRENT` to `to_version` from `from_version`; the store moves `AWSPREVIOUS`.
    async fn move_current(
        &self,
        secret_id: &str,
        to_version: &str,
        from_version: Option<&str>,
    ) -> Result<(), PortError>;

    /// Asks the store to run the attached rotation function for `version_id`.
    async fn start_rotation(
        &self,
        secret_id: &str,
        version_id: &str,
    ) -> Result<RotationStart, PortError>;
}
