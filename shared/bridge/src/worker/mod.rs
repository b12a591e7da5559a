//! The worker function's logic (see `functions/worker`): an SQS batch of jobs → Severa.
//!
//! Every record is handled on its own task (a bad or panicking record never fails its
//! neighbours), at most [`WorkerSettings::concurrency`] at a time:
//! 1. parse ([`Job::from_json`]); malformed → DLQ at once;
//! 2. claim the job id in the idempotency store until the invocation deadline
//!    (`Completed` → duplicate, nothing to do; `InProgress` → retry after the other lock ends);
//! 3. take the record's writer lock (one job per external record at a time) and skip the job
//!    as `stale` when a newer event of the record was applied already (a delete leaves a
//!    tombstone an older upsert cannot undo);
//! 4. apply it through the typed Severa client (key from the secret cache; one forced re-read
//!    and one retry on an authentication fault);
//! 5. settle: success → `complete`; retryable ([`JobError::is_retryable`]) → `batchItemFailures`
//!    plus a back-off visibility; permanent → DLQ with the reason in message attributes, then
//!    deleted from the main queue.
//!
//! A job that cannot be tried now (its claim held by another invocation, its record locked by
//! another job, Severa's breaker open) waits — except on its last allowed receive or past its
//! maximum age: then it is dead-lettered here with that reason ([`Blocked`]), since the job
//! queue's redrive policy would move it without one. Every DLQ message carries its reason.
//!
//! One JSON log line per job outcome (`outcome` = applied | duplicate | skipped | stale |
//! retry | dead_lettered). Secret values are never logged: the key is an `ApiKey`, which redacts.

mod apply;
pub mod backoff;
pub mod breaker;
mod deliver;
pub(crate) mod severa_key;

pub use backoff::Jitter;
pub use deliver::{Outbound, delivery_body};
pub use severa_key::SeveraSettings;

use crate::error::{Blocked, JobError};
use crate::job::Action;
use crate::job::Job;
use crate::metrics::{Metrics, Unit};
use crate::ports::{
    Breaker, Claim, CreateIntent, ExternalKey, IdMap, IdempotencyStore, MessageSink,
    OutgoingMessage, PortError, ReceivedMessages, RecordLock, RecordLocks, RecordVersion,
};
use crate::resolve::Resolver;
use crate::secrets::SecretCache;
use apply::Applied;
use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent, SqsMessage};
use chrono::{DateTime, SecondsFormat, Utc};
use severa::SeveraError;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Semaphore;
use tokio::time::Instant;

/// The job queue's `maxReceiveCount` (infra/template.yaml): only a backstop. Sized so that the
/// retries of a day fit: 24 h at the 15-minute cap is ~100 receives, a rejected key retried
/// every 5 minutes ~290; see the README's arithmetic.
pub const MAX_RECEIVES: u32 = 500;

/// Longest `error_message` attribute on a dead-lettered message.
const MAX_ERROR_MESSAGE_CHARS: usize = 300;

/// Tunables, with defaults for a Lambda worker.
#[derive(Clone)]
pub struct WorkerSettings {
    /// Records of one batch in flight at once. Default 10. Severa's load is bounded apart from
    /// this, by the client's [`severa::SeveraConfig::max_calls_in_flight`] (the function's
    /// `SEVERA_CALLS_IN_FLIGHT`): a record spends most of its time on DynamoDB round trips, so
    /// more records than Severa calls in flight keep Severa busy.
    pub concurrency: usize,
    /// The job queue's maxReceiveCount: a backstop the worker dead-letters at (with the reason)
    /// before the queue's redrive would (without one). Default [`MAX_RECEIVES`].
    pub max_attempts: u32,
    /// How long a job keeps being retried after it was first sent: outages (a maintenance
    /// break, an exhausted daily quota, a key regenerated on a Friday) last hours. Default 24 h
    /// (within the queue's 4-day retention).
    pub max_age: Duration,
    /// Between retries while Severa rejects the key (waiting for a rotation). Default 5 min.
    pub key_rejected_retry: Duration,
    /// Now; injectable so tests can stand at 23:50 UTC.
    pub clock: crate::sync::Clock,
    /// First retry delay ceiling; doubles per delivery. Default 10 s.
    pub backoff_base: Duration,
    /// Largest retry delay. Default 15 min.
    pub backoff_cap: Duration,
    /// How long a completed job id is remembered. Default 7 days (SQS keeps messages ≤ 14).
    pub idempotency_ttl: Duration,
    /// Time kept back before the invocation deadline to report the batch. Default 2 s.
    pub deadline_margin: Duration,
    /// Lifetime of cached reference resolutions. Default 10 min.
    pub resolve_ttl: Duration,
    /// Spreads retry delays; see [`backoff::full_jitter`].
    pub jitter: Jitter,
    /// Job outcomes, Severa latency and quota as EMF lines (stdout in Lambda).
    pub metrics: Metrics,
}

