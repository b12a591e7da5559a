//! Dead-letter queue triage for operators (`bridgectl dlq list|show|redrive`).
//!
//! A dead-lettered message is the job's original body plus the reason the worker attached
//! (`error_type`, `error_message`, `attempts`, `first_failure_at`, ids). Listing holds the
//! messages briefly (a receive makes them invisible), then hands them back at once, so a
//! listing never hides messages for long and never deletes anything. Redriving sends the job
//! back to the job queue with its routing attributes only (the failure details stay behind) and
//! deletes it from the DLQ after the send succeeded: a failure in between leaves a duplicate
//! in the job queue, never a loss — and the worker applies a job id once.
//!
//! `--all` against AWS hands the work to SQS's own move task (StartMessageMoveTask) with the
//! job queue as its destination — messages the worker dead-lettered itself were never moved by
//! a redrive policy, so SQS has no source queue recorded for them — and follows the task
//! (ListMessageMoveTasks) until it has ended, reporting how many messages it moved.

use crate::job::ROUTING_ATTRIBUTES;
use crate::ports::{MessageSink, OutgoingMessage, PortError};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

/// One message received from the DLQ.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadLetter {
    pub message_id: String,
    pub receipt_handle: String,
    pub body: String,
    /// The message's String attributes (the worker's failure details).
    pub attributes: BTreeMap<String, String>,
    /// When the message entered the DLQ (SQS `SentTimestamp`), if known.
    pub sent_at: Option<DateTime<Utc>>,
}

impl DeadLetter {
    pub fn attribute(&self, name: &str) -> &str {
        self.attributes.get(name).map(String::as_str).unwrap_or("")
    }

    /// The job as it goes back to the job queue: same body, routing attributes only.
    pub fn as_job_message(&self) -> OutgoingMessage {
        OutgoingMessage {
            body: self.body.clone(),
            attributes: ROUTING_ATTRIBUTES
                .iter()
                .filter_map(|name| {
                    self.attributes
                        .get(*name)
                        .filter(|v| !v.is_empty())
                        .map(|v| (name.to_string(), v.clone()))
                })
                .collect(),
        }
    }
}

/// The DLQ as the operator commands need it.
#[async_trait]
pub trait DeadLetterQueue: Send + Sync {
    /// Receives up to `max` messages (SQS caps one call at 10), invisible for `hold_seconds`.
    async fn receive(&self, max: usize, hold_seconds: i32) -> Result<Vec<DeadLetter>, PortError>;
    /// Makes a held message visible again at once.
    async fn release(&self, receipt_handle: &str) -> Result<(), PortError>;
    async fn delete(&self, receipt_handle: &str) -> Result<(), PortError>;
    /// Starts SQS's own move task from this DLQ to `destination_arn` (the job queue), if the
    /// service offers it: `Ok(Some(task handle))`, `Ok(None)` when unavailable (a local
    /// emulator, no permission).
    async fn start_move_task(&self, destination_arn: &str) -> Result<Option<String>, PortError>;
    /// This DLQ's most recent move tasks, newest first (ListMessageMoveTasks).
    async fn move_tasks(&self) -> Result<Vec<MoveTask>, PortError>;
}

/// The job queue as a redrive needs it: single messages are sent to it, and SQS's move task
/// is given its ARN as the destination.
#[async_trait]
pub trait RedriveTarget: MessageSink {
    /// The queue's ARN (GetQueueAttributes QueueArn).
    async fn arn(&self) -> Result<String, PortError>;
}

/// One of SQS's move tasks, as ListMessageMoveTasks reports it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MoveTask {
    /// Set while the task runs; SQS leaves it out once the task has ended.
    pub handle: Option<String>,
    /// `RUNNING`, `COMPLETED`, `CANCELLING`, `CANCELLED` or `FAILED`.
    pub status: String,
    /// Messages moved so far (approximate).
    pub moved: u64,
    /// Messages the task set out to move, when SQS says (approximate).
    pub to_move: Option<u64>,
    /// Why a task failed.
    pub failure_reason: Option<String>,
    pub destination_arn: Option<String>,
    /// When the task started, in milliseconds since the epoch: tells one task from another
    /// once the handle is gone.
    pub started_at: i64,
}

