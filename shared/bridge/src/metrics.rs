//! Metrics as CloudWatch Embedded Metric Format (EMF) lines: one JSON object per line on
//! stdout, which CloudWatch Logs turns into metrics with no API call and no latency (the
//! Powertools approach). One place builds the documents so every function emits the same shape.
//!
//! ```json
//! {"_aws":{"Timestamp":1764409923000,"CloudWatchMetrics":[{"Namespace":"SeveraBridge",
//!   "Dimensions":[["service","sync"],["service"]],"Metrics":[{"Name":"SchemaVersionChanged","Unit":"Count"}]}]},
//!  "service":"scheduler","sync":"accounts","SchemaVersionChanged":1}
//! ```
//!
//! Every value is also published under the `service` dimension alone, which is what the
//! template's alarms and dashboard use (an alarm must name every dimension of its metric).

use serde_json::{Map, Value, json};
use std::io::Write as _;
use std::sync::{Arc, Mutex, PoisonError};

/// The CloudWatch namespace of every severa-bridge metric, unless `METRICS_NAMESPACE` says
/// otherwise (the template sets it from its `MetricsNamespace` parameter).
pub const NAMESPACE: &str = "SeveraBridge";
pub const NAMESPACE_VAR: &str = "METRICS_NAMESPACE";

/// Where EMF lines go: stdout in Lambda, a recorder in tests.
pub type MetricSink = Arc<dyn Fn(&str) + Send + Sync>;

/// CloudWatch units used here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    Count,
    Percent,
    Milliseconds,
}

impl Unit {
    fn as_str(self) -> &'static str {
        match self {
            Self::Count => "Count",
            Self::Percent => "Percent",
            Self::Milliseconds => "Milliseconds",
        }
    }
}

/// Emits metrics for one function (`service` dimension).
#[derive(Clone)]
pub struct Metrics {
    namespace: String,
    service: String,
    sink: MetricSink,
    /// Set by [`Metrics::buffered`]: values wait here until [`Metrics::flush`].
    buffer: Option<Arc<Mutex<Buffer>>>,
}

/// EMF allows at most 100 values per metric in one document.
const MAX_VALUES_PER_METRIC: usize = 100;

/// Values collected between flushes, one group per dimension set (one EMF document each).
#[derive(Default)]
struct Buffer {
    groups: Vec<Group>,
}

struct Group {
    dimensions: Vec<(String, String)>,
    /// Counts are summed into one value; other units keep every value (an EMF value array).
    metrics: Vec<(String, Unit, Vec<f64>)>,
}

impl Group {
    fn add(&mut self, name: &str, value: f64, unit: Unit) -> bool {
        match self
            .metrics
            .iter_mut()
            .find(|(n, u, _)| n == name && *u == unit)
        {
            Some((_, Unit::Count, values)) => {
                values[0] += value;
                false
            }
            Some((_, _, values)) => {
                values.push(value);
                values.len() >= MAX_VALUES_PER_METRIC
            }
            None => {
                self.metrics.push((name.to_string(), unit, vec![value]));
                false
            }
        }
    }
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics")
            .field("namespace", &self.namespace)
            .field("service", &self.service)
            .finish_non_exhaustive()
    }
}

impl Metrics {
    /// Lines to stdout, where the Lambda runtime hands them to CloudWatch Logs.
    pub fn stdout(service: impl Into<String>) -> Self {
        Self::with_sink(
            service,
            Arc::new(|line: &str| {
                let mut out = std::io::stdout().lock();
                // A metric that cannot be written must not fail the work it measures.
                let _ = writeln!(out, "{line}");
            }),
        )
    }