impl Default for WorkerSettings {
    fn default() -> Self {
        Self {
            concurrency: 10,
            max_attempts: MAX_RECEIVES,
            max_age: Duration::from_secs(24 * 3600),
            key_rejected_retry: Duration::from_secs(5 * 60),
            clock: Arc::new(Utc::now),
            backoff_base: Duration::from_secs(10),
            backoff_cap: Duration::from_secs(15 * 60),
            idempotency_ttl: Duration::from_secs(7 * 24 * 3600),
            deadline_margin: Duration::from_secs(2),
            resolve_ttl: crate::resolve::DEFAULT_TTL,
            jitter: backoff::clock_seeded_jitter(),
            metrics: Metrics::stdout("worker"),
        }
    }
}

impl std::fmt::Debug for WorkerSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WorkerSettings")
            .field("concurrency", &self.concurrency)
            .field("max_attempts", &self.max_attempts)
            .field("max_age", &self.max_age)
            .field("key_rejected_retry", &self.key_rejected_retry)
            .field("backoff_base", &self.backoff_base)
            .field("backoff_cap", &self.backoff_cap)
            .field("idempotency_ttl", &self.idempotency_ttl)
            .field("deadline_margin", &self.deadline_margin)
            .field("resolve_ttl", &self.resolve_ttl)
            .finish_non_exhaustive()
    }
}

/// The worker's infrastructure, behind the ports (AWS adapters in production, anything in tests).
#[derive(Clone)]
pub struct WorkerPorts {
    /// The job queue the batch came from (visibility changes, deletes).
    pub queue: Arc<dyn ReceivedMessages>,
    /// Where permanent failures go.
    pub dlq: Arc<dyn MessageSink>,
    pub idempotency: Arc<dyn IdempotencyStore>,
    pub id_map: Arc<dyn IdMap>,
    /// One writer per external record, in event order.
    pub records: Arc<dyn RecordLocks>,
    /// The shared circuit breaker in front of Severa.
    pub breaker: Arc<dyn Breaker>,
    /// Holds the Severa key (TTL, serve-stale, single-flight refresh).
    pub secrets: Arc<SecretCache>,
}

pub(crate) struct Inner {
    queue: Arc<dyn ReceivedMessages>,
    dlq: Arc<dyn MessageSink>,
    idempotency: Arc<dyn IdempotencyStore>,
    id_map: Arc<dyn IdMap>,
    records: Arc<dyn RecordLocks>,
    breaker: Arc<breaker::SharedBreaker>,
    severa: severa_key::SeveraAccess,
    resolver: Resolver,
    settings: WorkerSettings,
    /// Outbound jobs (scheduled syncs); `None`: such jobs are dead-lettered as misconfigured.
    outbound: Option<deliver::OutboundAccess>,
}

/// The worker. Cheap to clone (shared state); build once per Lambda instance and keep it warm:
/// the Severa client, the key and the resolutions are cached inside.
#[derive(Clone)]
pub struct Worker {
    inner: Arc<Inner>,
}

/// How one record ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Applied,
    Duplicate,
    Skipped,
    /// An event older than the one last applied to its record: nothing done.
    Stale,
    Retry,
    DeadLettered,
}

impl Outcome {
    fn as_str(self) -> &'static str {
        match self {
            Self::Applied => "applied",
            Self::Duplicate => "duplicate",
            Self::Skipped => "skipped",
            Self::Stale => "stale",
            Self::Retry => "retry",
            Self::DeadLettered => "dead_lettered",
        }
    }
}

/// What the log line and the DLQ attributes say about a record.
#[derive(Debug, Default, Clone)]
struct Meta {
    message_id: String,
    correlation_id: String,
    job_id: String,
    kind: String,
    source: String,
    receive_count: u32,
    /// When SQS first received the message (`SentTimestamp`).
    first_sent: Option<DateTime<Utc>>,
}

impl Meta {
    fn from_record(record: &SqsMessage) -> Self {
        let attr = |name: &str| {
            record
                .message_attributes
                .get(name)
                .and_then(|a| a.string_value.clone())
                .unwrap_or_default()
        };
        Self {
            message_id: record.message_id.clone().unwrap_or_default(),
            correlation_id: attr("correlation_id"),
            job_id: String::new(),
            kind: attr("kind"),
            source: attr("source"),
            receive_count: record
                .attributes
                .get("ApproximateReceiveCount")
                .and_then(|c| c.trim().parse().ok())
                .unwrap_or(1),
            first_sent: record
                .attributes
                .get("SentTimestamp")
                .and_then(|t| t.trim().parse().ok())
                .and_then(DateTime::from_timestamp_millis),
        }
    }

    fn with_job(mut self, job: &Job) -> Self {
        self.correlation_id = job.correlation_id.clone();
        self.job_id = job.job_id.clone();
        self.kind = job.kind().as_str().to_string();
        self.source = job.source.clone();
        self
    }
}

/// The Severa operation an error came from, for the log line.
fn failed_operation(err: &JobError) -> Option<String> {
    match err {
        JobError::Severa(e) | JobError::KeyRejected(e) => match e {
            SeveraError::Fault { operation, .. }
            | SeveraError::Transport { operation, .. }
            | SeveraError::Request { operation, .. }
            | SeveraError::HeldBack { operation, .. } => Some(operation.clone()),
            SeveraError::Config(_) => None,
        },
        _ => None,
    }
}

