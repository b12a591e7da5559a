//! Command-line grammar (clap derive) and the one thing derive cannot give: the order of the
//! `--param*` flags across their three kinds, which is the order parameters go on the wire.

use clap::{ArgAction, ArgMatches, Args, CommandFactory, FromArgMatches, Parser, Subcommand};
use std::ffi::OsString;

const ABOUT: &str = "Operator CLI for severa-bridge (Visma Severa SOAP API integration).";

const LONG_ABOUT: &str = "\
Operator CLI for severa-bridge, the serverless integration with Visma Severa's SOAP API.

Severa settings come from the environment:
  SEVERA_API_KEY   the API key of the Severa API user (required; never accepted as a flag,
                   because command lines are visible to other users in `ps`)
  SEVERA_ENDPOINT  the SOAP endpoint (or --endpoint): `production` (the default,
                   https://sync.severa.com/webservice/S3/API.svc), `test` (Severa's SOAP
                   test environment, https://sync-test.severa.com/webservice/S3/API.svc)
                   or a URL
  RUST_LOG         log filter for stderr logs (or -v / -vv); logs are off by default";

const EXIT_CODES: &str = "\
Exit codes:
  0  success; the result is on stdout
  1  usage, configuration or transport failure; stderr gets one line `bridgectl: <reason>`
  2  Severa answered with a SOAP fault; stderr gets one line of JSON:
     {\"error\":\"<fault type>\",\"message\":\"...\",\"retryable\":true|false}";

const SEVERA_LONG_ABOUT: &str = "\
Talk to Visma Severa's SOAP API directly, with the key in SEVERA_API_KEY.

Examples:
  export SEVERA_API_KEY=...            # the API user's key (not a flag: argv shows in `ps`)
  bridgectl severa ping
  bridgectl severa ping --endpoint test                # Severa's SOAP test environment
  bridgectl severa ping --text --endpoint http://localhost:8080/webservice/S3/API.svc
  bridgectl severa ops user                            # signatures; no key, no call
  bridgectl severa call IUser.GetUserByCode --param userCode=AA";

const CALL_LONG_ABOUT: &str = "\
Calls any operation of Severa's service contract (`bridgectl severa ops` lists all 256) by
interface and name (key from SEVERA_API_KEY) and prints the result as pretty JSON: members
become keys spelled as Severa spells them, i:nil becomes null, repeated items become arrays,
and a void operation prints `null`. Operations returning a list (X[] in the contract) print
an array even when empty.

Nothing is sent until the call matches the contract, because Severa (WCF) silently ignores a
name it does not know and reads a left-out int, long, decimal, boolean or dateTime as 0,
false or 0001-01-01T00:00:00; so a misspelt call would run and do the wrong thing. Checked:
  - the operation exists (close names are suggested);
  - every --param/--param-nil/--param-xml name is one of its parameters; case matters
    (caseGuid vs caseGUID);
  - --param values parse as the parameter's type: int, long, decimal (1.5), boolean
    (true/false), dateTime (2024-05-01 or 2024-05-01T08:30:00), enum names;
  - every non-nullable value parameter (no `?` in `ops`) is given; --param-nil only for
    nullable ones;
  - entity and list parameters come with --param-xml; an entity's members must be its
    members, in the e: namespace, in wire order (`bridgectl severa ops --type NAME`), with
    valid values.
A refused call exits 1 with the reasons on one line. --force sends it anyway after a
one-line `bridgectl: warning: …` on stderr naming what was overridden (the result, or the
usual error line, follows); only this way does an operation outside the contract go out, as
<Interface>.<Operation>.

Parameters go on the wire in the contract's order (the order WCF reads them), whatever the
order on the command line; names outside the contract (--force) go last, as given.

--param-xml NAME=@FILE inserts the file's content as the parameter element's inner XML
(@- reads stdin). The request envelope declares these prefixes, which the XML may use:
  e:    http://schemas.datacontract.org/2004/07/Severa.Entities.API  (entity members)
  arr:  http://schemas.microsoft.com/2003/10/Serialization/Arrays     (string[] items)
  i:    http://www.w3.org/2001/XMLSchema-instance                     (i:nil=\"true\")
Entity members must be written in wire order (mostly case-sensitive alphabetical; `bridgectl
severa ops --type NAME` shows it) or WCF drops them silently, which is why it is checked.
A leading <?xml …?> declaration in the file is ignored.

Examples:
  bridgectl severa call IAPI.GetVersion
  bridgectl severa call GetUserByCode --param userCode=AA
  bridgectl severa call ICase.GetCaseByGUID --param caseGuid=3f2c…
  bridgectl severa call IHourEntry.GetHourEntriesByCaseGUID \\
      --param caseGuid=3f2c… --param startDate=2024-05-01 --param-nil endDate
  bridgectl severa call IHourEntry.AddNewHourEntry --param-xml hourEntryInfo=@entry.xml
where entry.xml holds e.g.
  <e:Description>Planning</e:Description><e:EventDate>2024-05-02</e:EventDate>
  <e:PhaseGUID>…</e:PhaseGUID><e:Quantity>1.5</e:Quantity><e:UserGUID>…</e:UserGUID>
  <e:WorkTypeGUID>…</e:WorkTypeGUID>";

/// `bridgectl`'s arguments.
#[derive(Debug, Parser)]
#[command(
    name = "bridgectl",
    version,
    about = ABOUT,
    long_about = LONG_ABOUT,
    after_help = EXIT_CODES,
    arg_required_else_help = true
)]
pub struct Cli {
    /// Log to stderr: -v debug, -vv trace (RUST_LOG, when set, wins).
    #[arg(short, long, action = ArgAction::Count, global = true)]
    pub verbose: u8,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Call Visma Severa's SOAP API directly (raw calls, health check, operation list).
    #[command(long_about = SEVERA_LONG_ABOUT, after_help = EXIT_CODES, arg_required_else_help = true)]
    Severa(SeveraArgs),
    /// Manage the Severa API key secret (rotate to a new key read from stdin).
    #[command(long_about = crate::secret::SECRET_LONG_ABOUT, arg_required_else_help = true)]
    Secret(crate::secret::SecretArgs),
    /// Operate the scheduled syncs (acknowledge a Severa schema version change).
    #[command(long_about = crate::sync::SYNC_LONG_ABOUT, arg_required_else_help = true)]
    Sync(crate::sync::SyncArgs),
    /// Triage the dead-letter queue: list, show, redrive.
    #[command(long_about = crate::dlq::DLQ_LONG_ABOUT, arg_required_else_help = true)]
    Dlq(crate::dlq::DlqArgs),
    /// Validate a job file and put it on the job queue.
    Replay(crate::dlq::ReplayArgs),
    /// Validate configuration files (webhook sources, syncs) before deploying them.
    #[command(arg_required_else_help = true)]
    Config(crate::config_check::ConfigArgs),
}

