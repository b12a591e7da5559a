//! HTTP: the SOAP endpoint (maintenance, fault injection, auth, quota, dispatch, request log)
//! and the router that also mounts the admin API.

use crate::contract::{Operation, contract};
use crate::model::Kind;
use crate::ops::{self, Ctx};
use crate::soap::{self, Args, Notes, SoapRequest};
use crate::state::{FaultRule, InjectKind, LogEntry, Sim};
use crate::xml::{self, Fault};
use crate::{ADMIN_PREFIX, ENDPOINT_PATH, admin};
use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::Value as Json;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::sync::watch;

/// Longest an injected `hang` keeps a request open.
const HANG_CAP: Duration = Duration::from_secs(600);

pub struct AppState {
    pub sim: Mutex<Sim>,
    pub shutdown: watch::Receiver<bool>,
    pub load: CallLoad,
}

/// SOAP calls being served now and the most at once since the last reset: the load a client
/// put on "Severa" (`GET /__admin/load`), e.g. to check a bound on its calls in flight.
#[derive(Default)]
pub struct CallLoad {
    in_flight: AtomicUsize,
    peak: AtomicUsize,
}

impl CallLoad {
    /// Counts a call from now until the guard drops (also when the answer is cut off).
    fn enter(&self) -> InFlight<'_> {
        let now = self.in_flight.fetch_add(1, SeqCst) + 1;
        self.peak.fetch_max(now, SeqCst);
        InFlight(self)
    }

    pub fn in_flight(&self) -> usize {
        self.in_flight.load(SeqCst)
    }

    pub fn peak(&self) -> usize {
        self.peak.load(SeqCst)
    }

    /// The peak starts again from the calls in flight now.
    pub fn reset_peak(&self) {
        self.peak.store(self.in_flight.load(SeqCst), SeqCst);
    }
}

struct InFlight<'a>(&'a CallLoad);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, SeqCst);
    }
}

impl AppState {
    pub fn lock(&self) -> MutexGuard<'_, Sim> {
        self.sim
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

pub type Shared = Arc<AppState>;

pub fn router(app: Shared) -> Router {
    Router::new()
        .route(ENDPOINT_PATH, post(soap_endpoint).get(endpoint_info))
        .route(
            &format!("{ENDPOINT_PATH}/"),
            post(soap_endpoint).get(endpoint_info),
        )
        .nest(ADMIN_PREFIX, admin::router())
        .fallback(|| async { (StatusCode::NOT_FOUND, "severa-sim: no such path\n") })
        .layer(DefaultBodyLimit::max(64 * 1024 * 1024))
        .with_state(app)
}

async fn endpoint_info() -> Response {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        "severa-sim: POST SOAP 1.1 requests to this URL.\n",
    )
        .into_response()
}

fn xml_response(status: StatusCode, body: String) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/xml; charset=utf-8")],
        body,
    )
        .into_response()
}

fn maintenance_response() -> Response {
    (
        StatusCode::SERVICE_UNAVAILABLE,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        xml::MAINTENANCE_PAGE,
    )
        .into_response()
}

fn bare(status: StatusCode) -> Response {
    (status, Body::empty()).into_response()
}

/// A 200 response whose body stops halfway and then breaks the connection. It declares the
/// whole answer's length, as IIS does for WCF's buffered answers, so the client sees a body
/// that ends before its Content-Length.
fn truncated(body: String) -> Response {
    let bytes = Bytes::from(body.into_bytes());
    let declared = bytes.len();
    let cut = bytes.slice(..bytes.len() / 2);
    // Send the first half, give the connection a moment to flush it, then fail the body so
    // the connection is cut before the declared end.
    let stream = futures_util::stream::unfold(0u8, move |step| {
        let cut = cut.clone();
        async move {
            match step {
                0 => Some((Ok(cut), 1)),
                1 => {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    Some((
                        Err(std::io::Error::new(
                            std::io::ErrorKind::ConnectionAborted,
                            "severa-sim: injected truncation",
                        )),
                        2,
                    ))
                }
                _ => None,
            }
        }
    });
    (
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, "text/xml; charset=utf-8".to_string()),
            (header::CONTENT_LENGTH, declared.to_string()),
        ],
        Body::from_stream(stream),
    )
        .into_response()
}

/// Which operation a request names: the SOAPAction (quoted or not; exactly the contract's
/// text) first, else the Body's element. Anything outside Severa's contract is refused the way
/// the real service refuses it (there: `ActionNotSupported`).
fn resolve(action: Option<&str>, body_element: Option<&str>) -> Result<&'static Operation, Fault> {
    let unsupported = |name: &str| {
        Fault::general(format!(
            "operation {name} is not supported by severa-sim: it is not in Severa's service contract (the real service answers ActionNotSupported)"
        ))
    };
    let action = action
        .map(|a| a.trim().trim_matches('"').trim())
        .filter(|a| !a.is_empty());
    match action {
        Some(a) => {
            let op = contract().by_action(a).ok_or_else(|| unsupported(a))?;
            if let Some(element) = body_element
                && element != op.name
            {
                return Err(Fault::general(format!(
                    "The SOAPAction {a} does not match the Body element {element}"
                )));
            }
            Ok(op)
        }
        None => {
            let element = body_element.ok_or_else(|| Fault::general("The SOAP Body is empty"))?;
            contract()
                .by_name(element)
                .ok_or_else(|| unsupported(element))
        }
    }
}

