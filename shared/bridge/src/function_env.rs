//! What every function's `main` does before its first event, in one place: JSON log lines on
//! stdout, and reading its environment variables with errors that name the variable.

use std::ops::RangeInclusive;
use std::time::Duration;

/// A bad or missing variable, named, with what was expected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct EnvError(pub String);

/// JSON log lines on stdout (CloudWatch Logs with the JSON log format), filter from
/// `RUST_LOG` (default `info`).
pub fn init_json_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    json_log_lines(std::io::stdout)
        .with_env_filter(filter)
        .init();
}

/// The functions' log line format, one flat JSON object per event, into `writer` (stdout in
/// the functions; the worker benchmark writes the same lines into a sink).
pub fn json_log_lines<W>(
    writer: W,
) -> tracing_subscriber::fmt::SubscriberBuilder<
    tracing_subscriber::fmt::format::JsonFields,
    tracing_subscriber::fmt::format::Format<tracing_subscriber::fmt::format::Json>,
    tracing::level_filters::LevelFilter,
    W,
>
where
    W: for<'w> tracing_subscriber::fmt::MakeWriter<'w> + Send + Sync + 'static,
{
    tracing_subscriber::fmt()
        .json()
        .flatten_event(true)
        .with_current_span(false)
        .with_span_list(false)
        .with_target(false)
        .with_ansi(false)
        .with_writer(writer)
}

/// Reads variables through a lookup (the process environment in `main`, a map in tests).
pub struct EnvVars<F: Fn(&str) -> Option<String>> {
    lookup: F,
}

impl<F: Fn(&str) -> Option<String>> EnvVars<F> {
    pub fn new(lookup: F) -> Self {
        Self { lookup }
    }

    /// The trimmed value; unset and blank are the same.
    pub fn optional(&self, name: &str) -> Option<String> {
        (self.lookup)(name)
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
    }

    pub fn required(&self, name: &str) -> Result<String, EnvError> {
        self.optional(name)
            .ok_or_else(|| EnvError(format!("{name} is not set")))
    }

    pub fn required_url(&self, name: &str) -> Result<String, EnvError> {
        check_url(name, self.required(name)?)
    }

    pub fn optional_url(&self, name: &str) -> Result<Option<String>, EnvError> {
        self.optional(name).map(|v| check_url(name, v)).transpose()
    }

    /// A whole number in `range`, `default` when unset.
    pub fn number(
        &self,
        name: &str,
        default: u64,
        range: RangeInclusive<u64>,
    ) -> Result<u64, EnvError> {
        match self.optional(name) {
            None => Ok(default),
            Some(v) => v
                .parse::<u64>()
                .ok()
                .filter(|n| range.contains(n))
                .ok_or_else(|| {
                    EnvError(format!(
                        "{name} is {v:?}; expected a whole number from {} to {}",
                        range.start(),
                        range.end()
                    ))
                }),
        }
    }

    /// Seconds in `range`, `default` when unset.
    pub fn seconds(
        &self,
        name: &str,
        default: u64,
        range: RangeInclusive<u64>,
    ) -> Result<Duration, EnvError> {
        self.number(name, default, range).map(Duration::from_secs)
    }

    /// The lookup itself, for readers that take one (the sources and syncs configuration).
    pub fn lookup(&self) -> &F {
        &self.lookup
    }
}

fn check_url(name: &str, value: String) -> Result<String, EnvError> {
    if value.starts_with("https://") || value.starts_with("http://") {
        Ok(value)
    } else {
        Err(EnvError(format!(
            "{name} is {value:?}; expected an http(s) URL"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn vars(pairs: &[(&str, &str)]) -> EnvVars<impl Fn(&str) -> Option<String>> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        EnvVars::new(move |name: &str| map.get(name).cloned())
    }

    #[test]
    fn errors_name_the_variable_and_the_expectation() {
        let env = vars(&[("A", " x "), ("BLANK", "  "), ("N", "0"), ("U", "ftp://q")]);
        assert_eq!(env.optional("A").as_deref(), Some("x"));
        assert_eq!(env.optional("BLANK"), None);
        assert_eq!(env.required("BLANK").unwrap_err().0, "BLANK is not set");
        assert_eq!(
            env.number("N", 4, 1..=64).unwrap_err().0,
            "N is \"0\"; expected a whole number from 1 to 64"
        );
        assert_eq!(env.number("MISSING", 4, 1..=64), Ok(4));
        assert_eq!(
            env.optional_url("U").unwrap_err().0,
            "U is \"ftp://q\"; expected an http(s) URL"
        );
        assert_eq!(env.optional_url("MISSING"), Ok(None));
        assert_eq!(
            env.seconds("MISSING", 30, 1..=900),
            Ok(Duration::from_secs(30))
        );
    }
}
