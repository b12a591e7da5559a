//! `bridgectl sync ack-schema`: acknowledges a change of Severa's entity schema version, so the
//! scheduled syncs paused by the schema guard run again. The logic is
//! [`bridge::sync::acknowledge_schema`]; this file reads arguments and renders the outcome.

use crate::app::Outcome;
use crate::error::{EXIT_FAILURE, one_line};
use bridge::aws::DynamoTable;
use bridge::ports::SyncStore;
use clap::{Args, Subcommand};

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
    let SyncCommand::AckSchema(ack) = &args.command;
    let table = ack.table.trim();
    if table.is_empty() {
        return Err("--table (or TABLE_NAME) is empty".into());
    }
    let sdk = bridge::aws::config::load().await;
    let store = DynamoTable::from_config(&sdk, table);
    ack_schema(&store).await
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
