//! The SQS event source mapping, emulated: long-poll the job queue, hand batches of up to 10
//! records to the worker through the emulator's invoke API in Lambda's event shape, then do
//! what Lambda does with `ReportBatchItemFailures`: delete the records not reported failed and
//! leave the failed ones in the queue (the worker has set their visibility for the retry; without
//! that the queue's visibility timeout brings them back, and after `maxReceiveCount` receives SQS
//! moves them to the DLQ). A failed invocation leaves the whole batch, as Lambda does.

use crate::error::{Context as _, Result};
use crate::lambda::{Emulator, Invocation};
use crate::stack::REGION;
use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent, SqsMessage, SqsMessageAttribute};
use aws_sdk_sqs::types::{
    DeleteMessageBatchRequestEntry, MessageSystemAttributeName, QueueAttributeName,
};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Records per invocation (the template's WorkerBatchSize default).
pub const BATCH_SIZE: i32 = 10;

/// Counters for the report.
#[derive(Debug, Default)]
pub struct PumpStats {
    pub invocations: AtomicU64,
    pub records: AtomicU64,
    pub reported_failed: AtomicU64,
    pub deleted: AtomicU64,
    pub failed_invocations: AtomicU64,
}

impl PumpStats {
    pub fn summary(&self) -> String {
        format!(
            "{} worker invocations, {} records, {} deleted after success, {} reported failed (left for retry), {} failed invocations",
            self.invocations.load(Ordering::Relaxed),
            self.records.load(Ordering::Relaxed),
            self.deleted.load(Ordering::Relaxed),
            self.reported_failed.load(Ordering::Relaxed),
            self.failed_invocations.load(Ordering::Relaxed),
        )
    }
}

/// Messages in the queue: visible, in flight (received or delayed by a retry), delayed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Depth {
    pub visible: u64,
    pub in_flight: u64,
    pub delayed: u64,
}

impl Depth {
    pub fn is_empty(&self) -> bool {
        self.visible == 0 && self.in_flight == 0 && self.delayed == 0
    }
}

pub struct Pump {
    sqs: aws_sdk_sqs::Client,
    queue_url: String,
    queue_arn: String,
    emulator: Emulator,
    function: String,
    /// Long-poll wait per receive (seconds, 0–20).
    pub wait_seconds: i32,
    pub stats: Arc<PumpStats>,
    /// Print one line per batch.
    pub verbose: bool,
}

impl Pump {
    pub async fn new(
        sqs: aws_sdk_sqs::Client,
        queue_url: &str,
        emulator: Emulator,
        function: &str,
    ) -> Result<Self> {
        let queue_arn = crate::provision::queue_arn(&sqs, queue_url).await?;
        Ok(Self {
            sqs,
            queue_url: queue_url.to_string(),
            queue_arn,
            emulator,
            function: function.to_string(),
            wait_seconds: 2,
            stats: Arc::new(PumpStats::default()),
            verbose: false,
        })
    }

