//! The worker Lambda: SQS batches of jobs → Severa. This file only reads the configuration,
//! builds the clients and hands each invocation to [`bridge::worker::Worker::handle`].
//!
//! Environment:
//! - `JOB_QUEUE_URL`: the queue the event source mapping reads (visibility changes, deletes);
//! - `DLQ_URL`: where permanent failures go;
//! - `TABLE_NAME`: the DynamoDB table for idempotency records and the id map;
//! - `SEVERA_SECRET_ID`: Secrets Manager id of the Severa API key (plain key, or JSON
//!   `{"api_key": "…", "endpoint": "…"}`);
//! - `SEVERA_ENDPOINT` (optional): the endpoint when the secret names none (the secret's wins), else production;
//! - `WORKER_CONCURRENCY` (optional, 1–64, default 10): records of a batch in flight at once
//!   (each also waits on DynamoDB, so more records than Severa calls keep Severa busy);
//! - `SEVERA_CALLS_IN_FLIGHT` (optional, 1–64, default 1): Severa calls of this instance in
//!   flight at once, whatever the records do: Severa's load is this × the instances;
//! - `SEVERA_TIMEOUT_SECS` (optional, 1–900, default 30): one Severa call, whole;
//! - `KEY_REJECTED_RETRY_SECS` (optional, 1–3600, default 300): while Severa rejects the key,
//!   how often jobs (and the circuit breaker's probe) try again;
//! - `JOB_MAX_AGE_HOURS` (optional, 1–72, default 24): how long a transient failure is retried,
//!   counted from when the job was first sent (the queue keeps messages 4 days);
//! - `SYNCS_FILE` or `SYNCS_JSON` (optional): the sync configuration, for outbound jobs of
//!   scheduled syncs (targets and signing secrets); without it such jobs are dead-lettered;
//! - `RUST_LOG` (optional, default `info`): log filter. Logs are JSON lines on stdout.
//!
//! The AWS SDK reads the usual variables (`AWS_REGION`, credentials, `AWS_ENDPOINT_URL`).

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use bridge::aws::{DynamoTable, SecretsManagerSource, SqsQueue};
use bridge::function_env::{self, EnvError, EnvVars};
use bridge::secrets::SecretCache;
use bridge::sync::config::SyncConfig;
use bridge::worker::{Outbound, SeveraSettings, Worker, WorkerPorts, WorkerSettings};
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
    severa_calls_in_flight: usize,
    severa_timeout: Duration,
    max_age: Duration,
    key_rejected_retry: Duration,
}