impl MoveTask {
    /// `COMPLETED`, `FAILED` or `CANCELLED`: nothing will change any more.
    pub fn has_ended(&self) -> bool {
        matches!(self.status.as_str(), "COMPLETED" | "FAILED" | "CANCELLED")
    }

    pub fn completed(&self) -> bool {
        self.status == "COMPLETED"
    }
}

/// Progress of a redrive, for the operator's display.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Progress {
    /// Moving one by one: `done` of `total` messages sent back and deleted.
    Messages { done: usize, total: usize },
    /// SQS's move task, whenever what it reports changes.
    MoveTask(MoveTask),
}

/// Polls of ListMessageMoveTasks in a row that may miss the task just started before the
/// redrive gives up following it (the task keeps running; `dlq list` shows what is left).
const MOVE_TASK_MISSES: usize = 5;
/// How far SQS's clock may be behind ours when telling a task just started from older ones.
const CLOCK_SKEW_MS: i64 = 60_000;

/// How long listed messages stay invisible before they are handed back (they are released
/// explicitly right after; this only bounds the damage of a crash in between).
const HOLD_SECONDS: i32 = 30;
/// Empty receives in a row after which the queue counts as read through.
const EMPTY_RECEIVES_TO_STOP: usize = 2;

/// Reads up to `limit` messages, holding each, and returns them (still held).
async fn collect(dlq: &dyn DeadLetterQueue, limit: usize) -> Result<Vec<DeadLetter>, PortError> {
    let mut seen = BTreeSet::new();
    let mut letters = Vec::new();
    let mut empty = 0;
    while letters.len() < limit && empty < EMPTY_RECEIVES_TO_STOP {
        let batch = dlq
            .receive((limit - letters.len()).min(10), HOLD_SECONDS)
            .await?;
        if batch.is_empty() {
            empty += 1;
            continue;
        }
        empty = 0;
        for letter in batch {
            if seen.insert(letter.message_id.clone()) {
                letters.push(letter);
            }
        }
    }
    Ok(letters)
}

async fn release_all(dlq: &dyn DeadLetterQueue, letters: &[DeadLetter]) -> Result<(), PortError> {
    for letter in letters {
        dlq.release(&letter.receipt_handle).await?;
    }
    Ok(())
}

/// Up to `limit` dead letters, oldest first; all of them visible again when this returns.
pub async fn list(dlq: &dyn DeadLetterQueue, limit: usize) -> Result<Vec<DeadLetter>, PortError> {
    let mut letters = collect(dlq, limit).await?;
    release_all(dlq, &letters).await?;
    letters.sort_by_key(|l| l.sent_at);
    Ok(letters)
}

/// What to redrive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selection {
    All,
    Ids(BTreeSet<String>),
}

/// What a redrive did (or, with `dry_run`, would do).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct RedriveReport {
    /// Message ids sent back to the job queue (and deleted from the DLQ unless dry run).
    pub moved: Vec<String>,
    /// Requested ids that were not in the DLQ.
    pub not_found: Vec<String>,
    /// Set when SQS's own move task took over (`--all` against AWS); `moved` is then empty.
    /// Its state when it ended, with the handle it was started under.
    pub move_task: Option<MoveTask>,
    pub dry_run: bool,
}

