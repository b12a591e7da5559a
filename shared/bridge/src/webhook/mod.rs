//! The webhook function's logic: `POST /webhooks/{source}` → verify → job → job queue.
//!
//! [`Webhook::handle`] is a plain async function over an HTTP request with its clients injected,
//! so tests drive it with real SQS/DynamoDB/Secrets Manager clients (moto) and no Lambda;
//! `functions/webhook` only adapts `lambda_http` to it.
//!
//! Order of checks, cheapest and least trusting first: route (404) → method (405) → content type
//! (415) → size (413, before anything reads the body) → signature over the raw bytes (401/400) →
//! body → job (400; a Toggl event older than the source accepts too) → the source's allow-list
//! (403) → the job's size on the queue (413: SQS would refuse it however often it is retried) →
//! dedup → enqueue (202, or 503 so the sender retries).
//!
//! Dedup without losing jobs: the delivery id is *claimed* (a short lock) before the enqueue,
//! marked completed only after the queue took the job, and released when the enqueue failed.
//! A retry after a failed enqueue therefore enqueues, a retry after a success is a duplicate, and
//! two concurrent deliveries of one id cannot both enqueue. `first_sighting` alone cannot give
//! this: it records and checks in one step and cannot be undone, so a failed enqueue would turn
//! the sender's retry into a "duplicate" and lose the job. The job id is derived from source +
//! delivery id, so even a job enqueued twice (the completion write failed and the lock expired)
//! is applied once by the worker.

pub mod config;
mod toggl;

use crate::job::{self, Action, Job, MAX_JOB_MESSAGE_BYTES};
use crate::ports::{Claim, IdempotencyStore, MessageSink, OutgoingMessage};
use crate::secrets::SecretCache;
use crate::verify::{self, SigningSecret, VerifyError};
use chrono::{DateTime, TimeDelta, Utc};
use config::{Config, Format, Source};
use http::{HeaderValue, Method, Request, Response, StatusCode, header};
use secrecy::ExposeSecret as _;
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};
use std::sync::Arc;
use std::time::Duration;

/// How long a delivery id is remembered: longer than senders keep retrying one delivery within a
/// burst; the deterministic job id covers anything later.
pub const DEFAULT_DEDUP_TTL: Duration = Duration::from_secs(24 * 3600);
/// How long a claimed delivery id blocks a concurrent delivery of the same id; a crashed
/// invocation's claim frees itself after this.
const CLAIM_LOCK: TimeDelta = TimeDelta::seconds(30);
/// Seconds a sender is asked to wait after a 503/409.
const RETRY_AFTER_SECONDS: u32 = 10;
/// Keys a canonical (Standard Webhooks) body may have; the rest of the job is ours to set.
const CANONICAL_KEYS: [&str; 4] = ["kind", "external_id", "occurred_at", "payload"];

/// "Now", injectable so tests can replay a delivery minutes later.
pub type Clock = Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>;

/// The webhook handler with its clients.
pub struct Webhook {
    config: Arc<Config>,
    queue: Arc<dyn MessageSink>,
    store: Arc<dyn IdempotencyStore>,
    secrets: SecretCache,
    clock: Clock,
    dedup_ttl: Duration,
    tolerance: TimeDelta,
}

impl Webhook {
    /// `queue` is the job queue; `store` remembers delivery ids; `secrets` holds the signing
    /// secrets named by the configuration.
    pub fn new(
        config: Config,
        queue: Arc<dyn MessageSink>,
        store: Arc<dyn IdempotencyStore>,
        secrets: SecretCache,
    ) -> Self {
        Self {
            config: Arc::new(config),
            queue,
            store,
            secrets,
            clock: Arc::new(Utc::now),
            dedup_ttl: DEFAULT_DEDUP_TTL,
            tolerance: verify::standard_webhooks::DEFAULT_TOLERANCE,
        }
    }