#[derive(Debug, Args)]
pub struct SeveraArgs {
    /// Severa SOAP endpoint: production, test (Severa's SOAP test environment) or a URL.
    // Holds the URL once parsed (`crate::endpoint::resolve`).
    #[arg(
        long,
        env = "SEVERA_ENDPOINT",
        default_value = "production",
        value_name = "NAME|URL",
        value_parser = crate::endpoint::resolve,
        global = true
    )]
    pub endpoint: String,

    /// Whole-call timeout in seconds, including reading the response.
    #[arg(
        long,
        value_name = "SECS",
        default_value_t = 300,
        value_parser = clap::value_parser!(u64).range(1..=86_400),
        global = true
    )]
    pub timeout: u64,

    #[command(subcommand)]
    pub command: SeveraCommand,
}

#[derive(Debug, Subcommand)]
pub enum SeveraCommand {
    /// Call any operation and print its result as JSON.
    #[command(long_about = CALL_LONG_ABOUT, after_help = EXIT_CODES)]
    Call(CallArgs),
    /// Check the endpoint and key: GetVersion, GetEntitySchemaVersion and the quota.
    #[command(
        long_about = "Calls GetVersion and GetEntitySchemaVersion and prints\n{\"endpoint\":…,\"version\":…,\"entity_schema_version\":…,\"quota\":{\"limit\":…,\"used\":…,\"used_percent\":…}}\n(quota values are null when Severa sent no quota headers). Costs two calls of the daily quota.",
        after_help = EXIT_CODES
    )]
    Ping(PingArgs),
    /// List the contract's operations (signatures) or a type's members; no key, no call.
    #[command(long_about = crate::ops::OPS_LONG_ABOUT)]
    Ops(OpsArgs),
}

