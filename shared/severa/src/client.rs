//! HTTP transport: one POST per call, connection reuse, timeouts, response size cap, and
//! streaming decode of the body on a blocking thread while it arrives.

use crate::error::{Quota, SeveraError, TransportKind};
use crate::operations::Operation;
use crate::secret::ApiKey;
use crate::wire::{
    Decoded, FromWire, Outcome, Param, Value, WireError, decode_response, request_envelope,
};
use bytes::Bytes;
use std::io::{BufRead, Read};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Severa's production endpoint (every interface is served from this one URL).
pub const DEFAULT_ENDPOINT: &str = "https://sync.severa.com/webservice/S3/API.svc";

/// Transport settings. Defaults: production endpoint, 10 s connect, 300 s total, 128 MiB cap.
#[derive(Debug, Clone)]
pub struct SeveraConfig {
    pub endpoint: String,
    pub connect_timeout: Duration,
    /// Whole call, including reading the body (Severa's large list results take a while).
    pub timeout: Duration,
    /// Responses larger than this fail with `Transport.TooLarge` instead of exhausting memory.
    pub max_response_bytes: u64,
    pub user_agent: String,
    /// At most this many calls of this client (and of its [`SeveraClient::with_key`] copies)
    /// in flight at once; the others wait for a free slot. Bounds the load one process puts on
    /// Severa however many tasks call it. `None`: no bound.
    pub max_calls_in_flight: Option<usize>,
    /// Asked after a call has its slot and before anything is sent. `None`: every call goes.
    pub call_gate: Option<Arc<dyn CallGate>>,
}

/// A caller's last word on a call that may have waited for its slot
/// ([`SeveraConfig::max_calls_in_flight`]): by then the caller may know Severa is down (a call
/// beside it just failed), and sending would only add to the outage.
pub trait CallGate: Send + Sync + std::fmt::Debug {
    /// `Some(reason)`: do not send; the call fails with [`SeveraError::HeldBack`].
    fn hold_back(&self) -> Option<String>;
}

impl Default for SeveraConfig {
    fn default() -> Self {
        Self {
            endpoint: DEFAULT_ENDPOINT.to_string(),
            connect_timeout: Duration::from_secs(10),
            timeout: Duration::from_secs(300),
            max_response_bytes: 128 * 1024 * 1024,
            user_agent: format!("severa-bridge/{}", env!("CARGO_PKG_VERSION")),
            max_calls_in_flight: None,
            call_gate: None,
        }
    }
}

impl SeveraConfig {
    pub fn with_endpoint(endpoint: impl Into<String>) -> Self {
        Self {
            endpoint: endpoint.into(),
            ..Self::default()
        }
    }
}

/// A successful call: the decoded result and the quota headers that came with it.
#[derive(Debug, Clone, PartialEq)]
pub struct Response<T> {
    pub value: T,
    pub quota: Quota,
}

impl<T> Response<T> {
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Response<U> {
        Response {
            value: f(self.value),
            quota: self.quota,
        }
    }
}

/// A Severa SOAP client for one API key. Cheap to clone; clones share the connection pool.
#[derive(Clone)]
pub struct SeveraClient {
    http: reqwest::Client,
    /// The endpoint, parsed once: handing reqwest a `&str` parses it again on every call.
    url: reqwest::Url,
    config: Arc<SeveraConfig>,
    key: ApiKey,
    last_quota: Arc<Mutex<Quota>>,
    /// [`SeveraConfig::max_calls_in_flight`]'s slots, shared by the clones.
    slots: Option<Arc<tokio::sync::Semaphore>>,
}

impl std::fmt::Debug for SeveraClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SeveraClient")
            .field("endpoint", &self.config.endpoint)
            .field("key", &self.key)
            .finish()
    }
}