fn truncate(text: &str, max_chars: usize) -> String {
    match text.char_indices().nth(max_chars) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_string(),
    }
}

fn deadline_error() -> JobError {
    JobError::Infrastructure(PortError {
        service: "Lambda",
        action: "Invoke",
        message: "the invocation deadline came before the job finished".into(),
        retryable: true,
    })
}

fn panic_error() -> JobError {
    JobError::Infrastructure(PortError {
        service: "Worker",
        action: "Panic",
        message: "handling the record panicked (see the panic message above)".into(),
        retryable: true,
    })
}

impl Worker {
    pub fn new(ports: WorkerPorts, severa: SeveraSettings, settings: WorkerSettings) -> Self {
        Self::build(ports, severa, settings, None)
    }

    /// A worker that also delivers outbound jobs (scheduled syncs) to the configured targets.
    pub fn with_outbound(
        ports: WorkerPorts,
        severa: SeveraSettings,
        settings: WorkerSettings,
        outbound: Outbound,
    ) -> Self {
        let access = deliver::OutboundAccess {
            outbound,
            secrets: ports.secrets.clone(),
        };
        Self::build(ports, severa, settings, Some(access))
    }

    fn build(
        ports: WorkerPorts,
        mut severa: SeveraSettings,
        settings: WorkerSettings,
        outbound: Option<deliver::OutboundAccess>,
    ) -> Self {
        // One EMF document per invocation rather than two per job (see `Metrics::buffered`).
        let settings = WorkerSettings {
            metrics: settings.metrics.buffered(),
            ..settings
        };
        // The client asks the breaker once more after a call waited for its slot.
        let breaker = Arc::new(breaker::SharedBreaker::new(
            ports.breaker,
            settings.clock.clone(),
        ));
        severa.config.call_gate = Some(breaker.clone());
        Self {
            inner: Arc::new(Inner {
                queue: ports.queue,
                dlq: ports.dlq,
                idempotency: ports.idempotency,
                id_map: ports.id_map,
                records: ports.records,
                breaker,
                severa: severa_key::SeveraAccess::new(ports.secrets, severa),
                resolver: Resolver::new(settings.resolve_ttl),
                settings,
                outbound,
            }),
        }
    }

    /// Handles one SQS batch; `deadline` is the invocation's (Lambda context). Returns the
    /// records to redeliver; everything else is done (applied, duplicate, skipped, or moved to
    /// the DLQ). Never fails as a whole: one record's trouble stays with that record.
    ///
    /// Every record runs as its own task, so a panic ends only that task (a `JoinError`).
    pub async fn handle(&self, event: SqsEvent, deadline: DateTime<Utc>) -> SqsBatchResponse {
        self.inner.refresh_breaker().await;
        let semaphore = Arc::new(Semaphore::new(self.inner.settings.concurrency.max(1)));
        let tasks: Vec<_> = event
            .records
            .into_iter()
            .map(|record| {
                // Shared with the task: the batch keeps it for the answer and a panic's cleanup.
                let record = Arc::new(record);
                let (task_record, inner) = (record.clone(), self.inner.clone());
                let semaphore = semaphore.clone();
                let task = tokio::spawn(async move {
                    let _permit = semaphore.acquire_owned().await;
                    // Boxed: the job's future (parsing through the Severa call) is several KiB,
                    // and the task would otherwise copy it whole at each move into the runtime.
                    Box::pin(inner.process(&task_record, deadline)).await
                });
                (record, task)
            })
            .collect();

        let mut response = SqsBatchResponse::default();
        for (record, task) in tasks {
            let retry = match task.await {
                Ok(outcome) => outcome == Outcome::Retry,
                Err(join_error) => {
                    self.inner
                        .after_panic(
                            Meta::from_record(&record),
                            record.receipt_handle.as_deref(),
                            record.body.as_deref(),
                            join_error,
                        )
                        .await;
                    true
                }
            };
            if retry {
                let message_id = record.message_id.clone().unwrap_or_default();
                if message_id.is_empty() {
                    tracing::error!(
                        "a record to retry has no messageId; Lambda will retry the whole batch"
                    );
                }
                let mut failure = BatchItemFailure::default();
                failure.item_identifier = message_id;
                response.batch_item_failures.push(failure);
            }
        }
        self.inner.settings.metrics.flush();
        response
    }
}

