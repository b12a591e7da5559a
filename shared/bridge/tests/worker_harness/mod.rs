//! Shared harness of the worker tests: a worker wired to real moto queues, table and secret
//! (through the production adapters) and to a `severa-sim` on port 0.
//!
//! Records are built as the Lambda event carries them: every job is sent to the moto job
//! queue and received back, so receipt handles are real and visibility changes and deletes
//! reach the queue. `finish` then does what Lambda does with a batch response: it deletes the
//! records that are not in `batchItemFailures`.

#![allow(dead_code)]

use async_trait::async_trait;
use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use aws_sdk_dynamodb::config::interceptors::BeforeTransmitInterceptorContextRef;
use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_dynamodb::error::BoxError;
use bridge::aws::{DynamoTable, SecretsManagerSource, SqsQueue};
use bridge::ports::{PortError, SecretSource};
use bridge::secrets::SecretCache;
use bridge::worker::{Jitter, SeveraSettings, Worker, WorkerPorts, WorkerSettings};
use chrono::{DateTime, Utc};
use secrecy::SecretString;
use serde_json::{Value as Json, json};
use severa_sim::{DEFAULT_API_KEY, RunningSim, SimConfig};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use test_support::{sdk, unique};

/// Counts the requests the harness table's DynamoDB client sends, by operation, from each
/// request's `X-Amz-Target` (`DynamoDB_20120810.PutItem`). Every attempt counts, as DynamoDB
/// answers and bills each one.
#[derive(Debug, Clone, Default)]
pub struct TableRequests(Arc<std::sync::Mutex<BTreeMap<String, usize>>>);

impl TableRequests {
    /// The counts so far; counting starts again from zero.
    pub fn take(&self) -> BTreeMap<String, usize> {
        std::mem::take(&mut *self.0.lock().unwrap())
    }
}

impl Intercept for TableRequests {
    fn name(&self) -> &'static str {
        "TableRequests"
    }

    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let target = context
            .request()
            .headers()
            .get("x-amz-target")
            .unwrap_or("without X-Amz-Target");
        let operation = target.rsplit('.').next().unwrap_or(target).to_string();
        *self.0.lock().unwrap().entry(operation).or_default() += 1;
        Ok(())
    }
}

/// Counts reads of the real Secrets Manager source.
pub struct CountingSource {
    pub inner: SecretsManagerSource,
    pub reads: AtomicUsize,
}

#[async_trait]
impl SecretSource for CountingSource {
    async fn current(&self, secret_id: &str) -> Result<SecretString, PortError> {
        self.reads.fetch_add(1, Ordering::SeqCst);
        self.inner.current(secret_id).await
    }
}

pub struct Harness {
    pub sim: RunningSim,
    pub http: reqwest::Client,
    pub sqs: aws_sdk_sqs::Client,
    pub secrets_client: aws_sdk_secretsmanager::Client,
    pub queue_url: String,
    pub dlq_url: String,
    pub table: DynamoTable,
    /// What the table's client (the worker's and the test's) sent to DynamoDB.
    pub table_requests: TableRequests,
    pub secret_id: String,
    pub source: Arc<CountingSource>,
    pub worker: Worker,
}

/// The worker's clock, moved by the test.
#[derive(Clone)]
pub struct TestClock(Arc<std::sync::Mutex<DateTime<Utc>>>);

#[allow(dead_code)] // each test binary uses some of it
impl TestClock {
    pub fn at(s: &str) -> Self {
        Self(Arc::new(std::sync::Mutex::new(s.parse().unwrap())))
    }
    pub fn set(&self, s: &str) {
        *self.0.lock().unwrap() = s.parse().unwrap();
    }
    pub fn advance(&self, minutes: i64) {
        *self.0.lock().unwrap() += chrono::Duration::minutes(minutes);
    }
    pub fn advance_seconds(&self, seconds: i64) {
        *self.0.lock().unwrap() += chrono::Duration::seconds(seconds);
    }
    pub fn now(&self) -> DateTime<Utc> {
        *self.0.lock().unwrap()
    }
    /// The worker's clock setting.
    pub fn as_clock(&self) -> bridge::sync::Clock {
        let clock = self.clone();
        Arc::new(move || clock.now())
    }
}

/// Delays at their ceiling, so tests know them exactly.
pub fn max_jitter() -> Jitter {
    Arc::new(|upper| upper)
}

/// The worker's Severa calls in flight at once (the client's bound, the function's
/// `SEVERA_CALLS_IN_FLIGHT`): 4 here, so tests can have calls in flight together.
pub const SEVERA_CALLS_IN_FLIGHT: usize = 4;

pub fn test_settings() -> WorkerSettings {
    WorkerSettings {
        concurrency: 4,
        backoff_base: Duration::from_secs(10),
        backoff_cap: Duration::from_secs(900),
        jitter: max_jitter(),
        // A small backstop, so the tests that exhaust retries stay short.
        max_attempts: 5,
        ..Default::default()
    }
}

/// A deadline far enough away for any test.
pub fn deadline() -> DateTime<Utc> {
    Utc::now() + chrono::Duration::seconds(60)
}

