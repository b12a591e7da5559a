//! `bridgectl dlq` and `bridgectl replay` as an operator runs them: the built binary against
//! moto's SQS (the local stack). Checks what the queues hold afterwards, not just the output.

use bridge::aws::SqsQueue;
use bridge::ports::{MessageSink, OutgoingMessage};
use serde_json::Value as Json;
use std::collections::BTreeMap;
use std::process::{Command, Output};
use test_support::{create_queue, sdk, unique};

struct Queues {
    sqs: aws_sdk_sqs::Client,
    job_url: String,
    dlq_url: String,
}

async fn queues() -> Queues {
    let sqs = aws_sdk_sqs::Client::new(&sdk().await);
    let job_url = create_queue(&sqs, &unique("cli-jobs")).await;
    let dlq_url = create_queue(&sqs, &unique("cli-jobs-dlq")).await;
    Queues {
        sqs,
        job_url,
        dlq_url,
    }
}

fn bridgectl(q: &Queues, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_bridgectl"))
        .args(args)
        .env("DLQ_URL", &q.dlq_url)
        .env("JOB_QUEUE_URL", &q.job_url)
        .output()
        .expect("run bridgectl")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

const JOB: &str = r#"{"schema_version":1,"job_id":"replay-1","source":"toggl","external_id":"te-9",
 "occurred_at":"2026-11-27T15:04:05Z","correlation_id":"wh-9","kind":"hour_entry.upsert",
 "payload":{"user":{"code":"ZZ"},"case":{"number":1},"event_date":"2026-11-27","hours":"1.5"}}"#;

async fn dead_letter(q: &Queues) -> String {
    SqsQueue::new(q.sqs.clone(), &q.dlq_url)
        .send(&OutgoingMessage {
            body: JOB.replace('\n', ""),
            attributes: BTreeMap::from([
                ("correlation_id".into(), "wh-9".into()),
                ("source".into(), "toggl".into()),
                ("kind".into(), "hour_entry.upsert".into()),
                ("error_type".into(), "UnresolvedReference".into()),
                (
                    "error_message".into(),
                    "user not found in Severa: user with code ZZ".into(),
                ),
            ]),
        })
        .await
        .expect("dead-letter")
}

async fn job_queue_bodies(q: &Queues) -> Vec<String> {
    let out = q
        .sqs
        .receive_message()
        .queue_url(&q.job_url)
        .max_number_of_messages(10)
        .wait_time_seconds(1)
        .send()
        .await
        .expect("receive");
    out.messages
        .unwrap_or_default()
        .into_iter()
        .filter_map(|m| m.body)
        .collect()
}

#[tokio::test]
async fn list_show_and_redrive_a_dead_letter() {
    let q = queues().await;
    let empty = bridgectl(&q, &["dlq", "list"]);
    assert!(empty.status.success(), "{}", text(&empty.stderr));
    assert_eq!(text(&empty.stdout).trim(), "the dead-letter queue is empty");

    let id = dead_letter(&q).await;
    let listed = bridgectl(&q, &["dlq", "list"]);
    assert!(listed.status.success(), "{}", text(&listed.stderr));
    let table = text(&listed.stdout);
    assert!(
        table.lines().next().unwrap_or_default().starts_with("AGE"),
        "{table}"
    );
    assert!(
        table.contains("toggl")
            && table.contains("wh-9")
            && table.contains("UnresolvedReference")
            && table.contains("user with code ZZ")
            && table.contains(&id),
        "{table}"
    );

    let shown = bridgectl(&q, &["dlq", "show", &id]);
    assert!(shown.status.success(), "{}", text(&shown.stderr));
    let json: Json = serde_json::from_slice(&shown.stdout).expect("show prints JSON");
    assert_eq!(json["job"]["job_id"], "replay-1");
    assert_eq!(json["attributes"]["error_type"], "UnresolvedReference");

    let missing = bridgectl(&q, &["dlq", "show", "no-such-message"]);
    assert_eq!(missing.status.code(), Some(1));
    assert!(text(&missing.stderr).starts_with("bridgectl: no message no-such-message"));

    let dry = bridgectl(&q, &["dlq", "redrive", "--id", &id, "--dry-run"]);
    assert!(dry.status.success(), "{}", text(&dry.stderr));
    assert!(
        job_queue_bodies(&q).await.is_empty(),
        "a dry run moves nothing"
    );

    let moved = bridgectl(&q, &["dlq", "redrive", "--id", &id]);
    assert!(moved.status.success(), "{}", text(&moved.stderr));
    let report: Json = serde_json::from_slice(&moved.stdout).expect("redrive prints JSON");
    assert_eq!(report["result"], "redriven");
    assert_eq!(report["moved"][0], id.as_str());
    let bodies = job_queue_bodies(&q).await;
    assert_eq!(bodies.len(), 1);
    assert!(bodies[0].contains("\"replay-1\""));
    let after = bridgectl(&q, &["dlq", "list"]);
    assert_eq!(text(&after.stdout).trim(), "the dead-letter queue is empty");
}

#[tokio::test]
async fn redrive_needs_a_selection_and_queue_urls() {
    let q = queues().await;
    let none = bridgectl(&q, &["dlq", "redrive"]);
    assert_eq!(none.status.code(), Some(1), "{}", text(&none.stderr));
    let no_url = Command::new(env!("CARGO_BIN_EXE_bridgectl"))
        .args(["dlq", "list"])
        .env_remove("DLQ_URL")
        .output()
        .expect("run");
    assert_eq!(no_url.status.code(), Some(1));
    assert!(text(&no_url.stderr).contains("no --dlq-url; pass it or set DLQ_URL"));
}

#[tokio::test]
async fn replay_validates_before_it_sends() {
    let q = queues().await;
    let dir = std::env::temp_dir().join(unique("replay"));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let bad = dir.join("bad.json");
    std::fs::write(&bad, JOB.replace("\"1.5\"", "\"1000\"")).expect("write");
    let refused = bridgectl(&q, &["replay", bad.to_str().unwrap_or_default()]);
    assert_eq!(refused.status.code(), Some(1));
    assert!(
        text(&refused.stderr).contains("payload.hours"),
        "{}",
        text(&refused.stderr)
    );
    assert!(
        job_queue_bodies(&q).await.is_empty(),
        "an invalid job is not sent"
    );

    let good = dir.join("good.json");
    std::fs::write(&good, JOB).expect("write");
    let sent = bridgectl(&q, &["replay", good.to_str().unwrap_or_default()]);
    assert!(sent.status.success(), "{}", text(&sent.stderr));
    let report: Json = serde_json::from_slice(&sent.stdout).expect("JSON");
    assert_eq!(report["job_id"], "replay-1");
    let out = q
        .sqs
        .receive_message()
        .queue_url(&q.job_url)
        .message_attribute_names("All")
        .wait_time_seconds(1)
        .send()
        .await
        .expect("receive");
    let messages = out.messages.unwrap_or_default();
    assert_eq!(messages.len(), 1);
    let attributes = messages[0]
        .message_attributes()
        .cloned()
        .unwrap_or_default();
    assert_eq!(
        attributes.get("kind").and_then(|a| a.string_value()),
        Some("hour_entry.upsert")
    );
    assert_eq!(
        attributes
            .get("correlation_id")
            .and_then(|a| a.string_value()),
        Some("wh-9")
    );
}