impl Config {
    /// Reads the variables through `var` (the environment in `main`, a map in tests).
    fn from_vars(var: impl Fn(&str) -> Option<String>) -> Result<Self, EnvError> {
        let env = EnvVars::new(var);
        Ok(Self {
            job_queue_url: env.required_url("JOB_QUEUE_URL")?,
            dlq_url: env.required_url("DLQ_URL")?,
            table_name: env.required("TABLE_NAME")?,
            severa_secret_id: env.required("SEVERA_SECRET_ID")?,
            severa_endpoint: env.optional_url("SEVERA_ENDPOINT")?,
            concurrency: env.number("WORKER_CONCURRENCY", 10, 1..=64)? as usize,
            severa_calls_in_flight: env.number("SEVERA_CALLS_IN_FLIGHT", 1, 1..=64)? as usize,
            severa_timeout: env.seconds("SEVERA_TIMEOUT_SECS", 30, 1..=900)?,
            max_age: Duration::from_secs(3600 * env.number("JOB_MAX_AGE_HOURS", 24, 1..=72)?),
            key_rejected_retry: env.seconds("KEY_REJECTED_RETRY_SECS", 300, 1..=3600)?,
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
    let syncs =
        SyncConfig::optional_from_vars(|name| std::env::var(name).ok()).inspect_err(|e| {
            tracing::error!(error = %e, "invalid sync configuration");
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
        id_map: table.clone(),
        records: table.clone(),
        breaker: table,
        secrets,
    };
    let severa = SeveraSettings {
        secret_id: config.severa_secret_id.clone(),
        endpoint: config.severa_endpoint.clone(),
        config: severa::SeveraConfig {
            connect_timeout: Duration::from_secs(5),
            timeout: config.severa_timeout,
            max_calls_in_flight: Some(config.severa_calls_in_flight),
            ..Default::default()
        },
    };
    let settings = WorkerSettings {
        concurrency: config.concurrency,
        max_age: config.max_age,
        key_rejected_retry: config.key_rejected_retry,
        ..Default::default()
    };
    let worker = match syncs {
        Some(syncs) => {
            let outbound = Outbound::new(Arc::new(syncs))?;
            Worker::with_outbound(ports, severa, settings, outbound)
        }
        None => Worker::new(ports, severa, settings),
    };

    lambda_runtime::run(service_fn(move |event: LambdaEvent<SqsEvent>| {
        let worker = worker.clone();
        async move {
            let deadline = invocation_deadline(event.context.deadline().into(), Utc::now());
            Ok::<SqsBatchResponse, Error>(worker.handle(event.payload, deadline).await)
        }
    }))
    .await
}

/// Budget of an invocation whose reported deadline has already passed when it starts.
const PAST_DEADLINE_BUDGET: chrono::Duration = chrono::Duration::seconds(60);

/// Lambda's deadline, unless it is already over at the start: cargo-lambda 1.9's emulator
/// reports `Lambda-Runtime-Deadline-Ms: 600000` (in 1970), which would make every job a
/// deadline failure. Lambda itself never does; the fallback is then a minute from now.
fn invocation_deadline(reported: DateTime<Utc>, now: DateTime<Utc>) -> DateTime<Utc> {
    if reported > now {
        reported
    } else {
        tracing::debug!(%reported, "invocation deadline already past at start; using a fallback budget");
        now + PAST_DEADLINE_BUDGET
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn a_deadline_already_past_gets_the_fallback_budget() {
        let now = Utc::now();
        let ahead = now + chrono::Duration::seconds(30);
        assert_eq!(invocation_deadline(ahead, now), ahead);
        let epoch_plus_600s = DateTime::from_timestamp_millis(600_000).unwrap();
        assert_eq!(
            invocation_deadline(epoch_plus_600s, now),
            now + PAST_DEADLINE_BUDGET
        );
    }

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
        assert_eq!(config.concurrency, 10);
        assert_eq!(config.severa_calls_in_flight, 1);
        assert_eq!(config.severa_timeout, Duration::from_secs(30));
        assert_eq!(config.severa_endpoint, None);
        assert_eq!(config.max_age, Duration::from_secs(24 * 3600));
        let mut all = BASE.to_vec();
        all.extend([
            ("WORKER_CONCURRENCY", "16"),
            ("SEVERA_CALLS_IN_FLIGHT", "2"),
            ("JOB_MAX_AGE_HOURS", "48"),
            ("SEVERA_TIMEOUT_SECS", "12"),
            (
                "SEVERA_ENDPOINT",
                "http://127.0.0.1:8642/webservice/S3/API.svc",
            ),
        ]);
        let config = Config::from_vars(vars(&all)).unwrap();
        assert_eq!(config.concurrency, 16);
        assert_eq!(config.severa_calls_in_flight, 2);
        assert_eq!(config.severa_timeout, Duration::from_secs(12));
        assert_eq!(config.max_age, Duration::from_secs(48 * 3600));
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
        bad.push(("SEVERA_CALLS_IN_FLIGHT", "0"));
        let err = Config::from_vars(vars(&bad)).unwrap_err();
        assert!(err.0.contains("SEVERA_CALLS_IN_FLIGHT"), "{err}");
        let mut bad = BASE.to_vec();
        bad.push(("JOB_MAX_AGE_HOURS", "100"));
        let err = Config::from_vars(vars(&bad)).unwrap_err();
        assert!(err.0.contains("JOB_MAX_AGE_HOURS"), "{err}");
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
