//! Operator DLQ triage against moto's SQS: list, show and redrive leave the queues exactly as
//! they say. moto has no StartMessageMoveTask, so `--all` takes the receive/send/delete path
//! here (the fallback that local stacks use); against AWS the move task is used instead (its
//! handling is tested with a fake of those calls in `cli/tests/dlq_cli.rs`).

use bridge::aws::{SqsDeadLetterQueue, SqsQueue};
use bridge::dlq::{self, DeadLetterQueue, Progress, Selection};
use bridge::ports::{MessageSink, OutgoingMessage};
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;
use test_support::{create_queue, sdk, unique};

struct Queues {
    sqs: aws_sdk_sqs::Client,
    job_queue: SqsQueue,
    dlq: SqsDeadLetterQueue,
    dlq_sink: SqsQueue,
}

async fn queues() -> Queues {
    let config = sdk().await;
    let sqs = aws_sdk_sqs::Client::new(&config);
    let job_url = create_queue(&sqs, &unique("jobs")).await;
    let dlq_url = create_queue(&sqs, &unique("jobs-dlq")).await;
    Queues {
        job_queue: SqsQueue::new(sqs.clone(), &job_url),
        dlq: SqsDeadLetterQueue::new(sqs.clone(), &dlq_url),
        dlq_sink: SqsQueue::new(sqs.clone(), &dlq_url),
        sqs,
    }
}

