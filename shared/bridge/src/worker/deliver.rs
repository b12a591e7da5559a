//! Outbound jobs (`outbound.deliver`): POST Severa records to a sync's target, signed the
//! Standard Webhooks way, then (invoices) write the "transferred" status back to Severa.
//!
//! Retries, back-off, the DLQ and the outcome log line are the worker's, as for every job; this
//! file only says what one attempt does and classifies its failure ([`DeliveryFailure`]).
//!
//! - `webhook-id` is the job id: one per record version (per batch of versions), the same on
//!   every retry, on a re-enqueue of the same version and after a DLQ redrive, so the target
//!   can drop redeliveries (the only guard left if the delivered marker cannot be written).
//! - The target URL and secret come from the worker's own sync configuration, by the job's
//!   sync name, never from the job.
//! - The status write-back happens only after a 2xx. A delivered job is marked (an idempotency
//!   record `<job id>#delivered`) before the write-back, so a failed write-back is retried
//!   without sending the invoice again. For invoices the marker outlives the sync's invoice
//!   window ([`crate::sync::delivered_marker_ttl`]): an invoice still unmarked in Severa is
//!   read and enqueued again, under the same job id, and a DLQ redrive can come days later;
//!   both only retry the write-back.

use super::Inner;
use super::apply::Applied;
use crate::error::{DeliveryError, DeliveryFailure, JobError};
use crate::job::{Job, OutboundDelivery};
use crate::ports::{Claim, PortError};
use crate::secrets::SecretCache;
use crate::sync::config::{SyncConfig, SyncDefinition};
use crate::verify::SigningSecret;
use crate::verify::standard_webhooks;
use chrono::{SecondsFormat, Utc};
use secrecy::ExposeSecret as _;
use severa::SeveraClient;
use severa::operations as ops;
use std::sync::Arc;

/// Longest excerpt of a target's error answer kept in the error.
const MAX_EXCERPT_CHARS: usize = 120;
/// Most bytes of a target's error answer read at all: a huge or endless answer costs no more
/// memory or time than this (the rest is left unread and the connection dropped).
const MAX_ERROR_BODY_BYTES: usize = 4 * 1024;
/// The operation name in outcome log lines for a delivery without write-back.
const DELIVER_OPERATION: &str = "OutboundDelivery";

/// What the worker needs for outbound jobs.
#[derive(Clone)]
pub struct Outbound {
    /// The syncs (targets, secrets) by name: the same document the scheduler reads.
    pub syncs: Arc<SyncConfig>,
    /// Shared connection pool for all targets; per-target timeouts are set per request.
    pub http: reqwest::Client,
}

impl Outbound {
    /// A client that does not follow redirects (a 3xx is a misconfigured target URL, and a
    /// signed body must not travel to another host).
    pub fn new(syncs: Arc<SyncConfig>) -> Result<Self, reqwest::Error> {
        severa::install_crypto_provider();
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("severa-bridge/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Self { syncs, http })
    }
}

/// The worker's outbound pieces: the configuration plus the secret cache for signing secrets.
pub(super) struct OutboundAccess {
    pub outbound: Outbound,
    pub secrets: Arc<SecretCache>,
}

fn config_error(sync: &str, message: impl Into<String>) -> JobError {
    JobError::Delivery(DeliveryError {
        sync: sync.to_string(),
        failure: DeliveryFailure::Config(message.into()),
    })
}

/// The target without query string or credentials, for errors and logs.
fn display_target(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(u) => format!(
            "{}://{}{}{}",
            u.scheme(),
            u.host_str().unwrap_or_default(),
            u.port().map(|p| format!(":{p}")).unwrap_or_default(),
            u.path()
        ),
        Err(_) => "(unparsable URL)".to_string(),
    }
}

/// `: <first characters of the answer>`, or empty; `truncated` says more was left unread.
fn excerpt(body: &[u8], truncated: bool) -> String {
    let text: String = String::from_utf8_lossy(body)
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(MAX_EXCERPT_CHARS)
        .collect();
    let text = text.trim();
    let cut = if truncated {
        format!(" (answer truncated after {MAX_ERROR_BODY_BYTES} bytes)")
    } else {
        String::new()
    };
    if text.is_empty() {
        cut
    } else {
        format!(": {text}{cut}")
    }
}

/// At most `cap` bytes of an answer's body, and whether more was left unread. A body that
/// breaks off keeps what arrived.
async fn read_capped(mut response: reqwest::Response, cap: usize) -> (Vec<u8>, bool) {
    let mut body = Vec::new();
    loop {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                let room = cap.saturating_sub(body.len());
                if chunk.len() > room {
                    body.extend_from_slice(&chunk[..room]);
                    return (body, true);
                }
                body.extend_from_slice(&chunk);
            }
            Ok(None) | Err(_) => return (body, false),
        }
    }
}

/// The body the target receives (Standard Webhooks' recommended `type`/`timestamp`/`data`):
/// `severa.<entity>` for a scheduled sync's records, `severa.<entity>.<event>` (created,
/// updated, deleted) for what a reconciliation found.
pub fn delivery_body(job: &Job, p: &OutboundDelivery) -> Vec<u8> {
    let event_type = match &p.event {
        Some(event) => format!("severa.{}.{event}", p.entity),
        None => format!("severa.{}", p.entity),
    };
    serde_json::json!({
        "type": event_type,
        "timestamp": job.occurred_at.to_rfc3339_opts(SecondsFormat::Secs, true),
        "data": {
            "sync": p.sync,
            "entity": p.entity,
            "records": p.records,
        },
    })
    .to_string()
    .into_bytes()
}

