//! Shared setup for the webhook tests: moto-backed queue, table and secrets, signed requests.
#![allow(dead_code, unused_imports)]

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use bridge::aws::{DynamoTable, SecretsManagerSource, SqsQueue};
use bridge::job::{Action, CaseRef, Job, JobKind, PhaseRef, UserRef, WorkTypeRef};
use bridge::secrets::SecretCache;
use bridge::verify::{SigningSecret, standard_webhooks, toggl};
use bridge::webhook::Webhook;
use bridge::webhook::config::Config;
use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use http::{HeaderMap, Method, Request, Response, StatusCode, header};
use rust_decimal::Decimal;
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use test_support::{sdk, unique};

pub const TOGGL_SECRET: &str = "toggl-subscription-secret";
pub const WORKSPACE: u64 = 1234567;
/// What the `crm` source may send.
pub const CRM_KINDS: [&str; 4] = [
    "hour_entry.upsert",
    "hour_entry.delete",
    "account.upsert",
    "contact.upsert",
];

pub struct Env {
    pub sqs: aws_sdk_sqs::Client,
    pub queue_url: String,
    pub table: DynamoTable,
    pub sdk: aws_config::SdkConfig,
    pub config: Config,
    pub crm_secret: SigningSecret,
    pub toggl_secret: SigningSecret,
    /// Added to the real time by the handler's clock.
    pub skew: Arc<Mutex<TimeDelta>>,
    pub webhook: Webhook,
}

pub async fn setup() -> Env {
    let sdk = sdk().await;
    let sqs = aws_sdk_sqs::Client::new(&sdk);
    let queue_url = sqs
        .create_queue()
        .queue_name(unique("webhook-jobs"))
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    let table = DynamoTable::from_config(&sdk, unique("webhook"));
    table.create_table().await.unwrap();

    let sm = aws_sdk_secretsmanager::Client::new(&sdk);
    let whsec = format!("whsec_{}", STANDARD.encode([7u8; 32]));
    let crm_id = unique("crm-signing");
    let toggl_id = unique("toggl-signing");
    for (id, value) in [(&crm_id, whsec.as_str()), (&toggl_id, TOGGL_SECRET)] {
        sm.create_secret()
            .name(id)
            .secret_string(value)
            .send()
            .await
            .unwrap();
    }
    let config = Config::from_json(
        &json!({"sources": {
            "crm": {"format": "standard-webhooks", "secret_id": crm_id, "max_body_bytes": 4096,
                    "allow": {"kinds": CRM_KINDS}},
            "toggl": {"format": "toggl", "secret_id": toggl_id, "toggl": {
                "utc_offset": "+02:00",
                "workspaces": {WORKSPACE.to_string(): {"case": {"number": 1}}},
                "projects": {
                    "2001": {"case": {"number": 1}, "phase": {"name": "Development"}, "work_type": {"name": "Development"}},
                    "2003": {"case": {"guid": "sim-case-erp"}}
                },
                "users": {"3001": {"code": "AA"}, "3003": {"guid": "sim-user-carol"}}
            }}
        }})
        .to_string(),
    )
    .unwrap();
    let skew = Arc::new(Mutex::new(TimeDelta::zero()));
    let webhook = make_webhook(&sqs, &table, &sdk, &config, &skew, &queue_url);
    Env {
        sqs,
        queue_url,
        table,
        sdk,
        config,
        crm_secret: SigningSecret::from_standard_webhooks(&whsec).unwrap(),
        toggl_secret: SigningSecret::from_plain(TOGGL_SECRET).unwrap(),
        skew,
        webhook,
    }
}

/// A handler on the given queue, the test's table and Secrets Manager, and a skewable clock.
pub fn make_webhook(
    sqs: &aws_sdk_sqs::Client,
    table: &DynamoTable,
    sdk: &aws_config::SdkConfig,
    config: &Config,
    skew: &Arc<Mutex<TimeDelta>>,
    queue_url: &str,
) -> Webhook {
    let skew = skew.clone();
    Webhook::new(
        config.clone(),
        Arc::new(SqsQueue::new(sqs.clone(), queue_url)),
        Arc::new(table.clone()),
        SecretCache::new(
            Arc::new(SecretsManagerSource::from_config(sdk)),
            Duration::from_secs(300),
        ),
    )
    .with_clock(Arc::new(move || Utc::now() + *skew.lock().unwrap()))
}

