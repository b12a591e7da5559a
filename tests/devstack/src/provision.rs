//! `devstack up`: the template's queues, table and secrets on moto, and the environment file the
//! functions run with. Idempotent: existing resources are kept (an existing Severa key secret
//! gets the new key, so it always matches the simulator).

use crate::error::{Context as _, Result};
use crate::stack::{Names, REGION};
use aws_sdk_sqs::types::QueueAttributeName;
use base64::Engine as _;
use bridge::webhook::config::{Config as SourcesConfig, Format};
use std::path::{Path, PathBuf};

/// The job queue's visibility timeout here. The template derives 660 s from the worker timeout
/// (6 × 60 s + the batching window); a failed invocation would then hide its batch for 11
/// minutes, too long for a demo. Retries the worker schedules itself are not affected.
pub const LOCAL_VISIBILITY_TIMEOUT_SECS: u32 = 60;
/// As the template: the queue's backstop, the worker's own limit (retries for 24 h).
pub const MAX_RECEIVE_COUNT: u32 = bridge::worker::MAX_RECEIVES;

/// What `up` needs to know.
pub struct UpSettings {
    pub names: Names,
    pub aws_endpoint_url: String,
    pub severa_endpoint: String,
    /// The simulator's API key, stored as the Severa key secret (never printed).
    pub severa_api_key: String,
    /// The webhook sources configuration the webhook function reads (`SOURCES_FILE`).
    pub sources_file: PathBuf,
    /// The sync configuration the scheduler and the worker read (`SYNCS_FILE`), if any.
    pub syncs_file: Option<PathBuf>,
}

/// What `up` created.
#[derive(Debug, Clone)]
pub struct Provisioned {
    pub job_queue_url: String,
    pub dlq_url: String,
    pub table_name: String,
    /// Every secret name, for the report (values are never printed).
    pub secret_names: Vec<String>,
}

pub async fn up(sdk: &aws_config::SdkConfig, settings: &UpSettings) -> Result<Provisioned> {
    let names = &settings.names;
    let sources = read_sources(&settings.sources_file)?;
    let sqs = aws_sdk_sqs::Client::new(sdk);

    let dlq_url = create_queue(
        &sqs,
        &names.dead_letter_queue(),
        &[(QueueAttributeName::MessageRetentionPeriod, "1209600".into())],
    )
    .await?;
    let dlq_arn = queue_arn(&sqs, &dlq_url).await?;
    let redrive = serde_json::json!({
        "deadLetterTargetArn": dlq_arn,
        "maxReceiveCount": MAX_RECEIVE_COUNT,
    })
    .to_string();
    let job_queue_url = create_queue(
        &sqs,
        &names.job_queue(),
        &[
            (
                QueueAttributeName::VisibilityTimeout,
                LOCAL_VISIBILITY_TIMEOUT_SECS.to_string(),
            ),
            (QueueAttributeName::MessageRetentionPeriod, "345600".into()),
            (QueueAttributeName::RedrivePolicy, redrive),
        ],
    )
    .await?;

    let table_name = names.table();
    bridge::aws::DynamoTable::from_config(sdk, &table_name)
        .create_table()
        .await
        .with_context(|| format!("creating table {table_name} (pk + TTL expires_at)"))?;

    let secrets = aws_sdk_secretsmanager::Client::new(sdk);
    let mut secret_names = Vec::new();
    let severa_secret = names.severa_key_secret();
    let severa_value = serde_json::json!({ "api_key": settings.severa_api_key }).to_string();
    put_secret(&secrets, &severa_secret, &severa_value, Existing::Replace).await?;
    secret_names.push(severa_secret);
    for source in sources.sources.values() {
        let value = match source.format {
            Format::StandardWebhooks => standard_webhooks_secret()?,
            Format::Toggl => hex::encode(crate::stack::random_bytes(32)?),
        };
        // Kept when it exists: senders already configured with it keep working.
        put_secret(&secrets, &source.secret_id, &value, Existing::Keep).await?;
        secret_names.push(source.secret_id.clone());
    }
    let outbound = names.outbound_signing_secret();
    put_secret(
        &secrets,
        &outbound,
        &standard_webhooks_secret()?,
        Existing::Keep,
    )
    .await?;
    secret_names.push(outbound);

    Ok(Provisioned {
        job_queue_url,
        dlq_url,
        table_name,
        secret_names,
    })
}

