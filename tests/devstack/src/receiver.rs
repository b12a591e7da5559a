//! The local receiver of outbound deliveries (the "other software" a sync posts to): records
//! every POST under `/deliveries/…` with its Standard Webhooks headers and whether the
//! signature verifies with the stack's outbound signing secret; `GET /__received` lists them
//! (the scenario reads that list, also from another process).

use crate::error::{Context as _, Result};
use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Uri};
use axum::routing::{get, post};
use serde::Serialize;
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

/// One recorded delivery.
#[derive(Debug, Clone, Serialize)]
pub struct Delivery {
    pub path: String,
    pub received_at: String,
    pub webhook_id: Option<String>,
    /// `None` when the delivery was unsigned or no signing secret was available.
    pub signature_valid: Option<bool>,
    /// The body as JSON (or as a string when it is not JSON).
    pub body: Value,
}

#[derive(Clone)]
struct Shared {
    deliveries: Arc<Mutex<Vec<Delivery>>>,
    /// Reads the outbound signing secret (from the stack's Secrets Manager) when needed.
    secrets: Option<(aws_sdk_secretsmanager::Client, String)>,
}

pub struct Receiver {
    pub addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Receiver {
    /// Listens on 127.0.0.1 (any free port). With `signing_secret` (a Secrets Manager client and
    /// secret name), each signed delivery is checked against that secret.
    pub async fn start(
        signing_secret: Option<(aws_sdk_secretsmanager::Client, String)>,
    ) -> Result<Self> {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
            .await
            .context("the receiver cannot listen on 127.0.0.1")?;
        let addr = listener.local_addr().context("receiver address")?;
        let shared = Shared {
            deliveries: Arc::new(Mutex::new(Vec::new())),
            secrets: signing_secret,
        };
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let app = router(shared);
        tokio::spawn(async move {
            let served = axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = stopped.await;
                })
                .await;
            if let Err(e) = served {
                eprintln!("receiver stopped: {e}");
            }
        });
        Ok(Self {
            addr,
            stop: Some(stop),
        })
    }

    /// `http://127.0.0.1:PORT/deliveries`: POST anything under it.
    pub fn url(&self) -> String {
        format!("http://{}/deliveries", self.addr)
    }

    pub fn stop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.stop();
    }
}

fn router(shared: Shared) -> axum::Router {
    axum::Router::new()
        .route("/deliveries", post(record))
        .route("/deliveries/{*rest}", post(record))
        .route("/__received", get(list))
        .with_state(shared)
}

async fn record(
    State(shared): State<Shared>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Json<Value> {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let webhook_id = header("webhook-id");
    let signature_valid = match (
        &shared.secrets,
        &webhook_id,
        header("webhook-timestamp"),
        header("webhook-signature"),
    ) {
        (Some((client, name)), Some(id), Some(ts), Some(sig)) => {
            match client.get_secret_value().secret_id(name).send().await {
                Ok(out) => out.secret_string().map(|secret| {
                    crate::sign::standard_webhooks_valid(secret, id, &ts, &body, &sig)
                }),
                Err(_) => None,
            }
        }
        _ => None,
    };
    let parsed = serde_json::from_slice(&body)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&body).into_owned()));
    let delivery = Delivery {
        path: uri.path().to_string(),
        received_at: chrono::Utc::now().to_rfc3339(),
        webhook_id,
        signature_valid,
        body: parsed,
    };
    if let Ok(mut all) = shared.deliveries.lock() {
        all.push(delivery);
    }
    Json(json!({"status": "received"}))
}

async fn list(State(shared): State<Shared>) -> Json<Value> {
    let all = shared
        .deliveries
        .lock()
        .map(|d| d.clone())
        .unwrap_or_default();
    Json(serde_json::to_value(all).unwrap_or(Value::Null))
}