struct Call<'a> {
    op: Option<&'static Operation>,
    body_element: Option<&'a str>,
    soap_action: Option<String>,
    params: Json,
    notes: Notes,
}

impl Call<'_> {
    fn log(
        &self,
        sim: &mut Sim,
        user: Option<String>,
        status: Option<u16>,
        fault: Option<&str>,
        injected: Option<InjectKind>,
    ) {
        let at = crate::model::utc_text(sim.clock.now());
        sim.push_log(LogEntry {
            seq: 0,
            at,
            interface: self.op.map(|o| o.interface.clone()),
            operation: self
                .op
                .map(|o| o.name.clone())
                .or_else(|| self.body_element.map(str::to_string)),
            soap_action: self.soap_action.clone(),
            user_guid: user,
            http_status: status,
            fault: fault.map(str::to_string),
            injected,
            params: self.params.clone(),
            ignored: self.notes.ignored.clone(),
            defaulted: self.notes.defaulted.clone(),
        });
    }
}

async fn soap_endpoint(State(app): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    let _in_flight = app.load.enter();
    let soap_action = headers
        .get("soapaction")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let parsed = soap::parse(&body);
    let (request, parse_error) = match parsed {
        Ok(r) => (r, None),
        Err(e) => (
            SoapRequest {
                body_element: None,
                key: None,
                params: Vec::new(),
            },
            Some(e),
        ),
    };
    let mut call = Call {
        op: None,
        body_element: request.body_element.as_deref(),
        soap_action: soap_action.clone(),
        params: soap::params_json(&request.params),
        notes: Notes::default(),
    };

    // Before the service: maintenance, unreadable envelopes, unknown operations. The message
    // is deserialised by the contract as soon as the operation is known, so what it ignored
    // or defaulted is logged whatever happens next.
    let args: Result<Args, Fault>;
    let injected: Option<FaultRule> = {
        let mut sim = app.lock();
        if sim.maintenance {
            call.log(
                &mut sim,
                None,
                Some(503),
                None,
                Some(InjectKind::Maintenance),
            );
            return maintenance_response();
        }
        if let Some(e) = parse_error {
            let fault = Fault::general(format!(
                "The request is not a readable SOAP 1.1 envelope: {e}"
            ));
            call.log(&mut sim, None, Some(500), Some(&fault.detail), None);
            return xml_response(StatusCode::INTERNAL_SERVER_ERROR, xml::fault(&fault, None));
        }
        match resolve(soap_action.as_deref(), call.body_element) {
            Ok(op) => {
                call.op = Some(op);
                args = soap::read_args(op, &request.params, &mut call.notes);
            }
            Err(fault) => {
                call.log(&mut sim, None, Some(500), Some(&fault.detail), None);
                return xml_response(StatusCode::INTERNAL_SERVER_ERROR, xml::fault(&fault, None));
            }
        }
        let op_name = call.op.map(|o| o.name.as_str()).unwrap_or_default();
        let rule = sim.take_injection(op_name);
        if let Some(rule) = &rule {
            let status = match rule.kind {
                InjectKind::Http503 | InjectKind::Maintenance => Some(503),
                InjectKind::Http502 => Some(502),
                InjectKind::Http429 => Some(429),
                InjectKind::Garbage => Some(200),
                _ => None,
            };
            if let Some(status) = status {
                call.log(&mut sim, None, Some(status), None, Some(rule.kind));
            }
            if rule.kind == InjectKind::Hang {
                call.log(&mut sim, None, None, None, Some(rule.kind));
            }
        }
        rule
    };

    if let Some(rule) = &injected {
        match rule.kind {
            InjectKind::Http503 => return bare(StatusCode::SERVICE_UNAVAILABLE),
            InjectKind::Http502 => return bare(StatusCode::BAD_GATEWAY),
            InjectKind::Http429 => return bare(StatusCode::TOO_MANY_REQUESTS),
            InjectKind::Maintenance => return maintenance_response(),
            InjectKind::Garbage => {
                return xml_response(
                    StatusCode::OK,
                    "<<< severa-sim injected garbage: this is not XML >>>".to_string(),
                );
            }
            InjectKind::Hang => {
                let mut shutdown = app.shutdown.clone();
                tokio::select! {
                    _ = tokio::time::sleep(HANG_CAP) => {}
                    _ = shutdown.wait_for(|stop| *stop) => {}
                }
                return bare(StatusCode::GATEWAY_TIMEOUT);
            }
            InjectKind::Latency => {
                let ms = rule
                    .latency_ms
                    .unwrap_or(0)
                    .min(HANG_CAP.as_millis() as u64);
                tokio::time::sleep(Duration::from_millis(ms)).await;
            }
            InjectKind::Fault | InjectKind::Truncate => {}
        }
    }

    // The service itself.
    let (status, xml_body) = {
        let mut sim = app.lock();
        let injected_kind = injected.as_ref().map(|r| r.kind);
        let Some(op) = call.op else {
            return bare(StatusCode::INTERNAL_SERVER_ERROR);
        };
        let outcome = serve(
            &mut sim,
            op,
            &request,
            args,
            injected.as_ref(),
            &mut call.notes,
        );
        let fault = outcome.fault.as_ref().map(|f| f.detail.clone());
        call.log(
            &mut sim,
            outcome.user.clone(),
            Some(outcome.status.as_u16()),
            fault.as_deref(),
            injected_kind,
        );
        tracing::info!(
            operation = op.name.as_str(),
            user = outcome.user.as_deref().unwrap_or("-"),
            status = outcome.status.as_u16(),
            fault = fault.as_deref().unwrap_or("-"),
            "soap call"
        );
        (outcome.status, outcome.body)
    };
    if injected
        .as_ref()
        .is_some_and(|r| r.kind == InjectKind::Truncate)
    {
        return truncated(xml_body);
    }
    xml_response(status, xml_body)
}

