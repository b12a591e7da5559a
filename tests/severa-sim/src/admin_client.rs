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
    #[error("{method} {url}: the answer does not have the expected shape: {source}")]
    Shape {
        method: reqwest::Method,
        url: String,
        source: serde_json::Error,
    },
}

/// One entry of the request log (`GET /__admin/requests`): the simulator's own log type.
pub use crate::state::{InjectKind, LogEntry as LoggedRequest};

/// The request log, typed.
pub async fn request_log(
    http: &reqwest::Client,
    admin_url: &str,
) -> Result<Vec<LoggedRequest>, AdminError> {
    let value = admin_request(http, admin_url, reqwest::Method::GET, "requests", None).await?;
    serde_json::from_value(value).map_err(|source| AdminError::Shape {
        method: reqwest::Method::GET,
        url: format!("{}/requests", admin_url.trim_end_matches('/')),
        source,
    })
}

/// What a client did that Severa's contract says it must not, judged from the simulator's
/// request log: an operation that is not in the contract, a parameter or member the service
/// ignored, an absent non-nullable parameter read as its default, and an `Update*` that left a
/// non-nullable member out (so the service reset it). `AddNew*` may leave non-nullable members
/// to their defaults (Severa fills or ignores them); that is not a violation. One line per
/// finding, naming the request.
pub fn contract_violations(log: &[LoggedRequest]) -> Vec<String> {
    let mut out = Vec::new();
    for entry in log {
        let op = entry.operation.as_deref().unwrap_or("(no operation)");
        let at = format!("request {} {op}", entry.seq);
        if entry.interface.is_none() {
            out.push(format!("{at}: not an operation of Severa's contract"));
        }
        for name in &entry.ignored {
            out.push(format!("{at}: the service ignored {name}"));
        }
        for name in &entry.defaulted {
            if !name.contains('.') {
                out.push(format!(
                    "{at}: parameter {name} was not sent; the service read its default"
                ));
            } else if op.starts_with("Update") {
                out.push(format!(
                    "{at}: {name} was left out of an update; the service reset it to its default"
                ));
            }
        }
    }
    out
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

/// Creates records as a person in Severa's UI would (`POST /__admin/ui/create`): new GUIDs,
/// created and modified at the simulator's time. Returns the GUIDs in order.
pub async fn ui_create(
    http: &reqwest::Client,
    admin_url: &str,
    kind: &str,
    records: &[Json],
) -> Result<Vec<String>, AdminError> {
    let body = serde_json::json!({ "kind": kind, "records": records });
    let value = admin_request(
        http,
        admin_url,
        reqwest::Method::POST,
        "ui/create",
        Some(&body),
    )
    .await?;
    serde_json::from_value(value["guids"].clone()).map_err(|source| AdminError::Shape {
        method: reqwest::Method::POST,
        url: format!("{}/ui/create", admin_url.trim_end_matches('/')),
        source,
    })
}

/// Edits a record as a person in Severa's UI would (`POST /__admin/ui/edit`). `silent`: the
/// edit does not move the modification time (`UpdatedTS`, the changed-since timestamp), as
/// custom-field and market-segment edits do not in Severa.
pub async fn ui_edit(
    http: &reqwest::Client,
    admin_url: &str,
    kind: &str,
    guid: &str,
    set: Json,
    silent: bool,
) -> Result<Json, AdminError> {
    let body = serde_json::json!({ "kind": kind, "guid": guid, "set": set, "silent": silent });
    admin_request(
        http,
        admin_url,
        reqwest::Method::POST,
        "ui/edit",
        Some(&body),
    )
    .await
}

/// Deletes a record as a person in Severa's UI would (`POST /__admin/ui/delete`); no
/// changed-since operation reports it.
pub async fn ui_delete(
    http: &reqwest::Client,
    admin_url: &str,
    kind: &str,
    guid: &str,
) -> Result<(), AdminError> {
    let body = serde_json::json!({ "kind": kind, "guid": guid });
    admin_request(
        http,
        admin_url,
        reqwest::Method::POST,
        "ui/delete",
        Some(&body),
    )
    .await?;
    Ok(())
}
