//! The dead-letter queue as [`DeadLetterQueue`] (operator triage and redrive).

use super::SqsQueue;
use super::error::sdk_error;
use crate::dlq::{DeadLetter, DeadLetterQueue, MoveTask};
use crate::ports::{PortError, ReceivedMessages};
use async_trait::async_trait;
use aws_sdk_sqs::types::MessageSystemAttributeName;
use chrono::{DateTime, Utc};

const SERVICE: &str = "SQS";

/// One DLQ, addressed by its URL.
#[derive(Debug, Clone)]
pub struct SqsDeadLetterQueue {
    /// Per-message controls (visibility, delete) are the job queue adapter's.
    queue: SqsQueue,
    client: aws_sdk_sqs::Client,
    queue_url: String,
}

impl SqsDeadLetterQueue {
    pub fn new(client: aws_sdk_sqs::Client, queue_url: impl Into<String>) -> Self {
        let queue_url = queue_url.into();
        Self {
            queue: SqsQueue::new(client.clone(), &queue_url),
            client,
            queue_url,
        }
    }

    fn target(&self) -> String {
        format!("dead-letter queue {}", self.queue_url)
    }
}

fn sent_at(message: &aws_sdk_sqs::types::Message) -> Option<DateTime<Utc>> {
    let millis: i64 = message
        .attributes
        .as_ref()?
        .get(&MessageSystemAttributeName::SentTimestamp)?
        .parse()
        .ok()?;
    DateTime::from_timestamp_millis(millis)
}

#[async_trait]
impl DeadLetterQueue for SqsDeadLetterQueue {
    async fn receive(&self, max: usize, hold_seconds: i32) -> Result<Vec<DeadLetter>, PortError> {
        let output = self
            .client
            .receive_message()
            .queue_url(&self.queue_url)
            .max_number_of_messages(max.clamp(1, 10) as i32)
            .visibility_timeout(hold_seconds)
            .wait_time_seconds(1)
            .message_system_attribute_names(MessageSystemAttributeName::SentTimestamp)
            .message_attribute_names("All")
            .send()
            .await
            .map_err(|e| sdk_error(SERVICE, "ReceiveMessage", &self.target(), &e, true))?;
        Ok(output
            .messages
            .unwrap_or_default()
            .into_iter()
            .filter_map(|m| {
                let sent_at = sent_at(&m);
                Some(DeadLetter {
                    message_id: m.message_id?,
                    receipt_handle: m.receipt_handle?,
                    body: m.body.unwrap_or_default(),
                    attributes: m
                        .message_attributes
                        .unwrap_or_default()
                        .into_iter()
                        .filter_map(|(k, v)| v.string_value.map(|s| (k, s)))
                        .collect(),
                    sent_at,
                })
            })
            .collect())
    }

    async fn release(&self, receipt_handle: &str) -> Result<(), PortError> {
        self.queue.delay(receipt_handle, 0).await
    }

    async fn delete(&self, receipt_handle: &str) -> Result<(), PortError> {
        self.queue.delete(receipt_handle).await
    }

    async fn start_move_task(&self, destination_arn: &str) -> Result<Option<String>, PortError> {
        let arn = self.queue.arn().await?;
        // The destination is explicit: without it SQS moves each message back to the queue
        // it was redriven from, and the worker's own dead letters have none recorded.
        match self
            .client
            .start_message_move_task()
            .source_arn(&arn)
            .destination_arn(destination_arn)
            .send()
            .await
        {
            Ok(output) => Ok(output.task_handle),
            Err(e) => {
                // Local emulators lack the action (moto answers a bare 500), and an operator's
                // role may lack the permission; moving one by one reaches the same end.
                let reason = sdk_error(SERVICE, "StartMessageMoveTask", &self.target(), &e, true);
                tracing::warn!(error = %reason, "SQS move task unavailable; moving messages one by one");
                Ok(None)
            }
        }
    }

    async fn move_tasks(&self) -> Result<Vec<MoveTask>, PortError> {
        let arn = self.queue.arn().await?;
        let output = self
            .client
            .list_message_move_tasks()
            .source_arn(&arn)
            .max_results(10)
            .send()
            .await
            .map_err(|e| sdk_error(SERVICE, "ListMessageMoveTasks", &self.target(), &e, true))?;
        let count = |n: i64| u64::try_from(n).unwrap_or(0);
        Ok(output
            .results
            .unwrap_or_default()
            .into_iter()
            .map(|t| MoveTask {
                handle: t.task_handle,
                status: t.status.unwrap_or_default(),
                moved: count(t.approximate_number_of_messages_moved),
                to_move: t.approximate_number_of_messages_to_move.map(count),
                failure_reason: t.failure_reason,
                destination_arn: t.destination_arn,
                started_at: t.started_timestamp,
            })
            .collect())
    }
}
