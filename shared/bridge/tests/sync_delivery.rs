//! Scheduled syncs do not lose records (issue 12, item 1): batches too large for one queue
//! message are split, and the cursor never passes a record that was not enqueued. Real parts:
//! `severa-sim` over HTTP, moto's SQS and DynamoDB through the production adapters, a local
//! receiver; time is the harness clock.

mod sync_harness;
mod worker_harness;

use aws_lambda_events::event::sqs::SqsMessage;
use bridge::aws::SqsQueue;
use bridge::job::MAX_JOB_MESSAGE_BYTES;
use bridge::ports::{ATTRIBUTE_DATA_TYPE, MAX_MESSAGE_BYTES, MessageSink, OutgoingMessage};
use bridge::sync::{RunOutcome, SyncError};
use serde_json::json;
use std::collections::BTreeMap;
use sync_harness::{SyncHarness, config};
use test_support::{sdk, unique};

/// Hour entries from 10:00 on the harness's first day, in batches of `batch_size`.
fn hours_sync(batch_size: usize) -> serde_json::Value {
    config(json!({"hours": {
        "read": "hour_entries",
        "batch_size": batch_size,
        "first_run": {"from": "2026-03-02T10:00:00Z"}
    }}))
}

/// The size SQS counts for a received message: body plus attribute names, types and values.
fn queued_size(record: &SqsMessage) -> usize {
    let attributes: usize = record
        .message_attributes
        .iter()
        .map(|(name, value)| {
            name.len()
                + ATTRIBUTE_DATA_TYPE.len()
                + value.string_value.as_deref().map_or(0, str::len)
        })
        .sum();
    record.body.as_deref().map_or(0, str::len) + attributes
}

#[tokio::test]
async fn a_batch_over_the_queue_limit_is_split_and_every_entry_arrives_once() {
    let h = SyncHarness::start(hours_sync(150)).await;
    // About 2 KB each, like a real HourEntry: 150 of them are ~300 KB, more than one message.
    let mut added = h.add_hour_entries(150, 1800).await;
    added.sort();

    let first = h.run("hours").await;
    assert_eq!(first.outcome, RunOutcome::Completed, "{first:?}");
    assert_eq!(first.records_enqueued, 150, "{first:?}");
    assert!(first.jobs_enqueued >= 2, "split by size: {first:?}");
    let jobs = h.take_jobs(60).await;
    assert_eq!(jobs.len(), first.jobs_enqueued);
    for job in &jobs {
        assert!(
            queued_size(job) <= MAX_JOB_MESSAGE_BYTES,
            "{} bytes with attributes",
            queued_size(job)
        );
    }
    let response = h.settle(jobs).await;
    assert!(response.batch_item_failures.is_empty(), "{response:?}");

    // The second run reads from the cursor: nothing new, nothing sent again.
    h.advance(3600).await;
    let second = h.run("hours").await;
    assert_eq!(second.records_enqueued, 0, "{second:?}");
    h.drain().await;

    assert_eq!(h.receiver.accepted_guids(), added, "every entry once");
    assert!(h.dlq_messages().await.is_empty());
    h.stop().await;
}

#[tokio::test]
async fn a_record_too_large_alone_fails_the_run_and_keeps_the_cursor() {
    let h = SyncHarness::start(hours_sync(10)).await;
    let small = h.add_hour_entries(3, 100).await;
    let huge = h.add_hour_entries(1, MAX_MESSAGE_BYTES).await;

    let err = h.run_as("hours", "run-1").await.unwrap_err();
    match &err {
        SyncError::TooLarge { sync, records } => {
            assert_eq!(sync, "hours");
            assert_eq!(records.len(), 1);
            assert!(records[0].starts_with(&huge[0]), "{records:?}");
        }
        other => panic!("expected TooLarge, got {other}"),
    }
    assert!(err.to_string().contains("smaller in Severa"), "{err}");
    assert_eq!(h.cursor("hours").await, None, "the cursor did not pass it");
    h.drain().await;
    let mut small_sorted = small.clone();
    small_sorted.sort();
    assert_eq!(h.receiver.accepted_guids(), small_sorted, "the others went");

    // The next run reads the same window: the others are not sent again, the huge one is
    // reported again.
    h.advance(3600).await;
    assert!(matches!(
        h.run_as("hours", "run-2").await,
        Err(SyncError::TooLarge { .. })
    ));
    h.drain().await;
    assert_eq!(h.receiver.accepted_guids(), small_sorted);
    h.stop().await;
}

#[tokio::test]
async fn the_queue_adapter_counts_attributes_against_the_sqs_limit() {
    let config = sdk().await;
    let sqs = aws_sdk_sqs::Client::new(&config);
    let url = worker_harness::create_queue(&sqs, &unique("size")).await;
    let queue = SqsQueue::new(sqs, &url);
    let attributes = BTreeMap::from([("sync".to_string(), "invoices".to_string())]);
    let overhead = "sync".len() + ATTRIBUTE_DATA_TYPE.len() + "invoices".len();
    // The body alone fits, with its attribute it does not: refused, with the size.
    let over = OutgoingMessage {
        body: "x".repeat(MAX_MESSAGE_BYTES - overhead + 1),
        attributes: attributes.clone(),
    };
    let err = queue.send(&over).await.unwrap_err();
    assert!(!err.retryable);
    assert!(
        err.message
            .contains(&format!("{} bytes", MAX_MESSAGE_BYTES + 1)),
        "{err}"
    );
    let exact = OutgoingMessage {
        body: "x".repeat(MAX_MESSAGE_BYTES - overhead),
        attributes,
    };
    queue.send(&exact).await.expect("exactly the limit is sent");
}