impl Inner {
    async fn process(&self, record: &SqsMessage, deadline: DateTime<Utc>) -> Outcome {
        let started = Instant::now();
        let meta = Meta::from_record(record);
        let body = record.body.as_deref().unwrap_or_default();
        let receipt = record.receipt_handle.as_deref();
        let job = match Job::from_json(body.as_bytes()) {
            Ok(job) => job,
            Err(invalid) => {
                let mut meta = meta;
                fill_from_raw(&mut meta, body);
                let err = JobError::Malformed(invalid);
                let outcome = self.settle_failure(&meta, receipt, body, &err).await;
                self.log(&meta, outcome, None, started, Some(&err));
                return outcome;
            }
        };
        let meta = meta.with_job(&job);
        let budget = (deadline - Utc::now())
            .to_std()
            .unwrap_or_default()
            .saturating_sub(self.settings.deadline_margin);
        if budget.is_zero() {
            let err = deadline_error();
            let outcome = self.settle_failure(&meta, receipt, body, &err).await;
            self.log(&meta, outcome, None, started, Some(&err));
            return outcome;
        }

        // Severa down or the key rejected: do not call it, come back when the breaker says.
        let record = record_key(&job);
        let touches_severa = record.is_some();
        if touches_severa {
            let now = (self.settings.clock)();
            if let breaker::Gate::Defer { seconds, reason } = self
                .breaker
                .gate(&job.job_id, now, self.breaker_jitter())
                .await
            {
                return self
                    .defer_while_open(&meta, receipt, body, started, seconds, reason)
                    .await;
            }
        }

        let claim = match self.idempotency.claim(&job.job_id, deadline).await {
            Ok(claim) => claim,
            Err(e) => {
                let err = JobError::Infrastructure(e);
                let outcome = self.settle_failure(&meta, receipt, body, &err).await;
                self.log(&meta, outcome, None, started, Some(&err));
                return outcome;
            }
        };
        match claim {
            Claim::Acquired => {}
            Claim::Completed { .. } => {
                self.log(&meta, Outcome::Duplicate, None, started, None);
                return Outcome::Duplicate;
            }
            Claim::InProgress { until } => {
                // On the last allowed receive, waiting would hand the job to the queue's
                // redrive policy, which moves it without a reason: dead-letter it here.
                let blocked = Blocked::ClaimHeld {
                    until: until.to_rfc3339_opts(SecondsFormat::Secs, true),
                };
                if let Some(outcome) = self
                    .give_up_if_exhausted(&meta, receipt, body, blocked, started)
                    .await
                {
                    return outcome;
                }
                // Another invocation holds the job; look again once its lock has ended.
                let wait = (until - Utc::now()).num_seconds().saturating_add(1);
                let cap = i64::try_from(self.settings.backoff_cap.as_secs()).unwrap_or(i64::MAX);
                let seconds = i32::try_from(wait.clamp(1, cap.max(1))).unwrap_or(i32::MAX);
                self.delay(&meta, receipt, seconds).await;
                let why = "the job is being handled by another invocation";
                self.log_wait(&meta, started, "InProgress", seconds, why);
                return Outcome::Retry;
            }
        }

        let mut intent = None;
        if let Some(key) = &record {
            match self
                .take_record(&job, key, &meta, receipt, body, deadline, started)
                .await
            {
                Ok(open) => intent = open,
                Err(outcome) => return outcome,
            }
        }

        let severa_started = Instant::now();
        let attempt = meta.receive_count;
        let result = match tokio::time::timeout(
            budget,
            self.apply_rereading_misses(&job, attempt, intent.as_ref()),
        )
        .await
        {
            Ok(result) => result,
            Err(_elapsed) => Err(deadline_error()),
        };
        self.record_severa(severa_started.elapsed());
        if touches_severa {
            self.observe_severa(&result).await;
        }
        match result {
            Ok(applied) => {
                // The id map is written: the two writes that end the job do not depend on each
                // other, so they share one round trip (each table request holds the record).
                let version = RecordVersion {
                    occurred_at: job.occurred_at,
                    deleted: matches!(job.action, Action::HourEntryDelete(_)),
                };
                tokio::join!(
                    self.let_go(record.as_ref(), &job.job_id, Some(version)),
                    self.complete_claim(&job.job_id, applied.guid.as_deref()),
                );
                let outcome = if applied.skipped {
                    Outcome::Skipped
                } else {
                    Outcome::Applied
                };
                self.log(&meta, outcome, Some(&applied), started, None);
                outcome
            }
            Err(err) => {
                tokio::join!(
                    self.let_go(record.as_ref(), &job.job_id, None),
                    self.release_claim(&job.job_id),
                );
                // Held back after the breaker opened beside it: wait as the breaker says.
                if matches!(err, JobError::Severa(SeveraError::HeldBack { .. })) {
                    if let Some(breaker::Gate::Defer { seconds, reason }) = self
                        .breaker
                        .while_open((self.settings.clock)(), self.breaker_jitter())
                    {
                        return self
                            .defer_while_open(&meta, receipt, body, started, seconds, reason)
                            .await;
                    }
                }
                let outcome = self.settle_failure(&meta, receipt, body, &err).await;
                self.log(&meta, outcome, None, started, Some(&err));
                outcome
            }
        }
    }

    /// Up to 10 s added to a breaker deferral, so deferred jobs do not all return together.
    fn breaker_jitter(&self) -> u64 {
        (self.settings.jitter)(10).min(10)
    }