    /// Polls and invokes until `stop` turns true. Errors (moto or the emulator briefly away)
    /// are printed and retried after a pause, as the event source keeps polling.
    pub async fn run(&self, mut stop: tokio::sync::watch::Receiver<bool>) {
        loop {
            if *stop.borrow() {
                return;
            }
            let round = tokio::select! {
                round = self.poll_once() => round,
                _ = stop.changed() => return,
            };
            if let Err(e) = round {
                eprintln!("  pump: {e}; retrying in 2 s");
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_secs(2)) => {}
                    _ = stop.changed() => return,
                }
            }
        }
    }

    /// Polls until the queue has been empty (nothing visible, in flight or delayed) for
    /// `settle`, or fails after `max`.
    pub async fn run_until_idle(&self, settle: Duration, max: Duration) -> Result<()> {
        let started = Instant::now();
        let mut empty_since: Option<Instant> = None;
        while started.elapsed() < max {
            let handled = self.poll_once().await?;
            if handled == 0 && self.depth().await?.is_empty() {
                let since = *empty_since.get_or_insert_with(Instant::now);
                if since.elapsed() >= settle {
                    return Ok(());
                }
            } else {
                empty_since = None;
            }
        }
        let depth = self.depth().await?;
        crate::bail!(
            "the job queue did not drain within {max:?}: {} visible, {} in flight, {} delayed",
            depth.visible,
            depth.in_flight,
            depth.delayed
        )
    }

    /// One receive → invoke → settle round; returns the number of records handed over.
    pub async fn poll_once(&self) -> Result<usize> {
        let received = self
            .sqs
            .receive_message()
            .queue_url(&self.queue_url)
            .max_number_of_messages(BATCH_SIZE)
            .wait_time_seconds(self.wait_seconds)
            .message_system_attribute_names(MessageSystemAttributeName::All)
            .message_attribute_names("All")
            .send()
            .await
            .with_context(|| format!("receiving from {}", self.queue_url))?;
        let messages = received.messages.unwrap_or_default();
        if messages.is_empty() {
            return Ok(0);
        }
        let records: Vec<SqsMessage> = messages
            .into_iter()
            .map(|m| to_record(m, &self.queue_arn))
            .collect();
        let count = records.len();
        let started = Instant::now();
        let mut event = SqsEvent::default();
        event.records = records.clone();
        let payload = serde_json::to_value(&event).context("serialising the SQS event")?;
        self.stats.invocations.fetch_add(1, Ordering::Relaxed);
        self.stats
            .records
            .fetch_add(count as u64, Ordering::Relaxed);
        let outcome = self.emulator.invoke(&self.function, &payload).await?;
        let failed = match outcome {
            Invocation::Returned(value) => match failed_ids(&value, &records) {
                Ok(failed) => failed,
                Err(reason) => {
                    self.whole_batch_failed(count, &reason);
                    return Ok(count);
                }
            },
            Invocation::Failed(reason) => {
                self.whole_batch_failed(count, &reason);
                return Ok(count);
            }
        };
        let done: Vec<&SqsMessage> = records
            .iter()
            .filter(|r| !failed.contains(r.message_id.as_deref().unwrap_or_default()))
            .collect();
        let deleted = self.delete(&done).await?;
        self.stats
            .deleted
            .fetch_add(deleted as u64, Ordering::Relaxed);
        self.stats
            .reported_failed
            .fetch_add(failed.len() as u64, Ordering::Relaxed);
        if self.verbose {
            println!(
                "    · worker batch of {count}: {} done, {} left for retry ({} ms)",
                done.len(),
                failed.len(),
                started.elapsed().as_millis()
            );
        }
        Ok(count)
    }

    fn whole_batch_failed(&self, count: usize, reason: &str) {
        self.stats
            .failed_invocations
            .fetch_add(1, Ordering::Relaxed);
        println!(
            "    · worker invocation failed; its {count} record(s) stay in the queue: {}",
            crate::report::clip(reason, 300)
        );
    }

    /// Deletes `records` (ignoring ones already gone: the worker deletes what it dead-letters).
    async fn delete(&self, records: &[&SqsMessage]) -> Result<usize> {
        if records.is_empty() {
            return Ok(0);
        }
        let mut entries = Vec::new();
        for (i, record) in records.iter().enumerate() {
            let entry = DeleteMessageBatchRequestEntry::builder()
                .id(i.to_string())
                .receipt_handle(record.receipt_handle.clone().unwrap_or_default())
                .build()
                .context("building a delete entry")?;
            entries.push(entry);
        }
        let out = self
            .sqs
            .delete_message_batch()
            .queue_url(&self.queue_url)
            .set_entries(Some(entries))
            .send()
            .await
            .with_context(|| format!("deleting handled records from {}", self.queue_url))?;
        Ok(out.successful.len())
    }

    pub async fn depth(&self) -> Result<Depth> {
        queue_depth(&self.sqs, &self.queue_url).await
    }
}

pub async fn queue_depth(sqs: &aws_sdk_sqs::Client, queue_url: &str) -> Result<Depth> {
    let attributes = sqs
        .get_queue_attributes()
        .queue_url(queue_url)
        .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
        .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
        .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesDelayed)
        .send()
        .await
        .with_context(|| format!("reading the depth of {queue_url}"))?
        .attributes
        .unwrap_or_default();
    let get = |name: QueueAttributeName| {
        attributes
            .get(&name)
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    Ok(Depth {
        visible: get(QueueAttributeName::ApproximateNumberOfMessages),
        in_flight: get(QueueAttributeName::ApproximateNumberOfMessagesNotVisible),
        delayed: get(QueueAttributeName::ApproximateNumberOfMessagesDelayed),
    })
}

