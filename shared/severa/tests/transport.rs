//! Transport behaviour over real HTTP on 127.0.0.1.
//!
//! A tiny hand-written HTTP/1.1 server (a tokio `TcpListener` writing raw bytes) stands in for
//! Severa here, because these are failure modes a simulator cannot produce precisely over one
//! response: a body cut off after its Content-Length was promised, a server that never answers,
//! an oversized body with and without Content-Length, a dead port, connection counting.

use severa::entities::HourEntry;
use severa::{
    ApiKey, FaultKind, SeveraClient, SeveraConfig, SeveraError, TransportKind, WireDateTime,
};
use std::str::FromStr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

const KEY: &str = "k-123";

// ---------------------------------------------------------------------------------------------
// The misbehaving server

#[derive(Debug, Clone)]
struct Request {
    method: String,
    path: String,
    headers: Vec<(String, String)>,
    body: String,
}

impl Request {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

enum Reply {
    /// Write these pieces (flushing after each) and keep the connection open for more requests.
    Send(Vec<Vec<u8>>),
    /// Write these pieces, then close the connection.
    SendAndClose(Vec<Vec<u8>>),
    /// Write these pieces, then never write anything again (connection left open).
    SendAndHang(Vec<Vec<u8>>),
}

type Handler = Arc<dyn Fn(usize, &Request) -> Reply + Send + Sync>;

struct TestServer {
    endpoint: String,
    connections: Arc<AtomicUsize>,
    requests: Arc<Mutex<Vec<Request>>>,
}

impl TestServer {
    async fn start(handler: impl Fn(usize, &Request) -> Reply + Send + Sync + 'static) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let connections = Arc::new(AtomicUsize::new(0));
        let requests = Arc::new(Mutex::new(Vec::new()));
        let handler: Handler = Arc::new(handler);
        let (conns, reqs) = (connections.clone(), requests.clone());
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                conns.fetch_add(1, Ordering::SeqCst);
                tokio::spawn(serve_connection(stream, handler.clone(), reqs.clone()));
            }
        });
        Self {
            endpoint: format!("http://{addr}/webservice/S3/API.svc"),
            connections,
            requests,
        }
    }

    fn requests(&self) -> Vec<Request> {
        self.requests.lock().unwrap().clone()
    }

    fn client(&self) -> SeveraClient {
        client_for(&self.endpoint, Duration::from_secs(2), 64 * 1024 * 1024)
    }
}

fn client_for(endpoint: &str, timeout: Duration, max_response_bytes: u64) -> SeveraClient {
    SeveraClient::new(
        SeveraConfig {
            endpoint: endpoint.to_string(),
            connect_timeout: Duration::from_secs(1),
            timeout,
            max_response_bytes,
            ..Default::default()
        },
        ApiKey::new(KEY),
    )
    .unwrap()
}