    /// Severa's breaker is open: the job comes back in `seconds` without calling Severa (or is
    /// dead-lettered with the reason when it is exhausted).
    async fn defer_while_open(
        &self,
        meta: &Meta,
        receipt: Option<&str>,
        body: &str,
        started: Instant,
        seconds: i32,
        reason: String,
    ) -> Outcome {
        let why =
            format!("Severa's circuit breaker is open ({reason}): deferred without calling Severa");
        let blocked = Blocked::SeveraUnavailable { reason };
        if let Some(outcome) = self
            .give_up_if_exhausted(meta, receipt, body, blocked, started)
            .await
        {
            return outcome;
        }
        self.delay(meta, receipt, seconds).await;
        self.settings.metrics.count("JobsDeferred", 1, &[]);
        self.log_wait(meta, started, "SeveraUnavailable", seconds, &why);
        Outcome::Retry
    }

    /// Takes the job's record lock. `Ok(intent)`: go on and apply (with the record's open create
    /// intent, if a create was started and not seen through). `Err(outcome)`: the job is settled
    /// here — another job of the record holds it (retry after a back-off), the lock could not be
    /// taken (retry), or a newer event of the record was applied already (`stale`: completed
    /// without touching Severa).
    #[allow(clippy::too_many_arguments)]
    async fn take_record(
        &self,
        job: &Job,
        key: &ExternalKey,
        meta: &Meta,
        receipt: Option<&str>,
        body: &str,
        deadline: DateTime<Utc>,
        started: Instant,
    ) -> Result<Option<CreateIntent>, Outcome> {
        let lock = self.records.lock(key, &job.job_id, deadline).await;
        let (last, intent) = match lock {
            Ok(RecordLock::Acquired { last, intent }) => (last, intent),
            Ok(RecordLock::Held { until }) => {
                self.release_claim(&job.job_id).await;
                let blocked = Blocked::RecordBusy {
                    until: until.to_rfc3339_opts(SecondsFormat::Secs, true),
                };
                if let Some(outcome) = self
                    .give_up_if_exhausted(meta, receipt, body, blocked, started)
                    .await
                {
                    return Err(outcome);
                }
                // The holder usually lets go within a second: a normal back-off, not its deadline.
                let seconds = self.retry_later(meta, receipt).await;
                let why = format!(
                    "another job of the same record holds it (until {}); retrying after it",
                    until.to_rfc3339_opts(SecondsFormat::Secs, true)
                );
                self.log_wait(meta, started, "RecordBusy", seconds, &why);
                self.settings.metrics.count("JobsRetried", 1, &[]);
                return Err(Outcome::Retry);
            }
            Err(e) => {
                self.release_claim(&job.job_id).await;
                let err = JobError::Infrastructure(e);
                let outcome = self.settle_failure(meta, receipt, body, &err).await;
                self.log(meta, outcome, None, started, Some(&err));
                return Err(outcome);
            }
        };
        let Some(last) = last.filter(|last| job.occurred_at < last.occurred_at) else {
            return Ok(intent);
        };
        tokio::join!(
            self.let_go(Some(key), &job.job_id, None),
            self.complete_claim(&job.job_id, None),
        );
        tracing::info!(
            correlation_id = %meta.correlation_id,
            job_id = %meta.job_id,
            kind = %meta.kind,
            source = %meta.source,
            occurred_at = %job.occurred_at.to_rfc3339_opts(SecondsFormat::Millis, true),
            last_applied_at = %last.occurred_at.to_rfc3339_opts(SecondsFormat::Millis, true),
            last_was_delete = last.deleted,
            "a newer event of this record was applied already"
        );
        self.log(meta, Outcome::Stale, None, started, None);
        Err(Outcome::Stale)
    }

    /// Reads the breaker for this batch. While it is open for a rejected key, re-reads the
    /// secret (once per batch): a key rotated in since is tried at once, not after the opening.
    async fn refresh_breaker(&self) {
        self.breaker.refresh().await;
        let Some(rejected) = self.breaker.rejected_key() else {
            return;
        };
        match self.severa.key_digest(true).await {
            Ok(current) if current != rejected => {
                tracing::info!(
                    "the Severa key in the secret changed since it was rejected; trying the new one"
                );
                self.breaker.key_changed();
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "could not re-read the Severa key"),
        }
    }

    /// Tells the breaker what the job learnt about Severa: an outage opens it, an answer (a
    /// success, or a fault of the job itself) closes it.
    async fn observe_severa(&self, result: &Result<Applied, JobError>) {
        match result {
            Ok(_) => self.breaker.answered().await,
            // Not sent: Severa said nothing.
            Err(JobError::Severa(SeveraError::HeldBack { .. })) => {}
            Err(err) => match breaker::outage(err) {
                Some(reason) => {
                    let rejected_key = match err {
                        JobError::KeyRejected(_) => self.severa.key_digest(false).await.ok(),
                        _ => None,
                    };
                    let opening = self
                        .breaker
                        .trip(
                            &reason,
                            (self.settings.clock)(),
                            self.settings.key_rejected_retry,
                            rejected_key,
                        )
                        .await;
                    self.settings.metrics.count("SeveraBreakerTrips", 1, &[]);
                    tracing::warn!(
                        reason = %reason,
                        open_for_s = opening.as_secs(),
                        "Severa is not answering: circuit breaker open, jobs wait without calling it"
                    );
                }
                None if matches!(err, JobError::Severa(_) | JobError::Unresolved { .. }) => {
                    self.breaker.answered().await
                }
                None => {}
            },
        }
    }

