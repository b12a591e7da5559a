//! Talking to `cargo lambda watch`: invoking a function (as the SQS event source would) and
//! reaching the webhook's Function URL.

use crate::error::{Context as _, Result};
use serde_json::Value;
use std::time::Duration;

/// The emulator's invoke side (`--invoke-address 127.0.0.1 --invoke-port N`).
#[derive(Clone)]
pub struct Emulator {
    base: String,
    http: reqwest::Client,
}

/// How an invocation ended, as Lambda reports it to an event source.
#[derive(Debug)]
pub enum Invocation {
    /// The function returned this payload.
    Returned(Value),
    /// The function failed (an error response or an unreadable answer): for an event source
    /// the whole batch failed.
    Failed(String),
}

impl Emulator {
    /// `base` is e.g. `http://127.0.0.1:9000`. Calls have no overall timeout: the first one
    /// may wait while cargo builds the function.
    pub fn new(base: impl Into<String>) -> Result<Self> {
        Ok(Self {
            base: base.into().trim_end_matches('/').to_string(),
            http: reqwest::Client::builder()
                .connect_timeout(Duration::from_secs(5))
                .build()
                .context("HTTP client")?,
        })
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    /// `…/lambda-url/<function>` (the Function URL emulation, HTTP API v2 payload).
    pub fn function_url(&self, function: &str) -> String {
        format!("{}/lambda-url/{function}", self.base)
    }

    /// Synchronous invoke (`RequestResponse`), the way the SQS event source invokes.
    pub async fn invoke(&self, function: &str, payload: &Value) -> Result<Invocation> {
        let url = format!("{}/2015-03-31/functions/{function}/invocations", self.base);
        let response = self
            .http
            .post(&url)
            .header("content-type", "application/json")
            .body(payload.to_string())
            .send()
            .await
            .with_context(|| format!("invoking {function} at {url}"))?;
        let status = response.status();
        let body = response
            .bytes()
            .await
            .with_context(|| format!("reading {function}'s answer"))?;
        if !status.is_success() {
            return Ok(Invocation::Failed(format!(
                "HTTP {status}: {}",
                String::from_utf8_lossy(&body)
            )));
        }
        match serde_json::from_slice::<Value>(&body) {
            Ok(value) if value.get("errorType").is_some() => {
                Ok(Invocation::Failed(value.to_string()))
            }
            Ok(value) => Ok(Invocation::Returned(value)),
            Err(e) => Ok(Invocation::Failed(format!(
                "the answer is not JSON ({e}): {}",
                String::from_utf8_lossy(&body)
            ))),
        }
    }
}
