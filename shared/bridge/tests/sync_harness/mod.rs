//! Harness of the scheduled-sync tests: the scheduler and a worker with outbound delivery,
//! wired to real moto queues, table and secrets (production adapters), a `severa-sim` with a
//! frozen clock, and a local HTTP receiver standing in for the other software.
//!
//! The scheduler's clock and the table's (marker expiries) follow the simulator's:
//! [`SyncHarness::set_time`] and [`SyncHarness::advance`] move them all.

#![allow(dead_code)]

use crate::worker_harness::{create_queue, receive, test_settings, to_record};
use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use base64::Engine as _;
use bridge::aws::{DynamoTable, SecretsManagerSource, SqsDeadLetterQueue, SqsQueue};
use bridge::dlq::Selection;
use bridge::metrics::Metrics;
use bridge::ports::{LedgerEntry, SyncLedger, SyncStore};
use bridge::secrets::SecretCache;
use bridge::sync::config::SyncConfig;
use bridge::sync::reconcile::{ReconcileReport, ReconcileRequest};
use bridge::sync::{RunReport, Scheduler, SchedulerPorts, SchedulerSettings, SyncError};
use bridge::verify::SigningSecret;
use bridge::worker::{Outbound, SeveraSettings, Worker, WorkerPorts, WorkerSettings};
use chrono::{DateTime, NaiveDate, Utc};
use serde_json::{Value as Json, json};
use severa::entities::HourEntry;
use severa::{ApiKey, SeveraClient, SeveraConfig, WireDateTime};
use severa_sim::fixture::{PHASE_WEBSHOP_DEV_GUID, USER_BOB_GUID, WORKTYPE_DEV_GUID};
use severa_sim::{DEFAULT_API_KEY, RunningSim, SimConfig};
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use test_support::{sdk, unique};

/// One POST the receiver got.
#[derive(Debug, Clone)]
pub struct Received {
    pub headers: HeaderMap,
    pub body: Vec<u8>,
    /// The status it answered.
    pub status: u16,
}

impl Received {
    pub fn json(&self) -> Json {
        serde_json::from_slice(&self.body).expect("delivery body is JSON")
    }

    pub fn webhook_id(&self) -> String {
        self.headers
            .get("webhook-id")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string()
    }

