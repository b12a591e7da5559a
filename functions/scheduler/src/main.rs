//! The scheduler Lambda: EventBridge Scheduler invokes it with `{"sync": "<name>"}` (one
//! schedule per sync); it reads the sync's Severa records and enqueues outbound jobs. This file
//! only reads the configuration, builds the clients and hands each invocation to
//! [`bridge::sync::Scheduler::handle`].
//!
//! Environment:
//! - `JOB_QUEUE_URL`: the queue the worker reads (outbound jobs go there too);
//! - `TABLE_NAME`: the DynamoDB table (cursor, lease, schema version, enqueued markers);
//! - `SEVERA_SECRET_ID`: Secrets Manager id of the Severa API key;
//! - `SYNCS_FILE` or `SYNCS_JSON`: the sync configuration (see `examples/syncs.json`);
//! - `SEVERA_ENDPOINT` (optional): the endpoint when the secret names none (the secret's wins), else production;
//! - `SEVERA_TIMEOUT_SECS` (optional, 1–900, default 120): one Severa call, whole (changed-since
//!   reads can be large);
//! - `RUST_LOG` (optional, default `info`): log filter. Logs are JSON lines on stdout, and so
//!   are the EMF metric documents.
//!
//! The AWS SDK reads the usual variables (`AWS_REGION`, credentials, `AWS_ENDPOINT_URL`).

use bridge::aws::{DynamoTable, SecretsManagerSource, SqsQueue};
use bridge::function_env::{self, EnvError, EnvVars};
use bridge::secrets::SecretCache;
use bridge::sync::config::SyncConfig;
use bridge::sync::{Scheduler, SchedulerPorts, SchedulerSettings};
use bridge::worker::SeveraSettings;
use lambda_runtime::{Error, LambdaEvent, service_fn};
use std::sync::Arc;
use std::time::Duration;

/// The scheduler's configuration, validated before the first event.
#[derive(Debug, Clone, PartialEq)]
struct Config {
    job_queue_url: String,
    table_name: String,
    severa_secret_id: String,
    severa_endpoint: Option<String>,
    severa_timeout: Duration,
    syncs: SyncConfig,
}

impl Config {
    /// Reads the variables through `var` (the environment in `main`, a map in tests).
    fn from_vars(var: impl Fn(&str) -> Option<String>) -> Result<Self, EnvError> {
        let env = EnvVars::new(var);
        let syncs = SyncConfig::from_vars(env.lookup()).map_err(|e| EnvError(e.to_string()))?;
        Ok(Self {
            job_queue_url: env.required_url("JOB_QUEUE_URL")?,
            table_name: env.required("TABLE_NAME")?,
            severa_secret_id: env.required("SEVERA_SECRET_ID")?,
            severa_endpoint: env.optional_url("SEVERA_ENDPOINT")?,
            // Changed-since reads can be large: a longer default than the worker's.
            severa_timeout: env.seconds("SEVERA_TIMEOUT_SECS", 120, 1..=900)?,
            syncs,
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
    let ports = SchedulerPorts {
        jobs: Arc::new(SqsQueue::from_config(&sdk, &config.job_queue_url)),
        store: Arc::new(DynamoTable::from_config(&sdk, &config.table_name)),
        ledger: Arc::new(DynamoTable::from_config(&sdk, &config.table_name)),
        secrets: Arc::new(SecretCache::new(
            Arc::new(SecretsManagerSource::from_config(&sdk)),
            bridge::secrets::DEFAULT_TTL,
        )),
    };
    let severa = SeveraSettings {
        secret_id: config.severa_secret_id.clone(),
        endpoint: config.severa_endpoint.clone(),
        config: severa::SeveraConfig {
            connect_timeout: Duration::from_secs(5),
            timeout: config.severa_timeout,
            ..Default::default()
        },
    };
    let scheduler = Arc::new(Scheduler::new(
        Arc::new(config.syncs),
        ports,
        severa,
        SchedulerSettings::default(),
    ));

    lambda_runtime::run(service_fn(move |event: LambdaEvent<serde_json::Value>| {
        let scheduler = scheduler.clone();
        async move {
            let report = scheduler
                .handle(event.payload, &event.context.request_id)
                .await?;
            Ok::<serde_json::Value, Error>(serde_json::to_value(report)?)
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

    const SYNCS: &str = r#"{"syncs": {"accounts": {"read": "accounts", "schedule": "rate(1 day)",
        "first_run": {"from": "now"},
        "target": {"url": "https://erp.example/hooks", "secret_id": "erp-signing"}}}}"#;

    fn base() -> Vec<(&'static str, &'static str)> {
        vec![
            (
                "JOB_QUEUE_URL",
                "https://sqs.eu-north-1.amazonaws.com/1/jobs",
            ),
            ("TABLE_NAME", "bridge"),
            ("SEVERA_SECRET_ID", "severa/api-key"),
            ("SYNCS_JSON", SYNCS),
        ]
    }

    #[test]
    fn reads_the_environment() {
        let config = Config::from_vars(vars(&base())).unwrap();
        assert_eq!(config.severa_timeout, Duration::from_secs(120));
        assert!(config.syncs.sync("accounts").is_some());
    }

    #[test]
    fn errors_name_the_variable_or_key() {
        let missing = Config::from_vars(vars(&base()[1..])).unwrap_err();
        assert!(missing.0.contains("JOB_QUEUE_URL"), "{missing}");
        let mut bad = base();
        bad[3] = (
            "SYNCS_JSON",
            r#"{"syncs": {"accounts": {"read": "accounts", "schedule": "rate(5 minutes)", "first_run": {"from": "now"}, "target": {"url": "https://erp.example", "secret_id": "s"}}}}"#,
        );
        let err = Config::from_vars(vars(&bad)).unwrap_err();
        assert!(err.0.contains("syncs.accounts.schedule"), "{err}");
        let mut bad = base();
        bad.push(("SEVERA_TIMEOUT_SECS", "0"));
        assert!(
            Config::from_vars(vars(&bad))
                .unwrap_err()
                .0
                .contains("SEVERA_TIMEOUT_SECS")
        );
    }
}
