//! `bridgectl sync ack-schema`: acknowledges a change of Severa's entity schema version, so the
//! scheduled syncs paused by the schema guard run again. The logic is
//! [`bridge::sync::acknowledge_schema`]; this file reads arguments and renders the outcome.
//!
//! `bridgectl sync reconcile`: runs a sync's reconciliation here, through the scheduler's own
//! logic ([`bridge::sync::Scheduler::reconcile`]) and the stack's table, queue and secrets,
//! with a progress bar and a final table.

use crate::app::Outcome;
use crate::error::{EXIT_FAILURE, one_line};
use bridge::aws::{DynamoTable, SecretsManagerSource, SqsQueue};
use bridge::metrics::Metrics;
use bridge::ports::SyncStore;
use bridge::secrets::SecretCache;
use bridge::sync::config::SyncConfig;
use bridge::sync::reconcile::{ReconcileReport, ReconcileRequest};
use bridge::sync::{RunOutcome, Scheduler, SchedulerPorts, SchedulerSettings};
use bridge::worker::SeveraSettings;
use chrono::NaiveDate;
use clap::{Args, Subcommand};
use std::sync::Arc;
use std::time::Duration;

pub const SYNC_LONG_ABOUT: &str = "\
Operate the scheduled syncs (Severa → other software). AWS settings come from the usual AWS_*
variables, including AWS_ENDPOINT_URL for a local stack.";

const ACK_LONG_ABOUT: &str = "\
Acknowledge a change of Severa's entity schema version.

Every sync run calls GetEntitySchemaVersion. When the answer differs from the stored version,
the scheduler logs an error, emits the SchemaVersionChanged metric and (with
pause_on_schema_change, the default) pauses every sync. Check the integration against the new
entities, then:

  bridgectl sync ack-schema --table severa-bridge     # or TABLE_NAME