impl Inner {
    pub(super) async fn deliver(
        &self,
        job: &Job,
        p: &OutboundDelivery,
        client: &SeveraClient,
    ) -> Result<Applied, JobError> {
        let Some(access) = &self.outbound else {
            return Err(config_error(
                &p.sync,
                "this worker has no sync configuration (set SYNCS_FILE or SYNCS_JSON)",
            ));
        };
        let Some(sync) = access.outbound.syncs.sync(&p.sync) else {
            return Err(config_error(
                &p.sync,
                format!(
                    "no sync named {:?} in the worker's sync configuration",
                    p.sync
                ),
            ));
        };
        let delivered_key = format!("{}#delivered", job.job_id);
        let lock_until = Utc::now()
            + chrono::TimeDelta::from_std(sync.target.timeout * 2).unwrap_or_default()
            + chrono::TimeDelta::seconds(30);
        match self.idempotency.claim(&delivered_key, lock_until).await? {
            Claim::Completed { .. } => {
                tracing::info!(job_id = %job.job_id, sync = %p.sync, "delivered before; only the write-back is left");
            }
            Claim::InProgress { until } => {
                return Err(JobError::Infrastructure(PortError {
                    service: "Worker",
                    action: "Deliver",
                    message: format!("another invocation is delivering this job until {until}"),
                    retryable: true,
                }));
            }
            Claim::Acquired => {
                if let Err(e) = self.post(access, sync, job, p).await {
                    if let Err(release) = self.idempotency.release(&delivered_key).await {
                        tracing::warn!(job_id = %job.job_id, error = %release, "could not release the delivery claim; it frees itself");
                    }
                    return Err(e);
                }
                let ttl =
                    crate::sync::delivered_marker_ttl(&sync.read, self.settings.idempotency_ttl);
                if let Err(e) = self.idempotency.complete(&delivered_key, None, ttl).await {
                    // A retry would POST again; the target recognises it by webhook-id.
                    tracing::warn!(job_id = %job.job_id, error = %e, "delivered, but could not record it");
                }
            }
        }
        let first_guid = p
            .records
            .first()
            .and_then(|r| r.get("GUID"))
            .and_then(|g| g.as_str())
            .map(str::to_string);
        match &p.write_back {
            None => Ok(Applied {
                guid: first_guid,
                operation: DELIVER_OPERATION,
                skipped: false,
            }),
            Some(w) => {
                client
                    .set_invoice_status(&w.invoice_guid, &w.status)
                    .await?;
                Ok(Applied {
                    guid: Some(w.invoice_guid.clone()),
                    operation: ops::SET_INVOICE_STATUS.name,
                    skipped: false,
                })
            }
        }
    }

    /// One signed POST; `Ok` on 2xx.
    async fn post(
        &self,
        access: &OutboundAccess,
        sync: &SyncDefinition,
        job: &Job,
        p: &OutboundDelivery,
    ) -> Result<(), JobError> {
        let target = display_target(&sync.target.url);
        let secret = access.secrets.get(&sync.target.secret_id).await?;
        // A secret in the wrong shape is retried: fixing the secret lets the job through.
        let secret =
            SigningSecret::from_standard_webhooks(secret.value.expose_secret()).map_err(|e| {
                JobError::Infrastructure(PortError {
                    service: "SecretsManager",
                    action: "GetSecretValue",
                    message: format!(
                        "secret {} of sync {} is not a Standard Webhooks secret: {e}",
                        sync.target.secret_id, sync.name
                    ),
                    retryable: true,
                })
            })?;
        let body = delivery_body(job, p);
        let headers = standard_webhooks::signed_headers(&secret, &job.job_id, Utc::now(), &body)
            .map_err(|e| config_error(&sync.name, format!("cannot sign the delivery: {e}")))?;
        let failure = |failure| {
            JobError::Delivery(DeliveryError {
                sync: sync.name.clone(),
                failure,
            })
        };
        let response = access
            .outbound
            .http
            .post(&sync.target.url)
            .headers(headers)
            .header(http::header::CONTENT_TYPE, "application/json")
            .timeout(sync.target.timeout)
            .body(body)
            .send()
            .await
            .map_err(|e| {
                if e.is_timeout() {
                    failure(DeliveryFailure::Timeout {
                        target: target.clone(),
                        seconds: sync.target.timeout.as_secs(),
                    })
                } else {
                    failure(DeliveryFailure::Unreachable {
                        target: target.clone(),
                        message: error_chain(&e.without_url()),
                    })
                }
            })?;
        let status = response.status();
        if status.is_success() {
            return Ok(());
        }
        // The answer's body only for the error message, and only its first bytes; a failure
        // to read it changes nothing.
        let (bytes, truncated) = tokio::time::timeout(
            sync.target.timeout,
            read_capped(response, MAX_ERROR_BODY_BYTES),
        )
        .await
        .unwrap_or_default();
        Err(failure(DeliveryFailure::Status {
            target,
            status: status.as_u16(),
            excerpt: excerpt(&bytes, truncated),
        }))
    }
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_are_shown_without_query_or_credentials() {
        assert_eq!(
            display_target("https://user:pw@erp.example:8443/hooks/severa?token=secret"),
            "https://erp.example:8443/hooks/severa"
        );
        assert_eq!(display_target("not a url"), "(unparsable URL)");
    }

    #[test]
    fn excerpts_are_short_and_single_line() {
        assert_eq!(excerpt(b"", false), "");
        assert_eq!(excerpt(b"bad\nthing", false), ": bad thing");
        assert_eq!(
            excerpt(&[b'x'; 500], false).chars().count(),
            2 + MAX_EXCERPT_CHARS
        );
        assert_eq!(
            excerpt(b"oops", true),
            ": oops (answer truncated after 4096 bytes)"
        );
    }
}