impl Harness {
    pub async fn start() -> Self {
        Self::start_with(test_settings(), |ports| ports).await
    }

    /// `wrap` may replace ports (e.g. with a wrapper that misbehaves on purpose).
    pub async fn start_with(
        settings: WorkerSettings,
        wrap: impl FnOnce(WorkerPorts) -> WorkerPorts,
    ) -> Self {
        let config = sdk().await;
        let sqs = aws_sdk_sqs::Client::new(&config);
        let queue_url = create_queue(&sqs, &unique("jobs")).await;
        let dlq_url = create_queue(&sqs, &unique("jobs-dlq")).await;
        let table_requests = TableRequests::default();
        let dynamo = aws_sdk_dynamodb::Client::from_conf(
            aws_sdk_dynamodb::config::Builder::from(&config)
                .interceptor(table_requests.clone())
                .build(),
        );
        let table = DynamoTable::new(dynamo, unique("bridge"));
        table.create_table().await.expect("table");
        let secrets_client = aws_sdk_secretsmanager::Client::new(&config);
        let secret_id = unique("severa-key");
        secrets_client
            .create_secret()
            .name(&secret_id)
            .secret_string(DEFAULT_API_KEY)
            .send()
            .await
            .expect("secret");
        let sim = RunningSim::start(SimConfig::default())
            .await
            .expect("simulator");
        let source = Arc::new(CountingSource {
            inner: SecretsManagerSource::from_config(&config),
            reads: AtomicUsize::new(0),
        });
        let ports = wrap(WorkerPorts {
            queue: Arc::new(SqsQueue::new(sqs.clone(), &queue_url)),
            dlq: Arc::new(SqsQueue::new(sqs.clone(), &dlq_url)),
            idempotency: Arc::new(table.clone()),
            id_map: Arc::new(table.clone()),
            records: Arc::new(table.clone()),
            breaker: Arc::new(table.clone()),
            secrets: Arc::new(SecretCache::new(
                source.clone(),
                bridge::secrets::DEFAULT_TTL,
            )),
        });
        let severa = SeveraSettings {
            secret_id: secret_id.clone(),
            endpoint: Some(sim.endpoint()),
            config: severa::SeveraConfig {
                connect_timeout: Duration::from_secs(1),
                timeout: Duration::from_secs(3),
                // As the function sets it from `SEVERA_CALLS_IN_FLIGHT`.
                max_calls_in_flight: Some(SEVERA_CALLS_IN_FLIGHT),
                ..Default::default()
            },
        };
        let worker = Worker::new(ports, severa, settings);
        Harness {
            sim,
            http: reqwest::Client::new(),
            sqs,
            secrets_client,
            queue_url,
            dlq_url,
            table,
            table_requests,
            secret_id,
            source,
            worker,
        }
    }

    /// Severa's circuit breaker closes, as after its opening when a probe succeeds: for tests
    /// that redeliver a record at once where SQS would wait out the back-off.
    pub async fn breaker_opening_passes(&self) {
        bridge::ports::Breaker::close(&self.table)
            .await
            .expect("close the breaker");
    }

    pub fn secret_reads(&self) -> usize {
        self.source.reads.load(Ordering::SeqCst)
    }

    // -----------------------------------------------------------------------------------------
    // queues

    /// Sends each body to the job queue and receives them back as Lambda records (visibility
    /// `visibility` seconds), in the order given.
    pub async fn enqueue(&self, bodies: &[String], visibility: i32) -> Vec<SqsMessage> {
        let mut ids = Vec::new();
        for body in bodies {
            let out = self
                .sqs
                .send_message()
                .queue_url(&self.queue_url)
                .message_body(body)
                .send()
                .await
                .expect("send");
            ids.push(out.message_id.expect("message id"));
        }
        let mut got: HashMap<String, SqsMessage> = HashMap::new();
        for _ in 0..20 {
            if got.len() == ids.len() {
                break;
            }
            for m in receive(&self.sqs, &self.queue_url, Some(visibility)).await {
                got.insert(m.message_id.clone().unwrap_or_default(), to_record(m));
            }
        }
        ids.iter()
            .map(|id| got.remove(id).expect("every sent message received"))
            .collect()
    }

    pub async fn handle(&self, records: Vec<SqsMessage>) -> SqsBatchResponse {
        let mut event = SqsEvent::default();
        event.records = records;
        self.worker.handle(event, deadline()).await
    }

    /// Handles the batch and returns the records it reported failed, as SQS hands them back.
    pub async fn handle_redelivering_failed(&self, pending: &[SqsMessage]) -> Vec<SqsMessage> {
        let response = self.handle(pending.to_vec()).await;
        let failed = failed_ids(&response);
        pending
            .iter()
            .filter(|r| failed.contains(&id_of(r)))
            .map(redelivered)
            .collect()
    }

    /// Handles the batch, then deletes what Lambda would delete (records not reported failed).
    pub async fn handle_and_finish(&self, records: Vec<SqsMessage>) -> SqsBatchResponse {
        let response = self.handle(records.clone()).await;
        self.finish(&records, &response).await;
        response
    }