prints {\"result\":\"acknowledged\",\"schema_version\",\"previous_version\"} and the syncs run
again at their next schedule ({\"result\":\"not_paused\",…} when nothing waited).";

#[derive(Debug, Args)]
pub struct SyncArgs {
    #[command(subcommand)]
    pub command: SyncCommand,
}

#[derive(Debug, Subcommand)]
pub enum SyncCommand {
    /// Acknowledge a Severa schema version change; paused syncs run again.
    #[command(long_about = ACK_LONG_ABOUT)]
    AckSchema(AckSchemaArgs),
    /// Reconcile a sync: find deletions, silent edits and records never sent, and send them.
    #[command(long_about = RECONCILE_LONG_ABOUT)]
    Reconcile(ReconcileArgs),
}

const RECONCILE_LONG_ABOUT: &str = "\
Reconcile a sync now: read its window from Severa through the non-incremental operations,
compare it with the ledger of what the sync sent, and send `deleted` events for records gone,
`updated` events for records whose content changed without a new timestamp, and `created`
events for records never sent. Resumes a scheduled run in progress (without --from/--to).

  bridgectl sync reconcile hour-entries --from 2026-02-01 --to 2026-02-28 --dry-run

The environment is the scheduler function's: TABLE_NAME, JOB_QUEUE_URL, SEVERA_SECRET_ID,
SEVERA_ENDPOINT (optional), SYNCS_FILE or SYNCS_JSON. A progress bar (pages) goes to stderr,
the final table (records in Severa, sent and unchanged, changed, deleted, never sent) to stdout.
--dry-run sends nothing and changes neither the ledger nor a run's saved position.";

#[derive(Debug, Args)]
pub struct ReconcileArgs {
    /// The sync (a name in the sync configuration with a `reconcile` section).
    pub name: String,
    /// First day of the window (YYYY-MM-DD); default: `window_days` before --to.
    #[arg(long, value_name = "DATE")]
    pub from: Option<NaiveDate>,
    /// Last day of the window (YYYY-MM-DD); default: today (UTC).
    #[arg(long, value_name = "DATE")]
    pub to: Option<NaiveDate>,
    /// Read and compare only: send nothing, write nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// The DynamoDB table of the stack (the scheduler's TABLE_NAME).
    #[arg(long, env = "TABLE_NAME", value_name = "NAME")]
    pub table: String,
    /// The job queue the worker reads (the scheduler's JOB_QUEUE_URL).
    #[arg(long, env = "JOB_QUEUE_URL", value_name = "URL")]
    pub queue_url: String,
    /// Secrets Manager id of the Severa API key (the scheduler's SEVERA_SECRET_ID).
    #[arg(long, env = "SEVERA_SECRET_ID", value_name = "ID")]
    pub severa_secret_id: String,
    /// The Severa endpoint when the secret names none.
    #[arg(long, env = "SEVERA_ENDPOINT", value_name = "URL")]
    pub severa_endpoint: Option<String>,
}

#[derive(Debug, Args)]
pub struct AckSchemaArgs {
    /// The DynamoDB table of the stack (the scheduler's TABLE_NAME).
    #[arg(long, env = "TABLE_NAME", value_name = "NAME")]
    pub table: String,
}

pub async fn run(args: &SyncArgs) -> Outcome {
    match execute(args).await {
        Ok(stdout) => Outcome {
            stdout: Some(stdout),
            stderr: None,
            code: 0,
        },
        Err(message) => Outcome {
            stdout: None,
            stderr: Some(format!("bridgectl: {}", one_line(&message))),
            code: EXIT_FAILURE,
        },
    }
}

async fn execute(args: &SyncArgs) -> Result<String, String> {
    let ack = match &args.command {
        SyncCommand::AckSchema(ack) => ack,
        SyncCommand::Reconcile(r) => return reconcile(r).await,
    };
    let table = ack.table.trim();
    if table.is_empty() {
        return Err("--table (or TABLE_NAME) is empty".into());
    }
    let sdk = bridge::aws::config::load().await;
    let store = DynamoTable::from_config(&sdk, table);
    ack_schema(&store).await
}

async fn reconcile(args: &ReconcileArgs) -> Result<String, String> {
    let syncs =
        SyncConfig::from_vars(|name| std::env::var(name).ok()).map_err(|e| e.to_string())?;
    let sdk = bridge::aws::config::load().await;
    let table = DynamoTable::from_config(&sdk, args.table.trim());
    let endpoint = match args.severa_endpoint.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(value) => Some(crate::endpoint::resolve(value)?),
    };
    let scheduler = Scheduler::new(
        Arc::new(syncs),
        SchedulerPorts {
            jobs: Arc::new(SqsQueue::from_config(&sdk, args.queue_url.trim())),
            store: Arc::new(table.clone()),
            ledger: Arc::new(table),
            secrets: Arc::new(SecretCache::new(
                Arc::new(SecretsManagerSource::from_config(&sdk)),
                bridge::secrets::DEFAULT_TTL,
            )),
        },
        SeveraSettings {
            secret_id: args.severa_secret_id.clone(),
            endpoint,
            config: severa::SeveraConfig {
                connect_timeout: Duration::from_secs(5),
                timeout: Duration::from_secs(120),
                ..Default::default()
            },
        },
        SchedulerSettings {
            // A shell's stdout reaches no CloudWatch Logs: an EMF line (ReconcileDrift) there
            // is no metric, only noise before the table, which has the counts.
            metrics: Metrics::with_sink("scheduler", Arc::new(|_: &str| {})),
            ..Default::default()
        },
    );
    let request = ReconcileRequest {
        from: args.from,
        to: args.to,
        dry_run: args.dry_run,
        max_pages: None,
    };
    let report = reconcile_with(&scheduler, &args.name, &request).await?;
    Ok(render_table(&report))
}

/// Runs invocations until the run completes or cannot go on (busy, paused, deferred), with a
/// progress bar of pages on stderr. A dry run keeps no position, so it reads every page in one.
pub async fn reconcile_with(
    scheduler: &Scheduler,
    sync: &str,
    request: &ReconcileRequest,
) -> Result<ReconcileReport, String> {
    let bar =
        indicatif::ProgressBar::with_draw_target(Some(0), indicatif::ProgressDrawTarget::stderr());
    if let Ok(style) =
        indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} pages reconciled {msg}")
    {
        bar.set_style(style);
    }
    let mut request = request.clone();
    if request.dry_run {
        request.max_pages = Some(usize::MAX);
    }
    let run_id = format!("bridgectl-{}", uuid::Uuid::new_v4());
    let on_page = |p: &bridge::sync::reconcile::Progress| {
        bar.set_length(p.pages_total as u64);
        bar.set_position(p.pages_done as u64);
        bar.set_message(format!("({} differ)", p.drift.total()));
    };
    loop {
        let report = scheduler
            .reconcile(sync, &run_id, &request, &on_page)
            .await
            .map_err(|e| e.to_string())?;
        if report.run.outcome != RunOutcome::InProgress {
            bar.finish_and_clear();
            return Ok(report);
        }
        // Resume the saved position (the window is in it now).
        request.from = None;
        request.to = None;
    }
}

/// The final table.
pub fn render_table(report: &ReconcileReport) -> String {
    let mut out = format!(
        "sync {}: {}{}\n",
        report.run.sync,
        report.run.outcome.as_str(),
        if report.dry_run {
            " (dry run: nothing sent)"
        } else {
            ""
        }
    );
    out.push_str(&format!("{}\n", report.run.message));
    if let Some(p) = &report.progress {
        let window = match (p.from, p.to) {
            (Some(from), Some(to)) => format!("{from} .. {to}"),
            _ => "all records".to_string(),
        };
        let d = &p.drift;
        for (label, value) in [
            ("window", window),
            ("pages", format!("{}/{}", p.pages_done, p.pages_total)),
            ("records in Severa", d.in_severa.to_string()),
            ("sent and unchanged", d.unchanged.to_string()),
            ("changed", d.changed.to_string()),
            ("deleted", d.deleted.to_string()),
            ("never sent", d.never_sent.to_string()),
            ("events enqueued", report.run.records_enqueued.to_string()),
        ] {
            out.push_str(&format!("{label:<20} {value:>12}\n"));
        }
    }
    out.trim_end().to_string()
}

/// Acknowledges through `store` and renders the result line.
pub async fn ack_schema(store: &dyn SyncStore) -> Result<String, String> {
    let before = bridge::sync::acknowledge_schema(store)
        .await
        .map_err(|e| e.to_string())?;
    let json = match before {
        None => serde_json::json!({
            "result": "not_paused",
            "reason": "no schema version stored yet: no sync has run",
        }),
        Some(state) if !state.paused => serde_json::json!({
            "result": "not_paused",
            "schema_version": state.version,
        }),
        Some(state) => serde_json::json!({
            "result": "acknowledged",
            "schema_version": state.version,
            "previous_version": state.previous,
        }),
    };
    Ok(json.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use bridge::sync::RunReport;
    use bridge::sync::reconcile::{Drift, Progress};

    #[test]
    fn the_final_table_names_every_count() {
        let report = ReconcileReport {
            run: RunReport::new("hours", RunOutcome::Completed, "reconciled"),
            dry_run: true,
            progress: Some(Progress {
                run_id: "r".into(),
                started_at: chrono::Utc::now(),
                from: NaiveDate::from_ymd_opt(2026, 2, 1),
                to: NaiveDate::from_ymd_opt(2026, 2, 28),
                next: None,
                pages_done: 4,
                pages_total: 4,
                invocations: 1,
                drift: Drift {
                    in_severa: 120,
                    unchanged: 110,
                    changed: 3,
                    deleted: 2,
                    never_sent: 5,
                    moved: 0,
                },
            }),
            estimated_calls: 5,
        };
        let table = render_table(&report);
        assert!(table.contains("(dry run: nothing sent)"), "{table}");
        for (label, value) in [
            ("records in Severa", "120"),
            ("sent and unchanged", "110"),
            ("changed", "3"),
            ("deleted", "2"),
            ("never sent", "5"),
            ("window", "2026-02-01 .. 2026-02-28"),
        ] {
            let line = table
                .lines()
                .find(|l| l.starts_with(label))
                .unwrap_or_else(|| panic!("{label}: {table}"));
            assert!(line.trim_end().ends_with(value), "{line}");
        }
    }
}