async fn serve_connection(stream: TcpStream, handler: Handler, requests: Arc<Mutex<Vec<Request>>>) {
    let (read, mut write) = stream.into_split();
    let mut read = BufReader::new(read);
    loop {
        let mut line = String::new();
        if read.read_line(&mut line).await.unwrap_or(0) == 0 {
            return;
        }
        let mut parts = line.split_whitespace();
        let method = parts.next().unwrap_or_default().to_string();
        let path = parts.next().unwrap_or_default().to_string();
        let mut headers = Vec::new();
        loop {
            let mut h = String::new();
            if read.read_line(&mut h).await.unwrap_or(0) == 0 {
                return;
            }
            let h = h.trim_end();
            if h.is_empty() {
                break;
            }
            if let Some((n, v)) = h.split_once(':') {
                headers.push((n.trim().to_string(), v.trim().to_string()));
            }
        }
        let len: usize = headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
            .and_then(|(_, v)| v.parse().ok())
            .unwrap_or(0);
        let mut body = vec![0; len];
        if read.read_exact(&mut body).await.is_err() {
            return;
        }
        let request = Request {
            method,
            path,
            headers,
            body: String::from_utf8_lossy(&body).into_owned(),
        };
        let index = {
            let mut all = requests.lock().unwrap();
            all.push(request.clone());
            all.len() - 1
        };
        let (pieces, after) = match handler(index, &request) {
            Reply::Send(p) => (p, 0),
            Reply::SendAndClose(p) => (p, 1),
            Reply::SendAndHang(p) => (p, 2),
        };
        for piece in pieces {
            if write.write_all(&piece).await.is_err() || write.flush().await.is_err() {
                return;
            }
        }
        match after {
            0 => {}
            1 => {
                let _ = write.shutdown().await;
                return;
            }
            _ => {
                tokio::time::sleep(Duration::from_secs(30)).await;
                return;
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Response builders (composed by hand from the facts sheet §2.2 / §3.2)

fn http(status: &str, content_type: Option<&str>, body: &[u8]) -> Vec<u8> {
    let mut head = format!("HTTP/1.1 {status}\r\nContent-Length: {}\r\n", body.len());
    if let Some(ct) = content_type {
        head.push_str(&format!("Content-Type: {ct}\r\n"));
    }
    head.push_str("\r\n");
    let mut out = head.into_bytes();
    out.extend_from_slice(body);
    out
}

const XML: Option<&str> = Some("text/xml; charset=utf-8");

fn quota_header(limit: u64, used: u64) -> String {
    format!(
        "<s:Header><Quota xmlns=\"http://soap.severa.com/\">{limit}</Quota><UsedQuota xmlns=\"http://soap.severa.com/\">{used}</UsedQuota></s:Header>"
    )
}

fn result_envelope(op: &str, result_inner: &str, quota: Option<(u64, u64)>) -> String {
    let header = quota.map(|(l, u)| quota_header(l, u)).unwrap_or_default();
    format!(
        "<s:Envelope xmlns:s=\"http://schemas.xmlsoap.org/soap/envelope/\">{header}<s:Body><{op}Response xmlns=\"http://soap.severa.com/\"><{op}Result xmlns:a=\"http://schemas.datacontract.org/2004/07/Severa.Entities.API\" xmlns:i=\"http://www.w3.org/2001/XMLSchema-instance\">{result_inner}</{op}Result></{op}Response></s:Body></s:Envelope>"
    )
}

fn fault_envelope(detail: &str, message: &str, quota: Option<(u64, u64)>) -> String {
    let header = quota.map(|(l, u)| quota_header(l, u)).unwrap_or_default();
    format!(
        "<s:Envelope xmlns:s=\"http://schemas.xmlsoap.org/soap/envelope/\">{header}<s:Body><s:Fault><faultcode>s:Client</faultcode><faultstring xml:lang=\"en-US\">{message}</faultstring><detail><{detail} xmlns=\"http://schemas.datacontract.org/2004/07/Severa.API\" xmlns:i=\"http://www.w3.org/2001/XMLSchema-instance\"><Description>{message}</Description><Source i:nil=\"true\"/></{detail}></detail></s:Fault></s:Body></s:Envelope>"
    )
}

fn version_ok() -> Vec<u8> {
    http(
        "200 OK",
        XML,
        result_envelope("GetVersion", "3.14.0", Some((100000, 7))).as_bytes(),
    )
}

/// Checks the error never shows the key, and returns (kind, status, message).
fn transport_parts(e: &SeveraError) -> (TransportKind, Option<u16>, String) {
    assert_no_key(e);
    match e {
        SeveraError::Transport {
            kind,
            status,
            message,
            ..
        } => (*kind, *status, message.clone()),
        other => panic!("expected a transport error, got {other:?}"),
    }
}

fn assert_no_key(e: &SeveraError) {
    let (display, debug) = (format!("{e}"), format!("{e:?}"));
    assert!(!display.contains(KEY), "key in Display: {display}");
    assert!(!debug.contains(KEY), "key in Debug: {debug}");
}

// ---------------------------------------------------------------------------------------------
// Success path and what the server received

#[tokio::test]
async fn successful_call_returns_value_and_quota() {
    let server = TestServer::start(|_, _| Reply::Send(vec![version_ok()])).await;
    let client = server.client();
    let r = client.get_version().await.unwrap();
    assert_eq!(r.value, "3.14.0");
    assert_eq!((r.quota.limit, r.quota.used), (Some(100000), Some(7)));
    assert_eq!(client.last_quota(), r.quota);
}

#[tokio::test]
async fn request_has_soap_headers_and_the_key() {
    let server = TestServer::start(|_, _| Reply::Send(vec![version_ok()])).await;
    server.client().get_version().await.unwrap();
    let reqs = server.requests();
    assert_eq!(reqs.len(), 1);
    let r = &reqs[0];
    assert_eq!(r.method, "POST");
    assert_eq!(r.path, "/webservice/S3/API.svc");
    assert_eq!(r.header("content-type"), Some("text/xml; charset=UTF-8"));
    assert_eq!(
        r.header("soapaction"),
        Some("\"http://soap.severa.com/IAPI/GetVersion\"")
    );
    assert!(
        r.body.contains(&format!(
            "<WebServicePassword xmlns=\"http://soap.severa.com/\">{KEY}</WebServicePassword>"
        )),
        "{}",
        r.body
    );
    assert!(r.body.contains("<t:GetVersion></t:GetVersion>") || r.body.contains("<t:GetVersion/>"));
    assert!(
        r.header("user-agent")
            .is_some_and(|ua| ua.starts_with("severa-bridge/"))
    );
}

#[tokio::test]
async fn typed_calls_send_the_tables_parameter_names() {
    let server = TestServer::start(|_, req| {
        let op = req
            .header("soapaction")
            .and_then(|a| a.trim_matches('"').rsplit('/').next())
            .unwrap_or_default()
            .to_string();
        Reply::Send(vec![http(
            "200 OK",
            XML,
            result_envelope(&op, "", None).as_bytes(),
        )])
    })
    .await;
    let client = server.client();
    let start = WireDateTime::from_str("2024-05-01").unwrap();
    let end = WireDateTime::from_str("2024-05-31").unwrap();
    assert!(
        client
            .get_hour_entries_by_case_guid("case-1", Some(start), Some(end))
            .await
            .unwrap()
            .value
            .is_empty()
    );
    assert!(
        client
            .get_phases_by_case_guid("case-1")
            .await
            .unwrap()
            .value
            .is_empty()
    );
    let since = WireDateTime::from_str("2024-05-02T10:00:00Z").unwrap();
    assert!(
        client
            .get_hour_entries_changed_since(since)
            .await
            .unwrap()
            .value
            .is_empty()
    );
    assert!(
        client
            .get_all_invoice_statuses()
            .await
            .unwrap()
            .value
            .is_empty()
    );
    let reqs = server.requests();
    assert_eq!(
        reqs[0].header("soapaction"),
        Some("\"http://soap.severa.com/IHourEntry/GetHourEntriesByCaseGUID\"")
    );
    assert!(reqs[0].body.contains(
        "<t:GetHourEntriesByCaseGUID><t:caseGuid>case-1</t:caseGuid><t:startDate>2024-05-01</t:startDate><t:endDate>2024-05-31</t:endDate></t:GetHourEntriesByCaseGUID>"
    ), "{}", reqs[0].body);
    assert_eq!(
        reqs[1].header("soapaction"),
        Some("\"http://soap.severa.com/IPhase/GetPhasesByCaseGUID\"")
    );
    assert!(
        reqs[1].body.contains("<t:caseGUID>case-1</t:caseGUID>"),
        "{}",
        reqs[1].body
    );
    assert!(
        reqs[2]
            .body
            .contains("<t:startDate>2024-05-02T10:00:00Z</t:startDate>"),
        "{}",
        reqs[2].body
    );
    assert_eq!(
        reqs[3].header("soapaction"),
        Some("\"http://soap.severa.com/IInvoiceStatus/GetAllInvoiceStatuses\"")
    );
}

#[tokio::test]
async fn bad_input_fails_before_anything_is_sent() {
    let server = TestServer::start(|_, _| Reply::Send(vec![version_ok()])).await;
    let entry = HourEntry {
        description: Some("bell\u{7}".into()),
        ..Default::default()
    };
    let e = server
        .client()
        .add_new_hour_entry(&entry)
        .await
        .unwrap_err();
    assert_no_key(&e);
    match &e {
        SeveraError::Request { operation, message } => {
            assert_eq!(operation, "AddNewHourEntry");
            assert!(
                message.contains("Description") && message.contains("U+0007"),
                "{message}"
            );
        }
        other => panic!("{other:?}"),
    }
    assert!(!e.is_retryable());
    assert_eq!(e.type_name(), "InvalidRequest");
    assert!(server.requests().is_empty());
}

#[tokio::test]
async fn two_sequential_calls_share_one_connection() {
    let server = TestServer::start(|_, _| Reply::Send(vec![version_ok()])).await;
    let client = server.client();
    client.get_version().await.unwrap();
    client.get_version().await.unwrap();
    // A clone with another key shares the pool too.
    client
        .with_key(ApiKey::new("k-other"))
        .get_version()
        .await
        .unwrap();
    assert_eq!(server.requests().len(), 3);
    assert_eq!(server.connections.load(Ordering::SeqCst), 1);
    assert!(
        server.requests()[2]
            .body
            .contains(">k-other</WebServicePassword>")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_streamed_response_decodes() {
    // ~20 MiB of hour entries, sent with chunked transfer encoding in 64 KiB writes.
    const ENTRIES: usize = 60_000;
    let entry = |i: usize| {
        format!(
            "<a:HourEntry><a:CaseGUID>case-{}</a:CaseGUID><a:Description>Work item {i} &amp; some padding text to make this entry larger than a few hundred bytes, with ä and 😀 and more padding here</a:Description><a:EventDate>2024-05-02T00:00:00</a:EventDate><a:GUID>he-{i}</a:GUID><a:InvoiceGUID i:nil=\"true\"/><a:IsBillable>true</a:IsBillable><a:Quantity>{}.25</a:Quantity><a:TaskGUID>Äino</a:TaskGUID><a:UserGUID>user-{}</a:UserGUID></a:HourEntry>",
            i % 17,
            i % 8,
            i % 5
        )
    };
    let mut body = String::with_capacity(21 << 20);
    body.push_str("<s:Envelope xmlns:s=\"http://schemas.xmlsoap.org/soap/envelope/\">");
    body.push_str(&quota_header(100000, 1));
    body.push_str("<s:Body><GetHourEntriesChangedSinceResponse xmlns=\"http://soap.severa.com/\"><GetHourEntriesChangedSinceResult xmlns:a=\"http://schemas.datacontract.org/2004/07/Severa.Entities.API\" xmlns:i=\"http://www.w3.org/2001/XMLSchema-instance\">");
    for i in 0..ENTRIES {
        body.push_str(&entry(i));
    }
    body.push_str("</GetHourEntriesChangedSinceResult></GetHourEntriesChangedSinceResponse></s:Body></s:Envelope>");
    assert!(body.len() > 20 << 20, "{}", body.len());
    let body = Arc::new(body.into_bytes());
    let server = TestServer::start(move |_, _| {
        let mut pieces = vec![
            b"HTTP/1.1 200 OK\r\nContent-Type: text/xml; charset=utf-8\r\nTransfer-Encoding: chunked\r\n\r\n"
                .to_vec(),
        ];
        for chunk in body.chunks(64 * 1024) {
            let mut piece = format!("{:x}\r\n", chunk.len()).into_bytes();
            piece.extend_from_slice(chunk);
            piece.extend_from_slice(b"\r\n");
            pieces.push(piece);
        }
        pieces.push(b"0\r\n\r\n".to_vec());
        Reply::Send(pieces)
    })
    .await;
    let client = client_for(&server.endpoint, Duration::from_secs(60), 64 << 20);
    let started = Instant::now();
    let r = client
        .get_hour_entries_changed_since(WireDateTime::from_str("2024-01-01").unwrap())
        .await
        .unwrap();
    let entries = r.value;
    assert_eq!(entries.len(), ENTRIES, "after {:?}", started.elapsed());
    assert_eq!(r.quota.used, Some(1));
    for i in [0, 1, 12_345, ENTRIES - 1] {
        let e = &entries[i];
        assert_eq!(e.guid.as_deref(), Some(&*format!("he-{i}")));
        assert_eq!(
            e.quantity.map(|q| q.to_string()),
            Some(format!("{}.25", i % 8))
        );
        assert!(
            e.description
                .as_deref()
                .unwrap()
                .starts_with(&format!("Work item {i} & "))
        );
        assert_eq!(e.task_guid.as_deref(), Some("Äino"));
        assert_eq!(e.invoice_guid, None);
    }
}

// ---------------------------------------------------------------------------------------------
// HTTP-level failures

#[tokio::test]
async fn html_maintenance_page_is_maintenance() {
    let page = "<!DOCTYPE html><html><head><title>Visma Severa - Service break</title></head><body><h1>We'll be back soon</h1><br></body></html>";
    let server = TestServer::start(move |_, _| {
        Reply::Send(vec![http(
            "503 Service Unavailable",
            Some("text/html; charset=utf-8"),
            page.as_bytes(),
        )])
    })
    .await;
    let e = server.client().get_version().await.unwrap_err();
    let (kind, status, message) = transport_parts(&e);
    assert_eq!(kind, TransportKind::Maintenance);
    assert_eq!(status, Some(503));
    assert!(
        message.contains("Visma Severa - Service break"),
        "{message}"
    );
    assert!(e.is_retryable());
    assert_eq!(e.type_name(), "Transport.Maintenance");
    assert!(format!("{e}").contains("GetVersion"), "{e}");
}

#[tokio::test]
async fn bad_gateway_and_gateway_timeout_with_empty_bodies() {
    for status in [
        "502 Bad Gateway",
        "504 Gateway Timeout",
        "503 Service Unavailable",
    ] {
        let server =
            TestServer::start(move |_, _| Reply::Send(vec![http(status, None, b"")])).await;
        let e = server
            .client()
            .get_all_invoice_statuses()
            .await
            .unwrap_err();
        let (kind, code, message) = transport_parts(&e);
        assert_eq!(kind, TransportKind::HttpStatus, "{status}");
        assert_eq!(
            Some(code.unwrap().to_string()),
            status.split(' ').next().map(str::to_string)
        );
        assert!(message.contains(&status[..3]), "{message}");
        assert!(e.is_retryable(), "{status}");
    }
}

#[tokio::test]
async fn other_http_errors_without_a_fault() {
    // 500 with a plain-text body: retryable (server trouble, no typed fault).
    let server = TestServer::start(|_, _| {
        Reply::Send(vec![http(
            "500 Internal Server Error",
            Some("text/plain"),
            b"Internal Server Error",
        )])
    })
    .await;
    let e = server.client().get_version().await.unwrap_err();
    let (kind, status, _) = transport_parts(&e);
    assert_eq!((kind, status), (TransportKind::HttpStatus, Some(500)));
    assert!(e.is_retryable());
    // 404: the endpoint is wrong; retrying will not help.
    let server =
        TestServer::start(|_, _| Reply::Send(vec![http("404 Not Found", None, b"")])).await;
    let e = server.client().get_version().await.unwrap_err();
    let (kind, status, _) = transport_parts(&e);
    assert_eq!((kind, status), (TransportKind::HttpStatus, Some(404)));
    assert!(!e.is_retryable());
}

#[tokio::test]
async fn too_many_requests_is_rate_limited() {
    let server = TestServer::start(|_, _| {
        Reply::Send(vec![
            b"HTTP/1.1 429 Too Many Requests\r\nRetry-After: 1\r\nContent-Length: 0\r\n\r\n"
                .to_vec(),
        ])
    })
    .await;
    let e = server.client().get_version().await.unwrap_err();
    let (kind, status, message) = transport_parts(&e);
    assert_eq!((kind, status), (TransportKind::RateLimited, Some(429)));
    assert!(message.contains("429"), "{message}");
    assert!(e.is_retryable());
}

#[tokio::test]
async fn ok_with_empty_body() {
    let server = TestServer::start(|_, _| Reply::Send(vec![http("200 OK", XML, b"")])).await;
    let e = server.client().get_version().await.unwrap_err();
    let (kind, status, message) = transport_parts(&e);
    assert_eq!((kind, status), (TransportKind::EmptyBody, Some(200)));
    assert!(message.contains("empty"), "{message}");
}

#[tokio::test]
async fn body_cut_off_mid_envelope_is_truncated() {
    let full = result_envelope(
        "GetAllInvoiceStatuses",
        "<a:InvoiceStatus><a:Name>Paid</a:Name></a:InvoiceStatus>",
        None,
    );
    let sent = full[..full.len() / 2].to_string();
    let server = TestServer::start(move |_, _| {
        let head = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: text/xml; charset=utf-8\r\nContent-Length: {}\r\n\r\n",
            full.len()
        );
        Reply::SendAndClose(vec![head.into_bytes(), sent.clone().into_bytes()])
    })
    .await;
    let e = server
        .client()
        .get_all_invoice_statuses()
        .await
        .unwrap_err();
    let (kind, status, message) = transport_parts(&e);
    assert_eq!((kind, status), (TransportKind::Truncated, Some(200)));
    assert!(!message.is_empty());
    assert!(e.is_retryable());
}

#[tokio::test]
async fn body_cut_off_with_connection_close_is_truncated() {
    // No Content-Length, body delimited by the connection close: the document itself is short.
    let full = result_envelope(
        "GetAllInvoiceStatuses",
        "<a:InvoiceStatus><a:Name>Paid</a:Name></a:InvoiceStatus>",
        None,
    );
    let sent = full[..full.len() - 40].to_string();
    let server = TestServer::start(move |_, _| {
        Reply::SendAndClose(vec![
            b"HTTP/1.1 200 OK\r\nContent-Type: text/xml\r\nConnection: close\r\n\r\n".to_vec(),
            sent.clone().into_bytes(),
        ])
    })
    .await;
    let e = server
        .client()
        .get_all_invoice_statuses()
        .await
        .unwrap_err();
    let (kind, _, message) = transport_parts(&e);
    assert_eq!(kind, TransportKind::Truncated, "{message}");
    assert!(e.is_retryable());
}

#[tokio::test]
async fn garbage_xml_is_malformed() {
    for garbage in [
        "<<<not xml at all>>>",
        "<a><b></a></b>",
        "<html><body>not soap</body></html>",
        "Service temporarily unavailable",
    ] {
        let server = TestServer::start(move |_, _| {
            Reply::Send(vec![http("200 OK", XML, garbage.as_bytes())])
        })
        .await;
        let e = server.client().get_version().await.unwrap_err();
        let (kind, status, message) = transport_parts(&e);
        assert_eq!(kind, TransportKind::Malformed, "{garbage}: {message}");
        assert_eq!(status, Some(200));
        assert!(!message.is_empty());
    }
}

#[tokio::test]
async fn missing_required_result_is_malformed() {
    let server = TestServer::start(|_, _| {
        Reply::Send(vec![http(
            "200 OK",
            XML,
            b"<s:Envelope xmlns:s=\"http://schemas.xmlsoap.org/soap/envelope/\"><s:Body><GetVersionResponse xmlns=\"http://soap.severa.com/\"/></s:Body></s:Envelope>",
        )])
    })
    .await;
    let e = server.client().get_version().await.unwrap_err();
    let (kind, _, message) = transport_parts(&e);
    assert_eq!(kind, TransportKind::NoResult);
    assert!(message.contains("no result"), "{message}");
}

#[tokio::test]
async fn bad_value_in_result_is_malformed_naming_the_member() {
    let server = TestServer::start(|_, _| {
        Reply::Send(vec![http(
            "200 OK",
            XML,
            result_envelope("GetHourEntryByGUID", "<a:Quantity>lots</a:Quantity>", None).as_bytes(),
        )])
    })
    .await;
    let e = server
        .client()
        .get_hour_entry_by_guid("g")
        .await
        .unwrap_err();
    let (kind, _, message) = transport_parts(&e);
    assert_eq!(kind, TransportKind::Malformed);
    assert!(
        message.contains("Quantity") && message.contains("lots"),
        "{message}"
    );
}

// ---------------------------------------------------------------------------------------------
// SOAP faults

#[tokio::test]
async fn soap_faults_of_every_kind() {
    for kind in FaultKind::ALL {
        let detail = kind.detail_name();
        let server = TestServer::start(move |_, _| {
            Reply::Send(vec![http(
                "500 Internal Server Error",
                XML,
                fault_envelope(detail, &format!("Because {detail}"), Some((100000, 100000)))
                    .as_bytes(),
            )])
        })
        .await;
        let client = server.client();
        let e = client.get_all_invoice_statuses().await.unwrap_err();
        assert_no_key(&e);
        match &e {
            SeveraError::Fault {
                operation, fault, ..
            } => {
                assert_eq!(operation, "GetAllInvoiceStatuses");
                assert_eq!(fault.kind, kind);
                assert_eq!(fault.message, format!("Because {detail}"));
                assert_eq!(
                    fault.description.as_deref(),
                    Some(&*format!("Because {detail}"))
                );
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(e.fault_kind(), Some(kind));
        assert_eq!(
            e.is_retryable(),
            kind == FaultKind::QuotaLimitExceeded,
            "{kind}"
        );
        assert_eq!(
            (e.quota().limit, e.quota().used),
            (Some(100000), Some(100000))
        );
        assert_eq!(
            client.last_quota(),
            e.quota(),
            "a fault's quota headers are remembered"
        );
        assert_eq!(e.type_name(), detail);
        let text = e.to_string();
        assert!(
            text.contains(&format!("Because {detail}")) && text.contains(detail),
            "{text}"
        );
    }
}

#[tokio::test]
async fn fault_with_http_200_is_still_a_fault() {
    let server = TestServer::start(|_, _| {
        Reply::Send(vec![http(
            "200 OK",
            XML,
            fault_envelope("ValidationException", "Quantity cannot exceed 999", None).as_bytes(),
        )])
    })
    .await;
    let e = server
        .client()
        .add_new_hour_entry(&HourEntry::default())
        .await
        .unwrap_err();
    assert_eq!(e.fault_kind(), Some(FaultKind::Validation));
    assert!(!e.is_retryable());
    assert!(!e.quota().is_known());
}

// ---------------------------------------------------------------------------------------------
// Connection-level failures

#[tokio::test]
async fn connection_refused_is_connect() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let client = client_for(
        &format!("http://{addr}/webservice/S3/API.svc"),
        Duration::from_secs(2),
        1 << 20,
    );
    let e = client.get_version().await.unwrap_err();
    let (kind, status, message) = transport_parts(&e);
    assert_eq!((kind, status), (TransportKind::Connect, None));
    assert!(!message.is_empty());
    assert!(e.is_retryable());
}

#[tokio::test]
async fn a_redirect_is_not_followed_so_the_key_goes_nowhere_else() {
    let elsewhere = TestServer::start(|_, _| Reply::Send(vec![http("200 OK", XML, b"")])).await;
    let target = elsewhere.endpoint.clone();
    let server = TestServer::start(move |_, _| {
        let head = format!(
            "HTTP/1.1 307 Temporary Redirect\r\nLocation: {target}\r\nContent-Length: 0\r\n\r\n"
        );
        Reply::Send(vec![head.into_bytes()])
    })
    .await;
    let e = server.client().get_version().await.unwrap_err();
    let (kind, status, message) = transport_parts(&e);
    assert_eq!((kind, status), (TransportKind::HttpStatus, Some(307)));
    assert!(
        message.contains("redirect") && message.contains("127.0.0.1"),
        "{message}"
    );
    assert!(!e.is_retryable(), "a wrong endpoint does not fix itself");
    assert!(
        elsewhere.requests().is_empty(),
        "the envelope with the key was not re-sent"
    );
    assert!(!format!("{e}{e:?}").contains(KEY));
}

#[tokio::test]
async fn server_that_never_answers_times_out() {
    let server = TestServer::start(|_, _| Reply::SendAndHang(vec![])).await;
    let client = client_for(&server.endpoint, Duration::from_millis(500), 1 << 20);
    let started = Instant::now();
    let e = client.get_version().await.unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(5));
    let (kind, status, _) = transport_parts(&e);
    assert_eq!((kind, status), (TransportKind::Timeout, None));
    assert!(e.is_retryable());
}

#[tokio::test]
async fn server_that_stalls_mid_body_times_out() {
    let server = TestServer::start(|_, _| {
        Reply::SendAndHang(vec![
            b"HTTP/1.1 200 OK\r\nContent-Type: text/xml\r\nContent-Length: 5000\r\n\r\n<s:Envelope xmlns:s=\"http://schemas.xmlsoap.org/soap/envelope/\"><s:Body>".to_vec(),
        ])
    })
    .await;
    let client = client_for(&server.endpoint, Duration::from_millis(500), 1 << 20);
    let e = client.get_version().await.unwrap_err();
    let (kind, _, _) = transport_parts(&e);
    assert_eq!(kind, TransportKind::Timeout);
    assert!(e.is_retryable());
}

#[tokio::test]
async fn response_over_the_cap_with_content_length() {
    let big = result_envelope("GetVersion", &"x".repeat(10_000), None);
    let server =
        TestServer::start(move |_, _| Reply::Send(vec![http("200 OK", XML, big.as_bytes())])).await;
    let client = client_for(&server.endpoint, Duration::from_secs(2), 4096);
    let e = client.get_version().await.unwrap_err();
    let (kind, _, message) = transport_parts(&e);
    assert_eq!(kind, TransportKind::TooLarge);
    assert!(message.contains("4096"), "{message}");
    assert!(!e.is_retryable());
}

#[tokio::test]
async fn response_over_the_cap_without_content_length() {
    let server = TestServer::start(|_, _| {
        let mut pieces = vec![
            b"HTTP/1.1 200 OK\r\nContent-Type: text/xml\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec(),
        ];
        let open = "<s:Envelope xmlns:s=\"http://schemas.xmlsoap.org/soap/envelope/\"><s:Body><GetVersionResponse xmlns=\"http://soap.severa.com/\"><GetVersionResult>";
        pieces.push(format!("{:x}\r\n{open}\r\n", open.len()).into_bytes());
        for _ in 0..64 {
            let chunk = "y".repeat(1024);
            pieces.push(format!("{:x}\r\n{chunk}\r\n", chunk.len()).into_bytes());
        }
        let close = "</GetVersionResult></GetVersionResponse></s:Body></s:Envelope>";
        pieces.push(format!("{:x}\r\n{close}\r\n0\r\n\r\n", close.len()).into_bytes());
        Reply::Send(pieces)
    })
    .await;
    let client = client_for(&server.endpoint, Duration::from_secs(2), 16 * 1024);
    let e = client.get_version().await.unwrap_err();
    let (kind, _, message) = transport_parts(&e);
    assert_eq!(kind, TransportKind::TooLarge, "{message}");
    assert!(!e.is_retryable());
    // Under a bigger cap the same response is fine.
    let client = client_for(&server.endpoint, Duration::from_secs(2), 1 << 20);
    assert_eq!(client.get_version().await.unwrap().value.len(), 64 * 1024);
}