    pub async fn finish(&self, records: &[SqsMessage], response: &SqsBatchResponse) {
        for r in records {
            let id = r.message_id.clone().unwrap_or_default();
            let failed = response
                .batch_item_failures
                .iter()
                .any(|f| f.item_identifier == id);
            if !failed {
                // Already deleted when dead-lettered: then this fails, as it may in Lambda.
                let _ = self
                    .sqs
                    .delete_message()
                    .queue_url(&self.queue_url)
                    .receipt_handle(r.receipt_handle.clone().unwrap_or_default())
                    .send()
                    .await;
            }
        }
    }

    /// Everything in the DLQ now (received with a long visibility so each comes once).
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

    pub async fn visible_jobs(&self) -> Vec<aws_sdk_sqs::types::Message> {
        receive(&self.sqs, &self.queue_url, Some(300)).await
    }

    // -----------------------------------------------------------------------------------------
    // simulator admin

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

    pub async fn requests(&self) -> Vec<Json> {
        match self.admin(reqwest::Method::GET, "requests", None).await {
            Json::Array(items) => items,
            other => panic!("requests: {other}"),
        }
    }

    /// Logged calls of `operation` (all, including faulted and injected ones).
    pub async fn calls(&self, operation: &str) -> Vec<Json> {
        self.requests()
            .await
            .into_iter()
            .filter(|r| r["operation"] == operation)
            .collect()
    }

    pub async fn clear_requests(&self) {
        self.admin(reqwest::Method::DELETE, "requests", None).await;
    }

    pub async fn stop(self) {
        self.sim.shutdown().await;
    }
}

pub async fn create_queue(sqs: &aws_sdk_sqs::Client, name: &str) -> String {
    sqs.create_queue()
        .queue_name(name)
        .send()
        .await
        .expect("queue")
        .queue_url
        .expect("queue url")
}

pub async fn receive(
    sqs: &aws_sdk_sqs::Client,
    url: &str,
    visibility: Option<i32>,
) -> Vec<aws_sdk_sqs::types::Message> {
    sqs.receive_message()
        .queue_url(url)
        .max_number_of_messages(10)
        .message_attribute_names("All")
        .message_system_attribute_names(aws_sdk_sqs::types::MessageSystemAttributeName::All)
        .set_visibility_timeout(visibility)
        .wait_time_seconds(0)
        .send()
        .await
        .expect("receive")
        .messages
        .unwrap_or_default()
}

/// The Lambda event's view of a received message.
pub fn to_record(m: aws_sdk_sqs::types::Message) -> SqsMessage {
    let mut record = SqsMessage::default();
    record.message_id = m.message_id;
    record.receipt_handle = m.receipt_handle;
    record.body = m.body;
    record.attributes = m
        .attributes
        .unwrap_or_default()
        .into_iter()
        .map(|(k, v)| (k.as_str().to_string(), v))
        .collect();
    record.event_source = Some("aws:sqs".into());
    record
}

/// The same record delivered again (receive count + 1), as Lambda would hand it over.
pub fn redelivered(record: &SqsMessage) -> SqsMessage {
    let mut again = record.clone();
    let count: u32 = again
        .attributes
        .get("ApproximateReceiveCount")
        .and_then(|c| c.parse().ok())
        .unwrap_or(1);
    again
        .attributes
        .insert("ApproximateReceiveCount".into(), (count + 1).to_string());
    again
}

pub fn dlq_attr(m: &aws_sdk_sqs::types::Message, name: &str) -> String {
    m.message_attributes
        .as_ref()
        .and_then(|a| a.get(name))
        .and_then(|v| v.string_value())
        .unwrap_or_default()
        .to_string()
}

// ---------------------------------------------------------------------------------------------
// jobs

pub fn job(job_id: &str, external_id: &str, kind: &str, payload: Json) -> String {
    json!({
        "schema_version": 1,
        "job_id": job_id,
        "source": "toggl",
        "external_id": external_id,
        "occurred_at": "2026-01-20T10:00:00Z",
        "correlation_id": format!("wh-{job_id}"),
        "kind": kind,
        "payload": payload,
    })
    .to_string()
}

/// Alice (AA) on case 1's Development phase.
pub fn hours(job_id: &str, external_id: &str, hours: &str) -> String {
    job(
        job_id,
        external_id,
        "hour_entry.upsert",
        json!({
            "user": {"code": "AA"},
            "case": {"number": 1},
            "phase": {"name": "Development"},
            "event_date": "2026-01-20",
            "hours": hours,
            "description": "worker test",
        }),
    )
}

pub fn delete_hours(job_id: &str, external_id: &str) -> String {
    job(job_id, external_id, "hour_entry.delete", json!({}))
}

pub fn failed_ids(response: &SqsBatchResponse) -> Vec<String> {
    let mut ids: Vec<String> = response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.clone())
        .collect();
    ids.sort();
    ids
}

pub fn id_of(record: &SqsMessage) -> String {
    record.message_id.clone().unwrap_or_default()
}