/// A message as the worker dead-letters it: the job body plus the reason.
fn dead_letter(n: usize) -> OutgoingMessage {
    OutgoingMessage {
        body: format!(r#"{{"schema_version":1,"job_id":"job-{n}"}}"#),
        attributes: BTreeMap::from([
            ("correlation_id".into(), format!("wh-{n}")),
            ("source".into(), "toggl".into()),
            ("kind".into(), "hour_entry.upsert".into()),
            ("error_type".into(), "UnresolvedReference".into()),
            ("error_message".into(), format!("user code ZZ{n} not found")),
            ("attempts".into(), "1".into()),
        ]),
    }
}

async fn all_messages(sqs: &aws_sdk_sqs::Client, url: &str) -> Vec<aws_sdk_sqs::types::Message> {
    let mut messages = Vec::new();
    for _ in 0..5 {
        let out = sqs
            .receive_message()
            .queue_url(url)
            .max_number_of_messages(10)
            .visibility_timeout(60)
            .message_attribute_names("All")
            .send()
            .await
            .expect("receive");
        messages.extend(out.messages.unwrap_or_default());
    }
    messages
}

#[tokio::test]
async fn list_shows_every_reason_and_hides_nothing() {
    let q = queues().await;
    let mut ids = BTreeSet::new();
    for n in 0..13 {
        ids.insert(q.dlq_sink.send(&dead_letter(n)).await.expect("send"));
    }
    let listed = dlq::list(&q.dlq, 100).await.expect("list");
    assert_eq!(
        listed
            .iter()
            .map(|l| l.message_id.clone())
            .collect::<BTreeSet<_>>(),
        ids
    );
    let first = listed
        .iter()
        .find(|l| l.body.contains("\"job-3\""))
        .expect("job-3 listed");
    assert_eq!(first.attribute("error_type"), "UnresolvedReference");
    assert_eq!(first.attribute("error_message"), "user code ZZ3 not found");
    assert_eq!(first.attribute("correlation_id"), "wh-3");
    assert!(first.sent_at.is_some(), "SentTimestamp read");

    // Listing handed everything back: all 13 are receivable at once.
    let again = q.dlq.receive(10, 30).await.expect("receive");
    assert!(!again.is_empty(), "listed messages are visible again");
    for letter in &again {
        q.dlq
            .release(&letter.receipt_handle)
            .await
            .expect("release");
    }
    let shown = dlq::show(&q.dlq, &first.message_id, 100)
        .await
        .expect("show");
    assert_eq!(
        shown.as_ref().map(|l| l.body.as_str()),
        Some(first.body.as_str())
    );
    assert_eq!(
        dlq::show(&q.dlq, "no-such-id", 100).await.expect("show"),
        None
    );
}

#[tokio::test]
async fn redrive_by_id_moves_only_those_with_routing_attributes() {
    let q = queues().await;
    let mut ids = Vec::new();
    for n in 0..4 {
        ids.push(q.dlq_sink.send(&dead_letter(n)).await.expect("send"));
    }
    let chosen = Selection::Ids(BTreeSet::from([ids[1].clone(), "missing-id".to_string()]));

    let dry = dlq::redrive(
        &q.dlq,
        &q.job_queue,
        &chosen,
        true,
        100,
        Duration::ZERO,
        |_| {},
    )
    .await
    .expect("dry run");
    assert_eq!(dry.moved, vec![ids[1].clone()]);
    assert_eq!(dry.not_found, vec!["missing-id".to_string()]);
    assert!(
        all_messages(&q.sqs, q.job_queue.queue_url())
            .await
            .is_empty(),
        "a dry run sends nothing"
    );
    assert_eq!(
        dlq::list(&q.dlq, 100).await.expect("list").len(),
        4,
        "a dry run deletes nothing"
    );

    let mut steps = Vec::new();
    let done = dlq::redrive(
        &q.dlq,
        &q.job_queue,
        &chosen,
        false,
        100,
        Duration::ZERO,
        |p| steps.push(p),
    )
    .await
    .expect("redrive");
    assert_eq!(done.moved, vec![ids[1].clone()]);
    assert_eq!(steps, vec![Progress::Messages { done: 1, total: 1 }]);

    let moved = all_messages(&q.sqs, q.job_queue.queue_url()).await;
    assert_eq!(moved.len(), 1);
    assert!(moved[0].body().unwrap_or_default().contains("\"job-1\""));
    let attributes: BTreeSet<String> = moved[0]
        .message_attributes()
        .map(|a| a.keys().cloned().collect())
        .unwrap_or_default();
    assert_eq!(
        attributes,
        BTreeSet::from(["correlation_id".into(), "kind".into(), "source".into()]),
        "the failure details stay behind"
    );
    let left: BTreeSet<String> = dlq::list(&q.dlq, 100)
        .await
        .expect("list")
        .into_iter()
        .map(|l| l.message_id)
        .collect();
    assert_eq!(
        left,
        BTreeSet::from([ids[0].clone(), ids[2].clone(), ids[3].clone()])
    );
}

#[tokio::test]
async fn redrive_all_falls_back_to_moving_one_by_one_on_moto() {
    let q = queues().await;
    for n in 0..12 {
        q.dlq_sink.send(&dead_letter(n)).await.expect("send");
    }
    let report = dlq::redrive(
        &q.dlq,
        &q.job_queue,
        &Selection::All,
        false,
        1000,
        Duration::ZERO,
        |_| {},
    )
    .await
    .expect("redrive all");
    assert_eq!(report.move_task, None, "moto has no StartMessageMoveTask");
    assert_eq!(report.moved.len(), 12);
    assert!(
        dlq::list(&q.dlq, 100).await.expect("list").is_empty(),
        "DLQ drained"
    );
    let bodies: BTreeSet<String> = all_messages(&q.sqs, q.job_queue.queue_url())
        .await
        .into_iter()
        .filter_map(|m| m.body)
        .collect();
    assert_eq!(bodies.len(), 12, "every job back on the job queue, once");
}

#[tokio::test]
async fn the_job_queue_arn_is_read_from_the_queue() {
    let q = queues().await;
    let arn = q.job_queue.arn().await.expect("arn");
    let name = q
        .job_queue
        .queue_url()
        .rsplit('/')
        .next()
        .unwrap_or_default();
    assert!(arn.starts_with("arn:aws:sqs:"), "{arn}");
    assert!(arn.ends_with(&format!(":{name}")), "{arn}");

    let missing = SqsQueue::new(q.sqs.clone(), format!("{}-gone", q.job_queue.queue_url()));
    let err = missing.arn().await.expect_err("no such queue");
    assert_eq!(err.action, "GetQueueAttributes");
    assert!(err.message.contains("-gone"), "{err}");
}
