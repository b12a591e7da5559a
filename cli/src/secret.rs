//! `bridgectl secret rotate`: puts a new Severa API key into the key secret without a redeploy.
//!
//! The key comes from stdin only (argv is visible in `ps`), is tested against Severa before
//! anything is staged, is staged as `AWSPENDING` under a fresh version id in the shape of the
//! current value (JSON keeps its endpoint), and is then rotated:
//! - a rotation function is attached to the secret (deployed stacks): `RotateSecret` starts
//!   it, and the command polls the secret's labels until the version is `AWSCURRENT`;
//! - none attached (the local stack on moto, which has no Lambda), or `--in-process`: the same
//!   four steps run here through the rotation function's own code.
//!
//! The logic lives in [`bridge::rotation::Operator`]; this file reads arguments and stdin and
//! renders the outcome.

use crate::app::{Outcome, Redactor};
use crate::error::{EXIT_FAILURE, EXIT_FAULT, one_line};
use bridge::aws::SecretsManagerVersions;
use bridge::rotation::{KeyCheck, Operator, OperatorError};
use clap::{Args, Subcommand};
use severa::{ApiKey, SeveraConfig};
use std::io::{BufRead, IsTerminal, Read};
use std::sync::Arc;
use std::time::Duration;

pub const SECRET_LONG_ABOUT: &str = "\
Manage the Severa API key secret in AWS Secrets Manager (AWS settings from the usual AWS_*
variables, including AWS_ENDPOINT_URL for a local stack).";

const ROTATE_LONG_ABOUT: &str = "\
Rotate the Severa API key secret to a new key read from stdin.

Severa keys are made by a person: in Severa, open the API user's profile → SOAP API → create
(or regenerate) the API key, copy it, then:

  bridgectl secret rotate --secret-id severa/api-key < new-key.txt
  pbpaste | bridgectl secret rotate              # secret id from SEVERA_SECRET_ID

The key is never taken from the command line. The command
  1. tests the key with one authenticated Severa call (GetEntitySchemaVersion) at the
     endpoint of the current secret value (or --endpoint / SEVERA_ENDPOINT); a key Severa
     rejects is not staged (exit 2);
  2. stages it as AWSPENDING under a new version id, in the shape of the current value
     (plain key, or JSON {\"api_key\", \"endpoint\"} keeping the endpoint);
  3. rotates: when a rotation function is attached to the secret, RotateSecret starts it and
     the command waits (--wait) until the new version is AWSCURRENT; when none is attached
     (local stack on moto) or with --in-process, the four rotation steps run in this process
     with the rotation function's code;
  4. prints {\"result\":\"rotated\",\"secret_id\",\"version_id\",\"previous_version_id\",\"mode\",
     \"endpoint\"}.
Workers pick the new key up within the secret cache's TTL (5 minutes) or at their first
authentication failure, whichever comes first.

With --check the key is only tested: prints {\"result\":\"accepted\",\"endpoint\",
\"entity_schema_version\"} and stages nothing.";

const ROTATE_EXIT_CODES: &str = "\
Exit codes:
  0  rotated (or, with --check, accepted); the result is on stdout
  1  usage, configuration, AWS or transport failure, or the rotation did not finish in time;
     stderr gets one line `bridgectl: <reason>`
  2  Severa rejected the key; stderr gets one line of JSON:
     {\"error\":\"AuthenticationFailureException\",\"message\":\"...\",\"retryable\":false}";

/// Stdin larger than this is not a key.
const MAX_STDIN_BYTES: u64 = 64 * 1024;

#[derive(Debug, Args)]
pub struct SecretArgs {
    #[command(subcommand)]
    pub command: SecretCommand,
}

#[derive(Debug, Subcommand)]
pub enum SecretCommand {
    /// Stage a new Severa API key (from stdin) and rotate the key secret to it.
    #[command(long_about = ROTATE_LONG_ABOUT, after_help = ROTATE_EXIT_CODES)]
    Rotate(RotateArgs),
}

#[derive(Debug, Args)]
pub struct RotateArgs {
    /// Secrets Manager id (name or ARN) of the Severa key secret.
    #[arg(long, env = "SEVERA_SECRET_ID", value_name = "ID")]
    pub secret_id: Option<String>,

    /// Only test the key from stdin against Severa; stage nothing.
    #[arg(long)]
    pub check: bool,

    /// Severa endpoint for the key test: production, test or a URL (default: the secret's
    /// endpoint, else production).
    #[arg(
        long,
        env = "SEVERA_ENDPOINT",
        value_name = "NAME|URL",
        value_parser = crate::endpoint::resolve
    )]
    pub endpoint: Option<String>,

    /// Run the four rotation steps here even when a rotation function is attached.
    #[arg(long, conflicts_with = "check")]
    pub in_process: bool,

    /// Seconds to wait for the rotation function to make the new key AWSCURRENT.
    #[arg(
        long,
        value_name = "SECS",
        default_value_t = 300,
        value_parser = clap::value_parser!(u64).range(1..=3600)
    )]
    pub wait: u64,

    /// Whole-call timeout of the Severa key test, in seconds.
    #[arg(
        long,
        value_name = "SECS",
        default_value_t = 30,
        value_parser = clap::value_parser!(u64).range(1..=900)
    )]
    pub timeout: u64,
}

