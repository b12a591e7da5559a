//! The simulator's admin API (`/__admin`): what Severa holds and what it was sent — the
//! evidence every scenario expectation is checked against.

use crate::error::{Context as _, Result};
use serde_json::{Map, Value};

#[derive(Clone)]
pub struct SimAdmin {
    base: String,
    http: reqwest::Client,
}

impl SimAdmin {
    pub fn new(admin_url: &str, http: reqwest::Client) -> Self {
        Self {
            base: admin_url.trim_end_matches('/').to_string(),
            http,
        }
    }

    async fn get(&self, path: &str) -> Result<Value> {
        self.call(reqwest::Method::GET, path, None).await
    }

    /// `POST /__admin/<path>` with a JSON body (fault rules, keys, clock, …).
    pub async fn post(&self, path: &str, body: &Value) -> Result<Value> {
        self.call(reqwest::Method::POST, path, Some(body)).await
    }

    pub async fn delete(&self, path: &str) -> Result<Value> {
        self.call(reqwest::Method::DELETE, path, None).await
    }

    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Value> {
        severa_sim::admin_client::admin_request(&self.http, &self.base, method, path, body)
            .await
            .context("severa-sim admin")
    }

    /// Entities of one type (`HourEntry`, `Account`, `Contact`, …) by GUID.
    pub async fn entities(&self, kind: &str) -> Result<Map<String, Value>> {
        let state = self.get("state").await?;
        Ok(state["entities"][kind]
            .as_object()
            .cloned()
            .unwrap_or_default())
    }

    /// The request log: `{seq, operation, fault, params, …}` per SOAP call.
    pub async fn requests(&self) -> Result<Vec<Value>> {
        match self.get("requests").await? {
            Value::Array(items) => Ok(items),
            other => crate::bail!("severa-sim request log is not a list: {other}"),
        }
    }

    /// What the requests logged so far did against Severa's service contract
    /// ([`severa_sim::admin_client::contract_violations`]): one line per finding.
    pub async fn contract_violations(&self) -> Result<(usize, Vec<String>)> {
        let log = severa_sim::admin_client::request_log(&self.http, &self.base)
            .await
            .context("severa-sim request log")?;
        Ok((
            log.len(),
            severa_sim::admin_client::contract_violations(&log),
        ))
    }

    /// The highest sequence number logged so far (0 when none): a step's baseline.
    pub async fn last_seq(&self) -> Result<u64> {
        Ok(self
            .requests()
            .await?
            .iter()
            .filter_map(|r| r["seq"].as_u64())
            .max()
            .unwrap_or(0))
    }

    /// Operations logged after `seq`, in order; failed ones marked `Operation!<fault type>` or
    /// `Operation!HTTP<status>`.
    pub async fn operations_since(&self, seq: u64) -> Result<Vec<String>> {
        Ok(self
            .requests()
            .await?
            .iter()
            .filter(|r| r["seq"].as_u64().is_some_and(|s| s > seq))
            .map(|r| {
                let operation = r["operation"].as_str().unwrap_or("?");
                let status = r["http_status"].as_u64().unwrap_or(200);
                match r["fault"].as_str() {
                    Some(fault) => format!("{operation}!{fault}"),
                    None if status != 200 => format!("{operation}!HTTP{status}"),
                    None => operation.to_string(),
                }
            })
            .collect())
    }
}