    /// GUIDs of the records in the delivery.
    pub fn guids(&self) -> Vec<String> {
        self.json()["data"]["records"]
            .as_array()
            .map(|records| {
                records
                    .iter()
                    .filter_map(|r| r["GUID"].as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// The other software: records every POST and answers from a plan (then 200).
#[derive(Clone, Default)]
pub struct Receiver {
    pub got: Arc<Mutex<Vec<Received>>>,
    /// Statuses to answer next, in order; 200 once empty unless `always` is set.
    plan: Arc<Mutex<VecDeque<u16>>>,
    always: Arc<Mutex<Option<u16>>>,
}

impl Receiver {
    /// Answer `status` to the next `times` deliveries.
    pub fn fail_next(&self, status: u16, times: usize) {
        let mut plan = self.plan.lock().unwrap();
        plan.extend(std::iter::repeat_n(status, times));
    }

    /// Answer `status` to every delivery (`None`: back to normal).
    pub fn always(&self, status: Option<u16>) {
        *self.always.lock().unwrap() = status;
    }

    pub fn received(&self) -> Vec<Received> {
        self.got.lock().unwrap().clone()
    }

    /// The deliveries it accepted (2xx).
    pub fn accepted(&self) -> Vec<Received> {
        self.received()
            .into_iter()
            .filter(|r| (200..300).contains(&r.status))
            .collect()
    }

    /// GUIDs of the accepted records, sorted.
    pub fn accepted_guids(&self) -> Vec<String> {
        let mut guids: Vec<String> = self.accepted().iter().flat_map(Received::guids).collect();
        guids.sort();
        guids
    }
}

async fn hook(
    State(receiver): State<Receiver>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> StatusCode {
    let planned = receiver.plan.lock().unwrap().pop_front();
    let status = planned.or(*receiver.always.lock().unwrap()).unwrap_or(200);
    receiver.got.lock().unwrap().push(Received {
        headers,
        body: body.to_vec(),
        status,
    });
    StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

async fn start_receiver() -> (Receiver, String) {
    let receiver = Receiver::default();
    let app = axum::Router::new()
        .route("/hooks/severa", post(hook))
        .with_state(receiver.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("receiver bind");
    let addr = listener.local_addr().expect("receiver addr");
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (receiver, format!("http://{addr}/hooks/severa"))
}

/// A Standard Webhooks secret for the target.
pub fn signing_secret_text() -> String {
    format!(
        "whsec_{}",
        base64::engine::general_purpose::STANDARD.encode([42u8; 32])
    )
}

pub fn signing_secret() -> SigningSecret {
    SigningSecret::from_standard_webhooks(&signing_secret_text()).expect("secret")
}

/// 2026-03-02T10:00:30Z, a Monday; the fixture's records were modified 2026-01-05.
pub fn t0() -> DateTime<Utc> {
    "2026-03-02T10:00:30Z".parse().expect("time")
}

pub struct SyncHarness {
    pub sim: RunningSim,
    pub http: reqwest::Client,
    pub sqs: aws_sdk_sqs::Client,
    pub queue_url: String,
    pub dlq_url: String,
    pub table: DynamoTable,
    pub receiver: Receiver,
    pub target_url: String,
    pub scheduler: Scheduler,
    pub worker: Worker,
    pub severa: SeveraClient,
    pub metrics: Arc<Mutex<Vec<String>>>,
    /// The sync configuration as the scheduler and worker read it (placeholders filled in):
    /// what `SYNCS_JSON` holds for a process run against this harness (`bridgectl`).
    pub syncs_json: String,
    /// Secrets Manager id of the Severa API key.
    pub severa_secret_id: String,
    clock: Arc<Mutex<DateTime<Utc>>>,
}

impl SyncHarness {
    /// `syncs` is the sync configuration with `TARGET_URL` and `SECRET_ID` placeholders.
    pub async fn start(syncs: Json) -> Self {
        Self::start_with(syncs, test_settings()).await
    }

    pub async fn start_with(syncs: Json, worker_settings: WorkerSettings) -> Self {
        let config = sdk().await;
        let sqs = aws_sdk_sqs::Client::new(&config);
        let queue_url = create_queue(&sqs, &unique("sync-jobs")).await;
        let dlq_url = create_queue(&sqs, &unique("sync-dlq")).await;
        let clock = Arc::new(Mutex::new(t0()));
        let now = clock.clone();
        let table = DynamoTable::from_config(&config, unique("sync-bridge"))
            .with_clock(Arc::new(move || *now.lock().unwrap()));
        table.create_table().await.expect("table");
        let secrets_client = aws_sdk_secretsmanager::Client::new(&config);
        let severa_secret = unique("severa-key");
        let signing_secret_id = unique("target-signing");
        for (id, value) in [
            (&severa_secret, DEFAULT_API_KEY.to_string()),
            (&signing_secret_id, signing_secret_text()),
        ] {
            secrets_client
                .create_secret()
                .name(id)
                .secret_string(value)
                .send()
                .await
                .expect("secret");
        }
        let sim = RunningSim::start(SimConfig::default())
            .await
            .expect("simulator");
        let (receiver, target_url) = start_receiver().await;

        let text = syncs
            .to_string()
            .replace("TARGET_URL", &target_url)
            .replace("SECRET_ID", &signing_secret_id);
        let sync_config = Arc::new(SyncConfig::from_json(&text).expect("sync config"));

        let secrets = Arc::new(SecretCache::new(
            Arc::new(SecretsManagerSource::from_config(&config)),
            bridge::secrets::DEFAULT_TTL,
        ));
        let severa_settings = SeveraSettings {
            secret_id: severa_secret.clone(),
            endpoint: Some(sim.endpoint()),
            config: SeveraConfig {
                connect_timeout: Duration::from_secs(1),
                timeout: Duration::from_secs(5),
                ..Default::default()
            },
        };
        let metrics = Arc::new(Mutex::new(Vec::new()));
        let seen = metrics.clone();
        let now = clock.clone();
        let scheduler = Scheduler::new(
            sync_config.clone(),
            SchedulerPorts {
                jobs: Arc::new(SqsQueue::new(sqs.clone(), &queue_url)),
                store: Arc::new(table.clone()),
                ledger: Arc::new(table.clone()),
                secrets: secrets.clone(),
            },
            severa_settings.clone(),
            SchedulerSettings {
                clock: Arc::new(move || *now.lock().unwrap()),
                metrics: Metrics::with_sink(
                    "scheduler",
                    Arc::new(move |line: &str| seen.lock().unwrap().push(line.to_string())),
                ),
                ..Default::default()
            },
        );
        let worker = Worker::with_outbound(
            WorkerPorts {
                queue: Arc::new(SqsQueue::new(sqs.clone(), &queue_url)),
                dlq: Arc::new(SqsQueue::new(sqs.clone(), &dlq_url)),
                idempotency: Arc::new(table.clone()),
                id_map: Arc::new(table.clone()),
                records: Arc::new(table.clone()),
                breaker: Arc::new(table.clone()),
                secrets,
            },
            severa_settings,
            worker_settings,
            Outbound::new(sync_config).expect("http client"),
        );
        let severa = SeveraClient::new(
            SeveraConfig {
                endpoint: sim.endpoint(),
                ..Default::default()
            },
            ApiKey::new(DEFAULT_API_KEY),
        )
        .expect("severa client");
        let h = SyncHarness {
            sim,
            http: reqwest::Client::new(),
            sqs,
            queue_url,
            dlq_url,
            table,
            receiver,
            target_url,
            scheduler,
            worker,
            severa,
            metrics,
            syncs_json: text,
            severa_secret_id: severa_secret,
            clock,
        };
        h.set_time(t0()).await;
        h
    }

    // -----------------------------------------------------------------------------------------
    // time

    /// Freezes the simulator's clock and the scheduler's at `at`.
    pub async fn set_time(&self, at: DateTime<Utc>) {
        *self.clock.lock().unwrap() = at;
        self.post("clock", json!({"now": at.to_rfc3339()})).await;
    }

    pub async fn advance(&self, seconds: i64) {
        let at = self.now() + chrono::Duration::seconds(seconds);
        self.set_time(at).await;
    }

    pub fn now(&self) -> DateTime<Utc> {
        *self.clock.lock().unwrap()
    }

    // -----------------------------------------------------------------------------------------
    // scheduler and worker

    pub async fn run(&self, sync: &str) -> RunReport {
        self.run_as(sync, &unique("run")).await.expect("sync run")
    }

    pub async fn run_as(&self, sync: &str, run_id: &str) -> Result<RunReport, SyncError> {
        self.scheduler.run(sync, run_id).await
    }

    /// A reconciliation invocation of `sync`.
    pub async fn reconcile(&self, sync: &str, request: &ReconcileRequest) -> ReconcileReport {
        self.scheduler
            .reconcile(sync, &unique("reconcile"), request, &|_| {})
            .await
            .expect("reconciliation")
    }

    /// What the ledger holds for `sync` on `date` (`None`: undated), sorted by GUID.
    pub async fn ledger(&self, sync: &str, date: Option<NaiveDate>) -> Vec<LedgerEntry> {
        self.table.sent_on(sync, date).await.expect("ledger")
    }

    pub async fn cursor(&self, sync: &str) -> Option<DateTime<Utc>> {
        self.table.cursor(sync).await.expect("cursor")
    }

    /// Every job on the queue now, as Lambda records (visibility `visibility` s).
    pub async fn take_jobs(&self, visibility: i32) -> Vec<SqsMessage> {
        let mut all = Vec::new();
        for _ in 0..20 {
            let batch = receive(&self.sqs, &self.queue_url, Some(visibility)).await;
            if batch.is_empty() {
                break;
            }
            all.extend(batch.into_iter().map(to_record));
        }
        all
    }

    pub async fn handle(&self, records: Vec<SqsMessage>) -> SqsBatchResponse {
        let mut event = SqsEvent::default();
        event.records = records;
        self.worker
            .handle(event, Utc::now() + chrono::Duration::seconds(60))
            .await
    }

    /// Handles everything on the queue and deletes what Lambda would delete.
    pub async fn drain(&self) -> SqsBatchResponse {
        let records = self.take_jobs(60).await;
        self.settle(records).await
    }

    /// Handles `records` (taken from the queue) and deletes what Lambda would delete.
    pub async fn settle(&self, records: Vec<SqsMessage>) -> SqsBatchResponse {
        let mut all = SqsBatchResponse::default();
        for chunk in records.chunks(10) {
            let response = self.handle(chunk.to_vec()).await;
            for r in chunk {
                let id = r.message_id.clone().unwrap_or_default();
                if !response
                    .batch_item_failures
                    .iter()
                    .any(|f| f.item_identifier == id)
                {
                    let _ = self
                        .sqs
                        .delete_message()
                        .queue_url(&self.queue_url)
                        .receipt_handle(r.receipt_handle.clone().unwrap_or_default())
                        .send()
                        .await;
                }
            }
            all.batch_item_failures.extend(response.batch_item_failures);
        }
        all
    }

    /// Sends every dead letter back to the job queue, as `bridgectl dlq redrive --all` does.
    pub async fn redrive_dlq(&self) -> usize {
        let dlq = SqsDeadLetterQueue::new(self.sqs.clone(), &self.dlq_url);
        let jobs = SqsQueue::new(self.sqs.clone(), &self.queue_url);
        let letters = bridge::dlq::list(&dlq, 100).await.expect("dlq list");
        let ids = letters.into_iter().map(|l| l.message_id).collect();
        let report = bridge::dlq::redrive(
            &dlq,
            &jobs,
            &Selection::Ids(ids),
            false,
            100,
            std::time::Duration::ZERO,
            |_| {},
        )
        .await
        .expect("redrive");
        report.moved.len()
    }

    pub async fn dlq_messages(&self) -> Vec<aws_sdk_sqs::types::Message> {
        let mut all = Vec::new();
        for _ in 0..5 {
            let batch = receive(&self.sqs, &self.dlq_url, Some(300)).await;
            if batch.is_empty() {
                break;
            }
            all.extend(batch);
        }
        all
    }

    /// EMF lines emitted with metric `name`.
    pub fn metric_lines(&self, name: &str) -> Vec<Json> {
        self.metrics
            .lock()
            .unwrap()
            .iter()
            .filter_map(|l| serde_json::from_str::<Json>(l).ok())
            .filter(|v| v.get(name).is_some())
            .collect()
    }

    // -----------------------------------------------------------------------------------------
    // simulator

    pub async fn admin(&self, method: reqwest::Method, path: &str, body: Option<Json>) -> Json {
        severa_sim::admin_client::admin_request(
            &self.http,
            &self.sim.admin_url(),
            method,
            path,
            body.as_ref(),
        )
        .await
        .expect("simulator admin call")
    }

    pub async fn post(&self, path: &str, body: Json) -> Json {
        self.admin(reqwest::Method::POST, path, Some(body)).await
    }

    pub async fn entities(&self, kind: &str) -> serde_json::Map<String, Json> {
        let state = self.admin(reqwest::Method::GET, "state", None).await;
        state["entities"][kind]
            .as_object()
            .cloned()
            .unwrap_or_default()
    }

    /// Logged calls of `operation`.
    pub async fn calls(&self, operation: &str) -> Vec<Json> {
        match self.admin(reqwest::Method::GET, "requests", None).await {
            Json::Array(items) => items
                .into_iter()
                .filter(|r| r["operation"] == operation)
                .collect(),
            other => panic!("requests: {other}"),
        }
    }

    /// Adds `count` hour entries through the API, each with a description of
    /// `description_chars` characters; returns their GUIDs.
    pub async fn add_hour_entries(&self, count: usize, description_chars: usize) -> Vec<String> {
        let mut guids = Vec::with_capacity(count);
        for i in 0..count {
            let entry = HourEntry {
                user_guid: Some(USER_BOB_GUID.to_string()),
                phase_guid: Some(PHASE_WEBSHOP_DEV_GUID.to_string()),
                work_type_guid: Some(WORKTYPE_DEV_GUID.to_string()),
                event_date: Some(WireDateTime::date(self.now().date_naive())),
                quantity: Some(rust_decimal::Decimal::new(25, 2)),
                description: Some(format!("{i:04} {}", "x".repeat(description_chars))),
                ..Default::default()
            };
            let created = self
                .severa
                .add_new_hour_entry(&entry)
                .await
                .expect("AddNewHourEntry")
                .value;
            guids.push(created.guid.expect("a GUID"));
        }
        guids
    }

    /// Deletes a record as a person in Severa's UI would.
    pub async fn ui_delete(&self, kind: &str, guid: &str) {
        severa_sim::admin_client::ui_delete(&self.http, &self.sim.admin_url(), kind, guid)
            .await
            .expect("ui delete");
    }

    /// Edits a record as a person in Severa's UI would; `silent` keeps its timestamp.
    pub async fn ui_edit(&self, kind: &str, guid: &str, set: Json, silent: bool) {
        severa_sim::admin_client::ui_edit(
            &self.http,
            &self.sim.admin_url(),
            kind,
            guid,
            set,
            silent,
        )
        .await
        .expect("ui edit");
    }

    /// Creates records as a person in Severa's UI would; returns their GUIDs.
    pub async fn ui_create(&self, kind: &str, records: &[Json]) -> Vec<String> {
        severa_sim::admin_client::ui_create(&self.http, &self.sim.admin_url(), kind, records)
            .await
            .expect("ui create")
    }

    pub async fn invoice_status(&self, guid: &str) -> String {
        self.entities("Invoice").await[guid]["InvoiceStatus"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    /// Renames an account through the API, read-modify-write as a careful client does
    /// (stamps it modified at the simulator's time).
    pub async fn rename_account(&self, guid: &str, name: &str) {
        let mut account = self
            .severa
            .get_account_by_guid(guid)
            .await
            .expect("GetAccountByGUID")
            .value
            .expect("the account exists");
        let company_guid = account.company_guid.clone().expect("a company");
        let company = self
            .severa
            .get_company_by_guid(&company_guid)
            .await
            .expect("GetCompanyByGUID")
            .value
            .expect("the company exists");
        account.name = Some(name.to_string());
        self.severa
            .update_account(&account, &company)
            .await
            .expect("UpdateAccount");
    }

    pub async fn stop(self) {
        self.sim.shutdown().await;
    }
}

/// A sync configuration with one sync per entry of `syncs` (name → extra fields).
pub fn config(syncs: Json) -> Json {
    let mut all = serde_json::Map::new();
    if let Json::Object(map) = syncs {
        for (name, extra) in map {
            let mut sync = json!({
                "schedule": "rate(1 day)",
                "first_run": {"from": "2026-01-01T00:00:00Z"},
                "target": {"url": "TARGET_URL", "secret_id": "SECRET_ID", "timeout_secs": 2},
            });
            if let (Json::Object(base), Json::Object(extra)) = (&mut sync, extra) {
                base.extend(extra);
            }
            all.insert(name, sync);
        }
    }
    json!({"syncs": all})
}
