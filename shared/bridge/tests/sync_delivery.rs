//! Scheduled syncs neither lose records nor send one twice (issue 12, items 1 and 2): batches
//! too large for one queue message are split, the cursor never passes a record that was not
//! enqueued, and an invoice whose status write-back failed is not POSTed again when it comes
//! back weeks later (re-enqueued, or redriven from the DLQ). Real parts: `severa-sim` over
//! HTTP, moto's SQS and DynamoDB through the production adapters, a local receiver; time is
//! the harness clock (simulator, scheduler and table expiries).

mod sync_harness;
mod worker_harness;

use aws_lambda_events::event::sqs::SqsMessage;
use bridge::aws::SqsQueue;
use bridge::job::MAX_JOB_MESSAGE_BYTES;
use bridge::ports::{ATTRIBUTE_DATA_TYPE, MAX_MESSAGE_BYTES, MessageSink, OutgoingMessage};
use bridge::sync::{RunOutcome, SyncError};
use serde_json::json;
use severa_sim::fixture::INVOICE_1001_GUID;
use std::collections::BTreeMap;
use sync_harness::{SyncHarness, config};
use test_support::{sdk, unique};

const DAY: i64 = 86_400;

/// Hour entries from 10:00 on the harness's first day, in batches of `batch_size`.
fn hours_sync(batch_size: usize) -> serde_json::Value {
    config(json!({"hours": {
        "read": "hour_entries",
        "batch_size": batch_size,
        "first_run": {"from": "2026-03-02T10:00:00Z"}
    }}))
}

fn invoices_sync() -> serde_json::Value {
    config(json!({"invoices": {
        "read": "invoices",
        "first_run": {"from": "2025-01-01T00:00:00Z"},
        "invoices": {"statuses": ["Sent"], "transferred_status": "Transferred"}
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

fn job_id(record: &SqsMessage) -> String {
    let body: serde_json::Value =
        serde_json::from_str(record.body.as_deref().unwrap_or_default()).expect("job JSON");
    body["job_id"].as_str().unwrap_or_default().to_string()
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

/// The write-back fails for good once: the invoice reached the target, stays Sent in Severa
/// and its job is dead-lettered.
async fn delivered_but_not_written_back(h: &SyncHarness) -> String {
    h.post(
        "faults",
        json!({"operation": "SetInvoiceStatus", "kind": "fault",
               "fault_type": "ValidationException", "message": "status locked", "times": 1}),
    )
    .await;
    assert_eq!(h.run("invoices").await.records_enqueued, 1);
    h.drain().await;
    let got = h.receiver.accepted();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].guids(), [INVOICE_1001_GUID]);
    assert_eq!(h.invoice_status(INVOICE_1001_GUID).await, "Sent");
    got[0].webhook_id()
}

#[tokio::test]
async fn an_invoice_read_again_after_the_markers_expired_is_not_posted_twice() {
    let h = SyncHarness::start(invoices_sync()).await;
    let webhook_id = delivered_but_not_written_back(&h).await;

    // 36 days on: the scheduler's enqueued marker (35 d) and the worker's job record (7 d)
    // have expired; the invoice (dated 2026-01-31) is still Sent and within the 90-day window.
    h.advance(36 * DAY).await;
    let again = h.run("invoices").await;
    assert_eq!(again.records_enqueued, 1, "{again:?}");
    let jobs = h.take_jobs(60).await;
    assert_eq!(jobs.len(), 1);
    assert_eq!(
        job_id(&jobs[0]),
        webhook_id,
        "the same job id, the same webhook-id"
    );
    let response = h.settle(jobs).await;
    assert!(response.batch_item_failures.is_empty(), "{response:?}");

    assert_eq!(
        h.receiver.received().len(),
        1,
        "the invoice is not POSTed again"
    );
    assert_eq!(h.invoice_status(INVOICE_1001_GUID).await, "Transferred");
    assert_eq!(h.calls("SetInvoiceStatus").await.len(), 2);
    h.stop().await;
}

#[tokio::test]
async fn a_dlq_redrive_after_a_week_only_retries_the_write_back() {
    let h = SyncHarness::start(invoices_sync()).await;
    delivered_but_not_written_back(&h).await;

    // Eight days on (past the worker's 7-day job records), an operator redrives the DLQ.
    h.advance(8 * DAY).await;
    assert_eq!(h.redrive_dlq().await, 1);
    let response = h.drain().await;
    assert!(response.batch_item_failures.is_empty(), "{response:?}");

    assert_eq!(
        h.receiver.received().len(),
        1,
        "the invoice is not POSTed again"
    );
    assert_eq!(h.invoice_status(INVOICE_1001_GUID).await, "Transferred");
    assert_eq!(h.calls("SetInvoiceStatus").await.len(), 2);
    h.stop().await;
}
