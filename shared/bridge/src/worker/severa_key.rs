//! The Severa client for the key in Secrets Manager: one client per key value, rebuilt only
//! when the secret cache hands out a new generation, sharing one connection pool.

use crate::error::JobError;
use crate::ports::PortError;
use crate::secrets::{CachedSecret, SecretCache, SeveraCredentials};
use severa::{SeveraClient, SeveraConfig};
use std::sync::{Arc, Mutex};

/// Where the worker gets its Severa client from.
#[derive(Debug, Clone)]
pub struct SeveraSettings {
    /// Secrets Manager id (name or ARN) of the Severa API key secret.
    pub secret_id: String,
    /// Used when the secret names no endpoint ([`SeveraCredentials::endpoint_or`]).
    pub endpoint: Option<String>,
    /// Timeouts, size cap, user agent; its endpoint is the fallback (production by default).
    pub config: SeveraConfig,
}

struct Current {
    generation: u64,
    endpoint: String,
    client: SeveraClient,
}

pub(crate) struct SeveraAccess {
    secrets: Arc<SecretCache>,
    settings: SeveraSettings,
    current: Mutex<Option<Current>>,
}

impl SeveraAccess {
    pub(crate) fn new(secrets: Arc<SecretCache>, settings: SeveraSettings) -> Self {
        Self {
            secrets,
            settings,
            current: Mutex::new(None),
        }
    }

    /// The client for the cached key and the cache generation it came from.
    pub(crate) async fn client(&self) -> Result<(SeveraClient, u64), JobError> {
        let secret = self.secrets.get(&self.settings.secret_id).await?;
        self.client_for(secret)
    }

    /// Severa's quota as its last answer reported it (`Quota`/`UsedQuota` headers).
    pub(crate) fn last_quota(&self) -> Option<severa::Quota> {
        let current = self
            .current
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        current
            .as_ref()
            .map(|c| c.client.last_quota())
            .filter(|q| q.is_known())
    }

    /// A short digest of the secret in use — never the key itself — so the circuit breaker can
    /// tell a rotated key from the one Severa rejected. `reread`: read Secrets Manager afresh.
    pub(crate) async fn key_digest(&self, reread: bool) -> Result<String, JobError> {
        use secrecy::ExposeSecret;
        use sha2::{Digest, Sha256};
        let mut secret = self.secrets.get(&self.settings.secret_id).await?;
        if reread {
            secret = self
                .secrets
                .refresh(&self.settings.secret_id, secret.generation)
                .await?;
        }
        let digest = Sha256::digest(secret.value.expose_secret().as_bytes());
        Ok(digest.iter().take(8).map(|b| format!("{b:02x}")).collect())
    }

    /// The client after re-reading a key Severa rejected (one read in flight per instance).
    pub(crate) async fn refreshed(
        &self,
        seen_generation: u64,
    ) -> Result<(SeveraClient, u64), JobError> {
        let secret = self
            .secrets
            .refresh(&self.settings.secret_id, seen_generation)
            .await?;
        self.client_for(secret)
    }

    fn client_for(&self, secret: CachedSecret) -> Result<(SeveraClient, u64), JobError> {
        // The guarded value is always consistent (one assignment), so a poisoned lock is safe.
        let mut current = self
            .current
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(c) = current
            .as_ref()
            .filter(|c| c.generation == secret.generation)
        {
            return Ok((c.client.clone(), c.generation));
        }
        // A secret in the wrong format is retried: fixing the secret lets the jobs through.
        let credentials = SeveraCredentials::parse(&secret.value).map_err(|e| {
            JobError::Infrastructure(PortError {
                service: "SecretsManager",
                action: "GetSecretValue",
                message: format!("secret {}: {e}", self.settings.secret_id),
                retryable: true,
            })
        })?;
        let endpoint = credentials.endpoint_or(
            self.settings.endpoint.as_deref(),
            &self.settings.config.endpoint,
        );
        let client = match current.as_ref().filter(|c| c.endpoint == endpoint) {
            Some(c) => c.client.with_key(credentials.api_key),
            None => SeveraClient::new(
                SeveraConfig {
                    endpoint: endpoint.clone(),
                    ..self.settings.config.clone()
                },
                credentials.api_key,
            )?,
        };
        *current = Some(Current {
            generation: secret.generation,
            endpoint,
            client: client.clone(),
        });
        Ok((client, secret.generation))
    }
}