struct Outcome {
    status: StatusCode,
    body: String,
    user: Option<String>,
    fault: Option<Fault>,
}

fn fault_outcome(fault: Fault, quota: Option<(u64, u64)>, user: Option<String>) -> Outcome {
    Outcome {
        status: StatusCode::INTERNAL_SERVER_ERROR,
        body: xml::fault(&fault, quota),
        user,
        fault: Some(fault),
    }
}

/// Authentication, quota, injected service faults, deserialisation faults and the operation
/// itself.
fn serve(
    sim: &mut Sim,
    op: &'static Operation,
    request: &SoapRequest,
    args: Result<Args, Fault>,
    injected: Option<&FaultRule>,
    notes: &mut Notes,
) -> Outcome {
    let now = sim.clock.now();
    let user = match request.key.as_deref() {
        None => {
            return fault_outcome(
                Fault::authentication(
                    "Authentication failed: the WebServicePassword header is missing",
                ),
                None,
                None,
            );
        }
        Some(key) => sim.org.user_for_key(key).map(str::to_string),
    };
    let Some(user) = user else {
        return fault_outcome(
            Fault::authentication("Authentication failed: the API key is not valid"),
            None,
            None,
        );
    };
    if !sim
        .org
        .get(Kind::User, &user)
        .is_some_and(|u| u.flag("IsActive"))
    {
        return fault_outcome(
            Fault::authentication("Authentication failed: the API user is inactive"),
            None,
            None,
        );
    }
    sim.quota.roll(now);
    if sim.quota.used >= sim.quota.limit {
        let quota = Some((sim.quota.limit, sim.quota.used));
        return fault_outcome(Fault::quota(), quota, Some(user));
    }
    sim.quota.used += 1;
    let quota = Some((sim.quota.limit, sim.quota.used));
    if let Some(rule) = injected
        && rule.kind == InjectKind::Fault
    {
        let fault = Fault::new(
            rule.fault_type
                .as_deref()
                .unwrap_or("GeneralFailureException"),
            rule.message
                .clone()
                .unwrap_or_else(|| "Injected fault (severa-sim)".to_string()),
        );
        return fault_outcome(fault, quota, Some(user));
    }
    let args = match args {
        Ok(args) => args,
        Err(fault) => return fault_outcome(fault, quota, Some(user)),
    };
    let Some(handler) = ops::handler(&op.name) else {
        let fault = Fault::general(format!(
            "operation {}.{} is in Severa's contract but not simulated by severa-sim",
            op.interface, op.name
        ));
        return fault_outcome(fault, quota, Some(user));
    };
    let mut cx = Ctx {
        org: &mut sim.org,
        now,
        caller: &user,
        args: &args,
        defaulted: Vec::new(),
    };
    let result = handler(&mut cx);
    notes.defaulted.append(&mut cx.defaulted);
    match result {
        Ok(reply) if reply.fits(op.returns.as_ref()) => Outcome {
            status: StatusCode::OK,
            body: xml::success(&op.name, &reply, quota),
            user: Some(user),
            fault: None,
        },
        Ok(reply) => {
            let fault = Fault::general(format!(
                "severa-sim defect: {} answered {}, which does not fit the contract's return type",
                op.name,
                reply.describe()
            ));
            fault_outcome(fault, quota, Some(user))
        }
        Err(fault) => fault_outcome(fault, quota, Some(user)),
    }
}
