//! Runs a parsed invocation to an [`Outcome`] (what goes to stdout, stderr, and the exit code)
//! without touching the process, so every path is testable in-process.

use crate::args::{Command, Invocation, SeveraArgs, SeveraCommand};
use crate::contract_check::Refusals;
use crate::error::{CliError, one_line};
use crate::{call, ops, ping};
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
    let mut warnings = Vec::new();
    let result = execute(invocation, env, &mut warnings).await;
    // Warnings (what --force overrode) come first on stderr, before the usual error line.
    let mut stderr: Vec<String> = warnings.iter().map(|w| redactor.apply(w)).collect();
    match result {
        Ok(stdout) => Outcome {
            stdout: Some(redactor.apply(&stdout)),
            stderr: (!stderr.is_empty()).then(|| stderr.join("\n")),
            code: 0,
        },
        Err(err) => {
            stderr.push(redactor.apply(&err.render()));
            Outcome {
                stdout: None,
                stderr: Some(stderr.join("\n")),
                code: err.exit_code(),
            }
        }
    }
}

/// Runs a `severa` command; `warnings` collects one-line notes for stderr.
async fn execute(
    invocation: Invocation,
    env: &Env,
    warnings: &mut Vec<String>,
) -> Result<String, CliError> {
    let Command::Severa(severa) = invocation.cli.command else {
        return Err(CliError::Usage(
            "only `bridgectl severa` runs through execute".into(),
        ));
    };
    match &severa.command {
        SeveraCommand::Call(args) => {
            let (target, mut refusals) = call::resolve_target(&args.operation)?;
            let prepared =
                call::build_params(&target, &invocation.call_params, &call::read_param_file)?;
            refusals.extend(prepared.refusals);
            if !refusals.is_empty() {
                let refusals = Refusals(refusals);
                if !args.force {
                    return Err(CliError::Refused(refusals));
                }
                warnings.push(format!(
                    "bridgectl: warning: --force: sending although {}",
                    one_line(&refusals.to_string())
                ));
            }
            let client = build_client(&severa, env)?;
            let json = call::run(&client, &target, prepared.params).await?;
            Ok(pretty(&json))
        }
        SeveraCommand::Ops(args) => match &args.type_name {
            Some(name) => ops::describe_type(name, args.json),
            None => ops::list(args.filter.as_deref(), args.json),
        },
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

pub(crate) fn pretty(json: &serde_json::Value) -> String {
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

    #[tokio::test]
    async fn contract_refusals_come_before_the_key_and_any_call() {
        let argv = [
            "bridgectl",
            "severa",
            "call",
            "GetUserByCode",
            "--param",
            "code=AA",
            "--endpoint",
            "http://127.0.0.1:9/",
        ];
        let out = run(parse_from(argv).unwrap(), &Env::default()).await;
        assert_eq!(out.code, 1);
        assert_eq!(out.stdout, None);
        let stderr = out.stderr.unwrap();
        assert_eq!(
            stderr,
            "bridgectl: GetUserByCode takes userCode (string); unknown parameter 'code'; not sent (--force sends it anyway)"
        );

        // --force: the warning first, then whatever stops the call (here: no key).
        let forced = argv.iter().copied().chain(["--force"]);
        let out = run(parse_from(forced).unwrap(), &Env::default()).await;
        assert_eq!(out.code, 1);
        let stderr = out.stderr.unwrap();
        let lines: Vec<&str> = stderr.lines().collect();
        assert_eq!(lines.len(), 2, "{stderr}");
        assert_eq!(
            lines[0],
            "bridgectl: warning: --force: sending although GetUserByCode takes userCode (string); unknown parameter 'code'"
        );
        assert!(lines[1].contains("SEVERA_API_KEY is not set"), "{stderr}");
    }

    #[tokio::test]
    async fn ops_needs_no_key() {
        let inv = parse_from(["bridgectl", "severa", "ops", "GetUserByCode"]).unwrap();
        let out = run(inv, &Env::default()).await;
        assert_eq!(out.code, 0, "{:?}", out.stderr);
        assert_eq!(
            out.stdout.as_deref(),
            Some("IUser.GetUserByCode(userCode: string) -> User")
        );
        assert_eq!(out.stderr, None);
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
