//! `bridgectl dlq list|show|redrive` and `bridgectl replay`: the operator side of the
//! dead-letter queue. The logic is [`bridge::dlq`]; this file reads arguments and renders.
//!
//! AWS settings come from the usual environment (`AWS_PROFILE`, `AWS_REGION`,
//! `AWS_ENDPOINT_URL` for the local stack); queue URLs from flags or `DLQ_URL` / `JOB_QUEUE_URL`
//! (the stack outputs `DeadLetterQueueUrl` / `JobQueueUrl`).

use crate::app::Outcome;
use crate::error::{EXIT_FAILURE, one_line};
use bridge::aws::{SqsDeadLetterQueue, SqsQueue};
use bridge::dlq::{
    self, DeadLetter, DeadLetterQueue, MoveTask, Progress, RedriveTarget, Selection,
};
use bridge::job::Job;
use bridge::ports::MessageSink;
use chrono::{DateTime, Utc};
use clap::{Args, Subcommand};
use serde_json::json;
use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::Duration;

pub const DLQ_LONG_ABOUT: &str = "\
Triage the dead-letter queue: every message there is a job the worker could not apply, with
the reason attached (error type and message, attempts, correlation id, first failure time).

  bridgectl dlq list                      # table: age, source, kind, correlation id, error
  bridgectl dlq show <message-id>         # the job and every attribute, as JSON
  bridgectl dlq redrive --id <message-id> # back to the job queue, after fixing the cause
  bridgectl dlq redrive --all --dry-run   # what --all would move