    /// Lets go of the job's record lock (`None`: the job has no record, nothing to let go).
    async fn let_go(&self, key: Option<&ExternalKey>, owner: &str, applied: Option<RecordVersion>) {
        let Some(key) = key else { return };
        if let Err(e) = self.records.unlock(key, owner, applied).await {
            // The lock ends by itself at the invocation deadline; the version is what is lost:
            // an older event arriving later could still be applied.
            tracing::warn!(job_id = owner, error = %e, "could not let go of the record's lock");
        }
    }

    /// Marks the job done. If that fails, a redelivery only does the job's work again: the id
    /// map and the record's version are written, so it updates or is stale, never duplicates.
    async fn complete_claim(&self, job_id: &str, severa_guid: Option<&str>) {
        if let Err(e) = self
            .idempotency
            .complete(job_id, severa_guid, self.settings.idempotency_ttl)
            .await
        {
            tracing::warn!(job_id, error = %e, "could not mark the job completed");
        }
    }

    async fn release_claim(&self, job_id: &str) {
        if let Err(e) = self.idempotency.release(job_id).await {
            tracing::warn!(job_id, error = %e, "could not release the job's claim; it frees itself at the deadline");
        }
    }

    /// A reference miss (a user, case or account Severa does not have) may be a record created
    /// there seconds ago and not yet in a cached list. The first miss is retried after a
    /// back-off ([`Self::settle_failure`]); a later attempt that misses re-reads Severa with
    /// every cache forgotten, and only a miss then is final. Resolution happens before any
    /// write, so applying again is safe.
    async fn apply_rereading_misses(
        &self,
        job: &Job,
        attempt: u32,
        intent: Option<&CreateIntent>,
    ) -> Result<Applied, JobError> {
        match self.apply_with_key(job, intent).await {
            Err(JobError::Unresolved { .. }) if attempt > 1 => {
                self.resolver.forget_all();
                self.apply_with_key(job, intent).await
            }
            other => other,
        }
    }

    /// Applies the job; on an authentication fault re-reads the key once (single-flight in the
    /// cache) and tries once more, so a rotated key costs one failed call, not a failed job.
    async fn apply_with_key(
        &self,
        job: &Job,
        intent: Option<&CreateIntent>,
    ) -> Result<Applied, JobError> {
        let (client, generation) = self.severa.client().await?;
        match self.apply(job, client, intent).await {
            Err(err) if err.is_authentication_failure() => {
                tracing::warn!(
                    job_id = %job.job_id,
                    "Severa rejected the API key; re-reading the secret and trying once more"
                );
                let (client, _) = self.severa.refreshed(generation).await?;
                match self.apply(job, client, intent).await {
                    Err(JobError::Severa(e))
                        if e.fault_kind() == Some(severa::FaultKind::AuthenticationFailure) =>
                    {
                        Err(JobError::KeyRejected(e))
                    }
                    other => other,
                }
            }
            other => other,
        }
    }

    /// Retry later or dead-letter, by the one rule in [`JobError::is_retryable`]; a retryable
    /// failure on the last attempt ([`WorkerSettings::max_attempts`]) is dead-lettered here,
    /// with its reason, rather than left to the queue's redrive policy (which keeps none).
    async fn settle_failure(
        &self,
        meta: &Meta,
        receipt: Option<&str>,
        body: &str,
        err: &JobError,
    ) -> Outcome {
        // A first reference miss waits for a re-read (see `apply_rereading_misses`).
        let fresh_miss = matches!(err, JobError::Unresolved { .. }) && meta.receive_count <= 1;
        if (err.is_retryable() || fresh_miss) && !self.exhausted(meta) {
            self.retry_after(meta, receipt, err).await;
            return Outcome::Retry;
        }
        self.dead_letter(meta, receipt, body, err).await
    }

    /// How long ago SQS first received the message, when known.
    fn age(&self, meta: &Meta) -> Option<Duration> {
        meta.first_sent
            .and_then(|sent| ((self.settings.clock)() - sent).to_std().ok())
    }

    /// This is the job's last allowed receive, or it is older than the maximum age: anything
    /// but settling it now leaves it to the queue's redrive policy (no reason) or retention.
    fn exhausted(&self, meta: &Meta) -> bool {
        let too_old = self
            .age(meta)
            .is_some_and(|age| age >= self.settings.max_age);
        too_old || meta.receive_count >= self.settings.max_attempts
    }

    /// A job that cannot be tried now (`blocked`) normally waits; when it is exhausted it is
    /// dead-lettered here with the reason instead (`Some(outcome)`, logged).
    async fn give_up_if_exhausted(
        &self,
        meta: &Meta,
        receipt: Option<&str>,
        body: &str,
        blocked: Blocked,
        started: Instant,
    ) -> Option<Outcome> {
        if !self.exhausted(meta) {
            return None;
        }
        let err = JobError::Blocked(blocked);
        let outcome = self.dead_letter(meta, receipt, body, &err).await;
        self.log(meta, outcome, None, started, Some(&err));
        Some(outcome)
    }

