//! The worker Lambda: SQS batches of jobs → Severa. This file only reads the configuration,
//! builds the clients and hands each invocation to [`bridge::worker::Worker::handle`].
//!
//! Environment:
//! - `JOB_QUEUE_URL`: the queue the event source mapping reads (visibility changes, deletes);
//! - `DLQ_URL`: where permanent failures go;
//! - `TABLE_NAME`: the DynamoDB table for idempotency records and the id map;
//! - `SEVERA_SECRET_ID`: Secrets Manager id of the Severa API key (plain key, or JSON
//!   `{"api_key": "…", "endpoint": "…"}`);
//! - `SEVERA_ENDPOINT` (optional): overrides the endpoint (default: the secret's, else production);
//! - `WORKER_CONCURRENCY` (optional, 1–64, default 4): records of a batch in flight at once;
//! - `SEVERA_TIMEOUT_SECS` (optional, 1–900, default 30): one Severa call, whole;
//! - `RUST_LOG` (optional, default `info`): log filter. Logs are JSON lines on stdout.
//!
//! The AWS SDK reads the usual variables (`AWS_REGION`, credentials, `AWS_ENDPOINT_URL`).

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use bridge::aws::{DynamoTable, SecretsManagerSource, SqsQueue};
use bridge::secrets::SecretCache;
use bridge::worker::{SeveraSettings, Worker, WorkerPorts, WorkerSettings};
use chrono::{DateTime, Utc};
use lambda_runtime::{Error, LambdaEvent, service_fn};
use std::sync::Arc;
use std::time::Duration;

/// The worker's configuration, validated before the first event.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Config {
    job_queue_url: String,
    dlq_url: String,
    table_name: String,
    severa_secret_id: String,
    severa_endpoint: Option<String>,
    concurrency: usize,
    severa_timeout: Duration,
}

/// A bad or missing variable, named.
#[derive(Debug, PartialEq, Eq)]
struct ConfigError(String);

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ConfigError {}

impl Config {
    /// Reads the variables through `var` (the environment in `main`, a map in tests).
    fn from_vars(var: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let required = |name: &str| -> Result<String, ConfigError> {
            match var(name).map(|v| v.trim().to_string()) {
                Some(v) if !v.is_empty() => Ok(v),
                _ => Err(ConfigError(format!("{name} is not set"))),
            }
        };
        let optional = |name: &str| {
            var(name)
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };
        let number =
            |name: &str, default: u64, range: std::ops::RangeInclusive<u64>| match optional(name) {
                None => Ok(default),
                Some(v) => v
                    .parse::<u64>()
                    .ok()
                    .filter(|n| range.contains(n))
                    .ok_or_else(|| {
                        ConfigError(format!(
                            "{name} is {v:?}; expected a whole number from {} to {}",
                            range.start(),
                            range.end()
                        ))
                    }),
            };
        let url = |name: &str, value: String| {
            if value.starts_with("https://") || value.starts_with("http://") {
                Ok(value)
            } else {
                Err(ConfigError(format!(
                    "{name} is {value:?}; expected an http(s) URL"
                )))
            }
        };
        Ok(Self {
            job_queue_url: url("JOB_QUEUE_URL", required("JOB_QUEUE_URL")?)?,
            dlq_url: url("DLQ_URL", required("DLQ_URL")?)?,
            table_name: required("TABLE_NAME")?,
            severa_secret_id: required("SEVERA_SECRET_ID")?,
            severa_endpoint: optional("SEVERA_ENDPOINT")
                .map(|e| url("SEVERA_ENDPOINT", e))
                .transpose()?,
            concurrency: number("WORKER_CONCURRENCY", 4, 1..=64)? as usize,
            severa_timeout: Duration::from_secs(number("SEVERA_TIMEOUT_SECS", 30, 1..=900)?),
        })
    }
}

fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .json()
        .flatten_event(true)
        .with_current_span(false)
        .with_span_list(false)
        .with_target(false)
        .with_ansi(false)
        .with_env_filter(filter)
        .with_writer(std::io::stdout)
        .init();
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    init_tracing();
    let config = Config::from_vars(|name| std::env::var(name).ok()).inspect_err(|e| {
        tracing::error!(error = %e, "invalid configuration");
    })?;

    let sdk = bridge::aws::config::load().await;
    let table = Arc::new(DynamoTable::from_config(&sdk, &config.table_name));
    let secrets = Arc::new(SecretCache::new(
        Arc::new(SecretsManagerSource::from_config(&sdk)),
        bridge::secrets::DEFAULT_TTL,
    ));
    let ports = WorkerPorts {
        queue: Arc::new(SqsQueue::from_config(&sdk, &config.job_queue_url)),
        dlq: Arc::new(SqsQueue::from_config(&sdk, &config.dlq_url)),
        idempotency: table.clone(),
        id_map: table,
        secrets,
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
    let settings = WorkerSettings {
        concurrency: config.concurrency,
        ..Default::default()
    };
    let worker = Worker::new(ports, severa, settings);

    lambda_runtime::run(service_fn(move |event: LambdaEvent<SqsEvent>| {
        let worker = worker.clone();
        async move {
            let deadline: DateTime<Utc> = event.context.deadline().into();
            Ok::<SqsBatchResponse, Error>(worker.handle(event.payload, deadline).await)
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

    const BASE: &[(&str, &str)] = &[
        (
            "JOB_QUEUE_URL",
            "https://sqs.eu-north-1.amazonaws.com/1/jobs",
        ),
        ("DLQ_URL", "https://sqs.eu-north-1.amazonaws.com/1/jobs-dlq"),
        ("TABLE_NAME", "bridge"),
        ("SEVERA_SECRET_ID", "severa/api-key"),
    ];

    #[test]
    fn defaults_and_overrides() {
        let config = Config::from_vars(vars(BASE)).unwrap();
        assert_eq!(config.concurrency, 4);
        assert_eq!(config.severa_timeout, Duration::from_secs(30));
        assert_eq!(config.severa_endpoint, None);
        let mut all = BASE.to_vec();
        all.extend([
            ("WORKER_CONCURRENCY", "8"),
            ("SEVERA_TIMEOUT_SECS", "12"),
            (
                "SEVERA_ENDPOINT",
                "http://127.0.0.1:8642/webservice/S3/API.svc",
            ),
        ]);
        let config = Config::from_vars(vars(&all)).unwrap();
        assert_eq!(config.concurrency, 8);
        assert_eq!(config.severa_timeout, Duration::from_secs(12));
        assert!(config.severa_endpoint.is_some());
    }

    #[test]
    fn errors_name_the_variable() {
        let missing = Config::from_vars(vars(&BASE[1..])).unwrap_err();
        assert!(missing.0.contains("JOB_QUEUE_URL"), "{missing}");
        let mut bad = BASE.to_vec();
        bad.push(("WORKER_CONCURRENCY", "0"));
        let err = Config::from_vars(vars(&bad)).unwrap_err();
        assert!(err.0.contains("WORKER_CONCURRENCY"), "{err}");
        let mut bad = BASE.to_vec();
        bad.push(("SEVERA_ENDPOINT", "sync.severa.com"));
        let err = Config::from_vars(vars(&bad)).unwrap_err();
        assert!(err.0.contains("SEVERA_ENDPOINT"), "{err}");
        let mut bad = BASE.to_vec();
        bad[3] = ("SEVERA_SECRET_ID", "  ");
        let err = Config::from_vars(vars(&bad)).unwrap_err();
        assert!(err.0.contains("SEVERA_SECRET_ID"), "{err}");
    }
}
