//! Scheduled syncs, Severa → other software: the scheduler function's logic (see
//! `functions/scheduler`). EventBridge Scheduler invokes it with `{"sync": "<name>"}`; a run
//! reads the sync's records from Severa and enqueues one outbound job per record (hour entries:
//! per batch). The worker delivers them (`worker/deliver.rs`).
//!
//! A run, in order:
//! 1. **lease**: a DynamoDB item with an expiry; a second run of the same sync while one is
//!    going exits with [`RunOutcome::Busy`] and says who holds it until when;
//! 2. **schema guard**: `GetEntitySchemaVersion` on every run; a change from the stored
//!    version logs an error and emits `SchemaVersionChanged`, and (if configured) pauses all
//!    syncs until `bridgectl sync ack-schema`;
//! 3. **quota guard**: above the configured share of the daily quota, a non-urgent sync is
//!    deferred to its next schedule;
//! 4. **order**: the syncs in `after` run first, in the same invocation (a dependency that
//!    cannot run defers this one);
//! 5. **read**: changed since (cursor − 1 minute), because Severa compares to the minute; the
//!    first run starts at the sync's `first_run.from` (a backfill) or sends nothing (`now`);
//! 6. **enqueue**: record versions enqueued before (GUID + modification time, see
//!    [`read`]) are skipped, so the overlap sends nothing twice; the job id is the same for the
//!    same version, so even a re-run after a crash is recognised by the worker and the target.
//!    A batch too large for one queue message (attributes counted, see
//!    [`MAX_JOB_MESSAGE_BYTES`]) is split in halves until every part fits;
//! 7. **cursor**: moved to the run's start only after every record read was enqueued. A run
//!    that fails midway, or has a record too large even alone, leaves it, and the next run
//!    reads the same window again (what was enqueued is skipped then).

pub mod config;
mod read;
pub mod reconcile;

use crate::error::JobError;
use crate::job::{
    Action, InvoiceStatusWriteBack, Job, MAX_JOB_MESSAGE_BYTES, OUTBOUND_SOURCE, OutboundDelivery,
    SCHEMA_VERSION,
};
use crate::metrics::Metrics;
use crate::ports::{
    Lease, LedgerEntry, MessageSink, OutgoingMessage, PortError, SchemaState, SyncLedger, SyncStore,
};
use crate::secrets::SecretCache;
use crate::worker::SeveraSettings;
use crate::worker::severa_key::SeveraAccess;
use chrono::{DateTime, SecondsFormat, TimeDelta, Utc};
use config::{FirstRun, Read, SyncConfig, SyncDefinition};
use read::Record;
use serde::{Deserialize, Serialize};
use severa::{FaultKind, Quota, SeveraClient};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

/// Severa compares changed-since arguments to the minute: read from one minute before the
/// cursor so a change in the cursor's own minute is not lost.
pub const CURSOR_OVERLAP: TimeDelta = TimeDelta::minutes(1);

/// How long the worker remembers that an outbound job reached its target (the
/// `<job id>#delivered` marker): at least `floor`, the worker's idempotency TTL.
///
/// An invoice whose status write-back failed keeps its status, so every run reads it again,
/// unchanged (same job id, same `webhook-id`), while it is dated within the window: from
/// [`read::INVOICES_AHEAD`] before its date until `window_days` after. The marker outlives that
/// span (plus a day for the by-date rounding), so a re-enqueue after the enqueued marker
/// expired, or a DLQ redrive, only retries the write-back and never POSTs the invoice again.
/// Other syncs have no write-back and read a version again only in the cursor overlap.
pub fn delivered_marker_ttl(read: &Read, floor: Duration) -> Duration {
    let Read::Invoices(inv) = read else {
        return floor;
    };
    let readable =
        TimeDelta::days(i64::from(inv.window_days)) + read::INVOICES_AHEAD + TimeDelta::days(1);
    readable.to_std().map_or(floor, |ttl| ttl.max(floor))
}

/// Records named in a [`SyncError::TooLarge`] message; the rest are counted.
const MAX_NAMED_RECORDS: usize = 10;

/// The current time; injectable so tests can follow the simulator's frozen clock.
pub type Clock = Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>;

