//! The scenario runner: a list of named steps, each checking its expectations against what the
//! simulator holds and was sent, the queues and the table — behaviour, not "it ran" — and
//! printing one ✔/✘ line per expectation with what was checked.
//!
//! Adding a step is adding one function to `steps.rs` and its line in [`steps::all`].

pub mod steps;

use crate::error::{Context as _, Result};
use crate::report;
use crate::sim::SimAdmin;
use crate::stack::Endpoints;
use bridge::webhook::config::Config as SourcesConfig;
use serde_json::Value;
use std::collections::HashMap;
use std::fmt::Display;
use std::future::Future;
use std::pin::Pin;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// What a step function returns: `Err` means the step could not go on (reported as ✘).
pub type StepFuture<'a> = Pin<Box<dyn Future<Output = Result<()>> + 'a>>;

/// One named step of the scenario.
pub struct Step {
    pub name: &'static str,
    pub run: for<'a> fn(&'a Ctx, &'a mut Checks) -> StepFuture<'a>,
}

/// The expectations of one step, printed as they are checked.
#[derive(Default)]
pub struct Checks {
    passed: usize,
    failed: Vec<String>,
}

impl Checks {
    /// Records and prints one expectation: `what` was expected, `evidence` is what was seen.
    pub fn expect(&mut self, ok: bool, what: impl Display, evidence: impl Display) -> bool {
        let evidence = evidence.to_string();
        let line = if evidence.is_empty() {
            what.to_string()
        } else {
            format!("{what} — {}", report::clip(&evidence, 220))
        };
        if ok {
            self.passed += 1;
            println!("    {}", report::pass(&line));
        } else {
            self.failed.push(line.clone());
            println!("    {}", report::fail(&line));
        }
        ok
    }
}

/// The outcome of one step, for the summary.
pub struct StepResult {
    pub name: &'static str,
    pub passed: usize,
    pub failed: usize,
    pub duration: Duration,
}

/// The report at the end.
pub struct Summary {
    pub steps: Vec<StepResult>,
}

impl Summary {
    pub fn all_passed(&self) -> bool {
        self.steps.iter().all(|s| s.failed == 0)
    }

    pub fn print(&self) {
        report::heading("Report");
        for step in &self.steps {
            let line = format!(
                "{:<58} {:>2} checked{} ({:.1} s)",
                step.name,
                step.passed + step.failed,
                if step.failed > 0 {
                    format!(", {} FAILED", step.failed)
                } else {
                    String::new()
                },
                step.duration.as_secs_f64()
            );
            if step.failed == 0 {
                println!("  {}", report::pass(&line));
            } else {
                println!("  {}", report::fail(&line));
            }
        }
        let expectations: usize = self.steps.iter().map(|s| s.passed + s.failed).sum();
        let failed: usize = self.steps.iter().map(|s| s.failed).sum();
        let failed_steps = self.steps.iter().filter(|s| s.failed > 0).count();
        if failed == 0 {
            println!(
                "\n  {} steps, {expectations} expectations: all held.",
                self.steps.len()
            );
        } else {
            println!(
                "\n  {failed_steps} of {} steps failed ({failed} of {expectations} expectations).",
                self.steps.len()
            );
        }
    }
}

/// Plays `steps` in order (a failed step does not stop the ones after it).
pub async fn play(ctx: &Ctx, steps: &[Step]) -> Summary {
    let mut results = Vec::new();
    for (i, step) in steps.iter().enumerate() {
        report::heading(&format!("[{}/{}] {}", i + 1, steps.len(), step.name));
        let started = Instant::now();
        let mut checks = Checks::default();
        if let Err(e) = (step.run)(ctx, &mut checks).await {
            checks.expect(false, "the step could not finish", e);
        }
        results.push(StepResult {
            name: step.name,
            passed: checks.passed,
            failed: checks.failed.len(),
            duration: started.elapsed(),
        });
    }
    Summary { steps: results }
}

/// A webhook's answer.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub body: Value,
}

impl Answer {
    /// `202 {"status":"accepted","job_id":…}` style, for evidence lines.
    pub fn describe(&self) -> String {
        format!("HTTP {} {}", self.status, self.body)
    }
    pub fn job_id(&self) -> Option<String> {
        self.body["job_id"].as_str().map(str::to_string)
    }
}

