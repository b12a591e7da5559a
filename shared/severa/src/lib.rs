//! A client for Visma Severa's SOAP API ("S3" web service).
//!
//! - [`wire`]: the SOAP wire rules (envelopes, namespaces, member order, escaping, streaming
//!   parsing, faults) — the only place that knows them.
//! - [`SeveraClient`]: transport (reqwest + rustls), timeouts, size cap, quota headers.
//! - [`operations`]: interface, operation and parameter names of every typed call, in one table.
//! - [`entities`]: typed entities; the typed calls themselves are methods on [`SeveraClient`].
//! - [`SeveraError`]: typed faults and transport errors, with [`SeveraError::is_retryable`].
//!
//! No AWS types appear here; the integration core builds on this crate.

mod api;
mod client;
pub mod entities;
mod entity;
mod error;
pub mod operations;
mod secret;
pub mod wire;

pub use client::{DEFAULT_ENDPOINT, Response, SeveraClient, SeveraConfig, install_crypto_provider};
pub use error::{Fault, FaultKind, Quota, SeveraError, TransportKind};
pub use operations::Operation;
pub use secret::ApiKey;
pub use wire::{Param, ParamValue, Value, WireDateTime};