    /// Replaces the clock (tests).
    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    pub fn with_dedup_ttl(mut self, ttl: Duration) -> Self {
        self.dedup_ttl = ttl;
        self
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Answers one request. `request`'s body must be the bytes exactly as received (base64
    /// already decoded). Every answer is JSON; one log line per request records the outcome.
    pub async fn handle(&self, request: Request<Vec<u8>>) -> Response<String> {
        let started = std::time::Instant::now();
        let mut log = LogLine::default();
        let answer = match self.process(&request, &mut log).await {
            Ok(answer) | Err(answer) => answer,
        };
        tracing::info!(
            source = log.source.as_deref(),
            status = answer.status.as_u16(),
            outcome = answer.outcome,
            webhook_id = log.webhook_id.as_deref(),
            job_id = log.job_id.as_deref(),
            kind = log.kind,
            detail = answer.detail.as_deref(),
            duration_ms = started.elapsed().as_secs_f64() * 1000.0,
            "webhook request"
        );
        answer.into_response()
    }

    async fn process(
        &self,
        request: &Request<Vec<u8>>,
        log: &mut LogLine,
    ) -> Result<Answer, Answer> {
        let name = route(request.uri().path()).ok_or_else(|| {
            Answer::new(
                StatusCode::NOT_FOUND,
                "not_found",
                json!({"error": "not_found", "reason": "POST to /webhooks/{source}"}),
            )
        })?;
        let source = self.config.source(name).ok_or_else(|| {
            Answer::new(
                StatusCode::NOT_FOUND,
                "unknown_source",
                json!({"error": "unknown_source", "reason": format!("no source named {name:?} is configured")}),
            )
        })?;
        log.source = Some(source.name.clone());
        if request.method() != Method::POST {
            let mut answer = Answer::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                json!({"error": "method_not_allowed", "reason": "only POST is accepted"}),
            );
            answer.allow_post = true;
            return Err(answer);
        }
        check_content_type(request)?;
        check_size(request, source.max_body_bytes)?;
        let body = request.body().as_slice();
        let now = (self.clock)();

        let secret = self.signing_secret(source).await?;
        let (webhook_id, delivered_at) = match source.format {
            Format::StandardWebhooks => {
                let verified = verify::standard_webhooks::verify(
                    request.headers(),
                    body,
                    &secret,
                    now,
                    self.tolerance,
                )
                .map_err(rejected)?;
                log.webhook_id = Some(verified.webhook_id.clone());
                (verified.webhook_id, verified.timestamp)
            }
            Format::Toggl => {
                verify::toggl::verify(request.headers(), body, &secret).map_err(rejected)?;
                (String::new(), now)
            }
        };
        let (dedup_id, job) = match interpret(source, &webhook_id, delivered_at, body)? {
            Interpreted::Answer(answer) => return Ok(answer),
            Interpreted::Job { dedup_id, job } => (dedup_id, job),
        };
        log.webhook_id = Some(dedup_id.clone());
        log.job_id = Some(job.job_id.clone());
        log.kind = Some(job.kind().as_str());
        let message = admit(source, &job)?;
        self.enqueue_once(&source.name, &dedup_id, &job, &message, now)
            .await
    }

    async fn signing_secret(&self, source: &Source) -> Result<SigningSecret, Answer> {
        let cached = self.secrets.get(&source.secret_id).await.map_err(|e| {
            let detail = format!("signing secret unavailable: {e}");
            if e.retryable {
                Answer::unavailable("secret_store_unavailable", detail)
            } else {
                Answer::internal(detail)
            }
        })?;
        let text = cached.value.expose_secret();
        let parsed = match source.format {
            Format::StandardWebhooks => SigningSecret::from_standard_webhooks(text),
            Format::Toggl => SigningSecret::from_plain(text),
        };
        parsed.map_err(|e| {
            Answer::internal(format!(
                "signing secret {} is unusable for {}: {e}",
                source.secret_id, source.format
            ))
        })
    }

    /// Claim → send → complete (or release on a failed send); see the module docs.
    async fn enqueue_once(
        &self,
        source: &str,
        dedup_id: &str,
        job: &Job,
        message: &OutgoingMessage,
        now: DateTime<Utc>,
    ) -> Result<Answer, Answer> {
        let key = format!("webhook/{source}/{dedup_id}");
        let claim = self
            .store
            .claim(&key, now + CLAIM_LOCK)
            .await
            .map_err(|e| Answer::unavailable("store_unavailable", e.to_string()))?;
        match claim {
            Claim::Acquired => {}
            Claim::Completed { .. } => {
                return Ok(Answer::new(
                    StatusCode::OK,
                    "duplicate",
                    json!({"status": "duplicate", "job_id": job.job_id}),
                ));
            }
            Claim::InProgress { .. } => {
                let mut answer = Answer::new(
                    StatusCode::CONFLICT,
                    "in_progress",
                    json!({"error": "in_progress", "reason": "this delivery is being processed; retry later"}),
                );
                answer.retry_after = true;
                return Err(answer);
            }
        }
        if let Err(e) = self.queue.send(message).await {
            if let Err(release) = self.store.release(&key).await {
                // The claim lapses after CLAIM_LOCK; until then a retry gets 409 and retries again.
                tracing::warn!(key, error = %release, "could not release the delivery claim");
            }
            return Err(Answer::unavailable("queue_unavailable", e.to_string()));
        }
        if let Err(e) = self.store.complete(&key, None, self.dedup_ttl).await {
            // Enqueued: answer 202. A later redelivery may enqueue again; the worker applies the
            // same job id once.
            tracing::warn!(key, error = %e, "could not record the delivery as done");
        }
        Ok(Answer::new(
            StatusCode::ACCEPTED,
            "enqueued",
            json!({"status": "accepted", "job_id": job.job_id}),
        ))
    }
}

