//! `devstack`: the local full stack behind `make demo` and `make dev` (see `--help`).
//!
//! Exit status: 0 when everything held, 1 when an expectation failed, 2 when the stack could
//! not be set up or a command failed (the message says what to do).

mod env_file;
mod error;
mod lambda;
mod procs;
mod provision;
mod pump;
mod receiver;
mod report;
mod run;
mod scenario;
mod sign;
mod sim;
mod stack;

use clap::{Parser, Subcommand};
use error::{Context as _, Result};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

#[derive(Parser)]
#[command(
    name = "devstack",
    about = "severa-bridge on one machine: moto, severa-sim, the functions under cargo-lambda, \
             the SQS event source, and the demo scenario (127.0.0.1 only)"
)]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Start everything, play the scenario, print the report, stop everything.
    Demo(StackArgs),
    /// Start everything and keep it running until Ctrl-C; writes <run-dir>/endpoints.env.
    Dev(StackArgs),
    /// Create the template's queues, table and secrets on a running moto and write the
    /// functions' env file. The Severa key comes from SEVERA_API_KEY (never a flag).
    Up(UpArgs),
    /// The SQS event source mapping: job queue → worker (through cargo-lambda's invoke API).
    Pump(PumpArgs),
    /// Play the scenario against a running stack (`devstack dev`) and print the report.
    Scenario(EndpointsArgs),
}

#[derive(clap::Args)]
struct StackArgs {
    /// Repository root.
    #[arg(long, default_value = ".")]
    root: PathBuf,
    /// Where logs and env files go (default: .run/demo or .run/dev under the root).
    #[arg(long)]
    run_dir: Option<PathBuf>,
    /// Stack name: resource names start with it (the template's ${AWS::StackName}).
    #[arg(long, default_value = stack::DEFAULT_PREFIX)]
    prefix: String,
}

#[derive(clap::Args)]
struct UpArgs {
    /// moto's endpoint, e.g. http://127.0.0.1:5000.
    #[arg(long)]
    aws_endpoint_url: String,
    /// The Severa endpoint the worker calls (severa-sim's).
    #[arg(long)]
    severa_endpoint: String,
    #[arg(long, default_value = "examples/sources.json")]
    sources_file: PathBuf,
    #[arg(long, default_value = stack::DEFAULT_PREFIX)]
    prefix: String,
    /// Where to write the functions' environment (for `cargo lambda watch --env-file`).
    #[arg(long, default_value = ".run/dev/stack.env")]
    env_file: PathBuf,
}

#[derive(clap::Args)]
struct EndpointsArgs {
    /// The endpoints file `devstack dev` wrote.
    #[arg(long, default_value = ".run/dev/endpoints.env")]
    endpoints: PathBuf,
}

#[derive(clap::Args)]
struct PumpArgs {
    #[command(flatten)]
    endpoints: EndpointsArgs,
    /// Stop once the queue has been empty for 2 s (fail after --max-wait seconds).
    #[arg(long)]
    until_idle: bool,
    #[arg(long, default_value_t = 300)]
    max_wait: u64,
}

#[tokio::main]
async fn main() -> ExitCode {
    severa::install_crypto_provider();
    let cli = Cli::parse();
    let outcome = match cli.command {
        Cmd::Demo(args) => run::demo(stack_options(args, "demo", false)).await,
        Cmd::Dev(args) => run::dev(stack_options(args, "dev", true))
            .await
            .map(|()| true),
        Cmd::Up(args) => up(args).await.map(|()| true),
        Cmd::Pump(args) => pump(args).await.map(|()| true),
        Cmd::Scenario(args) => scenario(args).await,
    };
    match outcome {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => {
            eprintln!("devstack: some expectations failed (see the ✘ lines above)");
            ExitCode::from(1)
        }
        Err(e) => {
            eprintln!("devstack: {e}");
            ExitCode::from(2)
        }
    }
}

fn stack_options(args: StackArgs, mode: &str, hot_reload: bool) -> run::StackOptions {
    let root = args.root.canonicalize().unwrap_or(args.root);
    run::StackOptions {
        run_dir: args.run_dir.unwrap_or_else(|| root.join(".run").join(mode)),
        root,
        prefix: args.prefix,
        hot_reload,
    }
}

async fn up(args: UpArgs) -> Result<()> {
    let sources_file = args
        .sources_file
        .canonicalize()
        .with_context(|| format!("{} not found", args.sources_file.display()))?;
    let settings = provision::UpSettings {
        names: stack::Names::new(&args.prefix),
        aws_endpoint_url: args.aws_endpoint_url.clone(),
        severa_endpoint: args.severa_endpoint,
        severa_api_key: std::env::var("SEVERA_API_KEY")
            .unwrap_or_else(|_| severa_sim::DEFAULT_API_KEY.to_string()),
        sources_file,
        syncs_file: None,
    };
    let sdk = stack::sdk_config(&args.aws_endpoint_url).await;
    let provisioned = provision::up(&sdk, &settings).await?;
    env_file::write(
        &args.env_file,
        "Environment of the functions under `cargo lambda watch` (written by devstack up).",
        &provision::function_env(&settings, &provisioned),
    )?;
    println!("job queue   {}", provisioned.job_queue_url);
    println!("DLQ         {}", provisioned.dlq_url);
    println!("table       {}", provisioned.table_name);
    println!("secrets     {}", provisioned.secret_names.join(", "));
    println!("env file    {}", args.env_file.display());
    Ok(())
}

async fn pump(args: PumpArgs) -> Result<()> {
    let endpoints = stack::Endpoints::read(&args.endpoints.endpoints)?;
    let sdk = stack::sdk_config(&endpoints.aws_endpoint_url).await;
    let emulator = lambda::Emulator::new(&endpoints.lambda_endpoint)?;
    let mut pump = pump::Pump::new(
        aws_sdk_sqs::Client::new(&sdk),
        &endpoints.job_queue_url,
        emulator,
        stack::WORKER_FUNCTION,
    )
    .await?;
    pump.verbose = true;
    if args.until_idle {
        pump.wait_seconds = 1;
        pump.run_until_idle(Duration::from_secs(2), Duration::from_secs(args.max_wait))
            .await?;
    } else {
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let pumping = pump.run(stopped);
        tokio::pin!(pumping);
        tokio::select! {
            () = &mut pumping => {}
            _ = run::shutdown_signal() => { let _ = stop.send(true); }
        }
    }
    println!("{}", pump.stats.summary());
    Ok(())
}

async fn scenario(args: EndpointsArgs) -> Result<bool> {
    let endpoints = stack::Endpoints::read(&args.endpoints)?;
    let ctx = scenario::Ctx::new(endpoints).await?;
    let summary = scenario::play(&ctx, &scenario::steps::all()).await;
    summary.print();
    Ok(summary.all_passed())
}