#[derive(Debug, Args)]
pub struct CallArgs {
    /// The operation, e.g. IHourEntry.GetHourEntryByGUID (a bare name works for every
    /// operation of the contract).
    #[arg(value_name = "INTERFACE.OPERATION")]
    pub operation: String,

    /// A text parameter (`NAME=` sends empty text). Repeatable.
    #[arg(long = "param", value_name = "NAME=VALUE", allow_hyphen_values = true)]
    pub param: Vec<String>,

    /// A parameter sent as i:nil="true". Repeatable.
    #[arg(long = "param-nil", value_name = "NAME")]
    pub param_nil: Vec<String>,

    /// A parameter whose inner XML is the file's content (prefixes e:, arr:, i:). Repeatable.
    #[arg(long = "param-xml", value_name = "NAME=@FILE")]
    pub param_xml: Vec<String>,

    /// Send even when the call does not match Severa's contract (warns on stderr first).
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Args)]
pub struct OpsArgs {
    /// Keep operations whose interface or name contains this (any case).
    #[arg(value_name = "FILTER", conflicts_with = "type_name")]
    pub filter: Option<String>,

    /// Print JSON instead of one signature per line.
    #[arg(long)]
    pub json: bool,

    /// Show a data contract's members in wire order (or an enum's values) instead.
    #[arg(long = "type", value_name = "NAME")]
    pub type_name: Option<String>,
}

#[derive(Debug, Args)]
pub struct PingArgs {
    /// Print one human-readable line instead of JSON.
    #[arg(long)]
    pub text: bool,
}

/// One `--param*` flag as written, before files are read or names checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParamArg {
    /// `--param NAME=VALUE`
    Text(String),
    /// `--param-nil NAME`
    Nil(String),
    /// `--param-xml NAME=@FILE`
    Xml(String),
}

/// Parsed arguments plus the `call` parameters in command-line order.
#[derive(Debug)]
pub struct Invocation {
    pub cli: Cli,
    pub call_params: Vec<ParamArg>,
}

/// Parses `argv` (program name first).
pub fn parse_from<I, T>(argv: I) -> Result<Invocation, clap::Error>
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let matches = Cli::command().try_get_matches_from(argv)?;
    let cli = Cli::from_arg_matches(&matches)?;
    let call_params = matches
        .subcommand_matches("severa")
        .and_then(|m| m.subcommand_matches("call"))
        .map(params_in_order)
        .unwrap_or_default();
    Ok(Invocation { cli, call_params })
}