Listing and showing hold messages for a moment and hand them back at once; nothing is
deleted. A redrive sends the job back with its routing attributes and deletes it from the DLQ
after the send succeeded (the worker applies a job id once, so a repeated redrive is harmless).
With --all against AWS, SQS's own move task (StartMessageMoveTask) moves everything to the job
queue (its ARN is the task's destination) and bridgectl follows it until it has ended,
printing `moved/total` as it goes and the final count; a task that fails or is cancelled exits
1 with SQS's reason. Where the move task is not available (the local stack), messages are
moved one by one.

Queues: --dlq-url / DLQ_URL and --queue-url / JOB_QUEUE_URL (stack outputs DeadLetterQueueUrl
and JobQueueUrl). AWS settings: the usual AWS_* variables (AWS_ENDPOINT_URL for a local stack).";

/// Messages read at most per command (a DLQ with more needs several redrives).
const DEFAULT_LIMIT: u64 = 1000;
/// How often a running move task is looked at.
const MOVE_TASK_POLL: Duration = Duration::from_secs(3);

#[derive(Debug, Args)]
pub struct DlqArgs {
    /// The dead-letter queue's URL.
    #[arg(long, env = "DLQ_URL", value_name = "URL", global = true)]
    pub dlq_url: Option<String>,

    /// The job queue's URL (where redriven jobs go).
    #[arg(long, env = "JOB_QUEUE_URL", value_name = "URL", global = true)]
    pub queue_url: Option<String>,

    /// Read at most this many messages.
    #[arg(long, default_value_t = DEFAULT_LIMIT, value_parser = clap::value_parser!(u64).range(1..=100_000), global = true)]
    pub limit: u64,

    #[command(subcommand)]
    pub command: DlqCommand,
}

#[derive(Debug, Subcommand)]
pub enum DlqCommand {
    /// Dead-lettered jobs, oldest first (a table; --json for machines).
    List {
        #[arg(long)]
        json: bool,
    },
    /// One dead-lettered job with every attribute, as JSON.
    Show {
        /// The SQS message id (first column of `dlq list --json`, or in the worker's log line).
        message_id: String,
    },
    /// Send dead-lettered jobs back to the job queue.
    #[command(group(clap::ArgGroup::new("which").required(true).args(["all", "id"])))]
    Redrive {
        /// Every message in the DLQ.
        #[arg(long)]
        all: bool,
        /// These message ids (repeat the flag).
        #[arg(long, value_name = "MESSAGE_ID")]
        id: Vec<String>,
        /// Say what would move; move nothing.
        #[arg(long)]
        dry_run: bool,
    },
}

#[derive(Debug, Args)]
pub struct ReplayArgs {
    /// A job in the v1 schema (`-` reads stdin); it is validated before anything is sent.
    pub file: PathBuf,

    /// The job queue's URL.
    #[arg(long, env = "JOB_QUEUE_URL", value_name = "URL")]
    pub queue_url: Option<String>,
}

fn failure(message: impl std::fmt::Display) -> Outcome {
    Outcome {
        stdout: None,
        stderr: Some(format!("bridgectl: {}", one_line(&message.to_string()))),
        code: EXIT_FAILURE,
    }
}

fn success(stdout: String) -> Outcome {
    Outcome {
        stdout: Some(stdout),
        stderr: None,
        code: 0,
    }
}

fn required(value: &Option<String>, flag: &str, var: &str) -> Result<String, Outcome> {
    match value.as_deref().map(str::trim) {
        Some(v) if !v.is_empty() => Ok(v.to_string()),
        _ => Err(failure(format!("no {flag}; pass it or set {var}"))),
    }
}

async fn sqs() -> aws_sdk_sqs::Client {
    aws_sdk_sqs::Client::new(&bridge::aws::config::load().await)
}

pub async fn run(args: &DlqArgs) -> Outcome {
    let dlq_url = match required(&args.dlq_url, "--dlq-url", "DLQ_URL") {
        Ok(url) => url,
        Err(outcome) => return outcome,
    };
    let limit = usize::try_from(args.limit).unwrap_or(usize::MAX);
    let client = sqs().await;
    let dlq = SqsDeadLetterQueue::new(client.clone(), &dlq_url);
    match &args.command {
        DlqCommand::List { json } => match dlq::list(&dlq, limit).await {
            Ok(letters) if *json => success(pretty(&json!(
                letters.iter().map(letter_json).collect::<Vec<_>>()
            ))),
            Ok(letters) => success(table(&letters, Utc::now())),
            Err(e) => failure(e),
        },
        DlqCommand::Show { message_id } => match dlq::show(&dlq, message_id, limit).await {
            Ok(Some(letter)) => success(pretty(&letter_json(&letter))),
            Ok(None) => failure(format!(
                "no message {message_id} in the dead-letter queue (redriven already, or expired)"
            )),
            Err(e) => failure(e),
        },
        DlqCommand::Redrive { all, id, dry_run } => {
            let queue_url = match required(&args.queue_url, "--queue-url", "JOB_QUEUE_URL") {
                Ok(url) => url,
                Err(outcome) => return outcome,
            };
            let job_queue = SqsQueue::new(client, queue_url);
            let selection = if *all {
                Selection::All
            } else {
                Selection::Ids(id.iter().cloned().collect::<BTreeSet<_>>())
            };
            redrive(
                &dlq,
                &job_queue,
                &selection,
                *dry_run,
                limit,
                MOVE_TASK_POLL,
                &mut |line| eprintln!("{line}"),
            )
            .await
        }
    }
}

/// `dlq redrive` once the queues are known: moves, shows progress (a bar for messages moved
/// one by one; a `say` line whenever a move task's count changes) and renders the report.
pub async fn redrive(
    dlq: &dyn DeadLetterQueue,
    job_queue: &dyn RedriveTarget,
    selection: &Selection,
    dry_run: bool,
    limit: usize,
    poll_every: Duration,
    say: &mut (dyn FnMut(&str) + Send),
) -> Outcome {
    let bar = progress_bar();
    let result = dlq::redrive(
        dlq,
        job_queue,
        selection,
        dry_run,
        limit,
        poll_every,
        |progress| match progress {
            Progress::Messages { done, total } => {
                bar.set_length(total as u64);
                bar.set_position(done as u64);
            }
            Progress::MoveTask(task) => say(&format!(
                "bridgectl: move task {}: {} moved",
                task.status,
                moved_of(&task)
            )),
        },
    )
    .await;
    bar.finish_and_clear();
    let report = match result {
        Ok(report) => report,
        Err(e) => return failure(e),
    };
    let result = match (&report.move_task, report.dry_run) {
        (_, true) => "dry_run",
        (Some(task), _) if task.completed() => "move_task_completed",
        (Some(_), _) => "move_task_ended",
        (None, _) => "redriven",
    };
    let count = match &report.move_task {
        Some(task) => task.moved,
        None => report.moved.len() as u64,
    };
    let outcome = json!({
        "result": result,
        "count": count,
        "moved": report.moved,
        "not_found": report.not_found,
        "move_task": report.move_task.as_ref().map(|t| json!({
            "handle": t.handle,
            "status": t.status,
            "moved": t.moved,
            "to_move": t.to_move,
            "destination_arn": t.destination_arn,
            "failure_reason": t.failure_reason,
        })),
    });
    let mut problems = Vec::new();
    if let Some(task) = report.move_task.as_ref().filter(|t| !t.completed()) {
        problems.push(format!(
            "bridgectl: the move task ended {} after moving {}: {}; what was not moved is still in the dead-letter queue",
            task.status,
            moved_of(task),
            task.failure_reason
                .as_deref()
                .map(one_line)
                .unwrap_or_else(|| "SQS gave no reason".into())
        ));
    }
    if !report.not_found.is_empty() {
        problems.push(format!(
            "bridgectl: {} message id(s) not in the dead-letter queue: {}",
            report.not_found.len(),
            report.not_found.join(", ")
        ));
    }
    if problems.is_empty() {
        success(pretty(&outcome))
    } else {
        Outcome {
            stdout: Some(pretty(&outcome)),
            stderr: Some(problems.join("\n")),
            code: EXIT_FAILURE,
        }
    }
}

/// `moved/total` (`moved/?` while SQS does not know the total).
fn moved_of(task: &MoveTask) -> String {
    match task.to_move {
        Some(total) => format!("{}/{total}", task.moved),
        None => format!("{}/?", task.moved),
    }
}

/// A bar on stderr when it is a terminal; hidden otherwise (scripts, tests).
fn progress_bar() -> indicatif::ProgressBar {
    let bar =
        indicatif::ProgressBar::with_draw_target(Some(0), indicatif::ProgressDrawTarget::stderr());
    if let Ok(style) = indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} redriven") {
        bar.set_style(style);
    }
    bar
}