/// The EventBridge Scheduler input.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SyncInput {
    pub sync: String,
    /// Run (or resume) the sync's reconciliation instead of its changed-since read.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub reconcile: bool,
}

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RunOutcome {
    /// Read, enqueued, cursor moved.
    Completed,
    /// Another run of the same sync holds the lease.
    Busy,
    /// Severa's schema version changed and syncs wait for an acknowledgement.
    Paused,
    /// Not run now (quota guard, or a dependency could not run); the next schedule tries again.
    Deferred,
    /// A reconciliation stopped at a page boundary (page budget or quota); its position is
    /// saved and the next invocation resumes it.
    InProgress,
}

impl RunOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Completed => "completed",
            Self::Busy => "busy",
            Self::Paused => "paused",
            Self::Deferred => "deferred",
            Self::InProgress => "in_progress",
        }
    }
}

/// What a run did; also the Lambda's response.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunReport {
    pub sync: String,
    pub outcome: RunOutcome,
    /// Why, in a sentence.
    pub message: String,
    /// Outbound jobs sent to the queue.
    pub jobs_enqueued: usize,
    /// Records in those jobs.
    pub records_enqueued: usize,
    /// Records read again that were enqueued before (the changed-since overlap).
    pub records_already_enqueued: usize,
    /// Where the next run reads from.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cursor: Option<DateTime<Utc>>,
    /// Runs of the syncs in `after`, first.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub dependencies: Vec<RunReport>,
}

impl RunReport {
    pub fn new(sync: &str, outcome: RunOutcome, message: impl Into<String>) -> Self {
        Self {
            sync: sync.to_string(),
            outcome,
            message: message.into(),
            jobs_enqueued: 0,
            records_enqueued: 0,
            records_already_enqueued: 0,
            cursor: None,
            dependencies: Vec::new(),
        }
    }
}

/// Why a run failed (the cursor was left where it was; the next run reads the window again).
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error("no sync named {name:?} is configured (configured: {configured})")]
    UnknownSync { name: String, configured: String },
    #[error("the input is not {{\"sync\": \"<name>\"}}: {0}")]
    BadInput(String),
    #[error(
        "sync {sync} has no reconciliation configured; add \"reconcile\": {{\"schedule\": …}} \
         to it (read hour_entries, invoices or accounts)"
    )]
    NotReconciled { sync: String },
    #[error("sync {sync}: {error}")]
    Failed { sync: String, error: JobError },
    /// Records that alone make a job larger than a queue message may be. Everything else was
    /// enqueued; the cursor stays so that these are not skipped for good.
    #[error(
        "sync {sync}: {count} record(s) are each too large for one queue message ({limit} \
         bytes) and were not sent: {named}; the other records were enqueued, the cursor stays \
         and every run tries these again: make them smaller in Severa (fewer rows, shorter texts)",
        count = records.len(),
        limit = MAX_JOB_MESSAGE_BYTES,
        named = name_records(records)
    )]
    TooLarge { sync: String, records: Vec<String> },
}

fn name_records(records: &[String]) -> String {
    let mut named = records[..records.len().min(MAX_NAMED_RECORDS)].join(", ");
    if records.len() > MAX_NAMED_RECORDS {
        named.push_str(&format!(" and {} more", records.len() - MAX_NAMED_RECORDS));
    }
    named
}

/// The scheduler's infrastructure.
#[derive(Clone)]
pub struct SchedulerPorts {
    /// The job queue the worker reads.
    pub jobs: Arc<dyn MessageSink>,
    pub store: Arc<dyn SyncStore>,
    /// What each sync sent (for reconciliation).
    pub ledger: Arc<dyn SyncLedger>,
    /// Holds the Severa key.
    pub secrets: Arc<SecretCache>,
}

/// Tunables.
#[derive(Clone)]
pub struct SchedulerSettings {
    /// How long a run's lease lasts; longer than the function's timeout, so a crashed run's
    /// lease frees itself soon after. Default 15 min (Lambda's maximum).
    pub lease: Duration,
    /// How long "this record version was enqueued" is remembered. Default 35 days.
    pub enqueued_ttl: Duration,
    pub clock: Clock,
    pub metrics: Metrics,
    /// A reconciliation invocation starts no new page after this long (its position is saved
    /// after every page; the next invocation resumes). Keep it below the function's timeout
    /// minus one Severa call. Default 120 s.
    pub reconcile_budget: Duration,
    /// Pages one reconciliation invocation reads at most. Default 500.
    pub reconcile_pages: usize,
}

