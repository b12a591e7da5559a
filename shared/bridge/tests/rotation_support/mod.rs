//! Shared by the rotation tests: a Severa key secret in moto (through the production adapter)
//! and a `severa-sim` on port 0, plus what the tests look at (labels, values, Severa's log).

#![allow(dead_code)]

use bridge::aws::SecretsManagerVersions;
use bridge::rotation::{KeyCheck, Operator, Rotation, RotationEvent, RotationStep};
use serde_json::{Value as Json, json};
use severa_sim::{DEFAULT_API_KEY, RunningSim, SimConfig};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use test_support::{sdk, unique};

pub struct Setup {
    pub sim: RunningSim,
    pub http: reqwest::Client,
    pub client: aws_sdk_secretsmanager::Client,
    pub versions: Arc<SecretsManagerVersions>,
    pub secret_id: String,
}

/// Short timeouts: everything is on loopback.
pub fn severa_config(endpoint: &str) -> severa::SeveraConfig {
    severa::SeveraConfig {
        connect_timeout: Duration::from_secs(1),
        timeout: Duration::from_secs(5),
        ..severa::SeveraConfig::with_endpoint(endpoint)
    }
}

/// A version id (Secrets Manager wants 32–64 characters) no other test uses.
pub fn token() -> String {
    format!("{:0>40}", unique("v"))
}

pub fn event(step: RotationStep, secret_id: &str, token: &str) -> RotationEvent {
    RotationEvent {
        step,
        secret_id: secret_id.to_string(),
        client_request_token: token.to_string(),
    }
}

impl Setup {
    /// A secret holding the simulator's API user key (plain).
    pub async fn start() -> Self {
        Self::start_with(|_| DEFAULT_API_KEY.to_string()).await
    }

    /// A secret whose first value is `value(sim endpoint)`.
    pub async fn start_with(value: impl FnOnce(&str) -> String) -> Self {
        let config = sdk().await;
        let client = aws_sdk_secretsmanager::Client::new(&config);
        let sim = RunningSim::start(SimConfig::default())
            .await
            .expect("simulator");
        let secret_id = unique("severa-key");
        client
            .create_secret()
            .name(&secret_id)
            .secret_string(value(&sim.endpoint()))
            .send()
            .await
            .expect("secret");
        Setup {
            versions: Arc::new(SecretsManagerVersions::new(client.clone())),
            client,
            sim,
            http: reqwest::Client::new(),
            secret_id,
        }
    }

    /// Tests keys at the simulator (as `SEVERA_ENDPOINT` would in a local stack).
    pub fn key_check(&self) -> KeyCheck {
        KeyCheck::new(
            Some(self.sim.endpoint()),
            severa_config(&self.sim.endpoint()),
        )
    }

    pub fn rotation(&self) -> Rotation {
        Rotation::new(self.versions.clone(), self.key_check())
    }

    pub fn operator(&self) -> Operator {
        Operator::new(self.versions.clone(), self.key_check())
            .with_poll_interval(Duration::from_millis(100))
    }

    pub fn event(&self, step: RotationStep, token: &str) -> RotationEvent {
        event(step, &self.secret_id, token)
    }

    /// What an operator does by hand: `put-secret-value --version-stages AWSPENDING`.
    pub async fn stage(&self, value: &str) -> String {
        let token = token();
        self.client
            .put_secret_value()
            .secret_id(&self.secret_id)
            .client_request_token(&token)
            .secret_string(value)
            .version_stages("AWSPENDING")
            .send()
            .await
            .expect("stage");
        token
    }

    /// Version id → sorted labels, for versions that have labels.
    pub async fn labels(&self) -> BTreeMap<String, Vec<String>> {
        let out = self
            .client
            .describe_secret()
            .secret_id(&self.secret_id)
            .send()
            .await
            .expect("describe");
        out.version_ids_to_stages
            .unwrap_or_default()
            .into_iter()
            .filter(|(_, stages)| !stages.is_empty())
            .map(|(id, mut stages)| {
                stages.sort();
                (id, stages)
            })
            .collect()
    }

    pub async fn version_with(&self, stage: &str) -> Option<String> {
        self.labels()
            .await
            .into_iter()
            .find(|(_, stages)| stages.iter().any(|s| s == stage))
            .map(|(id, _)| id)
    }

    /// The value a worker reads now.
    pub async fn current_value(&self) -> String {
        self.client
            .get_secret_value()
            .secret_id(&self.secret_id)
            .version_stage("AWSCURRENT")
            .send()
            .await
            .expect("current value")
            .secret_string
            .expect("string")
    }

    pub async fn admin(&self, method: reqwest::Method, path: &str, body: Option<Json>) -> Json {
        severa_sim::admin_client::admin_request(
            &self.http,
            &self.sim.admin_url(),
            method,
            path,
            body.as_ref(),
        )
        .await
        .expect("simulator admin call")
    }

    /// Regenerates the API user's key in the simulator (the old one stops working) and
    /// returns the new one, as a person copies it from Severa's UI.
    pub async fn regenerate_key(&self) -> String {
        self.admin(reqwest::Method::POST, "keys/regenerate", Some(json!({})))
            .await["api_key"]
            .as_str()
            .expect("new key")
            .to_string()
    }

    /// Severa calls received, as `(operation, user_guid, fault)`.
    pub async fn severa_calls(&self) -> Vec<(String, Json, Json)> {
        match self.admin(reqwest::Method::GET, "requests", None).await {
            Json::Array(items) => items
                .into_iter()
                .map(|r| {
                    (
                        r["operation"].as_str().unwrap_or_default().to_string(),
                        r["user_guid"].clone(),
                        r["fault"].clone(),
                    )
                })
                .collect(),
            other => panic!("requests: {other}"),
        }
    }

    pub async fn stop(self) {
        self.sim.shutdown().await;
    }
}
