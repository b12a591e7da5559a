//! AWS adapters behind [`crate::ports`]: SQS queues, one DynamoDB table for idempotency records
//! and the id map, and Secrets Manager.
//!
//! Every function's `main` builds one [`aws_config::SdkConfig`] with [`config::load`] and hands
//! clients made from it to these adapters. Failures become [`crate::ports::PortError`]s whose
//! `retryable` flag tells the caller whether another attempt can help and whose message names
//! the queue, table or secret (never a secret's value).

pub mod config;
mod dlq;
mod dynamo;
mod error;
mod ledger;
mod secret_versions;
mod secrets;
mod sqs;
mod sync_state;

pub use dlq::SqsDeadLetterQueue;
pub use dynamo::DynamoTable;
pub use ledger::LEDGER_SHARDS;
pub use secret_versions::SecretsManagerVersions;
pub use secrets::SecretsManagerSource;
pub use sqs::SqsQueue;
