//! `bridgectl dlq` and `bridgectl replay` as an operator runs them: the built binary against
//! moto's SQS (the local stack). Checks what the queues hold afterwards, not just the output.

use async_trait::async_trait;
use bridge::aws::{SqsDeadLetterQueue, SqsQueue};
use bridge::dlq::{DeadLetter, DeadLetterQueue, MoveTask, Selection};
use bridge::ports::{MessageSink, OutgoingMessage, PortError};
use serde_json::Value as Json;
use std::collections::{BTreeMap, VecDeque};
use std::process::{Command, Output};
use std::sync::Mutex;
use std::time::Duration;
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

#[tokio::test]
async fn redrive_all_without_a_move_task_moves_every_message_one_by_one() {
    let q = queues().await;
    for _ in 0..3 {
        dead_letter(&q).await;
    }
    let moved = bridgectl(&q, &["dlq", "redrive", "--all"]);
    assert!(moved.status.success(), "{}", text(&moved.stderr));
    let report: Json = serde_json::from_slice(&moved.stdout).expect("redrive prints JSON");
    assert_eq!(
        report["result"], "redriven",
        "moto has no StartMessageMoveTask"
    );
    assert_eq!(report["count"], 3);
    assert_eq!(job_queue_bodies(&q).await.len(), 3);
    let after = bridgectl(&q, &["dlq", "list"]);
    assert_eq!(text(&after.stdout).trim(), "the dead-letter queue is empty");
}

// ---------------------------------------------------------------------------------------------
// SQS's move task. moto has neither StartMessageMoveTask nor ListMessageMoveTasks, so an
// in-process fake stands in for exactly those two calls of the DLQ port (receive, release and
// delete go to the real adapter on moto, the job queue and its ARN are moto's). What is tested
// here is bridgectl's part: the destination ARN it passes, the progress it prints, the final
// count and a failure's reason — not the two AWS calls themselves.

struct ScriptedMoveTask {
    real: SqsDeadLetterQueue,
    /// The destination ARN of every StartMessageMoveTask.
    destinations: Mutex<Vec<String>>,
    /// What each ListMessageMoveTasks answers, in turn (the last answer repeats).
    answers: Mutex<VecDeque<Vec<MoveTask>>>,
}

#[async_trait]
impl DeadLetterQueue for ScriptedMoveTask {
    async fn receive(&self, max: usize, hold_seconds: i32) -> Result<Vec<DeadLetter>, PortError> {
        self.real.receive(max, hold_seconds).await
    }
    async fn release(&self, receipt_handle: &str) -> Result<(), PortError> {
        self.real.release(receipt_handle).await
    }
    async fn delete(&self, receipt_handle: &str) -> Result<(), PortError> {
        self.real.delete(receipt_handle).await
    }
    async fn start_move_task(&self, destination_arn: &str) -> Result<Option<String>, PortError> {
        self.destinations
            .lock()
            .unwrap()
            .push(destination_arn.to_string());
        Ok(Some("task-1".into()))
    }
    async fn move_tasks(&self) -> Result<Vec<MoveTask>, PortError> {
        let mut answers = self.answers.lock().unwrap();
        if answers.len() > 1 {
            Ok(answers.pop_front().unwrap_or_default())
        } else {
            Ok(answers.front().cloned().unwrap_or_default())
        }
    }
}

fn task(status: &str, moved: u64, to_move: u64, running: bool) -> MoveTask {
    MoveTask {
        handle: running.then(|| "task-1".to_string()),
        status: status.into(),
        moved,
        to_move: Some(to_move),
        failure_reason: None,
        destination_arn: None,
        started_at: chrono::Utc::now().timestamp_millis(),
    }
}

async fn scripted(q: &Queues, answers: Vec<Vec<MoveTask>>) -> ScriptedMoveTask {
    // One start time for the whole script, as SQS reports the same task.
    let started_at = chrono::Utc::now().timestamp_millis();
    ScriptedMoveTask {
        real: SqsDeadLetterQueue::new(q.sqs.clone(), &q.dlq_url),
        destinations: Mutex::new(Vec::new()),
        answers: Mutex::new(
            answers
                .into_iter()
                .map(|tasks| {
                    tasks
                        .into_iter()
                        .map(|t| MoveTask { started_at, ..t })
                        .collect()
                })
                .collect(),
        ),
    }
}