impl Default for SchedulerSettings {
    fn default() -> Self {
        Self {
            lease: Duration::from_secs(15 * 60),
            enqueued_ttl: Duration::from_secs(35 * 24 * 3600),
            clock: Arc::new(Utc::now),
            metrics: Metrics::stdout("scheduler"),
            reconcile_budget: Duration::from_secs(120),
            reconcile_pages: 500,
        }
    }
}

/// The scheduler. Build once per Lambda instance.
pub struct Scheduler {
    config: Arc<SyncConfig>,
    jobs: Arc<dyn MessageSink>,
    store: Arc<dyn SyncStore>,
    ledger: Arc<dyn SyncLedger>,
    severa: SeveraAccess,
    settings: SchedulerSettings,
}

/// Severa's view at the start of an invocation, shared by the syncs it runs.
struct Guards {
    client: SeveraClient,
    quota: Quota,
    /// Dependencies already run in this invocation, with their reports: a sync reached through
    /// two `after` paths runs once, not once per path.
    ran: std::sync::Mutex<BTreeMap<String, RunReport>>,
}

impl Guards {
    fn ran(&self, sync: &str) -> Option<RunReport> {
        let ran = self
            .ran
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        ran.get(sync).cloned()
    }

    fn record(&self, report: &RunReport) {
        let mut ran = self
            .ran
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        ran.insert(report.sync.clone(), report.clone());
    }
}

impl Scheduler {
    pub fn new(
        config: Arc<SyncConfig>,
        ports: SchedulerPorts,
        severa: SeveraSettings,
        settings: SchedulerSettings,
    ) -> Self {
        Self {
            config,
            jobs: ports.jobs,
            store: ports.store,
            ledger: ports.ledger,
            severa: SeveraAccess::new(ports.secrets, severa),
            settings,
        }
    }

    /// Handles an EventBridge Scheduler invocation. `run_id` names this run in the lease and
    /// in job correlation ids (the Lambda request id).
    pub async fn handle(
        &self,
        input: serde_json::Value,
        run_id: &str,
    ) -> Result<RunReport, SyncError> {
        let input: SyncInput =
            serde_json::from_value(input).map_err(|e| SyncError::BadInput(e.to_string()))?;
        if input.reconcile {
            return self
                .reconcile(
                    &input.sync,
                    run_id,
                    &reconcile::ReconcileRequest::default(),
                    &|_| {},
                )
                .await
                .map(|r| r.run);
        }
        self.run(&input.sync, run_id).await
    }

    /// Runs one sync (and the syncs it runs after).
    pub async fn run(&self, sync: &str, run_id: &str) -> Result<RunReport, SyncError> {
        let definition = self.definition(sync)?;
        let started = Instant::now();
        let result = self.run_leased(definition, run_id, None).await;
        match &result {
            Ok(report) => log_report(report, started),
            Err(e) => tracing::error!(
                sync,
                outcome = "failed",
                duration_ms = started.elapsed().as_millis() as u64,
                error = %e,
                "sync failed; the cursor stays and the next run reads the same window again"
            ),
        }
        result
    }

