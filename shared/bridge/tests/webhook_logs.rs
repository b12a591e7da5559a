//! The webhook's log lines, in a test binary of their own: a thread-local tracing subscriber
//! races with other tests that hit the same callsites first without one.
#![allow(unused_imports)]

mod webhook_harness;

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
use std::time::Duration;
use test_support::{sdk, unique};
use webhook_harness::*;

#[tokio::test]
async fn one_json_log_line_per_request_without_secrets_or_signatures() {
    let env = setup().await;
    let capture = test_support::LogCapture::default();
    let writer = capture.clone();
    let subscriber = tracing_subscriber::fmt()
        .json()
        .flatten_event(true)
        .with_max_level(tracing::Level::INFO)
        .with_writer(move || writer.clone())
        .finish();
    // Thread-local: this current-thread test's handler calls log here, other tests do not.
    let _guard = tracing::subscriber::set_default(subscriber);
    // Other tests of this binary may have hit the callsites first with no subscriber; make
    // tracing re-ask which callsites are enabled now that one is set.
    tracing::callsite::rebuild_interest_cache();

    let good = env.crm_request("msg_log", &hour_entry("crm-1", "1"));
    let signature = good.headers()[standard_webhooks::SIGNATURE_HEADER]
        .to_str()
        .unwrap()
        .to_owned();
    let mut forged = good.clone();
    forged.headers_mut().insert(
        standard_webhooks::SIGNATURE_HEADER,
        signature.replace("v1,", "v1,AAAA").parse().unwrap(),
    );
    assert_eq!(
        env.webhook.handle(good).await.status(),
        StatusCode::ACCEPTED
    );
    assert_eq!(
        env.webhook.handle(forged).await.status(),
        StatusCode::UNAUTHORIZED
    );
    let ping = json!({"event_id": 5, "payload": "ping", "validation_code": "code-1"}).to_string();
    assert_eq!(
        env.webhook
            .handle(env.toggl_request(ping.as_bytes()))
            .await
            .status(),
        StatusCode::OK
    );

    let text = capture.lines().join("\n");
    let lines: Vec<Value> = text
        .lines()
        .filter(|l| l.contains("webhook request"))
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 3, "{text}");
    assert_eq!(lines[0]["source"], "crm");
    assert_eq!(lines[0]["status"], 202);
    assert_eq!(lines[0]["outcome"], "enqueued");
    assert_eq!(lines[0]["webhook_id"], "msg_log");
    assert!(lines[0]["job_id"].as_str().unwrap().starts_with("crm:"));
    assert_eq!(lines[0]["kind"], "hour_entry.upsert");
    assert_eq!(lines[1]["status"], 401);
    assert_eq!(lines[1]["outcome"], "bad_signature");
    assert_eq!(
        lines[1]["detail"], "signature does not match",
        "the reason is logged"
    );
    assert_eq!(lines[2]["source"], "toggl");
    assert_eq!(lines[2]["outcome"], "ping_validated");
    let whsec = format!("whsec_{}", STANDARD.encode([7u8; 32]));
    for needle in [
        whsec.as_str(),
        &whsec["whsec_".len()..],
        TOGGL_SECRET,
        &signature["v1,".len()..],
    ] {
        assert!(
            !text.contains(needle),
            "a secret or signature leaked: {text}"
        );
    }
}
