//! A key regenerated in Severa while 200 jobs flow through the worker, then rotated with
//! `bridgectl secret rotate`'s code: every job is applied exactly once, none is dead-lettered,
//! and a job caught between the regeneration and the rotation is retried once.
//!
//! Real moto queues, table and secret; `severa-sim` for Severa (see `worker_harness`).

mod worker_harness;

use aws_sdk_sqs::types::QueueAttributeName;
use bridge::aws::SecretsManagerVersions;
use bridge::rotation::{KeyCheck, Operator, RotationMode};
use serde_json::json;
use severa::ApiKey;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use worker_harness::*;

const JOBS: usize = 200;
const BATCH: usize = 10;
/// Batches before this one run with the original key; then Severa's key is regenerated.
const REGENERATE_AT: usize = 5;
/// The rotation runs concurrently with this batch.
const ROTATE_AT: usize = 10;

fn entry(i: usize) -> String {
    job(
        &format!("rot-{i}"),
        &format!("te-rot-{i}"),
        "hour_entry.upsert",
        json!({
            "user": {"code": "AA"},
            "case": {"number": 1},
            "phase": {"name": "Development"},
            "event_date": "2026-01-21",
            "hours": "1",
            "description": format!("te-rot-{i}"),
        }),
    )
}

async fn messages_left(h: &Harness, url: &str) -> u64 {
    let attrs = h
        .sqs
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
        .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
        .send()
        .await
        .expect("attributes")
        .attributes
        .unwrap_or_default();
    attrs.values().map(|v| v.parse::<u64>().unwrap_or(0)).sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn key_regenerated_mid_flow_then_rotated_applies_every_job_once() {
    let h = Harness::start().await;
    let seeded = h.entities("HourEntry").await.len();
    let operator = Operator::new(
        Arc::new(SecretsManagerVersions::new(h.secrets_client.clone())),
        KeyCheck::new(
            Some(h.sim.endpoint()),
            severa::SeveraConfig {
                connect_timeout: Duration::from_secs(1),
                timeout: Duration::from_secs(5),
                ..severa::SeveraConfig::with_endpoint(h.sim.endpoint())
            },
        ),
    );
    let bodies: Vec<String> = (0..JOBS).map(entry).collect();
    let mut new_key = None;
    let mut failed = Vec::new();
    let mut failed_per_batch = BTreeMap::new();

    for (n, chunk) in bodies.chunks(BATCH).enumerate() {
        if n == REGENERATE_AT {
            // A person regenerates the key in Severa: the old one stops working at once.
            let key = h.post("keys/regenerate", json!({})).await["api_key"]
                .as_str()
                .expect("new key")
                .to_string();
            new_key = Some(key);
        }
        let records = h.enqueue(chunk, 30).await;
        let response = if n == ROTATE_AT {
            let key = new_key.clone().expect("regenerated");
            let version_id = format!("{:0>40}", format!("rot-worker-{}", std::process::id()));
            let (response, report) = tokio::join!(
                h.handle(records.clone()),
                operator.rotate(
                    &h.secret_id,
                    ApiKey::new(key),
                    &version_id,
                    false,
                    Duration::from_secs(30),
                )
            );
            let report = report.expect("rotation");
            assert_eq!(report.mode, RotationMode::InProcess);
            response
        } else {
            h.handle(records.clone()).await
        };
        h.finish(&records, &response).await;
        let ids = failed_ids(&response);
        failed_per_batch.insert(n, ids.len());
        failed.extend(
            records
                .iter()
                .filter(|r| ids.contains(&id_of(r)))
                .map(redelivered),
        );
    }

    // Before the regeneration nothing failed; between it and the rotation everything was
    // retried (not dead-lettered); after the rotation the worker's one refresh found the key.
    for (n, count) in &failed_per_batch {
        match *n {
            n if n < REGENERATE_AT => assert_eq!(*count, 0, "batch {n}"),
            n if n < ROTATE_AT => assert_eq!(*count, BATCH, "batch {n}"),
            n if n > ROTATE_AT => assert_eq!(*count, 0, "batch {n}"),
            _ => {}
        }
    }
    assert!(h.dlq_messages().await.is_empty(), "nothing dead-lettered");

    // Lambda hands each failed record over once more (its back-off has passed): all apply.
    for chunk in failed.chunks(BATCH) {
        let response = h.handle_and_finish(chunk.to_vec()).await;
        assert!(
            response.batch_item_failures.is_empty(),
            "a job needed more than one retry: {response:?}"
        );
    }

    let added: Vec<_> = h
        .calls("AddNewHourEntry")
        .await
        .into_iter()
        .filter(|r| r["fault"].is_null())
        .collect();
    assert_eq!(added.len(), JOBS, "every job applied once");
    let entries = h.entities("HourEntry").await;
    assert_eq!(entries.len(), seeded + JOBS);
    let mut descriptions: Vec<String> = entries
        .values()
        .filter_map(|e| e["Description"].as_str())
        .filter(|d| d.starts_with("te-rot-"))
        .map(str::to_string)
        .collect();
    descriptions.sort();
    descriptions.dedup();
    assert_eq!(descriptions.len(), JOBS, "each external id once");
    assert!(h.dlq_messages().await.is_empty());
    assert_eq!(
        messages_left(&h, &h.queue_url).await,
        0,
        "job queue drained"
    );
    h.stop().await;
}