impl SeveraClient {
    pub fn new(config: SeveraConfig, key: ApiKey) -> Result<Self, SeveraError> {
        if key.is_empty() {
            return Err(SeveraError::Config(
                "the Severa API key is empty; set it (SEVERA_API_KEY or the secret)".into(),
            ));
        }
        let url = reqwest::Url::parse(&config.endpoint).map_err(|e| {
            SeveraError::Config(format!("endpoint {:?} is not a URL: {e}", config.endpoint))
        })?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(SeveraError::Config(format!(
                "endpoint {:?} must be http or https",
                config.endpoint
            )));
        }
        install_crypto_provider();
        let http = reqwest::Client::builder()
            .connect_timeout(config.connect_timeout)
            .timeout(config.timeout)
            .user_agent(config.user_agent.clone())
            .pool_idle_timeout(Duration::from_secs(60))
            // Every request carries the API key: a redirect must not re-send it elsewhere.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| SeveraError::Config(format!("cannot build the HTTP client: {e}")))?;
        let slots = match config.max_calls_in_flight {
            Some(0) => {
                return Err(SeveraError::Config(
                    "max_calls_in_flight is 0: no call could ever be made; use at least 1".into(),
                ));
            }
            Some(n) => Some(Arc::new(tokio::sync::Semaphore::new(n))),
            None => None,
        };
        Ok(Self {
            http,
            url,
            config: Arc::new(config),
            key,
            last_quota: Arc::new(Mutex::new(Quota::default())),
            slots,
        })
    }

    /// The same client (and connection pool) with another key, e.g. to test a staged key.
    pub fn with_key(&self, key: ApiKey) -> Self {
        Self {
            key,
            last_quota: Arc::new(Mutex::new(Quota::default())),
            ..self.clone()
        }
    }

    pub fn endpoint(&self) -> &str {
        &self.config.endpoint
    }

    /// Quota headers of the most recent answer that carried them.
    pub fn last_quota(&self) -> Quota {
        self.last_quota.lock().map(|q| *q).unwrap_or_default()
    }

    /// Calls a typed operation; `params` are in the operation's parameter order.
    pub async fn call<T: FromWire + Send + 'static>(
        &self,
        operation: &Operation,
        params: Vec<Param>,
    ) -> Result<Response<Option<T>>, SeveraError> {
        self.invoke(operation.interface, operation.name, params)
            .await
    }

    /// Calls any operation by interface and name and returns the result as a generic tree
    /// (`None` for a void operation).
    pub async fn call_raw(
        &self,
        interface: &str,
        operation: &str,
        params: Vec<Param>,
    ) -> Result<Response<Option<Value>>, SeveraError> {
        self.invoke(interface, operation, params).await
    }

    async fn invoke<T: FromWire + Send + 'static>(
        &self,
        interface: &str,
        operation: &str,
        params: Vec<Param>,
    ) -> Result<Response<Option<T>>, SeveraError> {
        // Held until the answer is read and parsed (the semaphore is never closed). Taken before
        // the clock starts: `elapsed_ms` is Severa's time, not the wait for a slot.
        let _slot = match &self.slots {
            Some(slots) => slots.acquire().await.ok(),
            None => None,
        };
        if let Some(reason) = self.config.call_gate.as_ref().and_then(|g| g.hold_back()) {
            return Err(SeveraError::HeldBack {
                operation: operation.to_string(),
                reason,
            });
        }
        let started = Instant::now();
        let body = request_envelope(operation, &self.key, &params).map_err(|message| {
            SeveraError::Request {
                operation: operation.to_string(),
                message,
            }
        })?;
        let action = crate::operations::soap_action_header(interface, operation);
        let result = self.send::<T>(&action, operation, body.into_body()).await;
        let quota = match &result {
            Ok(r) => r.quota,
            Err(e) => e.quota(),
        };
        if quota.is_known() {
            if let Ok(mut last) = self.last_quota.lock() {
                *last = quota;
            }
        }
        let elapsed_ms = started.elapsed().as_millis() as u64;
        match &result {
            Ok(_) => tracing::debug!(
                interface,
                operation,
                elapsed_ms,
                quota_used = quota.used,
                quota_limit = quota.limit,
                "severa call ok"
            ),
            Err(e) => tracing::warn!(
                interface,
                operation,
                elapsed_ms,
                error_type = %e.type_name(),
                retryable = e.is_retryable(),
                "severa call failed: {e}"
            ),
        }
        result
    }

    async fn send<T: FromWire + Send + 'static>(
        &self,
        action: &str,
        operation: &str,
        // The envelope's own buffer: zeroed when reqwest drops the body (see `KeyedText`).
        body: Bytes,
    ) -> Result<Response<Option<T>>, SeveraError> {
        let transport =
            |kind: TransportKind, status: Option<u16>, message: String| SeveraError::Transport {
                operation: operation.to_string(),
                kind,
                status,
                message,
                quota: Quota::default(),
            };
        let response = self
            .http
            .post(self.url.clone())
            .header(reqwest::header::CONTENT_TYPE, "text/xml; charset=UTF-8")
            .header("SOAPAction", action)
            .body(body)
            .send()
            .await
            .map_err(|e| {
                let kind = reqwest_kind(&e);
                transport(kind, None, describe_reqwest(&e))
            })?;
        let status = response.status().as_u16();
        let content_type = response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_ascii_lowercase();
        if let Some(len) = response.content_length() {
            if len > self.config.max_response_bytes {
                return Err(transport(
                    TransportKind::TooLarge,
                    Some(status),
                    format!(
                        "the response is {len} bytes, over the {} byte limit (raise max_response_bytes)",
                        self.config.max_response_bytes
                    ),
                ));
            }
        }
        if content_type.contains("html") {
            let page = read_prefix(response, 64 * 1024).await;
            let title = html_title(&page).unwrap_or_else(|| "no title".to_string());
            return Err(transport(
                TransportKind::Maintenance,
                Some(status),
                format!(
                    "Severa answered with an HTML page ({title}); probably a maintenance break"
                ),
            ));
        }
        if (300..400).contains(&status) {
            let location = response
                .headers()
                .get(reqwest::header::LOCATION)
                .and_then(|v| v.to_str().ok())
                .and_then(|l| reqwest::Url::parse(l).ok())
                .and_then(|u| u.host_str().map(str::to_string))
                .unwrap_or_else(|| "another address".to_string());
            return Err(transport(
                TransportKind::HttpStatus,
                Some(status),
                format!(
                    "Severa's endpoint answered with a redirect (HTTP {status}) to {location}; it is not followed because the request carries the API key. Check the configured endpoint (SEVERA_ENDPOINT or the secret's endpoint)"
                ),
            ));
        }
        if status == 429 {
            return Err(transport(
                TransportKind::RateLimited,
                Some(status),
                "Severa is throttling requests (HTTP 429)".into(),
            ));
        }

        let (decoded, pumped) = decode_body::<T>(response, self.config.max_response_bytes).await;
        let received = match pumped {
            Ok(n) => n,
            Err(PumpError::TooLarge(limit)) => {
                return Err(transport(
                    TransportKind::TooLarge,
                    Some(status),
                    format!(
                        "the response exceeded the {limit} byte limit (raise max_response_bytes)"
                    ),
                ));
            }
            Err(PumpError::Body(e)) => {
                let kind = if e.is_timeout() {
                    TransportKind::Timeout
                } else {
                    TransportKind::Truncated
                };
                return Err(transport(
                    kind,
                    Some(status),
                    format!("the response broke off: {}", describe_reqwest(&e)),
                ));
            }
        };
        match decoded {
            Ok(Decoded {
                quota,
                outcome: Outcome::Fault(fault),
            }) => Err(SeveraError::Fault {
                operation: operation.to_string(),
                fault: Box::new(fault),
                quota,
            }),
            Ok(Decoded {
                quota,
                outcome: Outcome::Result(value),
            }) if status < 400 => Ok(Response { value, quota }),
            Ok(Decoded { quota, .. }) => Err(SeveraError::Transport {
                operation: operation.to_string(),
                kind: TransportKind::HttpStatus,
                status: Some(status),
                message: format!("HTTP {status} without a SOAP fault"),
                quota,
            }),
            Err(_) if received == 0 && status >= 400 => Err(transport(
                TransportKind::HttpStatus,
                Some(status),
                format!("HTTP {status} with an empty body"),
            )),
            Err(_) if received == 0 => Err(transport(
                TransportKind::EmptyBody,
                Some(status),
                "the response body is empty".into(),
            )),
            Err(_) if status >= 400 => Err(transport(
                TransportKind::HttpStatus,
                Some(status),
                format!("HTTP {status} with a body that is not a SOAP envelope"),
            )),
            Err(WireError::Truncated) => Err(transport(
                TransportKind::Truncated,
                Some(status),
                format!(
                    "the response ended after {received} bytes, before the envelope was complete"
                ),
            )),
            Err(e @ WireError::BadValue { .. }) => Err(transport(
                TransportKind::Malformed,
                Some(status),
                e.to_string(),
            )),
            Err(e) => Err(transport(
                TransportKind::Malformed,
                Some(status),
                e.to_string(),
            )),
        }
    }
}