#[derive(Default)]
struct LogLine {
    source: Option<String>,
    webhook_id: Option<String>,
    job_id: Option<String>,
    kind: Option<&'static str>,
}

/// A response in the making, with what the log line says about it.
pub(crate) struct Answer {
    status: StatusCode,
    /// Short machine word for the log (`enqueued`, `bad_signature`, ...).
    outcome: &'static str,
    body: Value,
    /// Log-only detail (never sent: it may describe why a signature failed).
    detail: Option<String>,
    retry_after: bool,
    allow_post: bool,
}

impl Answer {
    fn new(status: StatusCode, outcome: &'static str, body: Value) -> Self {
        Self {
            status,
            outcome,
            body,
            detail: None,
            retry_after: false,
            allow_post: false,
        }
    }

    fn with_detail(mut self, detail: String) -> Self {
        self.detail = Some(detail);
        self
    }

    fn bad_request(outcome: &'static str, body: Value, detail: String) -> Self {
        Self::new(StatusCode::BAD_REQUEST, outcome, body).with_detail(detail)
    }

    /// 400 naming the field, as `job::InvalidJob` does.
    fn invalid(field: &str, reason: impl Into<String>) -> Self {
        let reason = reason.into();
        Self::bad_request(
            "invalid_payload",
            json!({"error": "invalid_payload", "field": field, "reason": reason}),
            format!("{field}: {reason}"),
        )
    }

    fn malformed_json(reason: impl Into<String>) -> Self {
        let reason = reason.into();
        Self::bad_request(
            "malformed_json",
            json!({"error": "malformed_json", "reason": reason}),
            reason.clone(),
        )
    }

    fn ignored(reason: String) -> Self {
        Self::new(
            StatusCode::OK,
            "ignored",
            json!({"status": "ignored", "reason": reason}),
        )
        .with_detail(reason)
    }

    /// 503 + Retry-After: our dependency failed; the sender keeps the delivery and retries.
    fn unavailable(outcome: &'static str, detail: String) -> Self {
        let mut answer = Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            outcome,
            json!({"error": "unavailable", "reason": "temporarily unable to accept the delivery; retry later"}),
        )
        .with_detail(detail);
        answer.retry_after = true;
        answer
    }

    /// 500: our configuration is wrong; details only in the log.
    fn internal(detail: String) -> Self {
        let mut answer = Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal_error",
            json!({"error": "internal_error", "reason": "the receiver is misconfigured; retry later"}),
        )
        .with_detail(detail);
        answer.retry_after = true;
        answer
    }

    fn into_response(self) -> Response<String> {
        let mut response = Response::new(self.body.to_string());
        *response.status_mut() = self.status;
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        if self.retry_after {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(RETRY_AFTER_SECONDS));
        }
        if self.allow_post {
            headers.insert(header::ALLOW, HeaderValue::from_static("POST"));
        }
        response
    }
}

/// A failed verification: the public status and fixed text; the reason goes to the log only.
fn rejected(e: VerifyError) -> Answer {
    let status = e.http_status();
    let outcome = match &e {
        VerifyError::StaleTimestamp { .. } => "stale_timestamp",
        VerifyError::SecretFormat(_) => "bad_secret",
        _ if status == StatusCode::UNAUTHORIZED => "bad_signature",
        _ => "bad_headers",
    };
    let error = match status {
        StatusCode::UNAUTHORIZED => "unauthorized",
        StatusCode::BAD_REQUEST => "bad_request",
        _ => "internal_error",
    };
    Answer::new(
        status,
        outcome,
        json!({"error": error, "reason": e.public_message()}),
    )
    .with_detail(e.to_string())
}

