//! `devstack demo` and `devstack dev`: the whole stack on 127.0.0.1 — moto, severa-sim with the
//! demo organisation, the receiver for outbound deliveries, the template's resources, the
//! functions under `cargo lambda watch`, and the SQS event source emulation — then either the
//! scenario and its report (demo) or the endpoints for manual use (dev). Everything started is
//! stopped by PID / process group on the way out, also after a failure or Ctrl-C.

use crate::error::{Context as _, Error, Result};
use crate::lambda::{Emulator, Invocation};
use crate::procs::Processes;
use crate::provision::{self, UpSettings};
use crate::pump::{Pump, PumpStats};
use crate::receiver::Receiver;
use crate::report;
use crate::scenario;
use crate::stack::{self, Endpoints, Names, WEBHOOK_FUNCTION, WORKER_FUNCTION};
use serde_json::json;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Where to run and what to keep.
pub struct StackOptions {
    /// The repository root (holds Cargo.toml, scripts/, examples/).
    pub root: PathBuf,
    /// Logs and env files (`.run/demo`, `.run/dev`).
    pub run_dir: PathBuf,
    pub prefix: String,
    /// Rebuild and restart a function when its code changes (dev); off for the demo, so edits
    /// made while it runs cannot restart a function mid-scenario.
    pub hot_reload: bool,
}

/// A started stack (the parts that live in this process; the processes are in [`Processes`]).
struct Stack {
    endpoints: Endpoints,
    function_env_file: PathBuf,
    secret_names: Vec<String>,
    _sim: severa_sim::RunningSim,
    _receiver: Receiver,
    pump_stats: Arc<PumpStats>,
    pump_task: tokio::task::JoinHandle<()>,
}

/// Runs the demo; `Ok(true)` when every expectation held.
pub async fn demo(options: StackOptions) -> Result<bool> {
    let started = Instant::now();
    let mut processes = Processes::default();
    let (stop_pump, pump_stopped) = tokio::sync::watch::channel(false);
    let outcome = tokio::select! {
        outcome = async {
            let stack = start(&options, &mut processes, pump_stopped, true).await?;
            report::heading("Scenario");
            report::progress(&format!(
                "signed webhooks go to {}/<source>; every expectation is checked against \
                 severa-sim's state and request log, the queues and the table",
                stack.endpoints.webhook_url
            ));
            let ctx = scenario::Ctx::new(stack.endpoints.clone()).await?;
            let summary = scenario::play(&ctx, &scenario::steps::all()).await;
            summary.print();
            println!("  SQS event source: {}", stack.pump_stats.summary());
            println!(
                "  Logs: {} (functions), {} (moto)",
                options.run_dir.join("lambda.log").display(),
                options.run_dir.join("moto.log").display()
            );
            stack.pump_task.abort();
            Ok::<bool, Error>(summary.all_passed())
        } => outcome,
        signal = shutdown_signal() => Err(Error::new(format!("interrupted ({signal})"))),
    };
    let _ = stop_pump.send(true);
    stop_everything(&mut processes);
    println!("  Total {:.0} s.", started.elapsed().as_secs_f64());
    outcome
}

/// Runs the stack until Ctrl-C, after writing its endpoints to `<run_dir>/endpoints.env`.
pub async fn dev(options: StackOptions) -> Result<()> {
    let mut processes = Processes::default();
    let (stop_pump, pump_stopped) = tokio::sync::watch::channel(false);
    let outcome = tokio::select! {
        outcome = async {
            let stack = start(&options, &mut processes, pump_stopped, false).await?;
            let endpoints_file = options.run_dir.join("endpoints.env");
            stack.endpoints.write(&endpoints_file)?;
            report::heading("The stack is running (Ctrl-C stops it)");
            for (key, value) in stack.endpoints.to_pairs() {
                println!("  {key:<18} {value}");
            }
            println!("\n  Endpoints: {}  (source it in a shell)", endpoints_file.display());
            println!("  Function env: {}", stack.function_env_file.display());
            println!("  Secrets (names only): {}", stack.secret_names.join(", "));
            println!(
                "  Play the scenario against it: devstack scenario --endpoints {}",
                endpoints_file.display()
            );
            println!("  Logs: {}/lambda.log", options.run_dir.display());
            let signal = shutdown_signal().await;
            println!("\n  {signal}: stopping");
            stack.pump_task.abort();
            Ok::<(), Error>(())
        } => outcome,
        signal = shutdown_signal() => Err(Error::new(format!("interrupted while starting ({signal})"))),
    };
    let _ = stop_pump.send(true);
    stop_everything(&mut processes);
    outcome
}