/// Merges the three `--param*` flags by their position on the command line.
fn params_in_order(call: &ArgMatches) -> Vec<ParamArg> {
    let mut indexed: Vec<(usize, ParamArg)> = Vec::new();
    type Make = fn(String) -> ParamArg;
    let kinds: [(&str, Make); 3] = [
        ("param", ParamArg::Text),
        ("param_nil", ParamArg::Nil),
        ("param_xml", ParamArg::Xml),
    ];
    for (id, make) in kinds {
        if let (Some(values), Some(indices)) = (call.get_many::<String>(id), call.indices_of(id)) {
            indexed.extend(indices.zip(values.map(|v| make(v.clone()))));
        }
    }
    indexed.sort_by_key(|(index, _)| *index);
    indexed.into_iter().map(|(_, p)| p).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_grammar_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn params_keep_command_line_order_across_kinds() {
        let inv = parse_from([
            "bridgectl",
            "severa",
            "call",
            "IHourEntry.GetHourEntriesByCaseGUID",
            "--param-nil",
            "a",
            "--param",
            "b=1",
            "--param-xml",
            "c=@f.xml",
            "--param",
            "d=",
        ])
        .map_err(|e| e.to_string())
        .unwrap();
        assert_eq!(
            inv.call_params,
            vec![
                ParamArg::Nil("a".into()),
                ParamArg::Text("b=1".into()),
                ParamArg::Xml("c=@f.xml".into()),
                ParamArg::Text("d=".into()),
            ]
        );
    }

    #[test]
    fn endpoint_and_timeout_may_follow_the_subcommand() {
        let inv = parse_from([
            "bridgectl",
            "severa",
            "ping",
            "--endpoint",
            "http://localhost:1/x",
            "--timeout",
            "5",
        ])
        .map_err(|e| e.to_string())
        .unwrap();
        let Command::Severa(severa) = inv.cli.command else {
            panic!("not a severa command");
        };
        assert_eq!(severa.endpoint, "http://localhost:1/x");
        assert_eq!(severa.timeout, 5);
    }

    fn endpoint_of(argv: &[&str]) -> Result<String, String> {
        let inv = parse_from(argv).map_err(|e| e.to_string())?;
        let Command::Severa(severa) = inv.cli.command else {
            return Err("not a severa command".into());
        };
        Ok(severa.endpoint)
    }

    #[test]
    fn named_endpoints_resolve_to_their_urls() {
        assert_eq!(
            endpoint_of(&["bridgectl", "severa", "ping", "--endpoint", "test"]).unwrap(),
            "https://sync-test.severa.com/webservice/S3/API.svc"
        );
        assert_eq!(
            endpoint_of(&["bridgectl", "severa", "--endpoint", "production", "ping"]).unwrap(),
            "https://sync.severa.com/webservice/S3/API.svc"
        );
        assert_eq!(
            endpoint_of(&[
                "bridgectl",
                "severa",
                "ops",
                "--endpoint",
                "http://127.0.0.1:1/x"
            ])
            .unwrap(),
            "http://127.0.0.1:1/x"
        );
        let err =
            endpoint_of(&["bridgectl", "severa", "ping", "--endpoint", "staging"]).unwrap_err();
        assert!(err.contains("neither a named endpoint"), "{err}");
    }

    #[test]
    fn the_default_endpoint_is_production() {
        // SEVERA_ENDPOINT may be set in the developer's shell; the default only shows without it.
        if std::env::var_os("SEVERA_ENDPOINT").is_none() {
            assert_eq!(
                endpoint_of(&["bridgectl", "severa", "ping"]).unwrap(),
                severa::DEFAULT_ENDPOINT
            );
        }
    }

    #[test]
    fn ops_takes_a_filter_or_a_type() {
        let inv = parse_from(["bridgectl", "severa", "ops", "user", "--json"]).unwrap();
        let Command::Severa(SeveraArgs {
            command: SeveraCommand::Ops(ops),
            ..
        }) = inv.cli.command
        else {
            panic!("not ops");
        };
        assert_eq!(ops.filter.as_deref(), Some("user"));
        assert!(ops.json);
        assert!(parse_from(["bridgectl", "severa", "ops", "user", "--type", "HourEntry"]).is_err());
    }

    #[test]
    fn zero_timeout_is_refused() {
        assert!(parse_from(["bridgectl", "severa", "ping", "--timeout", "0"]).is_err());
    }
}
