//! `bridgectl`, the severa-bridge operator CLI. The binary only parses argv, reads the
//! environment and prints an [`app::Outcome`]; everything else lives here so it can be tested
//! without spawning a process.

pub mod app;
pub mod args;
pub mod call;
pub mod config_check;
pub mod contract_check;
pub mod dlq;
pub mod endpoint;
pub mod error;
pub mod logging;
pub mod ops;
pub mod ping;
pub mod secret;
pub mod sync;