fn stop_everything(processes: &mut Processes) {
    report::heading("Stopping what was started");
    let stopped = processes.stop_all();
    report::progress(&format!(
        "stopped by PID/process group: {}; in-process: severa-sim, receiver, pump",
        if stopped.is_empty() {
            "nothing".to_string()
        } else {
            stopped.join(", ")
        }
    ));
}

async fn start(
    options: &StackOptions,
    processes: &mut Processes,
    pump_stopped: tokio::sync::watch::Receiver<bool>,
    verbose_pump: bool,
) -> Result<Stack> {
    let root = &options.root;
    std::fs::create_dir_all(&options.run_dir)
        .with_context(|| format!("cannot create {}", options.run_dir.display()))?;
    let venv_bin = root.join(".venv/bin");
    if !venv_bin.join("moto_server").exists() || !venv_bin.join("cargo-lambda").exists() {
        crate::bail!(
            "{} lacks moto_server or cargo-lambda: run scripts/moto.sh venv (scripts/demo-stack.sh does)",
            venv_bin.display()
        );
    }
    let names = Names::new(&options.prefix);
    report::heading("Starting the local stack (127.0.0.1 only)");

    let step = Instant::now();
    let moto_port = stack::free_port()?;
    let moto_log = options.run_dir.join("moto.log");
    let moto_pid = processes.launch(
        "moto",
        Command::new(root.join("scripts/moto.sh"))
            .arg("start")
            .arg(moto_port.to_string())
            .arg(&moto_log)
            .arg(std::process::id().to_string()),
    )?;
    let aws_endpoint_url = format!("http://127.0.0.1:{moto_port}");
    done(
        1,
        &format!("moto (SQS, DynamoDB, Secrets Manager) at {aws_endpoint_url}, pid {moto_pid}"),
        step,
    );

    let step = Instant::now();
    let severa_api_key = hex::encode(stack::random_bytes(24)?);
    let sim = severa_sim::RunningSim::start(severa_sim::SimConfig {
        api_key: Some(severa_api_key.clone()),
        ..Default::default()
    })
    .await
    .context("severa-sim did not start")?;
    done(
        2,
        &format!(
            "severa-sim, demo organisation \"Demo Oy\", at {}",
            sim.endpoint()
        ),
        step,
    );

    let step = Instant::now();
    let sdk = stack::sdk_config(&aws_endpoint_url).await;
    let sources_file = root.join("examples/sources.json");
    let syncs_file = options.run_dir.join("syncs.json");
    let mut settings = UpSettings {
        names: names.clone(),
        aws_endpoint_url: aws_endpoint_url.clone(),
        severa_endpoint: sim.endpoint(),
        severa_api_key,
        sources_file: sources_file.clone(),
        syncs_file: Some(syncs_file.clone()),
    };
    let provisioned = provision::up(&sdk, &settings).await?;
    done(
        3,
        &format!(
            "template resources: queues {} (redrive → {} after {} receives), table {}, secrets {}",
            names.job_queue(),
            names.dead_letter_queue(),
            provision::MAX_RECEIVE_COUNT,
            provisioned.table_name,
            provisioned.secret_names.join(", ")
        ),
        step,
    );

    let step = Instant::now();
    let receiver = Receiver::start(Some((
        aws_sdk_secretsmanager::Client::new(&sdk),
        names.outbound_signing_secret(),
    )))
    .await?;
    provision::write_syncs_file(&syncs_file, &receiver.url(), &names)?;
    settings.syncs_file = Some(syncs_file);
    let function_env_file = options.run_dir.join("stack.env");
    crate::env_file::write(
        &function_env_file,
        "Environment of the functions under `cargo lambda watch` (written by devstack).",
        &provision::function_env(&settings, &provisioned),
    )?;
    done(
        4,
        &format!(
            "receiver for outbound deliveries at {} (invoice sync target)",
            receiver.url()
        ),
        step,
    );

    let step = Instant::now();
    let lambda_port = stack::free_port()?;
    let lambda_log = options.run_dir.join("lambda.log");
    let _ = std::fs::remove_file(&lambda_log);
    let mut watch = cargo_lambda_watch(
        root,
        &venv_bin,
        lambda_port,
        &function_env_file,
        options.hot_reload,
    )?;
    let lambda_pid = processes.spawn("cargo lambda watch", &mut watch, &lambda_log)?;
    let emulator = Emulator::new(format!("http://127.0.0.1:{lambda_port}"))?;
    wait_listening(lambda_port, lambda_pid, &lambda_log).await?;
    done(
        5,
        &format!(
            "cargo lambda watch at {}, pid {lambda_pid}",
            emulator.base()
        ),
        step,
    );

    report::progress(
        "      building and starting the functions: the first build takes several minutes, later runs seconds",
    );
    warm_up_webhook(&emulator, &lambda_log).await?;
    warm_up_worker(&emulator, &lambda_log).await?;

    let step = Instant::now();
    let sqs = aws_sdk_sqs::Client::new(&sdk);
    let mut pump = Pump::new(
        sqs,
        &provisioned.job_queue_url,
        emulator.clone(),
        WORKER_FUNCTION,
    )
    .await?;
    pump.verbose = verbose_pump;
    let pump_stats = pump.stats.clone();
    let pump_task = tokio::spawn(async move { pump.run(pump_stopped).await });
    done(
        6,
        &format!(
            "SQS event source emulation: {} → worker, batches of up to {}, partial batch failures",
            names.job_queue(),
            crate::pump::BATCH_SIZE
        ),
        step,
    );

    let endpoints = Endpoints {
        prefix: options.prefix.clone(),
        webhook_url: format!("{}/webhooks", emulator.function_url(WEBHOOK_FUNCTION)),
        lambda_endpoint: emulator.base().to_string(),
        aws_endpoint_url,
        severa_endpoint: sim.endpoint(),
        severa_admin_url: sim.admin_url(),
        job_queue_url: provisioned.job_queue_url.clone(),
        dlq_url: provisioned.dlq_url.clone(),
        table_name: provisioned.table_name.clone(),
        receiver_url: receiver.url(),
        sources_file,
    };
    Ok(Stack {
        endpoints,
        function_env_file,
        secret_names: provisioned.secret_names,
        _sim: sim,
        _receiver: receiver,
        pump_stats,
        pump_task,
    })
}

