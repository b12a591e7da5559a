//! One error type for the whole tool: a message that says what failed and what to do, built up
//! with `.context(…)` the way anyhow does (without adding anyhow to the workspace).

use aws_sdk_sqs::error::DisplayErrorContext;
use std::fmt::Display;

/// What went wrong, as one actionable sentence (with its causes appended).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Error(String);

impl Error {
    pub fn new(message: impl Into<String>) -> Self {
        Self(message.into())
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Adds what was being done to an error (or a missing value).
pub trait Context<T> {
    fn context(self, what: impl Display) -> Result<T>;
    fn with_context<D: Display>(self, what: impl FnOnce() -> D) -> Result<T>;
}

impl<T, E: std::error::Error> Context<T> for std::result::Result<T, E> {
    fn context(self, what: impl Display) -> Result<T> {
        // DisplayErrorContext prints the whole source chain (SDK errors hide the cause otherwise).
        self.map_err(|e| Error(format!("{what}: {}", DisplayErrorContext(&e))))
    }

    fn with_context<D: Display>(self, what: impl FnOnce() -> D) -> Result<T> {
        self.map_err(|e| Error(format!("{}: {}", what(), DisplayErrorContext(&e))))
    }
}

impl<T> Context<T> for Option<T> {
    fn context(self, what: impl Display) -> Result<T> {
        self.ok_or_else(|| Error(what.to_string()))
    }

    fn with_context<D: Display>(self, what: impl FnOnce() -> D) -> Result<T> {
        self.ok_or_else(|| Error(what().to_string()))
    }
}

/// Returns early with an [`Error`] built like `format!`.
#[macro_export]
macro_rules! bail {
    ($($arg:tt)*) => {
        return Err($crate::error::Error::new(format!($($arg)*)))
    };
}