pub async fn replay(args: &ReplayArgs) -> Outcome {
    let queue_url = match required(&args.queue_url, "--queue-url", "JOB_QUEUE_URL") {
        Ok(url) => url,
        Err(outcome) => return outcome,
    };
    let bytes = if args.file.as_os_str() == "-" {
        let mut buffer = Vec::new();
        match std::io::Read::read_to_end(&mut std::io::stdin(), &mut buffer) {
            Ok(_) => buffer,
            Err(e) => return failure(format!("reading stdin: {e}")),
        }
    } else {
        match std::fs::read(&args.file) {
            Ok(bytes) => bytes,
            Err(e) => return failure(format!("{}: {e}", args.file.display())),
        }
    };
    let job = match Job::from_json(&bytes) {
        Ok(job) => job,
        Err(invalid) => return failure(format!("{}: {invalid}", args.file.display())),
    };
    let queue = SqsQueue::new(sqs().await, queue_url);
    match queue.send(&job.to_message()).await {
        Ok(message_id) => success(pretty(&json!({
            "result": "enqueued",
            "message_id": message_id,
            "job_id": job.job_id,
            "kind": job.kind().as_str(),
        }))),
        Err(e) => failure(e),
    }
}

fn letter_json(letter: &DeadLetter) -> serde_json::Value {
    let body = serde_json::from_str::<serde_json::Value>(&letter.body)
        .unwrap_or_else(|_| serde_json::Value::String(letter.body.clone()));
    json!({
        "message_id": letter.message_id,
        "sent_at": letter.sent_at.map(|t| t.to_rfc3339()),
        "attributes": letter.attributes,
        "job": body,
    })
}