pub(crate) fn ping_answer(ping: &verify::toggl::Ping) -> Answer {
    use verify::toggl::PingAnswer;
    match ping.answer() {
        PingAnswer::EchoValidationCode { body } => {
            let body = serde_json::from_str(&body).unwrap_or(Value::Null);
            Answer::new(StatusCode::OK, "ping_validated", body)
        }
        // No outbound calls from this function: the operator opens the URL once (logged).
        PingAnswer::CallValidationUrl { url } => Answer::new(
            StatusCode::OK,
            "ping_needs_manual_validation",
            json!({"status": "acknowledged", "reason": "validate the subscription with its validation URL"}),
        )
        .with_detail(format!("open the toggl validation URL to validate: {url}")),
        PingAnswer::Acknowledge => Answer::new(
            StatusCode::OK,
            "ping",
            json!({"status": "acknowledged"}),
        ),
    }
}

/// The source name of `/webhooks/{source}`, also behind the Function URL emulator's
/// `/lambda-url/<function>/` prefix (`cargo lambda watch`). A trailing slash is tolerated.
fn route(path: &str) -> Option<&str> {
    let path = path.strip_suffix('/').unwrap_or(path);
    let rest = match path.strip_prefix("/lambda-url/") {
        Some(rest) => rest.split_once('/')?.1,
        None => path.strip_prefix('/')?,
    };
    let source = rest.strip_prefix("webhooks/")?;
    (!source.is_empty() && !source.contains('/')).then_some(source)
}

fn check_content_type(request: &Request<Vec<u8>>) -> Result<(), Answer> {
    let media_type = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        });
    let is_json = media_type.as_deref().is_some_and(|m| {
        m == "application/json" || (m.starts_with("application/") && m.ends_with("+json"))
    });
    if is_json {
        Ok(())
    } else {
        Err(Answer::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            json!({"error": "unsupported_media_type", "reason": "Content-Type must be application/json"}),
        )
        .with_detail(format!("content type {media_type:?}")))
    }
}

/// The declared length (when present) and the actual length, both before the body is read.
fn check_size(request: &Request<Vec<u8>>, limit: usize) -> Result<(), Answer> {
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    let actual = request.body().len();
    let too_big = declared.is_some_and(|d| d > limit as u64) || actual > limit;
    if too_big {
        Err(Answer::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
            json!({"error": "payload_too_large", "reason": format!("the body is over this source's limit of {limit} bytes")}),
        )
        .with_detail(format!("declared {declared:?}, received {actual} bytes")))
    } else {
        Ok(())
    }
}

/// 403 for a job kind, user or case outside the source's allow-list (`sources.<name>.allow`).
fn check_allowed(source: &Source, job: &Job) -> Result<(), Answer> {
    let allow = &source.allow;
    let name = &source.name;
    let kind = job.kind();
    if !allow.kind(kind) {
        let allowed: Vec<_> = allow.kinds.iter().map(|k| k.as_str()).collect();
        let reason = format!(
            "source {name} may not send {kind} jobs (sources.{name}.allow.kinds: {})",
            allowed.join(", ")
        );
        return Err(Answer::new(
            StatusCode::FORBIDDEN,
            "kind_not_allowed",
            json!({"error": "kind_not_allowed", "kind": kind.as_str(), "reason": reason}),
        )
        .with_detail(reason));
    }
    let (user, case) = match &job.action {
        Action::HourEntryUpsert(p) => (Some(("payload.user", &p.user)), Some(&p.case)),
        Action::CaseCreate(p) => (Some(("payload.owner", &p.owner)), None),
        Action::UserDeactivate(p) => (Some(("payload.user", &p.user)), None),
        _ => (None, None),
    };
    let refused = |field: &str, what: &str, list: &str| {
        let reason =
            format!("source {name} may not name this {what} (sources.{name}.allow.{list})");
        Answer::new(
            StatusCode::FORBIDDEN,
            "reference_not_allowed",
            json!({"error": "reference_not_allowed", "field": field, "reason": reason}),
        )
        .with_detail(reason)
    };
    if let Some((field, user)) = user {
        if !allow.user(user) {
            return Err(refused(field, "user", "users"));
        }
    }
    if let Some(case) = case {
        if !allow.case(case) {
            return Err(refused("payload.case", "case", "cases"));
        }
    }
    Ok(())
}

