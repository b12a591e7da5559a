//! Dead-letter queue triage for operators (`bridgectl dlq list|show|redrive`).
//!
//! A dead-lettered message is the job's original body plus the reason the worker attached
//! (`error_type`, `error_message`, `attempts`, `first_failure_at`, ids). Listing holds the
//! messages briefly (a receive makes them invisible), then hands them back at once, so a
//! listing never hides messages for long and never deletes anything. Redriving sends the job
//! back to the job queue with its routing attributes only (the failure details stay behind) and
//! deletes it from the DLQ after the send succeeded: a failure in between leaves a duplicate
//! in the job queue, never a loss — and the worker applies a job id once.

use crate::job::ROUTING_ATTRIBUTES;
use crate::ports::{MessageSink, OutgoingMessage, PortError};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use std::collections::{BTreeMap, BTreeSet};

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
    /// Starts SQS's own move task back to the source queue(s), if the service offers it:
    /// `Ok(Some(task handle))`, `Ok(None)` when unavailable (a local emulator, no permission).
    async fn start_move_task(&self) -> Result<Option<String>, PortError>;
}

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
    pub move_task: Option<String>,
    pub dry_run: bool,
}

/// Sends the selected dead letters back to `job_queue`. `progress(done, total)` is called after
/// each message. `--all` prefers SQS's StartMessageMoveTask and falls back to receive/send/delete.
pub async fn redrive(
    dlq: &dyn DeadLetterQueue,
    job_queue: &dyn MessageSink,
    selection: &Selection,
    dry_run: bool,
    limit: usize,
    mut progress: impl FnMut(usize, usize) + Send,
) -> Result<RedriveReport, PortError> {
    let mut report = RedriveReport {
        dry_run,
        ..Default::default()
    };
    if selection == &Selection::All && !dry_run {
        if let Some(task) = dlq.start_move_task().await? {
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
        progress(done + 1, total);
    }
    Ok(report)
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