/// rustls needs a process-wide crypto provider; ring keeps the build free of aws-lc and OpenSSL.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

fn reqwest_kind(e: &reqwest::Error) -> TransportKind {
    if e.is_timeout() {
        TransportKind::Timeout
    } else if e.is_connect() {
        TransportKind::Connect
    } else {
        TransportKind::Other
    }
}

/// The error and its causes on one line (reqwest's top-level message alone is vague).
fn describe_reqwest(e: &reqwest::Error) -> String {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

async fn read_prefix(mut response: reqwest::Response, limit: usize) -> String {
    let mut page = Vec::new();
    while let Ok(Some(chunk)) = response.chunk().await {
        page.extend_from_slice(&chunk);
        if page.len() >= limit {
            break;
        }
    }
    String::from_utf8_lossy(&page).into_owned()
}

fn html_title(page: &str) -> Option<String> {
    let lower = page.to_ascii_lowercase();
    let start = lower.find("<title")?;
    let open_end = start + lower[start..].find('>')? + 1;
    let end = open_end + lower[open_end..].find("</title")?;
    let title = page.get(open_end..end)?.trim();
    (!title.is_empty()).then(|| title.chars().take(120).collect())
}

enum PumpError {
    TooLarge(u64),
    Body(reqwest::Error),
}

/// Answers up to this size (one entity, a fault, a short list) are read whole and parsed on the
/// calling task: handing them to a parser thread cost more CPU than the parse (a thread wake-up
/// on each side), and the parse takes well under 100 µs, short enough not to hold up the runtime.
const INLINE_PARSE_BYTES: u64 = 16 * 1024;

/// The body decoded: small answers with a known length whole, everything else streamed.
async fn decode_body<T: FromWire + Send + 'static>(
    response: reqwest::Response,
    max_bytes: u64,
) -> (Result<Decoded<T>, WireError>, Result<u64, PumpError>) {
    match response.content_length() {
        Some(length) if length <= INLINE_PARSE_BYTES.min(max_bytes) => {
            whole_decode(response, length, max_bytes).await
        }
        _ => stream_decode(response, max_bytes).await,
    }
}

