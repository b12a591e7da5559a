//! `bridgectl config check FILE`: validates a webhook sources file (`{"sources": …}`) or a
//! sync definitions file (`{"syncs": …}`) with the same code the functions run at start, so a
//! bad key is found before a deploy instead of in an init error.

use crate::app::Outcome;
use crate::error::{EXIT_FAILURE, one_line};
use clap::{Args, Subcommand};
use serde_json::json;
use std::path::PathBuf;

#[derive(Debug, Args)]
pub struct ConfigArgs {
    #[command(subcommand)]
    pub command: ConfigCommand,
}

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Validate a sources (webhook) or syncs (scheduler) configuration file.
    Check {
        /// The JSON file, e.g. examples/sources.json or examples/syncs.json.
        file: PathBuf,
    },
}

pub fn run(args: &ConfigArgs) -> Outcome {
    let ConfigCommand::Check { file } = &args.command;
    let fail = |message: String| Outcome {
        stdout: None,
        stderr: Some(format!("bridgectl: {}", one_line(&message))),
        code: EXIT_FAILURE,
    };
    let text = match std::fs::read_to_string(file) {
        Ok(text) => text,
        Err(e) => return fail(format!("{}: {e}", file.display())),
    };
    let top: serde_json::Value = match serde_json::from_str(&text) {
        Ok(value) => value,
        Err(e) => return fail(format!("{}: not JSON: {e}", file.display())),
    };
    let summary = if top.get("sources").is_some() {
        match bridge::webhook::config::Config::from_json(&text) {
            Ok(config) => json!({
                "result": "valid",
                "kind": "sources",
                "sources": config.sources.keys().collect::<Vec<_>>(),
            }),
            Err(e) => return fail(format!("{}: {e}", file.display())),
        }
    } else if top.get("syncs").is_some() {
        match bridge::sync::config::SyncConfig::from_json(&text) {
            Ok(config) => json!({
                "result": "valid",
                "kind": "syncs",
                "syncs": config.syncs.keys().collect::<Vec<_>>(),
            }),
            Err(e) => return fail(format!("{}: {e}", file.display())),
        }
    } else {
        return fail(format!(
            "{}: neither a sources file (top-level \"sources\") nor a syncs file (top-level \"syncs\")",
            file.display()
        ));
    };
    Outcome {
        stdout: Some(serde_json::to_string_pretty(&summary).unwrap_or_default()),
        stderr: None,
        code: 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(path: &str) -> Outcome {
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
        run(&ConfigArgs {
            command: ConfigCommand::Check {
                file: root.join(path),
            },
        })
    }

    #[test]
    fn the_shipped_examples_are_valid() {
        for (path, kind) in [
            ("examples/sources.json", "sources"),
            ("examples/syncs.json", "syncs"),
        ] {
            let out = check(path);
            assert_eq!(out.code, 0, "{path}: {:?}", out.stderr);
            let json: serde_json::Value = serde_json::from_str(&out.stdout.unwrap()).unwrap();
            assert_eq!(json["kind"], kind);
        }
    }

    #[test]
    fn a_bad_file_names_the_key() {
        let dir = std::env::temp_dir().join(format!("config-check-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("syncs.json");
        let frequent = std::fs::read_to_string(
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../examples/syncs.json"),
        )
        .unwrap()
        .replace("cron(0 4 * * ? *)", "rate(5 minutes)");
        std::fs::write(&file, frequent).unwrap();
        let out = run(&ConfigArgs {
            command: ConfigCommand::Check { file: file.clone() },
        });
        assert_eq!(out.code, 1);
        let err = out.stderr.unwrap();
        assert!(err.contains("syncs.accounts.schedule"), "{err}");
        std::fs::write(&file, "{\"other\": 1}").unwrap();
        let out = run(&ConfigArgs {
            command: ConfigCommand::Check { file },
        });
        assert!(out.stderr.unwrap().contains("neither a sources file"));
    }

    #[test]
    fn a_sources_file_checks_allow_lists_and_time_zones() {
        let dir = std::env::temp_dir().join(format!("config-check-src-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("sources.json");
        let example = std::fs::read_to_string(
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../examples/sources.json"),
        )
        .unwrap();
        for (from, to, key) in [
            (
                "\"contact.upsert\"",
                "\"user.deactivate\", \"payroll.run\"",
                "sources.crm.allow.kinds[2]",
            ),
            (
                "\"allow\": {\"kinds\"",
                "\"allowed\": {\"kinds\"",
                "sources.crm.allowed",
            ),
            (
                "Europe/Helsinki",
                "Europe/Helsingfors",
                "sources.toggl.toggl.time_zone",
            ),
            (
                "\"max_event_age_hours\": 12",
                "\"max_event_age_hours\": 48",
                "sources.toggl.toggl.max_event_age_hours",
            ),
        ] {
            assert!(example.contains(from), "{from}");
            std::fs::write(&file, example.replace(from, to)).unwrap();
            let out = run(&ConfigArgs {
                command: ConfigCommand::Check { file: file.clone() },
            });
            assert_eq!(out.code, 1, "{to}");
            let err = out.stderr.unwrap();
            assert!(err.contains(key), "{key}: {err}");
        }
    }
}