fn done(n: usize, what: &str, since: Instant) {
    report::progress(&format!(
        "[{n}/6] {} ({:.1} s)",
        what,
        since.elapsed().as_secs_f64()
    ));
}

/// `cargo lambda watch` on 127.0.0.1 with the functions' env file.
fn cargo_lambda_watch(
    root: &Path,
    venv_bin: &Path,
    port: u16,
    env_file: &Path,
    hot_reload: bool,
) -> Result<Command> {
    let path = match std::env::var_os("PATH") {
        Some(path) => {
            let mut dirs = vec![venv_bin.to_path_buf()];
            dirs.extend(std::env::split_paths(&path));
            std::env::join_paths(dirs).context("PATH")?
        }
        None => venv_bin.as_os_str().to_owned(),
    };
    let mut command = Command::new("cargo");
    command
        .current_dir(root)
        .env("PATH", path)
        .env("CARGO_TERM_COLOR", "never")
        // Never real AWS: the functions get moto and dummy keys from the env file.
        .env_remove("AWS_PROFILE")
        .env_remove("AWS_DEFAULT_PROFILE")
        .env_remove("AWS_SESSION_TOKEN")
        .args([
            "lambda",
            "watch",
            "--invoke-address",
            "127.0.0.1",
            "--invoke-port",
        ])
        .arg(port.to_string())
        .arg("--env-file")
        .arg(env_file);
    if !hot_reload {
        command.arg("--ignore-changes");
    }
    Ok(command)
}