    /// Sends the job to the DLQ with the reason in message attributes, then deletes it from the
    /// job queue. If the DLQ refuses it, the job is retried instead (nothing is lost).
    async fn dead_letter(
        &self,
        meta: &Meta,
        receipt: Option<&str>,
        body: &str,
        err: &JobError,
    ) -> Outcome {
        let mut attributes = dlq_attributes(meta, err);
        if err.is_retryable() {
            let over = match self.age(meta) {
                Some(age) => format!(" over {} min", age.as_secs() / 60),
                None => String::new(),
            };
            attributes.insert(
                "retries_exhausted".to_string(),
                format!("gave up after {} attempts{over}", meta.receive_count),
            );
        }
        let message = OutgoingMessage {
            body: body.to_string(),
            attributes,
        };
        match self.dlq.send(&message).await {
            Ok(_) => {
                if let Some(receipt) = receipt {
                    // If this fails, the record is still reported as done and Lambda deletes it.
                    if let Err(e) = self.queue.delete(receipt).await {
                        tracing::warn!(message_id = %meta.message_id, error = %e, "dead-lettered, but the delete from the job queue failed");
                    }
                }
                Outcome::DeadLettered
            }
            Err(e) => {
                // Nothing is lost: the record goes back to the queue and its redrive policy.
                tracing::error!(message_id = %meta.message_id, job_id = %meta.job_id, error = %e, "could not send to the DLQ; the record will be retried");
                self.retry_later(meta, receipt).await;
                Outcome::Retry
            }
        }
    }

    /// The delay fits the failure: an exhausted daily quota waits for the next UTC day; a
    /// rejected key is tried again every few minutes (a person rotates the new key in); other
    /// transient failures back off exponentially up to the cap.
    async fn retry_after(&self, meta: &Meta, receipt: Option<&str>, err: &JobError) {
        let jitter = &self.settings.jitter;
        let seconds = match err {
            JobError::Severa(e)
                if e.fault_kind() == Some(severa::FaultKind::QuotaLimitExceeded) =>
            {
                backoff::until_next_utc_day(
                    (self.settings.clock)(),
                    Duration::from_secs(600),
                    jitter,
                )
            }
            JobError::KeyRejected(_) => {
                let base = self.settings.key_rejected_retry.as_secs();
                let spread = jitter(base / 5).min(base / 5);
                i32::try_from(base + spread).unwrap_or(i32::MAX)
            }
            _ => {
                self.retry_later(meta, receipt).await;
                return;
            }
        };
        self.delay(meta, receipt, seconds).await;
    }

    async fn retry_later(&self, meta: &Meta, receipt: Option<&str>) -> i32 {
        let seconds = backoff::delay_seconds(
            meta.receive_count,
            self.settings.backoff_base,
            self.settings.backoff_cap,
            &self.settings.jitter,
        );
        self.delay(meta, receipt, seconds).await;
        seconds
    }

    /// The log line of a job sent back to wait without being tried (another holder, the
    /// breaker): outcome `retry`, why, and when it comes back.
    fn log_wait(
        &self,
        meta: &Meta,
        started: Instant,
        error_type: &str,
        retry_in_s: i32,
        why: &str,
    ) {
        tracing::info!(
            correlation_id = %meta.correlation_id,
            job_id = %meta.job_id,
            kind = %meta.kind,
            source = %meta.source,
            severa_operation = "",
            duration_ms = started.elapsed().as_millis() as u64,
            outcome = Outcome::Retry.as_str(),
            error_type,
            attempt = meta.receive_count,
            max_attempts = self.settings.max_attempts,
            retry_in_s,
            "{why}"
        );
    }

    async fn delay(&self, meta: &Meta, receipt: Option<&str>, seconds: i32) {
        let Some(receipt) = receipt else { return };
        if let Err(e) = self.queue.delay(receipt, seconds).await {
            // The queue's own visibility timeout still brings the record back.
            tracing::warn!(message_id = %meta.message_id, error = %e, "could not set the retry delay");
        }
    }

    /// A record's task panicked: release its claim (so a retry is not blocked until the
    /// deadline), set a back-off, and log it as a retry.
    async fn after_panic(
        &self,
        mut meta: Meta,
        receipt: Option<&str>,
        body: Option<&str>,
        join_error: tokio::task::JoinError,
    ) {
        if let Some(job) = body.and_then(|b| Job::from_json(b.as_bytes()).ok()) {
            meta = meta.with_job(&job);
            if let Err(e) = self.idempotency.release(&job.job_id).await {
                tracing::warn!(job_id = %job.job_id, error = %e, "could not release the claim of a panicked job");
            }
        }
        self.retry_later(&meta, receipt).await;
        let err = panic_error();
        tracing::error!(message_id = %meta.message_id, panic = %join_error, "a record's handling panicked");
        self.log(&meta, Outcome::Retry, None, Instant::now(), Some(&err));
    }

