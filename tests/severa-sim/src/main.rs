//! `severa-sim` binary: serves the simulator until SIGINT/SIGTERM.

use clap::Parser;
use severa_sim::{RunningSim, SimConfig};
use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

/// Local simulator of Visma Severa's SOAP API (S3 web service).
#[derive(Debug, Parser)]
#[command(name = "severa-sim", version)]
struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8642")]
    listen: SocketAddr,
    /// Seed fixture (JSON); default: the built-in demo organisation.
    #[arg(long)]
    seed: Option<PathBuf>,
    /// API key of the seeded API user (default: severa-sim-demo-key).
    #[arg(long)]
    api_key: Option<String>,
    /// Calls per organisation per UTC day.
    #[arg(long, default_value_t = 100_000)]
    daily_quota: u64,
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> ExitCode {
    let args = Args::parse();
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let config = SimConfig {
        listen: args.listen,
        seed: args.seed,
        api_key: args.api_key,
        daily_quota: args.daily_quota,
    };
    let sim = match RunningSim::start(config).await {
        Ok(sim) => sim,
        Err(e) => {
            eprintln!("severa-sim: {e}");
            return ExitCode::FAILURE;
        }
    };
    println!("severa-sim listening on {}", sim.endpoint());
    let _ = std::io::stdout().flush();
    wait_for_signal().await;
    tracing::info!("stopping");
    sim.shutdown().await;
    ExitCode::SUCCESS
}

#[cfg(unix)]
async fn wait_for_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    match signal(SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
        }
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

#[cfg(not(unix))]
async fn wait_for_signal() {
    let _ = tokio::signal::ctrl_c().await;
}
