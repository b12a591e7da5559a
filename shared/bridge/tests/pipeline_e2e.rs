//! End to end on loopback: signed webhooks → webhook handler → ONE moto SQS queue → worker
//! handler (batches of up to 10, deleted as Lambda's event source mapping does) → severa-sim.
//! 200 distinct jobs are applied exactly once; resent webhooks are not enqueued again.
#![allow(dead_code, unused_imports)]

mod webhook_harness;
mod worker_harness;

use aws_lambda_events::event::sqs::SqsEvent;
use aws_sdk_sqs::types::QueueAttributeName;
use http::StatusCode;
use serde_json::json;
use std::collections::HashMap;
use std::time::Instant;
use worker_harness::{Harness, deadline, receive, to_record};

const JOBS: usize = 200;
const RESENDS: usize = 10;
const MAX_ROUNDS: usize = 100;

fn hours_for(i: usize) -> String {
    // 0.25 … 8.0 in quarter hours: distinct enough to catch a mix-up.
    let quarters = (i % 32) + 1;
    format!("{}.{:02}", quarters / 4, (quarters % 4) * 25)
}

fn crm_body(external_id: &str, hours: &str) -> Vec<u8> {
    json!({
        "kind": "hour_entry.upsert",
        "external_id": external_id,
        "payload": {
            "user": {"code": "AA"},
            "case": {"number": 1},
            "phase": {"name": "Development"},
            "event_date": "2026-11-27",
            "hours": hours,
            "description": external_id,
        }
    })
    .to_string()
    .into_bytes()
}

fn quantity(entry: &serde_json::Value) -> rust_decimal::Decimal {
    entry["Quantity"]
        .to_string()
        .trim_matches('"')
        .parse()
        .expect("decimal quantity")
}

async fn queue_depth(h: &Harness, url: &str) -> (u64, u64) {
    let attrs = h
        .sqs
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
        .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
        .send()
        .await
        .expect("queue attributes")
        .attributes
        .unwrap_or_default();
    let get = |name: QueueAttributeName| {
        attrs
            .get(&name)
            .and_then(|v| v.parse().ok())
            .unwrap_or(u64::MAX)
    };
    (
        get(QueueAttributeName::ApproximateNumberOfMessages),
        get(QueueAttributeName::ApproximateNumberOfMessagesNotVisible),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_hundred_webhooks_reach_severa_exactly_once() {
    let started = Instant::now();
    let env = webhook_harness::setup().await;
    let h = Harness::start().await;
    // One queue for both: the webhook enqueues to the worker's job queue.
    let webhook = env.webhook_for(&h.queue_url);

    let seeded = h.entities("HourEntry").await;
    h.clear_requests().await;

    // --- webhooks -----------------------------------------------------------------------
    let mut expected: HashMap<String, rust_decimal::Decimal> = HashMap::new();
    let mut job_ids: HashMap<String, String> = HashMap::new();
    for i in 0..JOBS {
        let external_id = format!("e2e-{i:03}");
        let hours = hours_for(i);
        let body = crm_body(&external_id, &hours);
        let webhook_id = format!("msg_e2e_{i:03}");
        let response = webhook.handle(env.crm_request(&webhook_id, &body)).await;
        assert_eq!(response.status(), StatusCode::ACCEPTED, "{webhook_id}");
        let job_id = webhook_harness::json_body(&response)["job_id"]
            .as_str()
            .expect("job_id")
            .to_owned();
        job_ids.insert(webhook_id, job_id);
        expected.insert(external_id, hours.parse().unwrap());
    }
    // Resends of the same deliveries (same webhook id, same body): answered, not enqueued.
    for i in (0..JOBS).step_by(JOBS / RESENDS) {
        let external_id = format!("e2e-{i:03}");
        let webhook_id = format!("msg_e2e_{i:03}");
        let body = crm_body(&external_id, &hours_for(i));
        let response = webhook.handle(env.crm_request(&webhook_id, &body)).await;
        assert_eq!(response.status(), StatusCode::OK, "{webhook_id}");
        let answer = webhook_harness::json_body(&response);
        assert_eq!(answer["status"], "duplicate", "{webhook_id}");
        assert_eq!(answer["job_id"], job_ids[&webhook_id].as_str());
    }
    let after_webhooks = started.elapsed();

    // --- drain the queue through the worker, as the event source mapping would -------------
    let mut handled = 0usize;
    let mut rounds = 0usize;
    let mut empty_rounds = 0usize;
    while rounds < MAX_ROUNDS {
        rounds += 1;
        let batch = receive(&h.sqs, &h.queue_url, Some(60)).await;
        if batch.is_empty() {
            let (visible, in_flight) = queue_depth(&h, &h.queue_url).await;
            if visible == 0 && in_flight == 0 {
                break;
            }
            empty_rounds += 1;
            assert!(
                empty_rounds < 20,
                "queue stuck: {visible} visible, {in_flight} in flight"
            );
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            continue;
        }
        let records: Vec<_> = batch.into_iter().map(to_record).collect();
        handled += records.len();
        let mut event = SqsEvent::default();
        event.records = records.clone();
        let response = h.worker.handle(event, deadline()).await;
        assert!(
            response.batch_item_failures.is_empty(),
            "no failures expected: {response:?}"
        );
        h.finish(&records, &response).await;
    }
    assert!(
        rounds < MAX_ROUNDS,
        "queue not drained in {MAX_ROUNDS} rounds"
    );
    assert_eq!(handled, JOBS, "each enqueued job delivered once");

    // --- what Severa holds ------------------------------------------------------------------
    let entries = h.entities("HourEntry").await;
    assert_eq!(entries.len(), seeded.len() + JOBS);
    let mut seen: HashMap<String, rust_decimal::Decimal> = HashMap::new();
    for (guid, entry) in &entries {
        if seeded.contains_key(guid) {
            continue;
        }
        let description = entry["Description"].as_str().expect("description");
        assert!(
            seen.insert(description.to_owned(), quantity(entry))
                .is_none(),
            "{description} applied twice"
        );
    }
    assert_eq!(seen, expected, "every external id once, with its hours");
    assert_eq!(h.calls("AddNewHourEntry").await.len(), JOBS);

    assert!(h.dlq_messages().await.is_empty(), "DLQ is empty");
    assert!(h.visible_jobs().await.is_empty(), "main queue is empty");
    assert_eq!(queue_depth(&h, &h.queue_url).await, (0, 0));
    eprintln!(
        "pipeline_e2e: webhooks {after_webhooks:?}, total {:?}, {rounds} rounds",
        started.elapsed()
    );
    h.stop().await;
}