/// Why `bridgectl secret` failed.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    /// Arguments or stdin are wrong.
    #[error("{0}")]
    Usage(String),
    /// Boxed: it is large and every `Result` here would carry its size.
    #[error(transparent)]
    Operator(Box<OperatorError>),
}

impl From<OperatorError> for SecretError {
    fn from(err: OperatorError) -> Self {
        Self::Operator(Box::new(err))
    }
}

impl SecretError {
    pub fn exit_code(&self) -> u8 {
        match self {
            Self::Operator(e) if e.is_key_rejection() => EXIT_FAULT,
            _ => EXIT_FAILURE,
        }
    }

    /// JSON when Severa rejected the key (like a SOAP fault), `bridgectl: <reason>` otherwise.
    pub fn render(&self) -> String {
        match self {
            Self::Operator(e) if e.is_key_rejection() => serde_json::json!({
                "error": "AuthenticationFailureException",
                "message": one_line(&e.to_string()),
                "retryable": false,
            })
            .to_string(),
            other => format!("bridgectl: {}", one_line(&other.to_string())),
        }
    }
}

/// Runs `bridgectl secret …`; `read_stdin` supplies the key (the process's stdin in `main`).
pub async fn run(args: &SecretArgs, read_stdin: &dyn Fn() -> std::io::Result<String>) -> Outcome {
    let SecretCommand::Rotate(rotate) = &args.command;
    let input = read_stdin();
    let redactor = Redactor::new(input.as_deref().ok().map(str::trim));
    let result = match input {
        Ok(text) => match parse_key(&text) {
            Ok(key) => execute(rotate, key).await,
            Err(e) => Err(e),
        },
        Err(e) => Err(SecretError::Usage(format!(
            "cannot read the key from stdin: {e}"
        ))),
    };
    match result {
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

/// The process's stdin: one line when a person types at a terminal (with a prompt on
/// stderr), everything up to EOF when piped.
pub fn read_process_stdin() -> std::io::Result<String> {
    let stdin = std::io::stdin();
    let mut text = String::new();
    if stdin.is_terminal() {
        eprint!("New Severa API key (input is visible; end with Enter): ");
        stdin.lock().read_line(&mut text)?;
    } else {
        stdin
            .lock()
            .take(MAX_STDIN_BYTES)
            .read_to_string(&mut text)?;
    }
    Ok(text)
}

/// The key as pasted: surrounding whitespace ignored; anything that cannot be a key refused
/// (without echoing it).
pub fn parse_key(text: &str) -> Result<ApiKey, SecretError> {
    let key = text.trim();
    if key.is_empty() {
        return Err(SecretError::Usage(
            "no key on stdin: pipe the new Severa API key in (`bridgectl secret rotate < key.txt`) \
             or paste it when asked"
                .into(),
        ));
    }
    if key.starts_with('{') {
        return Err(SecretError::Usage(
            "stdin takes the plain key, not JSON: the endpoint is kept from the current secret \
             value"
                .into(),
        ));
    }
    if key.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(SecretError::Usage(
            "stdin must hold only the key (one line, no spaces); nothing was staged".into(),
        ));
    }
    Ok(ApiKey::new(key))
}

async fn execute(args: &RotateArgs, key: ApiKey) -> Result<String, SecretError> {
    let secret_id = args
        .secret_id
        .as_deref()
        .map(str::trim)
        .filter(|id| !id.is_empty());
    let endpoint = args
        .endpoint
        .as_deref()
        .map(str::trim)
        .filter(|e| !e.is_empty());
    if let Some(endpoint) = endpoint {
        if !(endpoint.starts_with("https://") || endpoint.starts_with("http://")) {
            return Err(SecretError::Usage(format!(
                "--endpoint/SEVERA_ENDPOINT is {endpoint:?}; expected an http(s) URL"
            )));
        }
    }
    let timeout = Duration::from_secs(args.timeout);
    let check = KeyCheck::new(
        endpoint.map(str::to_string),
        SeveraConfig {
            timeout,
            connect_timeout: timeout.min(SeveraConfig::default().connect_timeout),
            ..SeveraConfig::default()
        },
    );
    let sdk = bridge::aws::config::load().await;
    let operator = Operator::new(Arc::new(SecretsManagerVersions::from_config(&sdk)), check);

    if args.check {
        // With an explicit endpoint the secret is not needed (and not read).
        let secret_for_endpoint = secret_id.filter(|_| endpoint.is_none());
        let accepted = operator.check_key(secret_for_endpoint, key).await?;
        return Ok(pretty(&serde_json::json!({
            "result": "accepted",
            "endpoint": accepted.endpoint,
            "entity_schema_version": accepted.entity_schema_version,
        })));
    }

    let Some(secret_id) = secret_id else {
        return Err(SecretError::Usage(
            "no secret given: pass --secret-id ID or set SEVERA_SECRET_ID".into(),
        ));
    };
    let version_id = uuid::Uuid::new_v4().to_string();
    let report = operator
        .rotate(
            secret_id,
            key,
            &version_id,
            args.in_process,
            Duration::from_secs(args.wait),
        )
        .await?;
    Ok(pretty(&serde_json::json!({
        "result": "rotated",
        "secret_id": report.secret_id,
        "version_id": report.version_id,
        "previous_version_id": report.previous_version_id,
        "mode": report.mode.name(),
        "endpoint": report.endpoint,
    })))
}

fn pretty(json: &serde_json::Value) -> String {
    serde_json::to_string_pretty(json).unwrap_or_else(|_| json.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::args::{Command, parse_from};

    #[test]
    fn stdin_must_hold_just_a_key() {
        assert_eq!(parse_key("  abc-123\n").unwrap().expose(), "abc-123");
        for bad in ["", " \n ", "two words", "{\"api_key\":\"x\"}", "a\nb"] {
            let err = parse_key(bad).unwrap_err();
            assert_eq!(err.exit_code(), 1);
            assert!(err.render().starts_with("bridgectl: "), "{}", err.render());
        }
        let err = parse_key("secret-part other-part").unwrap_err().render();
        assert!(!err.contains("secret-part"), "{err}");
    }

    #[test]
    fn grammar() {
        let inv = parse_from([
            "bridgectl",
            "secret",
            "rotate",
            "--secret-id",
            "severa/api-key",
            "--wait",
            "60",
        ])
        .map_err(|e| e.to_string())
        .unwrap();
        let Command::Secret(secret) = inv.cli.command else {
            panic!("not a secret command");
        };
        let SecretCommand::Rotate(rotate) = secret.command;
        assert_eq!(rotate.secret_id.as_deref(), Some("severa/api-key"));
        assert_eq!(rotate.wait, 60);
        assert!(!rotate.check && !rotate.in_process);
        assert!(parse_from(["bridgectl", "secret", "rotate", "--check", "--in-process"]).is_err());
        assert!(parse_from(["bridgectl", "secret", "rotate", "--key", "x"]).is_err());
    }

    #[tokio::test]
    async fn empty_stdin_fails_before_any_call() {
        let inv = parse_from(["bridgectl", "secret", "rotate", "--secret-id", "s"]).unwrap();
        let Command::Secret(secret) = inv.cli.command else {
            panic!("not a secret command");
        };
        let out = run(&secret, &|| Ok("\n".to_string())).await;
        assert_eq!(out.code, 1);
        assert!(out.stderr.unwrap().contains("no key on stdin"));
    }
}
