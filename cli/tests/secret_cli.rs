//! `bridgectl secret rotate` as an operator runs it: the built binary, the key on stdin,
//! Secrets Manager in moto (the local stack, no rotation function: the steps run in-process)
//! and Severa in `severa-sim`. Checks the secret's labels and values afterwards, and that no
//! key shows up on stdout or stderr, logs included.

use serde_json::{Value as Json, json};
use severa_sim::{DEFAULT_API_KEY, RunningSim, SimConfig};
use std::io::Write;
use std::process::{Command, Output, Stdio};
use test_support::{sdk, unique};

struct Setup {
    sim: RunningSim,
    client: aws_sdk_secretsmanager::Client,
    secret_id: String,
}

impl Setup {
    async fn start() -> Self {
        let config = sdk().await;
        let client = aws_sdk_secretsmanager::Client::new(&config);
        let secret_id = unique("cli-severa-key");
        client
            .create_secret()
            .name(&secret_id)
            .secret_string(DEFAULT_API_KEY)
            .send()
            .await
            .expect("secret");
        let sim = RunningSim::start(SimConfig::default())
            .await
            .expect("simulator");
        Self {
            sim,
            client,
            secret_id,
        }
    }

    async fn regenerate_key(&self) -> String {
        let resp = reqwest::Client::new()
            .post(format!("{}/keys/regenerate", self.sim.admin_url()))
            .header("content-type", "application/json")
            .body("{}")
            .send()
            .await
            .expect("admin");
        let body: Json =
            serde_json::from_slice(&resp.bytes().await.expect("admin body")).expect("admin JSON");
        body["api_key"].as_str().expect("key").to_string()
    }

    async fn current_value(&self) -> String {
        self.client
            .get_secret_value()
            .secret_id(&self.secret_id)
            .version_stage("AWSCURRENT")
            .send()
            .await
            .expect("value")
            .secret_string
            .expect("string")
    }

    async fn version_count(&self) -> usize {
        self.client
            .describe_secret()
            .secret_id(&self.secret_id)
            .send()
            .await
            .expect("describe")
            .version_ids_to_stages
            .unwrap_or_default()
            .len()
    }

    /// Runs `bridgectl <args>` with `stdin`, Severa at the simulator, logs at trace on stderr.
    async fn bridgectl(&self, args: &[&str], stdin: &str) -> Output {
        let endpoint = self.sim.endpoint();
        let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        let stdin = stdin.to_string();
        tokio::task::spawn_blocking(move || {
            let mut child = Command::new(env!("CARGO_BIN_EXE_bridgectl"))
                .args(&args)
                .env("SEVERA_ENDPOINT", endpoint)
                .env("RUST_LOG", "trace")
                .env_remove("SEVERA_SECRET_ID")
                .env_remove("SEVERA_API_KEY")
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("bridgectl runs");
            child
                .stdin
                .take()
                .expect("stdin")
                .write_all(stdin.as_bytes())
                .expect("write stdin");
            child.wait_with_output().expect("bridgectl ends")
        })
        .await
        .expect("join")
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn assert_no_key(output: &Output, keys: &[&str]) {
    for key in keys {
        assert!(!text(&output.stdout).contains(key), "key on stdout");
        assert!(!text(&output.stderr).contains(key), "key on stderr");
    }
}

/// The last stderr line (logs come before it).
fn last_stderr_line(output: &Output) -> String {
    text(&output.stderr)
        .lines()
        .last()
        .unwrap_or_default()
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotate_takes_the_key_from_stdin_and_makes_it_current() {
    let s = Setup::start().await;
    let new_key = s.regenerate_key().await;
    let out = s
        .bridgectl(
            &["secret", "rotate", "--secret-id", &s.secret_id],
            &format!("{new_key}\n"),
        )
        .await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let report: Json = serde_json::from_slice(&out.stdout).expect("JSON on stdout");
    assert_eq!(report["result"], "rotated");
    assert_eq!(report["mode"], "in-process");
    assert_eq!(report["secret_id"], json!(s.secret_id));
    assert_eq!(report["endpoint"], json!(s.sim.endpoint()));
    assert!(report["previous_version_id"].is_string());
    assert_eq!(s.current_value().await, new_key);
    let labels = s
        .client
        .describe_secret()
        .secret_id(&s.secret_id)
        .send()
        .await
        .unwrap()
        .version_ids_to_stages
        .unwrap_or_default();
    let version = report["version_id"].as_str().unwrap();
    assert!(labels[version].contains(&"AWSCURRENT".to_string()));
    assert!(
        text(&out.stderr).contains("testSecret"),
        "trace logs were on"
    );
    assert_no_key(&out, &[&new_key, DEFAULT_API_KEY]);
    s.sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rejected_key_exits_2_and_stages_nothing() {
    let s = Setup::start().await;
    let wrong = "typo-in-the-key-77d1e0";
    for args in [
        vec!["secret", "rotate", "--secret-id", s.secret_id.as_str()],
        vec![
            "secret",
            "rotate",
            "--check",
            "--secret-id",
            s.secret_id.as_str(),
        ],
        vec!["secret", "rotate", "--check"],
    ] {
        let out = s.bridgectl(&args, wrong).await;
        assert_eq!(
            out.status.code(),
            Some(2),
            "{args:?}: {}",
            text(&out.stderr)
        );
        assert!(out.stdout.is_empty());
        let line: Json = serde_json::from_str(&last_stderr_line(&out)).expect("JSON error line");
        assert_eq!(line["error"], "AuthenticationFailureException");
        assert_eq!(line["retryable"], false);
        assert!(
            line["message"]
                .as_str()
                .unwrap()
                .contains("rejected by Severa"),
            "{line}"
        );
        assert_no_key(&out, &[wrong, DEFAULT_API_KEY]);
    }
    assert_eq!(s.version_count().await, 1, "nothing staged");
    assert_eq!(s.current_value().await, DEFAULT_API_KEY);
    s.sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_accepts_the_right_key_and_stages_nothing() {
    let s = Setup::start().await;
    let out = s
        .bridgectl(
            &["secret", "rotate", "--check", "--secret-id", &s.secret_id],
            DEFAULT_API_KEY,
        )
        .await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let report: Json = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(report["result"], "accepted");
    assert_eq!(report["endpoint"], json!(s.sim.endpoint()));
    assert_eq!(s.version_count().await, 1);
    assert_no_key(&out, &[DEFAULT_API_KEY]);
    s.sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn usage_errors_exit_1_with_one_line() {
    let s = Setup::start().await;
    let no_secret = s.bridgectl(&["secret", "rotate"], "some-key-123").await;
    assert_eq!(no_secret.status.code(), Some(1));
    assert!(last_stderr_line(&no_secret).contains("--secret-id"));
    let empty = s
        .bridgectl(&["secret", "rotate", "--secret-id", &s.secret_id], "")
        .await;
    assert_eq!(empty.status.code(), Some(1));
    assert!(last_stderr_line(&empty).contains("no key on stdin"));
    // A key is never an argument.
    let flag = s
        .bridgectl(&["secret", "rotate", "--key", "abc-123456"], "")
        .await;
    assert_eq!(flag.status.code(), Some(1));
    assert_eq!(s.version_count().await, 1);
    s.sim.shutdown().await;
}