    fn definition(&self, sync: &str) -> Result<&SyncDefinition, SyncError> {
        self.config
            .sync(sync)
            .ok_or_else(|| SyncError::UnknownSync {
                name: sync.to_string(),
                configured: self
                    .config
                    .syncs
                    .keys()
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", "),
            })
    }

    fn now(&self) -> DateTime<Utc> {
        (self.settings.clock)()
    }

    fn failed(sync: &SyncDefinition, error: impl Into<JobError>) -> SyncError {
        SyncError::Failed {
            sync: sync.name.clone(),
            error: error.into(),
        }
    }

    /// Takes the lease, runs, gives the lease back (also when the run failed).
    async fn run_leased(
        &self,
        sync: &SyncDefinition,
        run_id: &str,
        guards: Option<&Guards>,
    ) -> Result<RunReport, SyncError> {
        let now = self.now();
        let until =
            now + TimeDelta::from_std(self.settings.lease).unwrap_or(TimeDelta::minutes(15));
        let lease = self
            .store
            .acquire_lease(&sync.name, run_id, now, until)
            .await
            .map_err(|e| Self::failed(sync, e))?;
        if let Lease::Held { holder, until } = lease {
            self.settings
                .metrics
                .count("SyncBusy", 1, &[("sync", &sync.name)]);
            return Ok(RunReport::new(
                &sync.name,
                RunOutcome::Busy,
                format!(
                    "another run of {} ({holder}) holds the lease until {}; this run does nothing",
                    sync.name,
                    until.to_rfc3339_opts(SecondsFormat::Secs, true)
                ),
            ));
        }
        let result = Box::pin(self.run_locked(sync, run_id, guards)).await;
        if let Err(e) = self.store.release_lease(&sync.name, run_id).await {
            tracing::warn!(sync = %sync.name, error = %e, "could not release the lease; it ends by itself");
        }
        result
    }

    async fn run_locked(
        &self,
        sync: &SyncDefinition,
        run_id: &str,
        guards: Option<&Guards>,
    ) -> Result<RunReport, SyncError> {
        let owned;
        let guards = match guards {
            Some(g) => g,
            None => match self.guards(sync).await? {
                Ok(g) => {
                    owned = g;
                    &owned
                }
                Err(report) => return Ok(report),
            },
        };
        if let Some(report) = self.quota_guard(sync, &guards.quota) {
            return Ok(report);
        }

        let mut dependencies = Vec::new();
        for dep in &sync.after {
            let report = match guards.ran(dep) {
                Some(report) => report,
                None => {
                    let dep_sync = self.definition(dep)?;
                    let report = self.run_leased(dep_sync, run_id, Some(guards)).await?;
                    guards.record(&report);
                    report
                }
            };
            let done = report.outcome == RunOutcome::Completed;
            let why = report.message.clone();
            dependencies.push(report);
            if !done {
                self.settings
                    .metrics
                    .count("SyncDeferred", 1, &[("sync", &sync.name)]);
                let mut deferred = RunReport::new(
                    &sync.name,
                    RunOutcome::Deferred,
                    format!("{} runs after {dep}, which did not run: {why}", sync.name),
                );
                deferred.dependencies = dependencies;
                return Ok(deferred);
            }
        }

        let mut report = self.read_and_enqueue(sync, run_id, &guards.client).await?;
        report.dependencies = dependencies;
        Ok(report)
    }

    /// The Severa client and the schema check, once per invocation. `Err(report)`: paused.
    async fn guards(&self, sync: &SyncDefinition) -> Result<Result<Guards, RunReport>, SyncError> {
        let (client, generation) = self
            .severa
            .client()
            .await
            .map_err(|e| Self::failed(sync, e))?;
        let (client, response) = match client.get_entity_schema_version().await {
            Ok(r) => (client, r),
            Err(e) if e.fault_kind() == Some(FaultKind::AuthenticationFailure) => {
                tracing::warn!(sync = %sync.name, "Severa rejected the API key; re-reading the secret and trying once more");
                let (client, _) = self
                    .severa
                    .refreshed(generation)
                    .await
                    .map_err(|e| Self::failed(sync, e))?;
                match client.get_entity_schema_version().await {
                    Ok(r) => (client, r),
                    Err(e) if e.fault_kind() == Some(FaultKind::AuthenticationFailure) => {
                        return Err(Self::failed(sync, JobError::KeyRejected(e)));
                    }
                    Err(e) => return Err(Self::failed(sync, e)),
                }
            }
            Err(e) => return Err(Self::failed(sync, e)),
        };
        let version = response.value.trim().to_string();
        if let Some(report) = self.schema_guard(sync, &version).await? {
            return Ok(Err(report));
        }
        Ok(Ok(Guards {
            client,
            quota: response.quota,
            ran: Default::default(),
        }))
    }

    /// Compares Severa's schema version with the stored one. `Some(report)`: syncs are paused.
    async fn schema_guard(
        &self,
        sync: &SyncDefinition,
        version: &str,
    ) -> Result<Option<RunReport>, SyncError> {
        let stored = self
            .store
            .schema_state()
            .await
            .map_err(|e| Self::failed(sync, e))?;
        let state = match stored {
            None => {
                let first = SchemaState {
                    version: version.to_string(),
                    previous: None,
                    paused: false,
                    changed_at: None,
                };
                self.store
                    .put_schema_state(&first)
                    .await
                    .map_err(|e| Self::failed(sync, e))?;
                first
            }
            Some(state) if state.version != version => {
                let pause = self.config.pause_on_schema_change;
                tracing::error!(
                    sync = %sync.name,
                    previous_version = %state.version,
                    schema_version = version,
                    paused = pause || state.paused,
                    "Severa's entity schema version changed: check the integration against the \
                     new entities, then acknowledge with `bridgectl sync ack-schema`"
                );
                self.settings
                    .metrics
                    .count("SchemaVersionChanged", 1, &[("sync", &sync.name)]);
                let changed = SchemaState {
                    version: version.to_string(),
                    previous: Some(state.version.clone()),
                    paused: pause || state.paused,
                    changed_at: Some(self.now()),
                };
                self.store
                    .put_schema_state(&changed)
                    .await
                    .map_err(|e| Self::failed(sync, e))?;
                changed
            }
            Some(state) => state,
        };
        if !state.paused {
            return Ok(None);
        }
        self.settings
            .metrics
            .count("SyncPaused", 1, &[("sync", &sync.name)]);
        let previous = state.previous.as_deref().unwrap_or("an earlier version");
        Ok(Some(RunReport::new(
            &sync.name,
            RunOutcome::Paused,
            format!(
                "Severa's entity schema version changed from {previous} to {}; syncs are paused \
                 until acknowledged with `bridgectl sync ack-schema`",
                state.version
            ),
        )))
    }

    fn quota_guard(&self, sync: &SyncDefinition, quota: &Quota) -> Option<RunReport> {
        let share = quota.used_share()?;
        if share <= self.config.quota_share || sync.urgent {
            return None;
        }
        self.settings
            .metrics
            .count("SyncDeferred", 1, &[("sync", &sync.name)]);
        Some(RunReport::new(
            &sync.name,
            RunOutcome::Deferred,
            format!(
                "Severa's daily quota is {:.0} % used ({} of {} calls), above the {:.0} % \
                 allowed for non-urgent syncs; {} is deferred to its next schedule",
                share * 100.0,
                quota.used.unwrap_or_default(),
                quota.limit.unwrap_or_default(),
                self.config.quota_share * 100.0,
                sync.name
            ),
        ))
    }

    async fn read_and_enqueue(
        &self,
        sync: &SyncDefinition,
        run_id: &str,
        client: &SeveraClient,
    ) -> Result<RunReport, SyncError> {
        let run_started = self.now();
        let cursor = self
            .store
            .cursor(&sync.name)
            .await
            .map_err(|e| Self::failed(sync, e))?;
        let since = match (cursor, sync.first_run) {
            (Some(cursor), _) => cursor - CURSOR_OVERLAP,
            (None, FirstRun::From(from)) => from,
            (None, FirstRun::Now) => {
                self.store
                    .set_cursor(&sync.name, run_started)
                    .await
                    .map_err(|e| Self::failed(sync, e))?;
                let mut report = RunReport::new(
                    &sync.name,
                    RunOutcome::Completed,
                    "first run with first_run.from = now: nothing before now is sent",
                );
                report.cursor = Some(run_started);
                return Ok(report);
            }
        };
        let invoices_from = match (&sync.read, cursor, sync.first_run) {
            (_, None, FirstRun::From(from)) => from,
            (Read::Invoices(inv), _, _) => {
                run_started - TimeDelta::days(i64::from(inv.window_days))
            }
            _ => since,
        };
        let invoices = invoices_from..run_started + read::INVOICES_AHEAD;
        let result = read::read(client, &sync.read, since, invoices)
            .await
            .map_err(|e| Self::failed(sync, e))?;
        if result.without_guid > 0 {
            tracing::warn!(sync = %sync.name, records = result.without_guid, "Severa returned records without a GUID; they are not sent");
        }

        let mut report = RunReport::new(&sync.name, RunOutcome::Completed, "");
        let mut fresh = Vec::new();
        for record in result.records {
            let seen = self
                .store
                .was_enqueued(&sync.name, &record.key())
                .await
                .map_err(|e| Self::failed(sync, e))?;
            if seen {
                report.records_already_enqueued += 1;
            } else {
                fresh.push(record);
            }
        }
        let batch_size = match sync.read {
            Read::HourEntries { batch_size } => batch_size,
            _ => 1,
        };
        let mut too_large = Vec::new();
        for batch in fresh.chunks(batch_size) {
            self.enqueue_fitting(sync, run_id, batch, None, &mut report, &mut too_large)
                .await?;
        }
        if !too_large.is_empty() {
            return Err(SyncError::TooLarge {
                sync: sync.name.clone(),
                records: too_large,
            });
        }

        self.store
            .set_cursor(&sync.name, run_started)
            .await
            .map_err(|e| Self::failed(sync, e))?;
        report.cursor = Some(run_started);
        report.message = format!(
            "enqueued {} record(s) in {} job(s); {} already enqueued before",
            report.records_enqueued, report.jobs_enqueued, report.records_already_enqueued
        );
        if report.records_enqueued > 0 {
            self.settings.metrics.count(
                "RecordsEnqueued",
                report.records_enqueued as u64,
                &[("sync", &sync.name)],
            );
        }
        Ok(report)
    }

    /// Enqueues `records` in jobs that fit a queue message: one job if it fits, else the
    /// records are split in halves until each part does (the same records split the same way,
    /// so a re-run makes the same job ids). A record too large even alone is not sent; it is
    /// added to `too_large` (GUID and size) so the run fails and the cursor stays.
    async fn enqueue_fitting(
        &self,
        sync: &SyncDefinition,
        run_id: &str,
        records: &[Record],
        event: Option<&str>,
        report: &mut RunReport,
        too_large: &mut Vec<String>,
    ) -> Result<(), SyncError> {
        let mut pending = vec![records];
        while let Some(records) = pending.pop() {
            let (message, keys) = self.outbound_message(sync, run_id, records, event);
            let size = message.size();
            if size <= MAX_JOB_MESSAGE_BYTES {
                // A deletion leaves the ledger (the caller forgets it once sent).
                let entries: Vec<LedgerEntry> = match event {
                    Some(reconcile::DELETED) => Vec::new(),
                    _ => records.iter().map(Record::ledger_entry).collect(),
                };
                self.send_job(sync, &message, &keys, &entries).await?;
                report.jobs_enqueued += 1;
                report.records_enqueued += records.len();
            } else if let [record] = records {
                tracing::error!(
                    sync = %sync.name,
                    guid = %record.guid,
                    bytes = size,
                    limit = MAX_JOB_MESSAGE_BYTES,
                    "a record is too large for one queue message even alone; not sent"
                );
                too_large.push(format!("{} ({size} bytes)", record.guid));
            } else {
                let (first, rest) = records.split_at(records.len() / 2);
                pending.push(rest);
                pending.push(first);
            }
        }
        Ok(())
    }

    /// The job-queue message of one outbound job for `records` (routing attributes included,
    /// so its size is what SQS counts), and the records' keys. `event`: a reconciliation's
    /// delivery (write-back only for `created` invoices); its job id names the event and each
    /// record's content digest as well as its key, so each event of each record version has
    /// its own stable `webhook-id` (an account's version is its `UpdatedTS`, which a silent
    /// edit keeps: by key alone, a second silent edit would repeat the first edit's job id, and
    /// the worker and the target would drop it as a redelivery).
    fn outbound_message(
        &self,
        sync: &SyncDefinition,
        run_id: &str,
        records: &[Record],
        event: Option<&str>,
    ) -> (OutgoingMessage, Vec<String>) {
        let keys: Vec<String> = records.iter().map(Record::key).collect();
        let key_refs: Vec<&str> = keys.iter().map(String::as_str).collect();
        let job_id = match event {
            None => format!("{}:{}", sync.name, read::digest(&key_refs)),
            Some(event) => {
                let versions: Vec<String> = records
                    .iter()
                    .map(|r| format!("{}#{}", r.key(), r.digest))
                    .collect();
                let refs: Vec<&str> = versions.iter().map(String::as_str).collect();
                format!("{}:{event}:{}", sync.name, read::digest(&refs))
            }
        };
        // An invoice the sync never sent is delivered as the sync delivers it: marked
        // transferred once the target has it, so the sync does not send it again once its
        // enqueued marker has expired. Updated and deleted events write nothing back.
        let write_back = match (&sync.read, records, event) {
            (Read::Invoices(inv), [invoice], None | Some(reconcile::CREATED)) => {
                Some(InvoiceStatusWriteBack {
                    invoice_guid: invoice.guid.clone(),
                    status: inv.transferred_status.clone(),
                })
            }
            _ => None,
        };
        let external_id = match records {
            [one] => one.guid.clone(),
            _ => format!("batch:{}", records.len()),
        };
        let job = Job {
            schema_version: SCHEMA_VERSION,
            job_id,
            source: OUTBOUND_SOURCE.to_string(),
            external_id,
            occurred_at: self.now(),
            correlation_id: run_id.to_string(),
            action: Action::OutboundDeliver(OutboundDelivery {
                sync: sync.name.clone(),
                entity: sync.read.entity().to_string(),
                records: records.iter().map(|r| r.json.clone()).collect(),
                write_back,
                event: event.map(str::to_string),
            }),
        };
        let mut message = job.to_message();
        message
            .attributes
            .insert("sync".to_string(), sync.name.clone());
        (message, keys)
    }

    /// Sends one job, then marks its records enqueued and writes them in the ledger.
    async fn send_job(
        &self,
        sync: &SyncDefinition,
        message: &OutgoingMessage,
        keys: &[String],
        sent: &[LedgerEntry],
    ) -> Result<(), SyncError> {
        self.jobs
            .send(message)
            .await
            .map_err(|e| Self::failed(sync, e))?;
        for key in keys {
            self.store
                .mark_enqueued(&sync.name, key, self.settings.enqueued_ttl)
                .await
                .map_err(|e| Self::failed(sync, e))?;
        }
        if !sent.is_empty() {
            self.ledger
                .record_sent(&sync.name, sent, sync.ledger_retention())
                .await
                .map_err(|e| Self::failed(sync, e))?;
        }
        Ok(())
    }
}