fn queue_name(url: &str) -> &str {
    url.rsplit('/').next().unwrap_or_default()
}

#[tokio::test]
async fn redrive_all_moves_to_the_job_queue_arn_and_follows_the_task_to_its_count() {
    let q = queues().await;
    let dlq = scripted(
        &q,
        vec![
            vec![], // not listed yet right after the start
            vec![task("RUNNING", 0, 3, true)],
            vec![task("RUNNING", 0, 3, true)],
            vec![task("RUNNING", 2, 3, true)],
            vec![task("COMPLETED", 3, 3, false)],
        ],
    )
    .await;
    let job_queue = SqsQueue::new(q.sqs.clone(), &q.job_url);
    let mut said = Vec::new();
    let outcome = bridgectl::dlq::redrive(
        &dlq,
        &job_queue,
        &Selection::All,
        false,
        1000,
        Duration::ZERO,
        &mut |line| said.push(line.to_string()),
    )
    .await;
    assert_eq!(outcome.code, 0, "{:?}", outcome.stderr);

    // The destination is the job queue's ARN, read from the queue (GetQueueAttributes on moto).
    let destinations = dlq.destinations.lock().unwrap().clone();
    assert_eq!(destinations.len(), 1);
    let arn = &destinations[0];
    assert!(
        arn.starts_with("arn:aws:sqs:") && arn.ends_with(&format!(":{}", queue_name(&q.job_url))),
        "{arn}"
    );

    // One progress line per change, then the final count.
    assert_eq!(
        said,
        vec![
            "bridgectl: move task RUNNING: 0/3 moved",
            "bridgectl: move task RUNNING: 2/3 moved",
            "bridgectl: move task COMPLETED: 3/3 moved",
        ]
    );
    let report: Json = serde_json::from_str(outcome.stdout.as_deref().unwrap_or_default())
        .expect("redrive prints JSON");
    assert_eq!(report["result"], "move_task_completed");
    assert_eq!(report["count"], 3);
    assert_eq!(report["move_task"]["handle"], "task-1");
    assert_eq!(report["move_task"]["status"], "COMPLETED");
    assert_eq!(report["move_task"]["destination_arn"], arn.as_str());
}

#[tokio::test]
async fn a_failed_move_task_exits_1_with_its_reason_and_count() {
    let q = queues().await;
    let mut failed = task("FAILED", 1, 4, false);
    failed.failure_reason = Some("AccessDenied: not authorized to send to the destination".into());
    let dlq = scripted(&q, vec![vec![task("RUNNING", 1, 4, true)], vec![failed]]).await;
    let job_queue = SqsQueue::new(q.sqs.clone(), &q.job_url);
    let mut said = Vec::new();
    let outcome = bridgectl::dlq::redrive(
        &dlq,
        &job_queue,
        &Selection::All,
        false,
        1000,
        Duration::ZERO,
        &mut |line| said.push(line.to_string()),
    )
    .await;
    assert_eq!(outcome.code, 1);
    assert_eq!(
        said,
        vec![
            "bridgectl: move task RUNNING: 1/4 moved",
            "bridgectl: move task FAILED: 1/4 moved",
        ]
    );
    let stderr = outcome.stderr.unwrap_or_default();
    assert_eq!(
        stderr,
        "bridgectl: the move task ended FAILED after moving 1/4: AccessDenied: not authorized \
         to send to the destination; what was not moved is still in the dead-letter queue"
    );
    let report: Json =
        serde_json::from_str(outcome.stdout.as_deref().unwrap_or_default()).expect("JSON");
    assert_eq!(report["result"], "move_task_ended");
    assert_eq!(report["count"], 1);
    assert_eq!(
        report["move_task"]["failure_reason"],
        "AccessDenied: not authorized to send to the destination"
    );
}