/// The checks of a built job before it is enqueued: the source's allow-list (403), then its
/// size on the job queue (413). The message to enqueue.
fn admit(source: &Source, job: &Job) -> Result<OutgoingMessage, Answer> {
    check_allowed(source, job)?;
    let message = job.to_message();
    check_queue_size(&message)?;
    Ok(message)
}

/// 413 for a job over the job-message limit (SQS's, less the room the worker needs to add its
/// reason when it dead-letters the job): a retry cannot help, so it must not become a 503.
fn check_queue_size(message: &OutgoingMessage) -> Result<(), Answer> {
    let size = message.size();
    if size <= MAX_JOB_MESSAGE_BYTES {
        return Ok(());
    }
    let reason = format!(
        "the job would be {size} bytes on the job queue, over its limit of \
         {MAX_JOB_MESSAGE_BYTES} bytes (body and attributes); send shorter text"
    );
    Err(Answer::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "job_too_large",
        json!({"error": "payload_too_large", "reason": reason}),
    )
    .with_detail(reason))
}

/// Same source + delivery id → same job id, whatever the delivery id looks like.
fn job_id(source: &str, dedup_id: &str) -> String {
    let mut hasher = Sha256::new();
    hasher.update(source.as_bytes());
    hasher.update(b"\n");
    hasher.update(dedup_id.as_bytes());
    let digest = hex::encode(hasher.finalize());
    format!("{source}:{}", &digest[..32])
}

pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// What a verified delivery's body asks for.
enum Interpreted {
    /// Enqueue `job`, once per `dedup_id`.
    Job { dedup_id: String, job: Box<Job> },
    /// Answer at once (a PING, an ignored event); nothing is enqueued.
    Answer(Answer),
}

/// The body of a delivery whose signature checked out → the job to enqueue (validated), or the
/// answer that ends the request. `webhook_id` and `delivered_at` are the verified Standard
/// Webhooks id and timestamp; Toggl deliveries carry neither (their dedup id comes from the body)
/// and pass the receive time.
fn interpret(
    source: &Source,
    webhook_id: &str,
    delivered_at: DateTime<Utc>,
    body: &[u8],
) -> Result<Interpreted, Answer> {
    match source.format {
        Format::StandardWebhooks => {
            let job = canonical_job(source, webhook_id, delivered_at, body)?;
            Ok(Interpreted::Job {
                dedup_id: webhook_id.to_string(),
                job: Box::new(job),
            })
        }
        Format::Toggl => {
            let mapping = source.toggl.as_ref().ok_or_else(|| {
                Answer::internal(format!("source {} has no toggl mapping", source.name))
            })?;
            match toggl::interpret(&source.name, mapping, body, delivered_at)? {
                toggl::Interpreted::Answer(answer) => Ok(Interpreted::Answer(answer)),
                toggl::Interpreted::Job(parts) => {
                    let job = Job {
                        schema_version: job::SCHEMA_VERSION,
                        job_id: job_id(&source.name, &parts.dedup_id),
                        source: source.name.clone(),
                        external_id: parts.external_id,
                        occurred_at: parts.occurred_at,
                        correlation_id: parts.dedup_id.clone(),
                        action: parts.action,
                    };
                    job.validate()
                        .map_err(|e| Answer::invalid(&e.field, e.reason))?;
                    Ok(Interpreted::Job {
                        dedup_id: parts.dedup_id,
                        job: Box::new(job),
                    })
                }
            }
        }
    }
}

/// What [`Webhook::handle`] makes of a delivery's body once the signature checked out, without
/// the HTTP, secret, dedup and queue steps around it.
#[derive(Debug, Clone, PartialEq)]
pub enum BodyOutcome {
    /// The (validated, allowed) job the handler enqueues, once per `dedup_id`.
    Job { dedup_id: String, job: Box<Job> },
    /// The handler answers without enqueueing (a PING, an ignored event, a refused body, a job
    /// outside the allow-list or over the queue's limit): the status and JSON body it sends.
    Answer { status: StatusCode, body: Value },
}