/// The one log line per run (and per dependency run).
fn log_report(report: &RunReport, started: Instant) {
    for dep in &report.dependencies {
        log_report(dep, started);
    }
    let cursor = report
        .cursor
        .map(|c| c.to_rfc3339_opts(SecondsFormat::Millis, true))
        .unwrap_or_default();
    tracing::info!(
        sync = %report.sync,
        outcome = report.outcome.as_str(),
        jobs_enqueued = report.jobs_enqueued,
        records_enqueued = report.records_enqueued,
        records_already_enqueued = report.records_already_enqueued,
        cursor = %cursor,
        duration_ms = started.elapsed().as_millis() as u64,
        "sync {}: {}",
        report.outcome.as_str(),
        report.message
    );
}

/// Acknowledges a schema version change (`bridgectl sync ack-schema`): syncs run again. Returns
/// the state before, `None` when no version was ever stored (nothing to acknowledge).
pub async fn acknowledge_schema(store: &dyn SyncStore) -> Result<Option<SchemaState>, PortError> {
    let Some(state) = store.schema_state().await? else {
        return Ok(None);
    };
    if state.paused {
        store
            .put_schema_state(&SchemaState {
                version: state.version.clone(),
                previous: None,
                paused: false,
                changed_at: state.changed_at,
            })
            .await?;
        tracing::info!(schema_version = %state.version, previous_version = ?state.previous, "schema version change acknowledged; syncs run again");
    }
    Ok(Some(state))
}