/// Reads the whole (small) body, then parses it. The declared length only sizes the buffer:
/// the limit is checked on what arrives, as when streaming.
async fn whole_decode<T: FromWire>(
    mut response: reqwest::Response,
    declared: u64,
    max_bytes: u64,
) -> (Result<Decoded<T>, WireError>, Result<u64, PumpError>) {
    let mut body = Vec::with_capacity(declared as usize);
    let pumped = loop {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                if (body.len() + chunk.len()) as u64 > max_bytes {
                    break Err(PumpError::TooLarge(max_bytes));
                }
                body.extend_from_slice(&chunk);
            }
            Ok(None) => break Ok(body.len() as u64),
            Err(e) => break Err(PumpError::Body(e)),
        }
    };
    (decode_response::<_, T>(body.as_slice()), pumped)
}

/// Feeds body chunks to the parser as they arrive; at most a few chunks are buffered, so memory
/// stays at the decoded result plus the chunks in flight.
async fn stream_decode<T: FromWire + Send + 'static>(
    mut response: reqwest::Response,
    max_bytes: u64,
) -> (Result<Decoded<T>, WireError>, Result<u64, PumpError>) {
    let (tx, rx) = tokio::sync::mpsc::channel::<Bytes>(8);
    let parser = tokio::task::spawn_blocking(move || {
        decode_response::<_, T>(ChannelReader {
            rx,
            current: Bytes::new(),
        })
    });
    let mut total = 0u64;
    let pumped = loop {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                total += chunk.len() as u64;
                if total > max_bytes {
                    break Err(PumpError::TooLarge(max_bytes));
                }
                if tx.send(chunk).await.is_err() {
                    // The parser stopped early (it saw an error); its result says why.
                    break Ok(total);
                }
            }
            Ok(None) => break Ok(total),
            Err(e) => break Err(PumpError::Body(e)),
        }
    };
    drop(tx);
    let decoded = match parser.await {
        Ok(result) => result,
        Err(join) => Err(WireError::Io(format!(
            "the response parser stopped: {join}"
        ))),
    };
    (decoded, pumped)
}

/// `BufRead` over body chunks delivered through a channel (used on the blocking parser thread):
/// the parser reads each chunk where it lies, with no buffer of its own to fill (a 64 KiB
/// `BufReader` was zeroed for every call, about a sixth of a small call's instructions).
struct ChannelReader {
    rx: tokio::sync::mpsc::Receiver<Bytes>,
    current: Bytes,
}

impl Read for ChannelReader {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        let available = self.fill_buf()?;
        let n = out.len().min(available.len());
        out[..n].copy_from_slice(&available[..n]);
        self.consume(n);
        Ok(n)
    }
}

impl BufRead for ChannelReader {
    fn fill_buf(&mut self) -> std::io::Result<&[u8]> {
        while self.current.is_empty() {
            match self.rx.blocking_recv() {
                Some(chunk) => self.current = chunk,
                None => break,
            }
        }
        Ok(&self.current)
    }

    fn consume(&mut self, amount: usize) {
        let _ = self.current.split_to(amount.min(self.current.len()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_title_of_a_maintenance_page() {
        let page = "<html><head><TITLE> Service break </TITLE></head><body>back soon</body></html>";
        assert_eq!(html_title(page).as_deref(), Some("Service break"));
        assert_eq!(html_title("<html>no title</html>"), None);
    }
}