impl Env {
    /// A handler sharing this env's table and secrets, sending to `queue_url`.
    pub fn webhook_for(&self, queue_url: &str) -> Webhook {
        make_webhook(
            &self.sqs,
            &self.table,
            &self.sdk,
            &self.config,
            &self.skew,
            queue_url,
        )
    }

    pub fn crm_request(&self, webhook_id: &str, body: &[u8]) -> Request<Vec<u8>> {
        let headers =
            standard_webhooks::signed_headers(&self.crm_secret, webhook_id, Utc::now(), body)
                .unwrap();
        request("/webhooks/crm", headers, body)
    }

    pub fn toggl_request(&self, body: &[u8]) -> Request<Vec<u8>> {
        let mut headers = HeaderMap::new();
        headers.insert(
            toggl::SIGNATURE_HEADER,
            toggl::sign(&self.toggl_secret, body).parse().unwrap(),
        );
        request("/webhooks/toggl", headers, body)
    }

    pub async fn messages(&self) -> Vec<aws_sdk_sqs::types::Message> {
        self.sqs
            .receive_message()
            .queue_url(&self.queue_url)
            .max_number_of_messages(10)
            .message_attribute_names("All")
            .visibility_timeout(0)
            .wait_time_seconds(0)
            .send()
            .await
            .unwrap()
            .messages
            .unwrap_or_default()
    }

    /// Deletes every item of the table: what DynamoDB's TTL does to the delivery markers once
    /// they expire (24 h), without waiting for it.
    pub async fn expire_delivery_markers(&self) {
        let client = self.table.client();
        let items = client
            .scan()
            .table_name(self.table.table_name())
            .send()
            .await
            .unwrap()
            .items
            .unwrap_or_default();
        for item in items {
            client
                .delete_item()
                .table_name(self.table.table_name())
                .key("pk", item["pk"].clone())
                .send()
                .await
                .unwrap();
        }
    }

    pub async fn jobs(&self) -> Vec<Job> {
        self.messages()
            .await
            .iter()
            .map(|m| Job::from_json(m.body().unwrap().as_bytes()).unwrap())
            .collect()
    }
}

pub fn request(path: &str, headers: HeaderMap, body: &[u8]) -> Request<Vec<u8>> {
    let mut req = Request::builder()
        .method(Method::POST)
        .uri(path)
        .header(header::CONTENT_TYPE, "application/json")
        .body(body.to_vec())
        .unwrap();
    req.headers_mut().extend(headers);
    req
}

pub fn json_body(response: &Response<String>) -> Value {
    assert_eq!(
        response.headers()[header::CONTENT_TYPE],
        "application/json",
        "every answer is JSON"
    );
    serde_json::from_str(response.body()).unwrap()
}

pub fn hour_entry(external_id: &str, hours: &str) -> Vec<u8> {
    json!({
        "kind": "hour_entry.upsert",
        "external_id": external_id,
        "payload": {"user": {"code": "AA"}, "case": {"number": 1}, "event_date": "2026-11-27", "hours": hours}
    })
    .to_string()
    .into_bytes()
}

/// A Toggl event created just now (Toggl delivers within seconds; the handler refuses old ones).
pub fn toggl_event(event_id: u64, action: &str, payload: Value) -> Vec<u8> {
    toggl_event_at(event_id, action, payload, Utc::now())
}

/// A Toggl event created (and first delivered) at `created_at`.
pub fn toggl_event_at(
    event_id: u64,
    action: &str,
    payload: Value,
    created_at: DateTime<Utc>,
) -> Vec<u8> {
    let created_at = created_at.to_rfc3339();
    json!({
        "event_id": event_id,
        "created_at": created_at,
        "creator_id": 3001,
        "metadata": {"action": action, "model": "time_entry", "path": "/api/v9/workspaces/1234567/time_entries",
                     "workspace_id": WORKSPACE.to_string(), "time_entry_id": "9001"},
        "payload": payload,
        "subscription_id": 42,
        "timestamp": created_at
    })
    .to_string()
    .into_bytes()
}

pub fn time_entry(project_id: u64, user_id: u64, duration: i64) -> Value {
    json!({
        "id": 9001, "workspace_id": WORKSPACE, "project_id": project_id, "user_id": user_id,
        "start": "2026-11-26T22:30:00Z", "stop": "2026-11-27T00:00:00Z", "duration": duration,
        "description": "Checkout flow", "billable": true, "tags": [], "at": "2026-11-27T09:30:05Z"
    })
}

// ---------------------------------------------------------------------------------------------
// Standard Webhooks (the canonical format)