    /// How long the job's Severa work took (lookups and the write) and how much of the daily
    /// quota is used, for the dashboard and the quota alarm.
    fn record_severa(&self, elapsed: std::time::Duration) {
        let mut values = vec![(
            "SeveraLatency",
            elapsed.as_secs_f64() * 1000.0,
            Unit::Milliseconds,
        )];
        if let Some(share) = self.severa.last_quota().and_then(|q| q.used_share()) {
            values.push(("SeveraQuotaUsedPercent", share * 100.0, Unit::Percent));
        }
        self.settings.metrics.put_all(&values, &[]);
    }

    /// The one outcome line per job (and its count in the metrics).
    fn log(
        &self,
        meta: &Meta,
        outcome: Outcome,
        applied: Option<&Applied>,
        started: Instant,
        err: Option<&JobError>,
    ) {
        let operation: std::borrow::Cow<'static, str> = match (applied, err) {
            (Some(a), _) => a.operation.into(),
            (None, Some(err)) => failed_operation(err).unwrap_or_default().into(),
            (None, None) => "".into(),
        };
        let duration_ms = started.elapsed().as_millis() as u64;
        let counter = match outcome {
            Outcome::Applied | Outcome::Skipped => "JobsApplied",
            Outcome::Duplicate => "JobsDuplicate",
            Outcome::Stale => "JobsStale",
            Outcome::Retry => "JobsRetried",
            Outcome::DeadLettered => "JobsDeadLettered",
        };
        self.settings.metrics.count(counter, 1, &[]);
        let severa_guid = applied.and_then(|a| a.guid.as_deref()).unwrap_or_default();
        match err {
            // Fields as `&str`, not `%`: a string is written as it is, without a formatting
            // pass into a temporary String per field (a third of the line's cost per job).
            None => tracing::info!(
                message_id = meta.message_id.as_str(),
                correlation_id = meta.correlation_id.as_str(),
                job_id = meta.job_id.as_str(),
                kind = meta.kind.as_str(),
                source = meta.source.as_str(),
                severa_operation = operation.as_ref(),
                severa_guid,
                duration_ms,
                outcome = outcome.as_str(),
                attempt = meta.receive_count,
                "job {}",
                outcome.as_str()
            ),
            Some(err) => tracing::warn!(
                message_id = meta.message_id.as_str(),
                correlation_id = meta.correlation_id.as_str(),
                job_id = meta.job_id.as_str(),
                kind = meta.kind.as_str(),
                source = meta.source.as_str(),
                severa_operation = operation.as_ref(),
                duration_ms,
                outcome = outcome.as_str(),
                error_type = %err.error_type(),
                error = %err,
                attempt = meta.receive_count,
                max_attempts = self.settings.max_attempts,
                "job {}",
                outcome.as_str()
            ),
        }
    }
}

/// Best-effort ids from a body that is not a valid job, so the DLQ entry can be traced back.
fn fill_from_raw(meta: &mut Meta, body: &str) {
    let Ok(serde_json::Value::Object(raw)) = serde_json::from_str::<serde_json::Value>(body) else {
        return;
    };
    let text = |name: &str| {
        raw.get(name)
            .and_then(|v| v.as_str())
            .map(|s| truncate(s, 256))
    };
    if let Some(v) = text("job_id") {
        meta.job_id = v;
    }
    if meta.correlation_id.is_empty() {
        meta.correlation_id = text("correlation_id").unwrap_or_default();
    }
    if meta.source.is_empty() {
        meta.source = text("source").unwrap_or_default();
    }
    if meta.kind.is_empty() {
        meta.kind = text("kind").unwrap_or_default();
    }
}

/// The record a job writes, as its lock key; `None` for outbound deliveries (their order and
/// once-only sending are the delivery's own).
fn record_key(job: &Job) -> Option<ExternalKey> {
    if matches!(job.action, Action::OutboundDeliver(_)) {
        return None;
    }
    Some(ExternalKey {
        source: job.source.clone(),
        entity: job.kind().entity().to_string(),
        external_id: job.external_id.clone(),
    })
}

/// The reason a message is in the DLQ, as String message attributes (empty ones are dropped).
fn dlq_attributes(meta: &Meta, err: &JobError) -> BTreeMap<String, String> {
    let now = Utc::now().to_rfc3339_opts(SecondsFormat::Secs, true);
    BTreeMap::from([
        ("error_type".to_string(), err.error_type()),
        (
            "error_message".to_string(),
            truncate(&err.to_string(), MAX_ERROR_MESSAGE_CHARS),
        ),
        ("attempts".to_string(), meta.receive_count.to_string()),
        ("correlation_id".to_string(), meta.correlation_id.clone()),
        ("job_id".to_string(), meta.job_id.clone()),
        ("source".to_string(), meta.source.clone()),
        ("kind".to_string(), meta.kind.clone()),
        ("first_failure_at".to_string(), now),
        ("message_id".to_string(), meta.message_id.clone()),
    ])
}