/// Everything a step can reach.
pub struct Ctx {
    pub endpoints: Endpoints,
    pub http: reqwest::Client,
    pub sqs: aws_sdk_sqs::Client,
    pub dynamodb: aws_sdk_dynamodb::Client,
    pub secrets: aws_sdk_secretsmanager::Client,
    pub sim: SimAdmin,
    pub sources: SourcesConfig,
    /// Unique per run (`dev` stacks see many runs): names, ids and descriptions carry it.
    pub tag: String,
    /// A number unique per run, for senders' numeric ids (Toggl event and entry ids).
    pub run_number: u64,
    /// How long a step waits for the pipeline to act.
    pub patience: Duration,
    /// Values a step leaves for a later one (e.g. a job id to compare).
    notes: Mutex<HashMap<String, String>>,
}

impl Ctx {
    pub async fn new(endpoints: Endpoints) -> Result<Self> {
        let sdk = crate::stack::sdk_config(&endpoints.aws_endpoint_url).await;
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(120))
            .build()
            .context("HTTP client")?;
        let sources = crate::provision::read_sources(&endpoints.sources_file)?;
        let now = chrono::Utc::now();
        let run_number = u64::try_from(now.timestamp_millis()).unwrap_or_default();
        Ok(Self {
            sim: SimAdmin::new(&endpoints.severa_admin_url, http.clone()),
            sqs: aws_sdk_sqs::Client::new(&sdk),
            dynamodb: aws_sdk_dynamodb::Client::new(&sdk),
            secrets: aws_sdk_secretsmanager::Client::new(&sdk),
            http,
            sources,
            tag: format!("run-{}", now.format("%H%M%S%3f")),
            run_number,
            patience: Duration::from_secs(60),
            notes: Mutex::new(HashMap::new()),
            endpoints,
        })
    }

    pub fn remember(&self, key: &str, value: impl Into<String>) {
        if let Ok(mut notes) = self.notes.lock() {
            notes.insert(key.to_string(), value.into());
        }
    }

    pub fn recall(&self, key: &str) -> Option<String> {
        self.notes.lock().ok().and_then(|n| n.get(key).cloned())
    }

    /// The signing secret the sender of `source` was given (read from the stack's Secrets
    /// Manager under the name the sources configuration gives; never printed).
    pub async fn signing_secret(&self, source: &str) -> Result<String> {
        let secret_id = &self
            .sources
            .source(source)
            .with_context(|| {
                format!(
                    "source {source:?} is not in {}",
                    self.endpoints.sources_file.display()
                )
            })?
            .secret_id;
        self.secrets
            .get_secret_value()
            .secret_id(secret_id)
            .version_stage("AWSCURRENT")
            .send()
            .await
            .with_context(|| format!("reading signing secret {secret_id}"))?
            .secret_string
            .with_context(|| format!("secret {secret_id} has no string value"))
    }

    /// POSTs `body` to the webhook's Function URL for `source` with `headers`.
    pub async fn post_webhook(
        &self,
        source: &str,
        body: &[u8],
        headers: &[(&str, String)],
    ) -> Result<Answer> {
        let url = format!("{}/{source}", self.endpoints.webhook_url);
        let mut request = self
            .http
            .post(&url)
            .header("content-type", "application/json")
            .body(body.to_vec());
        for (name, value) in headers {
            request = request.header(*name, value);
        }
        let response = request
            .send()
            .await
            .with_context(|| format!("POST {url}"))?;
        let status = response.status().as_u16();
        let bytes = response
            .bytes()
            .await
            .with_context(|| format!("reading the answer of {url}"))?;
        let body = serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()));
        Ok(Answer { status, body })
    }

    /// A Toggl delivery signed with Toggl's scheme.
    pub async fn send_toggl(&self, body: &[u8]) -> Result<Answer> {
        let secret = self.signing_secret("toggl").await?;
        let signature = crate::sign::toggl_signature(&secret, body)?;
        self.post_webhook("toggl", body, &[("x-webhook-signature-256", signature)])
            .await
    }

    /// A CRM delivery signed with Standard Webhooks, timestamped now.
    pub async fn send_crm(&self, webhook_id: &str, body: &[u8]) -> Result<Answer> {
        let secret = self.signing_secret("crm").await?;
        let headers = crate::sign::standard_webhooks_headers(
            &secret,
            webhook_id,
            chrono::Utc::now().timestamp(),
            body,
        )?;
        self.post_webhook("crm", body, &headers).await
    }

    /// Polls `probe` every 250 ms until it returns `Some` or [`Ctx::patience`] ends.
    pub async fn wait_for<T, F, Fut>(&self, mut probe: F) -> Result<Option<T>>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<Option<T>>>,
    {
        let deadline = Instant::now() + self.patience;
        loop {
            if let Some(found) = probe().await? {
                return Ok(Some(found));
            }
            if Instant::now() >= deadline {
                return Ok(None);
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    /// Waits until the job queue is empty (nothing visible, in flight or delayed) on two
    /// polls in a row; false if it did not drain within [`Ctx::patience`].
    pub async fn queue_drained(&self) -> Result<bool> {
        let deadline = Instant::now() + self.patience;
        let mut empty_polls = 0;
        while Instant::now() < deadline {
            let depth = crate::pump::queue_depth(&self.sqs, &self.endpoints.job_queue_url).await?;
            empty_polls = if depth.is_empty() { empty_polls + 1 } else { 0 };
            if empty_polls >= 2 {
                return Ok(true);
            }
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
        Ok(false)
    }

    /// Items of the table whose key mentions `needle` (e.g. a webhook id): a delivery that got
    /// past verification leaves one.
    pub async fn table_items_mentioning(&self, needle: &str) -> Result<usize> {
        let out = self
            .dynamodb
            .scan()
            .table_name(&self.endpoints.table_name)
            .filter_expression("contains(pk, :needle)")
            .expression_attribute_values(
                ":needle",
                aws_sdk_dynamodb::types::AttributeValue::S(needle.to_string()),
            )
            .send()
            .await
            .with_context(|| format!("scanning {}", self.endpoints.table_name))?;
        Ok(out.items.unwrap_or_default().len())
    }

    /// The DLQ message of `job_id` (read with visibility 0, so it stays for `bridgectl dlq`).
    pub async fn dlq_message(&self, job_id: &str) -> Result<Option<aws_sdk_sqs::types::Message>> {
        for _ in 0..5 {
            let out = self
                .sqs
                .receive_message()
                .queue_url(&self.endpoints.dlq_url)
                .max_number_of_messages(10)
                .visibility_timeout(0)
                .message_attribute_names("All")
                .send()
                .await
                .with_context(|| format!("reading {}", self.endpoints.dlq_url))?;
            let messages = out.messages.unwrap_or_default();
            if messages.is_empty() {
                return Ok(None);
            }
            if let Some(found) = messages
                .into_iter()
                .find(|m| message_attribute(m, "job_id").as_deref() == Some(job_id))
            {
                return Ok(Some(found));
            }
        }
        Ok(None)
    }

    /// What the local receiver got (outbound deliveries), from its `GET /__received`.
    pub async fn received_deliveries(&self) -> Result<Vec<Value>> {
        let base = self.endpoints.receiver_url.trim_end_matches('/');
        let url = format!(
            "{}/__received",
            base.strip_suffix("/deliveries").unwrap_or(base)
        );
        let response = self
            .http
            .get(&url)
            .send()
            .await
            .with_context(|| format!("GET {url}"))?;
        let bytes = response
            .bytes()
            .await
            .with_context(|| format!("reading {url}"))?;
        match serde_json::from_slice(&bytes)
            .with_context(|| format!("{url} did not answer JSON"))?
        {
            Value::Array(items) => Ok(items),
            other => crate::bail!("{url} answered {other}, not a list"),
        }
    }

    /// The simulator's entity of `kind` whose member `field` satisfies `matches`.
    pub async fn find_entity(
        &self,
        kind: &str,
        matches: impl Fn(&Value) -> bool,
    ) -> Result<Option<(String, Value)>> {
        Ok(self
            .sim
            .entities(kind)
            .await?
            .into_iter()
            .find(|(_, entity)| matches(entity)))
    }
}

/// A String message attribute of a received message.
pub fn message_attribute(message: &aws_sdk_sqs::types::Message, name: &str) -> Option<String> {
    message
        .message_attributes
        .as_ref()
        .and_then(|a| a.get(name))
        .and_then(|v| v.string_value())
        .map(str::to_string)
}

/// A decimal member (`Quantity`) as f64, whether the state holds it as a number or a string.
pub fn number(value: &Value) -> Option<f64> {
    match value {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
}
