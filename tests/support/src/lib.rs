//! Test support shared by the integration tests: a moto server (SQS, DynamoDB, Secrets Manager)
//! started once per test binary, the SDK configuration pointed at it, and unique names.
//!
//! Where moto comes from: `MOTO_ENDPOINT` (e.g. `http://127.0.0.1:5055`, set by the test command)
//! if set; otherwise the first test to need it runs `scripts/moto.sh venv` (a no-op when `.venv`
//! is current) and `scripts/moto.sh start PORT LOG OWNER` once for this test binary, on a free port.
//!
//! Why it cannot leak: the server is killed by PID from an `atexit` hook when the test binary
//! exits normally, and the watchdog that `moto.sh start` runs for OWNER (this process's PID)
//! kills it within a second if the binary dies any other way (SIGKILL, abort).

use chrono::Utc;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};

// ---------------------------------------------------------------------------------------------
// moto harness

static MOTO: OnceLock<Result<String, String>> = OnceLock::new();
/// PID of the moto server this binary started (0: none), read by the exit hook.
static STARTED_PID: AtomicU32 = AtomicU32::new(0);

unsafe extern "C" {
    fn atexit(callback: extern "C" fn()) -> i32;
    fn kill(pid: i32, signal: i32) -> i32;
}

extern "C" fn stop_moto() {
    let pid = STARTED_PID.swap(0, Ordering::SeqCst);
    if pid != 0 {
        // SAFETY: plain syscall on a PID we started; SIGTERM = 15.
        unsafe {
            kill(pid as i32, 15);
        }
    }
}

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn start_moto() -> Result<String, String> {
    if let Ok(endpoint) = std::env::var("MOTO_ENDPOINT") {
        return Ok(endpoint.trim_end_matches('/').to_owned());
    }
    let script = repo_root().join("scripts/moto.sh");
    let status = Command::new(&script)
        .arg("venv")
        .stdin(Stdio::null())
        .status()
        .map_err(|e| format!("cannot run {}: {e}", script.display()))?;
    if !status.success() {
        return Err(format!("{} venv failed: {status}", script.display()));
    }
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map_err(|e| format!("no free port: {e}"))?
        .port();
    let log = PathBuf::from(std::env::temp_dir().to_string_lossy().to_string())
        .join(format!("moto-{port}.log"));
    let out = Command::new(&script)
        .arg("start")
        .arg(port.to_string())
        .arg(&log)
        .arg(std::process::id().to_string())
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| format!("cannot run {}: {e}", script.display()))?;
    if !out.status.success() {
        return Err(format!("moto did not start (log {})", log.display()));
    }
    let pid: u32 = String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .map_err(|e| format!("moto.sh printed no PID: {e}"))?;
    STARTED_PID.store(pid, Ordering::SeqCst);
    // SAFETY: registers a plain `extern "C" fn` that only reads an atomic and calls kill(2).
    if unsafe { atexit(stop_moto) } != 0 {
        stop_moto();
        return Err("atexit registration failed".into());
    }
    Ok(format!("http://127.0.0.1:{port}"))
}

/// The moto endpoint; also points the SDK's environment at it (once, before any test goes on).
pub fn moto() -> &'static str {
    let result = MOTO.get_or_init(|| {
        let endpoint = start_moto()?;
        // SAFETY: runs inside OnceLock initialisation; every test calls `moto()` before doing
        // anything else, so no other thread reads the environment concurrently.
        unsafe {
            std::env::set_var("AWS_ENDPOINT_URL", &endpoint);
            std::env::set_var("AWS_ACCESS_KEY_ID", "test");
            std::env::set_var("AWS_SECRET_ACCESS_KEY", "test");
            std::env::set_var("AWS_REGION", "eu-north-1");
            std::env::set_var("AWS_EC2_METADATA_DISABLED", "true");
            for var in [
                "AWS_SESSION_TOKEN",
                "AWS_PROFILE",
                "AWS_ENDPOINT_URL_SQS",
                "AWS_ENDPOINT_URL_DYNAMODB",
                "AWS_ENDPOINT_URL_SECRETS_MANAGER",
            ] {
                std::env::remove_var(var);
            }
        }
        Ok(endpoint)
    });
    match result {
        Ok(endpoint) => endpoint,
        Err(e) => panic!("moto unavailable: {e}"),
    }
}

/// The SDK configuration exactly as the functions build it.
pub async fn sdk() -> aws_config::SdkConfig {
    moto();
    bridge::aws::config::load().await
}

/// A name no other test (or earlier run against the same server) uses.
pub fn unique(prefix: &str) -> String {
    static N: AtomicUsize = AtomicUsize::new(0);
    format!(
        "{prefix}-{}-{}-{}",
        std::process::id(),
        Utc::now().timestamp_millis(),
        N.fetch_add(1, Ordering::SeqCst)
    )
}

/// A fresh standard queue on moto; its URL.
pub async fn create_queue(sqs: &aws_sdk_sqs::Client, name: &str) -> String {
    sqs.create_queue()
        .queue_name(name)
        .send()
        .await
        .expect("create queue on moto")
        .queue_url
        .expect("queue url")
}

/// Every JSON log line of the process, for tests that assert what is (and is not) logged.
/// Installs a global subscriber, so use it only in a test binary of its own (one per binary).
#[derive(Clone, Default)]
pub struct LogCapture(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for LogCapture {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        if let Ok(mut buffer) = self.0.lock() {
            buffer.extend_from_slice(data);
        }
        Ok(data.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl LogCapture {
    /// Starts capturing JSON lines (flattened events) at `filter`, e.g. `"debug"`.
    pub fn install(filter: &str) -> Self {
        let capture = Self::default();
        let writer = capture.clone();
        tracing_subscriber::fmt()
            .json()
            .flatten_event(true)
            .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
            .with_writer(move || writer.clone())
            .init();
        capture
    }

    pub fn lines(&self) -> Vec<String> {
        let buffer = self.0.lock().map(|b| b.clone()).unwrap_or_default();
        String::from_utf8_lossy(&buffer)
            .lines()
            .map(str::to_string)
            .collect()
    }

    /// The lines that are JSON objects.
    pub fn json_lines(&self) -> Vec<serde_json::Value> {
        self.lines()
            .iter()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }
}
