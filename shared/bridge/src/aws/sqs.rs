//! An SQS queue as [`MessageSink`] (sending) and [`ReceivedMessages`] (visibility, deletion).

use super::error::{build_error, sdk_error};
use crate::dlq::RedriveTarget;
use crate::ports::{
    ATTRIBUTE_DATA_TYPE, MAX_MESSAGE_BYTES, MessageSink, OutgoingMessage, PortError,
    ReceivedMessages,
};
use async_trait::async_trait;
use aws_sdk_sqs::types::{MessageAttributeValue, QueueAttributeName};

const SERVICE: &str = "SQS";
/// SQS rejects more message attributes than this.
const MAX_ATTRIBUTES: usize = 10;
/// SQS's maximum visibility timeout (12 hours).
const MAX_VISIBILITY_SECONDS: i32 = 43_200;

/// One queue, addressed by its URL (the job queue or the dead-letter queue).
#[derive(Debug, Clone)]
pub struct SqsQueue {
    client: aws_sdk_sqs::Client,
    queue_url: String,
}

impl SqsQueue {
    pub fn new(client: aws_sdk_sqs::Client, queue_url: impl Into<String>) -> Self {
        Self {
            client,
            queue_url: queue_url.into(),
        }
    }

    /// A queue with its own client from a shared SDK configuration.
    pub fn from_config(config: &aws_config::SdkConfig, queue_url: impl Into<String>) -> Self {
        Self::new(aws_sdk_sqs::Client::new(config), queue_url)
    }

    pub fn queue_url(&self) -> &str {
        &self.queue_url
    }

    pub fn client(&self) -> &aws_sdk_sqs::Client {
        &self.client
    }

    fn target(&self) -> String {
        format!("queue {}", self.queue_url)
    }

    /// The queue's ARN (GetQueueAttributes), e.g. for a move task's source or destination.
    pub async fn arn(&self) -> Result<String, PortError> {
        const ACTION: &str = "GetQueueAttributes";
        let output = self
            .client
            .get_queue_attributes()
            .queue_url(&self.queue_url)
            .attribute_names(QueueAttributeName::QueueArn)
            .send()
            .await
            .map_err(|e| sdk_error(SERVICE, ACTION, &self.target(), &e, true))?;
        output
            .attributes
            .and_then(|mut a| a.remove(&QueueAttributeName::QueueArn))
            .filter(|arn| !arn.is_empty())
            .ok_or_else(|| PortError {
                service: SERVICE,
                action: ACTION,
                message: format!("{}: no QueueArn in the answer", self.target()),
                retryable: false,
            })
    }
}

#[async_trait]
impl RedriveTarget for SqsQueue {
    async fn arn(&self) -> Result<String, PortError> {
        SqsQueue::arn(self).await
    }
}

#[async_trait]
impl MessageSink for SqsQueue {
    /// Empty attribute values are left out: SQS rejects them, and an empty detail must not
    /// stop a message (for example one bound for the DLQ) from being sent. A message over
    /// SQS's size limit (attributes counted) is refused here, with its size, not by SQS.
    async fn send(&self, message: &OutgoingMessage) -> Result<String, PortError> {
        const ACTION: &str = "SendMessage";
        let size = message.size();
        if size > MAX_MESSAGE_BYTES {
            return Err(build_error(
                SERVICE,
                ACTION,
                &self.target(),
                format!(
                    "the message is {size} bytes with its attributes, SQS takes at most \
                     {MAX_MESSAGE_BYTES}"
                ),
            ));
        }
        let attributes: Vec<_> = message
            .attributes
            .iter()
            .filter(|(_, v)| !v.is_empty())
            .collect();
        if attributes.len() > MAX_ATTRIBUTES {
            return Err(build_error(
                SERVICE,
                ACTION,
                &self.target(),
                format!(
                    "{} message attributes, SQS allows at most {MAX_ATTRIBUTES}",
                    attributes.len()
                ),
            ));
        }
        let mut request = self
            .client
            .send_message()
            .queue_url(&self.queue_url)
            .message_body(&message.body);
        for (name, value) in attributes {
            let value = MessageAttributeValue::builder()
                .data_type(ATTRIBUTE_DATA_TYPE)
                .string_value(value)
                .build()
                .map_err(|e| build_error(SERVICE, ACTION, &self.target(), e))?;
            request = request.message_attributes(name, value);
        }
        let output = request
            .send()
            .await
            .map_err(|e| sdk_error(SERVICE, ACTION, &self.target(), &e, true))?;
        output.message_id.ok_or_else(|| PortError {
            service: SERVICE,
            action: ACTION,
            message: format!("{}: the response carried no MessageId", self.target()),
            retryable: false,
        })
    }
}

#[async_trait]
impl ReceivedMessages for SqsQueue {
    /// `seconds` is clamped to SQS's range 0..=43200 so a long back-off cannot fail the call.
    async fn delay(&self, receipt_handle: &str, seconds: i32) -> Result<(), PortError> {
        self.client
            .change_message_visibility()
            .queue_url(&self.queue_url)
            .receipt_handle(receipt_handle)
            .visibility_timeout(seconds.clamp(0, MAX_VISIBILITY_SECONDS))
            .send()
            .await
            .map_err(|e| sdk_error(SERVICE, "ChangeMessageVisibility", &self.target(), &e, true))?;
        Ok(())
    }

    async fn delete(&self, receipt_handle: &str) -> Result<(), PortError> {
        self.client
            .delete_message()
            .queue_url(&self.queue_url)
            .receipt_handle(receipt_handle)
            .send()
            .await
            .map_err(|e| sdk_error(SERVICE, "DeleteMessage", &self.target(), &e, true))?;
        Ok(())
    }
}