    pub fn with_sink(service: impl Into<String>, sink: MetricSink) -> Self {
        let namespace = std::env::var(NAMESPACE_VAR)
            .ok()
            .map(|n| n.trim().to_string())
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| NAMESPACE.to_string());
        Self {
            namespace,
            service: service.into(),
            sink,
            buffer: None,
        }
    }

    /// The same metrics, collected until [`Metrics::flush`] instead of one line per value: the
    /// Powertools practice of one EMF document per invocation. A batch of jobs then costs one
    /// line instead of two per job (log volume and CPU). Counts are summed; latencies keep every
    /// value. Clones share the buffer.
    pub fn buffered(mut self) -> Self {
        if self.buffer.is_none() {
            self.buffer = Some(Arc::default());
        }
        self
    }

    /// Emits what a buffered `Metrics` collected (one document per dimension set). A no-op for
    /// an unbuffered one.
    pub fn flush(&self) {
        let Some(buffer) = &self.buffer else {
            return;
        };
        let groups =
            std::mem::take(&mut buffer.lock().unwrap_or_else(PoisonError::into_inner).groups);
        for group in groups {
            self.emit_group(&group);
        }
    }

    fn emit_group(&self, group: &Group) {
        let dimensions: Vec<(&str, &str)> = group
            .dimensions
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let values: Vec<(&str, Value, Unit)> = group
            .metrics
            .iter()
            .map(|(name, unit, values)| {
                let value = match values.as_slice() {
                    [one] => json!(one),
                    many => json!(many),
                };
                (name.as_str(), value, *unit)
            })
            .collect();
        let line = document(
            &self.namespace,
            &self.service,
            &values,
            &dimensions,
            chrono::Utc::now().timestamp_millis(),
        );
        (self.sink)(&line);
    }

    /// Metrics that go nowhere (benchmarks, tools).
    pub fn discard(service: impl Into<String>) -> Self {
        Self::with_sink(service, Arc::new(|_: &str| {}))
    }

    /// Emits one metric value with the `service` dimension plus `dimensions`.
    pub fn put(&self, name: &str, value: f64, unit: Unit, dimensions: &[(&str, &str)]) {
        self.put_all(&[(name, value, unit)], dimensions);
    }

    /// Emits several values in one EMF document (one log line).
    pub fn put_all(&self, values: &[(&str, f64, Unit)], dimensions: &[(&str, &str)]) {
        if values.is_empty() {
            return;
        }
        if let Some(buffer) = &self.buffer {
            let mut buffer = buffer.lock().unwrap_or_else(PoisonError::into_inner);
            let same = |group: &&mut Group| {
                group.dimensions.len() == dimensions.len()
                    && group
                        .dimensions
                        .iter()
                        .zip(dimensions)
                        .all(|((k, v), (k2, v2))| k == k2 && v == v2)
            };
            let index = match buffer.groups.iter_mut().position(|g| same(&g)) {
                Some(index) => index,
                None => {
                    buffer.groups.push(Group {
                        dimensions: dimensions
                            .iter()
                            .map(|(k, v)| (k.to_string(), v.to_string()))
                            .collect(),
                        metrics: Vec::new(),
                    });
                    buffer.groups.len() - 1
                }
            };
            let group = &mut buffer.groups[index];
            let mut full = false;
            for (name, value, unit) in values {
                full |= group.add(name, *value, *unit);
            }
            if full {
                let group = buffer.groups.swap_remove(index);
                drop(buffer);
                self.emit_group(&group);
            }
            return;
        }
        let line = emf_document(
            &self.namespace,
            &self.service,
            values,
            dimensions,
            chrono::Utc::now().timestamp_millis(),
        );
        (self.sink)(&line);
    }

    pub fn count(&self, name: &str, value: u64, dimensions: &[(&str, &str)]) {
        self.put(name, value as f64, Unit::Count, dimensions);
    }
}

/// One EMF document (a single line of JSON) with one value.
pub fn emf_line(
    service: &str,
    name: &str,
    value: f64,
    unit: Unit,
    dimensions: &[(&str, &str)],
    timestamp_ms: i64,
) -> String {
    emf_document(
        NAMESPACE,
        service,
        &[(name, value, unit)],
        dimensions,
        timestamp_ms,
    )
}

/// One EMF document with several values, published under `service` + `dimensions` and under
/// `service` alone.
pub fn emf_document(
    namespace: &str,
    service: &str,
    values: &[(&str, f64, Unit)],
    dimensions: &[(&str, &str)],
    timestamp_ms: i64,
) -> String {
    let values: Vec<(&str, Value, Unit)> = values
        .iter()
        .map(|(name, value, unit)| (*name, json!(value), *unit))
        .collect();
    document(namespace, service, &values, dimensions, timestamp_ms)
}