/// The ids the worker reported failed. Like Lambda, an answer naming a record that is not in
/// the batch (or naming none) fails the whole batch.
fn failed_ids(
    answer: &serde_json::Value,
    records: &[SqsMessage],
) -> Result<HashSet<String>, String> {
    let response: SqsBatchResponse = serde_json::from_value(answer.clone())
        .map_err(|e| format!("the worker's answer is not a batch response ({e}): {answer}"))?;
    let in_batch: HashSet<&str> = records
        .iter()
        .filter_map(|r| r.message_id.as_deref())
        .collect();
    let mut failed = HashSet::new();
    for failure in response.batch_item_failures {
        if !in_batch.contains(failure.item_identifier.as_str()) {
            return Err(format!(
                "batchItemFailures names {:?}, which is not in the batch",
                failure.item_identifier
            ));
        }
        failed.insert(failure.item_identifier);
    }
    Ok(failed)
}

/// A received message as the Lambda SQS event carries it.
pub fn to_record(message: aws_sdk_sqs::types::Message, queue_arn: &str) -> SqsMessage {
    let mut record = SqsMessage::default();
    record.message_id = message.message_id;
    record.receipt_handle = message.receipt_handle;
    record.body = message.body;
    record.md5_of_body = message.md5_of_body;
    record.md5_of_message_attributes = message.md5_of_message_attributes;
    record.attributes = message
        .attributes
        .unwrap_or_default()
        .into_iter()
        .map(|(name, value)| (name.as_str().to_string(), value))
        .collect();
    record.message_attributes = message
        .message_attributes
        .unwrap_or_default()
        .into_iter()
        .map(|(name, value)| {
            let mut attribute = SqsMessageAttribute::default();
            attribute.string_value = value.string_value;
            attribute.data_type = Some(value.data_type);
            attribute.string_list_values = value.string_list_values.unwrap_or_default();
            (name, attribute)
        })
        .collect::<HashMap<_, _>>();
    record.event_source = Some("aws:sqs".to_string());
    record.event_source_arn = Some(queue_arn.to_string());
    record.aws_region = Some(REGION.to_string());
    record
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_sqs::types::{Message, MessageAttributeValue};

    fn message(id: &str) -> Message {
        Message::builder()
            .message_id(id)
            .receipt_handle(format!("rh-{id}"))
            .body("{}")
            .attributes(MessageSystemAttributeName::ApproximateReceiveCount, "2")
            .message_attributes(
                "kind",
                MessageAttributeValue::builder()
                    .data_type("String")
                    .string_value("hour_entry.upsert")
                    .build()
                    .unwrap(),
            )
            .build()
    }

    #[test]
    fn records_look_like_lambdas() {
        let record = to_record(message("m1"), "arn:aws:sqs:eu-north-1:123456789012:jobs");
        let json = serde_json::to_value(&record).unwrap();
        assert_eq!(json["messageId"], "m1");
        assert_eq!(json["receiptHandle"], "rh-m1");
        assert_eq!(json["eventSource"], "aws:sqs");
        assert_eq!(
            json["eventSourceARN"],
            "arn:aws:sqs:eu-north-1:123456789012:jobs"
        );
        assert_eq!(json["awsRegion"], REGION);
        assert_eq!(json["attributes"]["ApproximateReceiveCount"], "2");
        assert_eq!(
            json["messageAttributes"]["kind"]["stringValue"],
            "hour_entry.upsert"
        );
        assert_eq!(json["messageAttributes"]["kind"]["dataType"], "String");
    }

    #[test]
    fn failures_must_name_records_of_the_batch() {
        let records = vec![
            to_record(message("a"), "arn"),
            to_record(message("b"), "arn"),
        ];
        let ok = serde_json::json!({"batchItemFailures": [{"itemIdentifier": "b"}]});
        assert_eq!(
            failed_ids(&ok, &records).unwrap(),
            HashSet::from(["b".to_string()])
        );
        let none = serde_json::json!({"batchItemFailures": []});
        assert!(failed_ids(&none, &records).unwrap().is_empty());
        let stranger = serde_json::json!({"batchItemFailures": [{"itemIdentifier": "zz"}]});
        assert!(failed_ids(&stranger, &records).is_err());
    }
}
