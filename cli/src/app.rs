//! Runs a parsed invocation to an [`Outcome`] (what goes to stdout, stderr, and the exit code)
//! without touching the process, so every path is testable in-process.

use crate::args::{Command, Invocation, SeveraArgs, SeveraCommand};
use crate::error::CliError;
use crate::{call, ping};
use severa::{ApiKey, SeveraClient, SeveraConfig};
use std::ffi::{OsStr, OsString};
use std::time::Duration;

/// The environment variable holding the key. Only the environment: argv is visible in `ps`.
pub const API_KEY_VAR: &str = "SEVERA_API_KEY";

/// What the command needs from the process environment besides argv.
#[derive(Debug, Default, Clone)]
pub struct Env {
    pub api_key: Option<OsString>,
}

impl Env {
    pub fn from_process() -> Self {
        Self {
            api_key: std::env::var_os(API_KEY_VAR),
        }
    }
}

/// What to print and how to exit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub stdout: Option<String>,
    pub stderr: Option<String>,
    pub code: u8,
}

pub async fn run(invocation: Invocation, env: &Env) -> Outcome {
    // Commands with their own input, errors and redaction; `severa` is handled below.
    match &invocation.cli.command {
        Command::Secret(args) => {
            return crate::secret::run(args, &crate::secret::read_process_stdin).await;
        }
        Command::Sync(args) => return crate::sync::run(args).await,
        Command::Dlq(args) => return crate::dlq::run(args).await,
        Command::Replay(args) => return crate::dlq::replay(args).await,
        Command::Config(args) => return crate::config_check::run(args),
        Command::Severa(_) => {}
    }
    let key = env
        .api_key
        .as_deref()
        .and_then(OsStr::to_str)
        .map(str::trim);
    let redactor = Redactor::new(key);
    match execute(invocation, env).await {
        Ok(stdout) => Outcome {
            stdout: Some(redactor.apply(&stdout)),
            stderr: None,
            code: 0,
        },
        Err(err) => Outcome {
            stdout: None,
            stderr: Some(redactor.apply(&err.render())),
            code: err.exit_code(),
        },
    }
}

async fn execute(invocation: Invocation, env: &Env) -> Result<String, CliError> {
    let Command::Severa(severa) = invocation.cli.command else {
        return Err(CliError::Usage(
            "only `bridgectl severa` runs through execute".into(),
        ));
    };
    match &severa.command {
        SeveraCommand::Call(args) => {
            let target = call::resolve_target(&args.operation)?;
            let params =
                call::build_params(&target, &invocation.call_params, &call::read_param_file)?;
            let client = build_client(&severa, env)?;
            let json = call::run(&client, &target, params).await?;
            Ok(pretty(&json))
        }
        SeveraCommand::Ping(args) => {
            let client = build_client(&severa, env)?;
            let report = ping::run(&client).await?;
            Ok(if args.text {
                report.to_text()
            } else {
                pretty(&report.to_json())
            })
        }
    }
}

fn pretty(json: &serde_json::Value) -> String {
    serde_json::to_string_pretty(json).unwrap_or_else(|_| json.to_string())
}

/// The key from the environment, with a reason an operator can act on when it is unusable.
pub fn read_api_key(value: Option<&OsStr>) -> Result<ApiKey, CliError> {
    let Some(value) = value else {
        return Err(CliError::Config(format!(
            "{API_KEY_VAR} is not set; export the Severa API user's key (it is never taken as a flag)"
        )));
    };
    let Some(text) = value.to_str() else {
        return Err(CliError::Config(format!(
            "{API_KEY_VAR} is not valid UTF-8"
        )));
    };
    let text = text.trim();
    if text.is_empty() {
        return Err(CliError::Config(format!(
            "{API_KEY_VAR} is empty; export the Severa API user's key"
        )));
    }
    Ok(ApiKey::new(text))
}

/// Builds the client from `--endpoint`/`SEVERA_ENDPOINT`, `--timeout` and the key.
pub fn build_client(args: &SeveraArgs, env: &Env) -> Result<SeveraClient, CliError> {
    let key = read_api_key(env.api_key.as_deref())?;
    let timeout = Duration::from_secs(args.timeout);
    let config = SeveraConfig {
        timeout,
        connect_timeout: timeout.min(SeveraConfig::default().connect_timeout),
        ..SeveraConfig::with_endpoint(args.endpoint.trim())
    };
    SeveraClient::new(config, key).map_err(|e| CliError::Config(e.to_string()))
}

/// Last line of defence: whatever a server echoes back, the key is not printed.
pub(crate) struct Redactor {
    needles: Vec<String>,
}

impl Redactor {
    /// Keys shorter than this are not redacted (it would mangle ordinary output); real Severa
    /// keys are far longer.
    const MIN_LEN: usize = 6;

    pub(crate) fn new(key: Option<&str>) -> Self {
        let mut needles = Vec::new();
        if let Some(key) = key.filter(|k| k.len() >= Self::MIN_LEN) {
            needles.push(key.to_string());
            if let Ok(quoted) = serde_json::to_string(key) {
                let escaped = quoted.trim_matches('"').to_string();
                if escaped != key {
                    needles.push(escaped);
                }
            }
        }
        Self { needles }
    }

    pub(crate) fn apply(&self, text: &str) -> String {
        self.needles.iter().fold(text.to_string(), |acc, needle| {
            acc.replace(needle, "<redacted>")
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::args::parse_from;

    #[test]
    fn missing_or_empty_key_is_a_config_error() {
        for value in [None, Some(OsStr::new("  "))] {
            let err = read_api_key(value).unwrap_err();
            assert_eq!(err.exit_code(), 1);
            assert!(err.render().starts_with("bridgectl: SEVERA_API_KEY is"));
        }
        assert_eq!(
            read_api_key(Some(OsStr::new(" k1234567 \n")))
                .unwrap()
                .expose(),
            "k1234567"
        );
    }

    #[tokio::test]
    async fn missing_key_fails_before_any_call() {
        let inv = parse_from([
            "bridgectl",
            "severa",
            "ping",
            "--endpoint",
            "http://127.0.0.1:9/",
        ])
        .unwrap();
        let out = run(inv, &Env::default()).await;
        assert_eq!(out.code, 1);
        assert_eq!(out.stdout, None);
        assert!(out.stderr.unwrap().contains("SEVERA_API_KEY is not set"));
    }

    #[tokio::test]
    async fn bad_endpoint_is_a_config_error() {
        let inv = parse_from(["bridgectl", "severa", "ping", "--endpoint", "ftp://x/"]).unwrap();
        let env = Env {
            api_key: Some("secret-key-1".into()),
        };
        let out = run(inv, &env).await;
        assert_eq!(out.code, 1);
        assert!(out.stderr.unwrap().contains("must be http or https"));
    }

    #[test]
    fn redaction_covers_raw_and_json_escaped_forms() {
        let r = Redactor::new(Some("ab\"cdef"));
        assert_eq!(
            r.apply("x ab\"cdef y ab\\\"cdef"),
            "x <redacted> y <redacted>"
        );
        assert_eq!(Redactor::new(Some("abc")).apply("abc"), "abc");
    }
}
