//! The webhook Lambda: builds its clients from the environment, then serves
//! `bridge::webhook::Webhook::handle` behind a Function URL (HTTP API v2 payload).
//!
//! Environment:
//! - `JOB_QUEUE_URL`: the SQS job queue;
//! - `TABLE_NAME`: the DynamoDB table (delivery-id dedup);
//! - `SOURCES_FILE` (a path) or `SOURCES_JSON` (the document): the sources configuration, see
//!   `examples/sources.json`;
//! - the usual AWS variables (`AWS_REGION`, `AWS_ENDPOINT_URL` for local emulators);
//! - `RUST_LOG` (default `info`).
//!
//! Everything is validated before the first event; a bad value stops the init with a message
//! naming the variable or configuration key. No network calls at init: secrets are read on the
//! first delivery that needs them and cached.

use bridge::aws::{DynamoTable, SecretsManagerSource, SqsQueue};
use bridge::function_env::{self, EnvVars};
use bridge::secrets::{DEFAULT_TTL, SecretCache};
use bridge::webhook::Webhook;
use bridge::webhook::config::Config;
use lambda_http::{Body, Request, service_fn};
use std::sync::Arc;

// One event at a time per instance, on a fraction of a vCPU: a second thread would only add
// wake-ups (README, "Deploy to AWS": runtime).
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    function_env::init_json_logging();

    let webhook = match build().await {
        Ok(webhook) => Arc::new(webhook),
        Err(message) => {
            tracing::error!(error = %message, "webhook configuration is invalid");
            return Err(message.into());
        }
    };
    lambda_http::run(service_fn(move |request: Request| {
        let webhook = webhook.clone();
        async move {
            let response = webhook.handle(plain(request)).await;
            Ok::<_, lambda_http::Error>(response.map(Body::from))
        }
    }))
    .await
}

async fn build() -> Result<Webhook, String> {
    let env = EnvVars::new(|name: &str| std::env::var(name).ok());
    let queue_url = env
        .required_url("JOB_QUEUE_URL")
        .map_err(|e| e.to_string())?;
    let table_name = env.required("TABLE_NAME").map_err(|e| e.to_string())?;
    let config = Config::from_env().map_err(|e| format!("sources configuration: {e}"))?;
    let sdk = bridge::aws::config::load().await;
    tracing::info!(
        sources = ?config.sources.keys().collect::<Vec<_>>(),
        "webhook ready"
    );
    Ok(Webhook::new(
        config,
        Arc::new(SqsQueue::from_config(&sdk, queue_url)),
        Arc::new(DynamoTable::from_config(&sdk, table_name)),
        SecretCache::new(
            Arc::new(SecretsManagerSource::from_config(&sdk)),
            DEFAULT_TTL,
        ),
    ))
}

/// The request with its body as the exact received bytes (lambda_http already decoded base64).
fn plain(request: Request) -> lambda_http::http::Request<Vec<u8>> {
    request.map(|body| match body {
        Body::Empty => Vec::new(),
        Body::Text(text) => text.into_bytes(),
        Body::Binary(bytes) => bytes,
        // Body is non_exhaustive; any future variant still derefs to its bytes.
        other => other.to_vec(),
    })
}
