//! severa-bridge's integration core. The logic knows only [`ports`]; AWS adapters implement them.

pub mod aws;
pub mod error;
pub mod job;
pub mod ports;
pub mod resolve;
pub mod secrets;
pub mod verify;
pub mod webhook;
pub mod worker;