fn pretty(value: &serde_json::Value) -> String {
    serde_json::to_string_pretty(value).unwrap_or_else(|_| value.to_string())
}

/// `3s`, `12m`, `5h`, `2d`.
fn age(sent_at: Option<DateTime<Utc>>, now: DateTime<Utc>) -> String {
    let Some(sent_at) = sent_at else {
        return "?".into();
    };
    let seconds = (now - sent_at).num_seconds().max(0);
    match seconds {
        s if s < 60 => format!("{s}s"),
        s if s < 3600 => format!("{}m", s / 60),
        s if s < 86_400 => format!("{}h", s / 3600),
        s => format!("{}d", s / 86_400),
    }
}

fn clip(text: &str, width: usize) -> String {
    let text = one_line(text);
    match text.char_indices().nth(width) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text,
    }
}

/// The `dlq list` table.
pub fn table(letters: &[DeadLetter], now: DateTime<Utc>) -> String {
    if letters.is_empty() {
        return "the dead-letter queue is empty".into();
    }
    let rows: Vec<[String; 7]> = letters
        .iter()
        .map(|l| {
            [
                age(l.sent_at, now),
                clip(l.attribute("source"), 16),
                clip(l.attribute("kind"), 20),
                clip(l.attribute("correlation_id"), 24),
                clip(l.attribute("error_type"), 24),
                clip(l.attribute("error_message"), 80),
                l.message_id.clone(),
            ]
        })
        .collect();
    let header = [
        "AGE",
        "SOURCE",
        "KIND",
        "CORRELATION ID",
        "ERROR TYPE",
        "MESSAGE",
        "MESSAGE ID",
    ];
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        cells
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect::<Vec<_>>()
            .join("  ")
            .trim_end()
            .to_string()
    };
    let mut out = vec![line(header.to_vec())];
    out.extend(
        rows.iter()
            .map(|r| line(r.iter().map(String::as_str).collect())),
    );
    out.push(format!("{} message(s)", letters.len()));
    out.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn letter(minutes_ago: i64, now: DateTime<Utc>) -> DeadLetter {
        DeadLetter {
            message_id: "m-1".into(),
            receipt_handle: "r".into(),
            body: "{}".into(),
            attributes: BTreeMap::from([
                ("source".into(), "toggl".into()),
                ("kind".into(), "hour_entry.upsert".into()),
                ("correlation_id".into(), "wh-1".into()),
                ("error_type".into(), "UnresolvedReference".into()),
                ("error_message".into(), "user code ZZ\nnot found".into()),
            ]),
            sent_at: Some(now - chrono::Duration::minutes(minutes_ago)),
        }
    }

    #[test]
    fn table_has_the_issue_columns_and_one_line_per_message() {
        let now = Utc::now();
        let text = table(&[letter(90, now)], now);
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines[0].starts_with("AGE  SOURCE  KIND"), "{}", lines[0]);
        assert!(
            lines[1].starts_with("1h   toggl   hour_entry.upsert  wh-1"),
            "{}",
            lines[1]
        );
        assert!(lines[1].contains("UnresolvedReference  user code ZZ not found  m-1"));
        assert_eq!(lines[2], "1 message(s)");
        assert_eq!(table(&[], now), "the dead-letter queue is empty");
    }

    #[test]
    fn ages_read_naturally() {
        let now = Utc::now();
        let ago = |s| Some(now - chrono::Duration::seconds(s));
        assert_eq!(age(ago(5), now), "5s");
        assert_eq!(age(ago(600), now), "10m");
        assert_eq!(age(ago(7200), now), "2h");
        assert_eq!(age(ago(3 * 86_400), now), "3d");
        assert_eq!(age(None, now), "?");
    }
}
