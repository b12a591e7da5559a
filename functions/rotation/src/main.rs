//! The rotation Lambda for the Severa API key secret. Secrets Manager invokes it once per step
//! (`createSecret`, `setSecret`, `testSecret`, `finishSecret`) with `SecretId`,
//! `ClientRequestToken` and `Step`; this file only reads the configuration, builds the clients
//! and hands each event to [`bridge::rotation::Rotation::handle`].
//!
//! The function cannot make a Severa key (only a person can, in Severa's UI): `createSecret`
//! succeeds only when an operator staged the new key as `AWSPENDING` (`bridgectl secret
//! rotate`), `testSecret` makes one authenticated Severa call with it, `finishSecret` makes it
//! `AWSCURRENT`.
//!
//! Environment:
//! - `SEVERA_ENDPOINT` (optional): where keys are tested when the secret names no endpoint
//!   (the secret's wins, as in the worker), else Severa production;
//! - `SEVERA_TIMEOUT_SECS` (optional, 1–900, default 30): the test call, whole;
//! - `RUST_LOG` (optional, default `info`): log filter. Logs are JSON lines on stdout and never
//!   contain a key.
//!
//! The AWS SDK reads the usual variables (`AWS_REGION`, credentials, `AWS_ENDPOINT_URL`). The
//! function's role needs `secretsmanager:DescribeSecret`, `GetSecretValue` and
//! `UpdateSecretVersionStage` on the secret; Secrets Manager needs `lambda:InvokeFunction`.

use bridge::aws::SecretsManagerVersions;
use bridge::function_env::{self, EnvError, EnvVars};
use bridge::rotation::{KeyCheck, Rotation, RotationEvent};
use lambda_runtime::{Error, LambdaEvent, service_fn};
use std::sync::Arc;
use std::time::Duration;

/// The function's configuration, validated before the first event.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Config {
    severa_endpoint: Option<String>,
    severa_timeout: Duration,
}

impl Config {
    /// Reads the variables through `var` (the environment in `main`, a map in tests).
    fn from_vars(var: impl Fn(&str) -> Option<String>) -> Result<Self, EnvError> {
        let env = EnvVars::new(var);
        Ok(Self {
            severa_endpoint: env.optional_url("SEVERA_ENDPOINT")?,
            severa_timeout: env.seconds("SEVERA_TIMEOUT_SECS", 30, 1..=900)?,
        })
    }
}

// One event at a time per instance, on a fraction of a vCPU: a second thread would only add
// wake-ups (README, "Deploy to AWS": runtime).
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    function_env::init_json_logging();
    let config = Config::from_vars(|name| std::env::var(name).ok()).inspect_err(|e| {
        tracing::error!(error = %e, "invalid configuration");
    })?;
    let sdk = bridge::aws::config::load().await;
    let check = KeyCheck::new(
        config.severa_endpoint.clone(),
        severa::SeveraConfig {
            connect_timeout: Duration::from_secs(5).min(config.severa_timeout),
            timeout: config.severa_timeout,
            ..Default::default()
        },
    );
    let rotation = Rotation::new(Arc::new(SecretsManagerVersions::from_config(&sdk)), check);

    lambda_runtime::run(service_fn(move |event: LambdaEvent<RotationEvent>| {
        let rotation = rotation.clone();
        async move {
            let event = event.payload;
            match rotation.handle(&event).await {
                Ok(outcome) => Ok(serde_json::json!({
                    "step": event.step.name(),
                    "outcome": format!("{outcome:?}"),
                })),
                Err(e) => {
                    tracing::error!(
                        step = event.step.name(),
                        secret_id = event.secret_id,
                        version_id = event.client_request_token,
                        error = %e,
                        "rotation step failed"
                    );
                    // Secrets Manager sees the failure and retries the rotation.
                    Err(Error::from(e))
                }
            }
        }
    }))
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn vars(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |name| map.get(name).cloned()
    }

    #[test]
    fn defaults_and_overrides() {
        let config = Config::from_vars(vars(&[])).unwrap();
        assert_eq!(config.severa_endpoint, None);
        assert_eq!(config.severa_timeout, Duration::from_secs(30));
        let config = Config::from_vars(vars(&[
            (
                "SEVERA_ENDPOINT",
                "http://127.0.0.1:8642/webservice/S3/API.svc",
            ),
            ("SEVERA_TIMEOUT_SECS", "5"),
        ]))
        .unwrap();
        assert!(config.severa_endpoint.is_some());
        assert_eq!(config.severa_timeout, Duration::from_secs(5));
    }

    #[test]
    fn errors_name_the_variable() {
        let err = Config::from_vars(vars(&[("SEVERA_ENDPOINT", "sync.severa.com")])).unwrap_err();
        assert!(err.0.contains("SEVERA_ENDPOINT"), "{err}");
        let err = Config::from_vars(vars(&[("SEVERA_TIMEOUT_SECS", "0")])).unwrap_err();
        assert!(err.0.contains("SEVERA_TIMEOUT_SECS"), "{err}");
    }
}
