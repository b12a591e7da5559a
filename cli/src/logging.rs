//! Logs go to stderr and are off unless asked for, so stdout stays pure JSON and stderr stays
//! the one-line error contract.

use tracing_subscriber::EnvFilter;

/// `RUST_LOG` wins when set; otherwise `-v` is debug and `-vv` trace for bridge's own crates.
pub fn init(verbose: u8) {
    let from_env = std::env::var("RUST_LOG")
        .ok()
        .filter(|v| !v.trim().is_empty())
        .and_then(|v| EnvFilter::try_new(v).ok());
    let filter = match (from_env, verbose) {
        (Some(filter), _) => filter,
        (None, 0) => return,
        (None, 1) => EnvFilter::new("bridgectl=debug,severa=debug"),
        (None, _) => EnvFilter::new("bridgectl=trace,severa=trace,reqwest=debug"),
    };
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .try_init();
}