/// The body step of [`Webhook::handle`] on its own, for fuzz targets and property tests: the
/// same code the handler runs after verification and before dedup (body → job → allow-list →
/// queue size). `webhook_id` and `delivered_at` stand for the verified `webhook-id` and
/// `webhook-timestamp` of a Standard Webhooks delivery; for a Toggl source the id is unused and
/// `delivered_at` is the receive time.
pub fn interpret_verified_body(
    source: &Source,
    webhook_id: &str,
    delivered_at: DateTime<Utc>,
    body: &[u8],
) -> BodyOutcome {
    let admitted = interpret(source, webhook_id, delivered_at, body).and_then(|i| match i {
        Interpreted::Job { dedup_id, job } => {
            admit(source, &job)?;
            Ok(Interpreted::Job { dedup_id, job })
        }
        answer @ Interpreted::Answer(_) => Ok(answer),
    });
    match admitted {
        Ok(Interpreted::Job { dedup_id, job }) => BodyOutcome::Job { dedup_id, job },
        Ok(Interpreted::Answer(answer)) | Err(answer) => BodyOutcome::Answer {
            status: answer.status,
            body: answer.body,
        },
    }
}

/// A canonical body (`{"kind", "external_id", "occurred_at"?, "payload"}`) completed into a
/// job and validated by the job module, so errors name the field as the worker would.
fn canonical_job(
    source: &Source,
    webhook_id: &str,
    signed_at: DateTime<Utc>,
    body: &[u8],
) -> Result<Job, Answer> {
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| Answer::malformed_json(format!("the body is not JSON: {e}")))?;
    let Value::Object(mut fields) = value else {
        return Err(Answer::invalid(
            ".",
            "must be a JSON object {\"kind\", \"external_id\", \"occurred_at\"?, \"payload\"}",
        ));
    };
    if let Some(extra) = fields
        .keys()
        .find(|k| !CANONICAL_KEYS.contains(&k.as_str()))
    {
        return Err(Answer::invalid(
            extra,
            "unknown field; expected kind, external_id, occurred_at, payload",
        ));
    }
    for required in ["kind", "external_id"] {
        if !fields.contains_key(required) {
            return Err(Answer::invalid(required, "missing"));
        }
    }
    if !fields.contains_key("occurred_at") {
        fields.insert("occurred_at".into(), json!(signed_at.to_rfc3339()));
    }
    fields.insert("schema_version".into(), json!(job::SCHEMA_VERSION));
    fields.insert("job_id".into(), json!(job_id(&source.name, webhook_id)));
    fields.insert("source".into(), json!(source.name));
    fields.insert("correlation_id".into(), json!(webhook_id));
    let bytes = serde_json::to_vec(&fields)
        .map_err(|e| Answer::internal(format!("re-serialising the job failed: {e}")))?;
    Job::from_json(&bytes).map_err(|e| Answer::invalid(&e.field, e.reason))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_plain_and_emulator_paths() {
        assert_eq!(route("/webhooks/toggl"), Some("toggl"));
        assert_eq!(route("/webhooks/toggl/"), Some("toggl"));
        assert_eq!(route("/lambda-url/webhook/webhooks/crm"), Some("crm"));
        assert_eq!(route("/webhooks/"), None);
        assert_eq!(route("/webhooks/a/b"), None);
        assert_eq!(route("/other/toggl"), None);
        assert_eq!(route("/"), None);
    }

    #[test]
    fn a_job_over_the_queue_limit_is_413_naming_it() {
        let mut message = OutgoingMessage {
            body: String::new(),
            attributes: [("kind".to_string(), "account.upsert".to_string())].into(),
        };
        message.body = "x".repeat(MAX_JOB_MESSAGE_BYTES - message.size());
        assert!(check_queue_size(&message).is_ok(), "exactly the limit fits");
        message.body.push('x');
        let Err(answer) = check_queue_size(&message) else {
            panic!("one byte over was accepted")
        };
        let response = answer.into_response();
        assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
        assert!(!response.headers().contains_key(header::RETRY_AFTER));
        let body: Value = serde_json::from_str(response.body()).unwrap();
        assert_eq!(body["error"], "payload_too_large");
        let reason = body["reason"].as_str().unwrap();
        assert!(
            reason.contains(&MAX_JOB_MESSAGE_BYTES.to_string())
                && reason.contains(&(MAX_JOB_MESSAGE_BYTES + 1).to_string()),
            "{reason}"
        );
    }

    #[test]
    fn job_ids_are_stable_and_bounded() {
        let a = job_id("crm", "msg_1");
        assert_eq!(a, job_id("crm", "msg_1"));
        assert_ne!(a, job_id("crm", "msg_2"));
        assert_ne!(a, job_id("crm2", "msg_1"));
        assert!(a.starts_with("crm:") && a.len() == 4 + 32);
    }
}