async fn wait_listening(port: u16, pid: u32, log: &Path) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(120);
    while Instant::now() < deadline {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            return Ok(());
        }
        if !crate::procs::group_alive(pid) {
            crate::bail!(
                "cargo lambda watch exited during start:\n{}",
                log_tail(log, 20)
            );
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    crate::bail!(
        "cargo lambda watch did not listen on 127.0.0.1:{port} within 120 s:\n{}",
        log_tail(log, 20)
    )
}

/// The first request builds the webhook (cargo run under the emulator) and must answer the
/// way it answers a GET: 405, with no network call.
async fn warm_up_webhook(emulator: &Emulator, log: &Path) -> Result<()> {
    let started = Instant::now();
    let url = format!("{}/webhooks/toggl", emulator.function_url(WEBHOOK_FUNCTION));
    let http = reqwest::Client::new();
    let answer = while_building("webhook", log, started, http.get(&url).send()).await;
    let answer = answer.with_context(|| format!("GET {url}"))?;
    if answer.status().as_u16() != 405 {
        let status = answer.status();
        let body = answer.text().await.unwrap_or_default();
        crate::bail!(
            "the webhook function answered a GET with {status} (expected 405): {body}\n{}",
            log_tail(log, 20)
        );
    }
    report::progress(&format!(
        "      webhook function up: GET answered 405 as it should ({:.1} s)",
        started.elapsed().as_secs_f64()
    ));
    Ok(())
}

/// An empty SQS event builds and starts the worker; it must answer with no failures.
async fn warm_up_worker(emulator: &Emulator, log: &Path) -> Result<()> {
    let started = Instant::now();
    let payload = json!({"Records": []});
    let outcome = while_building(
        "worker",
        log,
        started,
        emulator.invoke(WORKER_FUNCTION, &payload),
    )
    .await?;
    match outcome {
        Invocation::Returned(value) if value["batchItemFailures"] == json!([]) => {}
        other => crate::bail!(
            "the worker answered an empty batch with {other:?}\n{}",
            log_tail(log, 20)
        ),
    }
    report::progress(&format!(
        "      worker function up: empty batch answered with no failures ({:.1} s)",
        started.elapsed().as_secs_f64()
    ));
    Ok(())
}

/// Awaits `request` while printing build progress every 20 s.
async fn while_building<T>(
    function: &str,
    log: &Path,
    started: Instant,
    request: impl std::future::Future<Output = T>,
) -> T {
    tokio::pin!(request);
    let mut ticker = tokio::time::interval(Duration::from_secs(20));
    ticker.tick().await;
    loop {
        tokio::select! {
            result = &mut request => return result,
            _ = ticker.tick() => {
                let compiled = std::fs::read_to_string(log)
                    .map(|text| text.matches("Compiling ").count())
                    .unwrap_or(0);
                report::progress(&format!(
                    "      … {function}: still building/starting after {:.0} s ({compiled} crates compiled so far; log {})",
                    started.elapsed().as_secs_f64(),
                    log.display()
                ));
            }
        }
    }
}

fn log_tail(log: &Path, lines: usize) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// Ctrl-C or SIGTERM, named.
pub async fn shutdown_signal() -> &'static str {
    let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(term) => term,
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
            return "Ctrl-C";
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => "Ctrl-C",
        _ = term.recv() => "SIGTERM",
    }
}
