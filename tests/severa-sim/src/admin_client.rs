//! A client for the simulator's admin API (`/__admin/...`), so every test and tool that sets
//! up faults, reads state or regenerates keys calls it the same way.

use serde_json::Value as Json;

/// Why an admin call failed.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error("{method} {url}: {source}")]
    Transport {
        method: reqwest::Method,
        url: String,
        source: reqwest::Error,
    },
    #[error("{method} {url}: HTTP {status}: {body}")]
    Status {
        method: reqwest::Method,
        url: String,
        status: reqwest::StatusCode,
        body: String,
    },
    #[error("{method} {url}: the answer is not JSON: {source}")]
    NotJson {
        method: reqwest::Method,
        url: String,
        source: serde_json::Error,
    },
}

/// `method` on `<admin_url>/<path>` with an optional JSON body; the answer as JSON (`null` when
/// empty). A non-2xx answer is an error carrying the simulator's explanation.
pub async fn admin_request(
    http: &reqwest::Client,
    admin_url: &str,
    method: reqwest::Method,
    path: &str,
    body: Option<&Json>,
) -> Result<Json, AdminError> {
    let url = format!(
        "{}/{}",
        admin_url.trim_end_matches('/'),
        path.trim_start_matches('/')
    );
    let mut request = http.request(method.clone(), &url);
    if let Some(body) = body {
        request = request
            .header("content-type", "application/json")
            .body(body.to_string());
    }
    let transport = |source| AdminError::Transport {
        method: method.clone(),
        url: url.clone(),
        source,
    };
    let response = request.send().await.map_err(transport)?;
    let status = response.status();
    let bytes = response.bytes().await.map_err(transport)?;
    if !status.is_success() {
        return Err(AdminError::Status {
            method,
            url,
            status,
            body: String::from_utf8_lossy(&bytes).into_owned(),
        });
    }
    if bytes.is_empty() {
        return Ok(Json::Null);
    }
    serde_json::from_slice(&bytes).map_err(|source| AdminError::NotJson {
        method,
        url,
        source,
    })
}