/// Sends the selected dead letters back to `job_queue`, reporting [`Progress`]. `--all`
/// prefers SQS's StartMessageMoveTask (destination: the job queue's ARN), follows it every
/// `poll_every` until it has ended, and falls back to receive/send/delete where there is none.
pub async fn redrive(
    dlq: &dyn DeadLetterQueue,
    job_queue: &dyn RedriveTarget,
    selection: &Selection,
    dry_run: bool,
    limit: usize,
    poll_every: Duration,
    mut progress: impl FnMut(Progress) + Send,
) -> Result<RedriveReport, PortError> {
    let mut report = RedriveReport {
        dry_run,
        ..Default::default()
    };
    if selection == &Selection::All && !dry_run {
        let destination = job_queue.arn().await?;
        let asked_at = Utc::now().timestamp_millis();
        if let Some(handle) = dlq.start_move_task(&destination).await? {
            let mut task =
                follow_move_task(dlq, &handle, asked_at, poll_every, &mut progress).await?;
            task.handle = Some(handle);
            task.destination_arn.get_or_insert(destination);
            report.move_task = Some(task);
            return Ok(report);
        }
    }
    let letters = collect(dlq, limit).await?;
    let (chosen, others): (Vec<_>, Vec<_>) = letters.into_iter().partition(|l| match selection {
        Selection::All => true,
        Selection::Ids(ids) => ids.contains(&l.message_id),
    });
    release_all(dlq, &others).await?;
    if let Selection::Ids(ids) = selection {
        let found: BTreeSet<&String> = chosen.iter().map(|l| &l.message_id).collect();
        report.not_found = ids
            .iter()
            .filter(|id| !found.contains(id))
            .cloned()
            .collect();
    }
    let total = chosen.len();
    for (done, letter) in chosen.iter().enumerate() {
        if dry_run {
            dlq.release(&letter.receipt_handle).await?;
        } else {
            if let Err(e) = job_queue.send(&letter.as_job_message()).await {
                // Leave this and the rest in the DLQ, visible again.
                release_all(dlq, &chosen[done..]).await?;
                return Err(e);
            }
            dlq.delete(&letter.receipt_handle).await?;
        }
        report.moved.push(letter.message_id.clone());
        progress(Progress::Messages {
            done: done + 1,
            total,
        });
    }
    Ok(report)
}

/// Polls the DLQ's move tasks until the one started as `handle` has ended; reports each change.
/// The task is recognised by its handle while it runs and by its start time after that (SQS
/// drops the handle of an ended task); one that ended before the first poll is the newest,
/// if it started after `asked_at` (milliseconds since the epoch; a minute's clock skew allowed).
async fn follow_move_task(
    dlq: &dyn DeadLetterQueue,
    handle: &str,
    asked_at: i64,
    poll_every: Duration,
    progress: &mut (impl FnMut(Progress) + Send),
) -> Result<MoveTask, PortError> {
    let mut started_at = None;
    let mut last: Option<MoveTask> = None;
    let mut misses = 0;
    loop {
        let tasks = dlq.move_tasks().await?;
        let ours = match started_at {
            None => tasks
                .iter()
                .find(|t| t.handle.as_deref() == Some(handle))
                .or_else(|| {
                    tasks
                        .first()
                        .filter(|t| t.has_ended() && t.started_at >= asked_at - CLOCK_SKEW_MS)
                }),
            Some(at) => tasks
                .iter()
                .find(|t| t.handle.as_deref() == Some(handle) || t.started_at == at),
        };
        match ours.cloned() {
            Some(task) => {
                misses = 0;
                started_at = Some(task.started_at);
                if last.as_ref() != Some(&task) {
                    progress(Progress::MoveTask(task.clone()));
                }
                if task.has_ended() {
                    return Ok(task);
                }
                last = Some(task);
            }
            None => {
                misses += 1;
                if misses >= MOVE_TASK_MISSES {
                    return Err(PortError {
                        service: "SQS",
                        action: "ListMessageMoveTasks",
                        message: format!(
                            "the move task {handle} started but is not listed; it may still be running (see `bridgectl dlq list` for what is left)"
                        ),
                        retryable: true,
                    });
                }
            }
        }
        tokio::time::sleep(poll_every).await;
    }
}

/// One dead letter by message id (all others visible again), or `None`.
pub async fn show(
    dlq: &dyn DeadLetterQueue,
    message_id: &str,
    limit: usize,
) -> Result<Option<DeadLetter>, PortError> {
    let letters = collect(dlq, limit).await?;
    release_all(dlq, &letters).await?;
    Ok(letters.into_iter().find(|l| l.message_id == message_id))
}