/// The environment of every function, as the template sets it, pointed at the local stack.
pub fn function_env(
    settings: &UpSettings,
    provisioned: &Provisioned,
) -> Vec<(&'static str, String)> {
    vec![
        ("AWS_ENDPOINT_URL", settings.aws_endpoint_url.clone()),
        ("AWS_REGION", REGION.to_string()),
        ("AWS_ACCESS_KEY_ID", "devstack".to_string()),
        ("AWS_SECRET_ACCESS_KEY", "devstack".to_string()),
        ("AWS_EC2_METADATA_DISABLED", "true".to_string()),
        ("RUST_LOG", "info".to_string()),
        ("JOB_QUEUE_URL", provisioned.job_queue_url.clone()),
        ("DLQ_URL", provisioned.dlq_url.clone()),
        ("TABLE_NAME", provisioned.table_name.clone()),
        ("SOURCES_FILE", settings.sources_file.display().to_string()),
        ("SEVERA_SECRET_ID", settings.names.severa_key_secret()),
        ("SEVERA_ENDPOINT", settings.severa_endpoint.clone()),
        ("SEVERA_TIMEOUT_SECS", "10".to_string()),
        ("WORKER_CONCURRENCY", "10".to_string()),
        ("SEVERA_CALLS_IN_FLIGHT", "1".to_string()),
        // A demo cannot wait 5 minutes for a rotated key to be tried.
        ("KEY_REJECTED_RETRY_SECS", "5".to_string()),
    ]
    .into_iter()
    .chain(
        settings
            .syncs_file
            .as_ref()
            .map(|f| ("SYNCS_FILE", f.display().to_string())),
    )
    .collect()
}

/// The demo's sync configuration: invoices in status "Sent" go to the local receiver (signed
/// with the outbound signing secret) and are marked "Transferred" after its 2xx.
pub fn write_syncs_file(path: &Path, receiver_url: &str, names: &Names) -> Result<()> {
    let config = serde_json::json!({
        "quota_share": 0.8,
        "pause_on_schema_change": true,
        "syncs": {
            "invoices": {
                "read": "invoices",
                "schedule": "cron(0 5 * * ? *)",
                "schedule_timezone": "Europe/Helsinki",
                "first_run": {"from": "2025-01-01T00:00:00Z"},
                "invoices": {"statuses": ["Sent"], "transferred_status": "Transferred", "window_days": 3660},
                "target": {
                    "url": format!("{}/accounting/invoices", receiver_url.trim_end_matches('/')),
                    "secret_id": names.outbound_signing_secret(),
                },
            }
        }
    });
    let text = serde_json::to_string_pretty(&config).context("sync configuration")?;
    bridge::sync::config::SyncConfig::from_json(&text)
        .context("the demo's sync configuration is invalid")?;
    std::fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))
}

/// The sources configuration, validated as the webhook function validates it.
pub fn read_sources(path: &Path) -> Result<SourcesConfig> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the sources configuration {}", path.display()))?;
    SourcesConfig::from_json(&text).with_context(|| format!("{} is invalid", path.display()))
}

/// `whsec_` + base64 of 32 random bytes, the Standard Webhooks secret format.
fn standard_webhooks_secret() -> Result<String> {
    let bytes = crate::stack::random_bytes(32)?;
    Ok(format!(
        "whsec_{}",
        base64::engine::general_purpose::STANDARD.encode(bytes)
    ))
}

async fn create_queue(
    sqs: &aws_sdk_sqs::Client,
    name: &str,
    attributes: &[(QueueAttributeName, String)],
) -> Result<String> {
    let mut request = sqs.create_queue().queue_name(name);
    for (key, value) in attributes {
        request = request.attributes(key.clone(), value);
    }
    request
        .send()
        .await
        .with_context(|| format!("creating queue {name}"))?
        .queue_url
        .with_context(|| format!("moto returned no URL for queue {name}"))
}

pub async fn queue_arn(sqs: &aws_sdk_sqs::Client, url: &str) -> Result<String> {
    sqs.get_queue_attributes()
        .queue_url(url)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .with_context(|| format!("reading the ARN of {url}"))?
        .attributes
        .and_then(|mut a| a.remove(&QueueAttributeName::QueueArn))
        .with_context(|| format!("{url} has no QueueArn attribute"))
}

#[derive(PartialEq)]
enum Existing {
    Keep,
    Replace,
}

async fn put_secret(
    client: &aws_sdk_secretsmanager::Client,
    name: &str,
    value: &str,
    existing: Existing,
) -> Result<()> {
    let created = client
        .create_secret()
        .name(name)
        .secret_string(value)
        .description("created by devstack up (local stack)")
        .send()
        .await;
    match created {
        Ok(_) => Ok(()),
        Err(e)
            if e.as_service_error()
                .is_some_and(|se| se.is_resource_exists_exception()) =>
        {
            if existing == Existing::Replace {
                client
                    .put_secret_value()
                    .secret_id(name)
                    .secret_string(value)
                    .send()
                    .await
                    .with_context(|| format!("updating secret {name}"))?;
            }
            Ok(())
        }
        Err(e) => Err(e).with_context(|| format!("creating secret {name}")),
    }
}