/// One EMF document; a value is a number or an array of up to 100 numbers.
fn document(
    namespace: &str,
    service: &str,
    values: &[(&str, Value, Unit)],
    dimensions: &[(&str, &str)],
    timestamp_ms: i64,
) -> String {
    let mut root = Map::new();
    let mut names = vec![Value::from("service")];
    root.insert("service".into(), Value::from(service));
    for (key, val) in dimensions {
        names.push(Value::from(*key));
        root.insert((*key).to_string(), Value::from(*val));
    }
    let mut dimension_sets = vec![Value::Array(names)];
    if !dimensions.is_empty() {
        dimension_sets.push(json!(["service"]));
    }
    let mut metrics = Vec::new();
    for (name, value, unit) in values {
        root.insert((*name).to_string(), value.clone());
        metrics.push(json!({"Name": name, "Unit": unit.as_str()}));
    }
    root.insert(
        "_aws".into(),
        json!({
            "Timestamp": timestamp_ms,
            "CloudWatchMetrics": [{
                "Namespace": namespace,
                "Dimensions": dimension_sets,
                "Metrics": metrics,
            }],
        }),
    );
    Value::Object(root).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    #[test]
    fn emf_document_shape() {
        let line = emf_line(
            "scheduler",
            "SchemaVersionChanged",
            1.0,
            Unit::Count,
            &[("sync", "accounts")],
            1_764_409_923_000,
        );
        let v: Value = serde_json::from_str(&line).unwrap();
        assert_eq!(v["_aws"]["Timestamp"], 1_764_409_923_000i64);
        let directive = &v["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(directive["Namespace"], NAMESPACE);
        assert_eq!(directive["Dimensions"][0], json!(["service", "sync"]));
        assert_eq!(directive["Dimensions"][1], json!(["service"]));
        assert_eq!(directive["Metrics"][0]["Name"], "SchemaVersionChanged");
        assert_eq!(directive["Metrics"][0]["Unit"], "Count");
        assert_eq!(v["SchemaVersionChanged"], 1.0);
        assert_eq!(v["sync"], "accounts");
        assert!(!line.contains('\n'));
    }

    #[test]
    fn sink_receives_lines() {
        let lines = Arc::new(Mutex::new(Vec::<String>::new()));
        let seen = lines.clone();
        let metrics = Metrics::with_sink(
            "scheduler",
            Arc::new(move |l: &str| seen.lock().unwrap().push(l.to_string())),
        );
        metrics.count("RecordsEnqueued", 3, &[("sync", "invoices")]);
        let got = lines.lock().unwrap();
        assert_eq!(got.len(), 1);
        assert!(got[0].contains("\"RecordsEnqueued\":3.0"), "{}", got[0]);
    }

    #[test]
    fn buffered_metrics_wait_for_flush_and_aggregate() {
        let lines = Arc::new(Mutex::new(Vec::<String>::new()));
        let seen = lines.clone();
        let metrics = Metrics::with_sink(
            "worker",
            Arc::new(move |l: &str| seen.lock().unwrap().push(l.to_string())),
        )
        .buffered();
        let clone = metrics.clone();
        for n in 0..3 {
            metrics.count("JobsApplied", 1, &[]);
            clone.put(
                "SeveraLatency",
                10.0 + f64::from(n),
                Unit::Milliseconds,
                &[],
            );
        }
        metrics.count("RecordsEnqueued", 2, &[("sync", "invoices")]);
        assert!(lines.lock().unwrap().is_empty(), "nothing before the flush");

        metrics.flush();
        let got: Vec<Value> = lines
            .lock()
            .unwrap()
            .iter()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(got.len(), 2, "one document per dimension set: {got:?}");
        assert_eq!(got[0]["JobsApplied"], 3.0, "counts are summed");
        assert_eq!(got[0]["SeveraLatency"], json!([10.0, 11.0, 12.0]));
        let names: Vec<&Value> = got[0]["_aws"]["CloudWatchMetrics"][0]["Metrics"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| &m["Name"])
            .collect();
        assert_eq!(names, [&json!("JobsApplied"), &json!("SeveraLatency")]);
        assert_eq!(got[1]["sync"], "invoices");
        assert_eq!(got[1]["RecordsEnqueued"], 2.0);

        metrics.flush();
        assert_eq!(lines.lock().unwrap().len(), 2, "a flush empties the buffer");
    }

    #[test]
    fn a_buffered_metric_is_emitted_at_emf_s_100_values() {
        let lines = Arc::new(Mutex::new(Vec::<String>::new()));
        let seen = lines.clone();
        let metrics = Metrics::with_sink(
            "worker",
            Arc::new(move |l: &str| seen.lock().unwrap().push(l.to_string())),
        )
        .buffered();
        for n in 0..150 {
            metrics.put("SeveraLatency", f64::from(n), Unit::Milliseconds, &[]);
        }
        metrics.flush();
        let got: Vec<Value> = lines
            .lock()
            .unwrap()
            .iter()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        let sizes: Vec<usize> = got
            .iter()
            .map(|d| d["SeveraLatency"].as_array().unwrap().len())
            .collect();
        assert_eq!(sizes, [100, 50]);
    }
}
