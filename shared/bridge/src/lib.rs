//! severa-bridge's integration core. The logic knows only [`ports`]; AWS adapters implement them.

pub mod aws;
pub mod dlq;
pub mod error;
pub mod function_env;
pub mod job;
pub mod metrics;
pub mod ports;
pub mod resolve;
pub mod rotation;
pub mod secrets;
pub mod sync;
pub mod verify;
pub mod webhook;
pub mod worker;