#[cfg(test)]
mod tests {
    use super::*;
    use config::InvoiceRead;

    #[test]
    fn the_delivered_marker_outlives_the_invoice_window() {
        let week = Duration::from_secs(7 * 24 * 3600);
        let invoices = Read::Invoices(InvoiceRead {
            statuses: vec!["Sent".into()],
            transferred_status: "Transferred".into(),
            window_days: 90,
            business_unit_guid: None,
        });
        // 90 days of window, 366 of invoices dated ahead, one for the by-date rounding.
        let days = delivered_marker_ttl(&invoices, week).as_secs() / (24 * 3600);
        assert_eq!(days, 90 + 366 + 1);
        assert_eq!(delivered_marker_ttl(&Read::Accounts, week), week);
        let long = Duration::from_secs(1000 * 24 * 3600);
        assert_eq!(delivered_marker_ttl(&invoices, long), long);
    }

    #[test]
    fn too_large_errors_name_a_few_records_and_count_the_rest() {
        let records: Vec<String> = (0..12).map(|i| format!("g-{i} (300000 bytes)")).collect();
        let text = SyncError::TooLarge {
            sync: "invoices".into(),
            records,
        }
        .to_string();
        assert!(text.contains("12 record(s)"), "{text}");
        assert!(text.contains("g-9 (300000 bytes) and 2 more"), "{text}");
        assert!(!text.contains("g-10"), "{text}");
    }
}
