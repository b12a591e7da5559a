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
    tracing_subscriber::fmt::format::DefaultFields,
    FlatJsonLines,
    tracing::level_filters::LevelFilter,
    W,
>
where
    W: for<'w> tracing_subscriber::fmt::MakeWriter<'w> + Send + Sync + 'static,
{
    tracing_subscriber::fmt()
        .with_ansi(false)
        .event_format(FlatJsonLines)
        .with_writer(writer)
}

/// One JSON object per event: `timestamp`, `level`, `message`, then the event's fields — the
/// layout of tracing-subscriber's `json().flatten_event(true)` without span or target (a test
/// holds the two to the same output). Written straight into the line: tracing-subscriber's
/// JSON formatter builds each line through serde's map serializer and a `fmt::Write` adaptor,
/// about 24 k instructions for the worker's outcome line, a tenth of a job's whole cost.
#[derive(Debug, Clone, Copy, Default)]
pub struct FlatJsonLines;

impl<S, N> tracing_subscriber::fmt::FormatEvent<S, N> for FlatJsonLines
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
    N: for<'a> tracing_subscriber::fmt::FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        _ctx: &tracing_subscriber::fmt::FmtContext<'_, S, N>,
        mut writer: tracing_subscriber::fmt::format::Writer<'_>,
        event: &tracing::Event<'_>,
    ) -> std::fmt::Result {
        let mut line = JsonLine::default();
        let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
        line.entry("timestamp", &now);
        line.entry("level", event.metadata().level().as_str());
        event.record(&mut line);
        line.out.push(b'}');
        line.out.push(b'\n');
        // Only whole strings went in, each escaped by serde_json: always UTF-8.
        writer.write_str(std::str::from_utf8(&line.out).map_err(|_| std::fmt::Error)?)
    }
}

/// A log line under construction, and the [`tracing::field::Visit`] that fills it.
#[derive(Default)]
struct JsonLine {
    out: Vec<u8>,
    scratch: String,
}

impl JsonLine {
    fn key(&mut self, name: &str) {
        self.out.push(if self.out.is_empty() { b'{' } else { b',' });
        // Writing into a Vec cannot fail.
        let _ = serde_json::to_writer(&mut self.out, name);
        self.out.push(b':');
    }

    fn entry(&mut self, name: &str, value: &str) {
        self.key(name);
        let _ = serde_json::to_writer(&mut self.out, value);
    }

    fn raw(&mut self, name: &str, value: impl serde::Serialize) {
        self.key(name);
        let _ = serde_json::to_writer(&mut self.out, &value);
    }
}

impl tracing::field::Visit for JsonLine {
    fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
        self.entry(field.name(), value);
    }

    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        use std::fmt::Write as _;
        let mut text = std::mem::take(&mut self.scratch);
        text.clear();
        let _ = write!(text, "{value:?}");
        self.entry(field.name(), &text);
        self.scratch = text;
    }

    fn record_u64(&mut self, field: &tracing::field::Field, value: u64) {
        self.raw(field.name(), value);
    }

    fn record_i64(&mut self, field: &tracing::field::Field, value: i64) {
        self.raw(field.name(), value);
    }

    fn record_u128(&mut self, field: &tracing::field::Field, value: u128) {
        self.raw(field.name(), value);
    }

    fn record_i128(&mut self, field: &tracing::field::Field, value: i128) {
        self.raw(field.name(), value);
    }

    fn record_f64(&mut self, field: &tracing::field::Field, value: f64) {
        self.raw(field.name(), value);
    }

    fn record_bool(&mut self, field: &tracing::field::Field, value: bool) {
        self.raw(field.name(), value);
    }
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

    fn events() {
        let error = std::io::Error::other("disk \"full\"");
        tracing::info!(
            message_id = "m-1",
            quoted = "a \"b\" \\ c\nd\te\u{1}",
            unicode = "Käyttäjä ✓",
            display = %"shown with Display",
            debug = ?Some("x"),
            count = 42u64,
            delta = -7i64,
            ratio = 1.5f64,
            nan = f64::NAN,
            flag = true,
            error = &error as &dyn std::error::Error,
            "job {} for {}",
            "applied",
            "te-1"
        );
        tracing::warn!("no fields, only a message");
        tracing::error!(empty = "", "");
    }

    #[test]
    fn flat_json_lines_match_tracing_subscribers_json_format() {
        // The project's test log writer (`test_support`), here under two subscribers.
        let ours = test_support::LogCapture::default();
        let theirs = test_support::LogCapture::default();
        let writer = ours.clone();
        tracing::subscriber::with_default(json_log_lines(move || writer.clone()).finish(), events);
        let writer = theirs.clone();
        tracing::subscriber::with_default(
            tracing_subscriber::fmt()
                .json()
                .flatten_event(true)
                .with_current_span(false)
                .with_span_list(false)
                .with_target(false)
                .with_ansi(false)
                .with_writer(move || writer.clone())
                .finish(),
            events,
        );
        let (ours, theirs) = (ours.lines(), theirs.lines());
        assert_eq!(ours.len(), 3, "{ours:?}");
        assert_eq!(ours.len(), theirs.len());
        // The same text once the timestamps (taken at different instants) are set aside.
        let split = |line: &str| -> (String, String) {
            let value: serde_json::Value = serde_json::from_str(line).unwrap();
            let stamp = value["timestamp"].as_str().unwrap().to_string();
            (stamp.clone(), line.replacen(&stamp, "T", 1))
        };
        for (ours, theirs) in ours.iter().zip(&theirs) {
            let (our_stamp, our_rest) = split(ours);
            let (their_stamp, their_rest) = split(theirs);
            assert_eq!(our_rest, their_rest);
            assert_eq!(
                our_stamp.len(),
                their_stamp.len(),
                "{our_stamp} / {their_stamp}"
            );
            assert!(
                chrono::DateTime::parse_from_rfc3339(&our_stamp).is_ok(),
                "{our_stamp}"
            );
        }
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
