//! `bridgectl` entry point: parse argv, run the command, print, exit (0 ok, 1 failure, 2 fault).

use bridgectl::app::{self, Env};
use bridgectl::args;
use bridgectl::error::one_line;
use clap::error::ErrorKind;
use std::io::Write;
use std::process::ExitCode;

fn main() -> ExitCode {
    let invocation = match args::parse_from(std::env::args_os()) {
        Ok(invocation) => invocation,
        Err(err) => return clap_exit(&err),
    };
    bridgectl::logging::init(invocation.cli.verbose);
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("bridgectl: cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    let outcome = runtime.block_on(app::run(invocation, &Env::from_process()));
    if let Some(stdout) = &outcome.stdout {
        let mut out = std::io::stdout().lock();
        // A closed pipe (`| head`) is not worth a panic.
        let _ = writeln!(out, "{stdout}").and_then(|()| out.flush());
    }
    if let Some(stderr) = &outcome.stderr {
        let _ = writeln!(std::io::stderr().lock(), "{stderr}");
    }
    ExitCode::from(outcome.code)
}

/// Help and version go to stdout with 0; a usage error is one `bridgectl:` line with 1
/// (clap's own exit code 2 is reserved for SOAP faults here).
fn clap_exit(err: &clap::Error) -> ExitCode {
    match err.kind() {
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => {
            let _ = write!(std::io::stdout().lock(), "{}", err.render());
            ExitCode::SUCCESS
        }
        ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            let _ = write!(std::io::stderr().lock(), "{}", err.render());
            ExitCode::from(1)
        }
        _ => {
            let rendered = err.render().to_string();
            let first = rendered
                .lines()
                .find(|line| !line.trim().is_empty())
                .unwrap_or("invalid arguments");
            let reason = one_line(first.trim_start_matches("error:").trim());
            let _ = writeln!(
                std::io::stderr().lock(),
                "bridgectl: {reason} (see bridgectl --help)"
            );
            ExitCode::from(1)
        }
    }
}
