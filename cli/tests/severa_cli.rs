//! Runs the built `bridgectl` binary against a real HTTP server on loopback.
//!
//! The server here is a tiny fixed-answer stand-in for the project's Severa simulator
//! (`tests/severa-sim`), used only in the CLI's own tests so they do not depend on the
//! simulator's progress; the answers are composed in Severa's wire shape (facts sheet
//! §2.2 / §3.2): `s:` envelope, `Quota`/`UsedQuota` headers, `<OpResponse>`/`<OpResult>` with
//! `a:`/`i:` declarations, faults as HTTP 500.
//!
//! The contract checks of `call` (refused before sending, `--force`) run against `severa-sim`
//! itself, whose request log (`/__admin/requests`) proves what did or did not reach Severa.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Command, Output};
use std::sync::{Arc, Mutex};
use std::thread;

const KEY: &str = "test-key-7f3a9c1e-do-not-print";
const NS_ENT: &str = "http://schemas.datacontract.org/2004/07/Severa.Entities.API";
const NS_XSI: &str = "http://www.w3.org/2001/XMLSchema-instance";

/// One request as the server received it.
#[derive(Debug, Clone)]
struct Received {
    path: String,
    headers: Vec<(String, String)>,
    body: String,
}

impl Received {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

type Handler = dyn Fn(&Received) -> (u16, String) + Send + Sync;

struct Server {
    url: String,
    received: Arc<Mutex<Vec<Received>>>,
}

impl Server {
    /// Answers every request with `handler(request)`; keeps connections alive like IIS does.
    fn start(handler: impl Fn(&Received) -> (u16, String) + Send + Sync + 'static) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!(
            "http://{}/webservice/S3/API.svc",
            listener.local_addr().unwrap()
        );
        let received = Arc::new(Mutex::new(Vec::new()));
        let handler: Arc<Handler> = Arc::new(handler);
        let log = received.clone();
        thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let handler = handler.clone();
                let log = log.clone();
                thread::spawn(move || serve(stream, &*handler, &log));
            }
        });
        Self { url, received }
    }

    fn requests(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }
}

fn serve(stream: TcpStream, handler: &Handler, log: &Mutex<Vec<Received>>) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut writer = stream;
    loop {
        let mut request_line = String::new();
        if reader.read_line(&mut request_line).unwrap_or(0) == 0 {
            return;
        }
        let path = request_line
            .split_whitespace()
            .nth(1)
            .unwrap_or_default()
            .to_string();
        let mut headers = Vec::new();
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).unwrap_or(0) == 0 {
                return;
            }
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            if let Some((n, v)) = line.split_once(':') {
                headers.push((n.trim().to_string(), v.trim().to_string()));
            }
        }
        let len: usize = headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
            .and_then(|(_, v)| v.parse().ok())
            .unwrap_or(0);
        let mut body = vec![0; len];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        let request = Received {
            path,
            headers,
            body: String::from_utf8_lossy(&body).into_owned(),
        };
        let (status, answer) = handler(&request);
        log.lock().unwrap().push(request);
        let reason = if status == 200 {
            "OK"
        } else {
            "Internal Server Error"
        };
        let head = format!(
            "HTTP/1.1 {status} {reason}\r\nContent-Type: text/xml; charset=utf-8\r\nContent-Length: {}\r\n\r\n",
            answer.len()
        );
        if writer.write_all(head.as_bytes()).is_err()
            || writer.write_all(answer.as_bytes()).is_err()
        {
            return;
        }
    }
}

/// The SOAPAction's operation (`"http://soap.severa.com/IAPI/GetVersion"` → `GetVersion`).
fn action_op(request: &Received) -> String {
    request
        .header("SOAPAction")
        .unwrap_or_default()
        .trim_matches('"')
        .rsplit('/')
        .next()
        .unwrap_or_default()
        .to_string()
}

fn envelope(body: &str) -> String {
    format!(
        r#"<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Header><Quota xmlns="http://soap.severa.com/">100000</Quota><UsedQuota xmlns="http://soap.severa.com/">42</UsedQuota></s:Header><s:Body>{body}</s:Body></s:Envelope>"#
    )
}

fn result(op: &str, inner: &str) -> String {
    envelope(&format!(
        r#"<{op}Response xmlns="http://soap.severa.com/"><{op}Result xmlns:a="{NS_ENT}" xmlns:i="{NS_XSI}">{inner}</{op}Result></{op}Response>"#
    ))
}

fn void(op: &str) -> String {
    envelope(&format!(
        r#"<{op}Response xmlns="http://soap.severa.com/"/>"#
    ))
}

fn fault(detail: &str, message: &str) -> String {
    envelope(&format!(
        r#"<s:Fault><faultcode>s:Client</faultcode><faultstring xml:lang="en-US">{message}</faultstring><detail><{detail} xmlns="http://schemas.datacontract.org/2004/07/Severa.API" xmlns:i="{NS_XSI}"><Description>{message}</Description><Source i:nil="true"/></{detail}></detail></s:Fault>"#
    ))
}

const CASE: &str = "<a:CaseNumber>1042</a:CaseNumber><a:Description i:nil=\"true\"/><a:GUID>case-1</a:GUID><a:Name>Fish &amp; chips</a:Name>";

const HOUR_ENTRY_1: &str = "<a:HourEntry><a:Description>Planning &lt;3</a:Description><a:EventDate>2024-05-02T00:00:00</a:EventDate><a:GUID>he-1</a:GUID><a:InvoiceGUID i:nil=\"true\"/><a:Quantity>1.5</a:Quantity></a:HourEntry>";
const HOUR_ENTRY_2: &str =
    "<a:HourEntry><a:GUID>he-2</a:GUID><a:Quantity>2</a:Quantity></a:HourEntry>";

/// Severa as the tests need it: a few operations, and an authentication fault for a wrong key.
fn fake_severa(request: &Received) -> (u16, String) {
    if !request.body.contains(&format!(
        "<WebServicePassword xmlns=\"http://soap.severa.com/\">{KEY}</WebServicePassword>"
    )) {
        return (
            500,
            fault(
                "AuthenticationFailureException",
                "Access denied for key wrong-key-xyz",
            ),
        );
    }
    let op = action_op(request);
    match op.as_str() {
        "GetVersion" => (200, result(&op, "3.7.1")),
        "GetEntitySchemaVersion" => (200, result(&op, "12")),
        "GetCaseByGUID" => (200, result(&op, CASE)),
        "GetHourEntriesByCaseGUID" => (200, result(&op, &format!("{HOUR_ENTRY_1}{HOUR_ENTRY_2}"))),
        "GetHourEntriesChangedSince" => (200, result(&op, HOUR_ENTRY_2)),
        "GetAllInvoiceStatuses" => (
            200,
            envelope(&format!(
                r#"<{op}Response xmlns="http://soap.severa.com/"><{op}Result xmlns:a="{NS_ENT}" xmlns:i="{NS_XSI}"/></{op}Response>"#
            )),
        ),
        "SetInvoicePaymentDate" => (200, void(&op)),
        "AddNewHourEntry" => (200, result(&op, "<a:GUID>he-new</a:GUID>")),
        "DeleteHourEntry" => (500, fault("ValidationException", "Entry is locked")),
        _ => (500, fault("GeneralFailureException", "unknown operation")),
    }
}

fn bridgectl(endpoint: &str, key: Option<&str>, args: &[&str]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_bridgectl"));
    cmd.args(args)
        .env_remove("RUST_LOG")
        .env_remove("SEVERA_API_KEY")
        .env("SEVERA_ENDPOINT", endpoint);
    if let Some(key) = key {
        cmd.env("SEVERA_API_KEY", key);
    }
    cmd.output().unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn stdout_json(out: &Output) -> serde_json::Value {
    assert_eq!(
        out.status.code(),
        Some(0),
        "stdout: {} stderr: {}",
        text(&out.stdout),
        text(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn assert_key_hidden(out: &Output) {
    assert!(!text(&out.stdout).contains(KEY), "key on stdout");
    assert!(!text(&out.stderr).contains(KEY), "key on stderr");
}

/// Exactly one non-empty line.
fn single_line(bytes: &[u8]) -> String {
    let s = text(bytes);
    let lines: Vec<_> = s.lines().collect();
    assert_eq!(lines.len(), 1, "expected one line, got {s:?}");
    lines[0].to_string()
}

#[test]
fn entity_result_prints_members_as_keys_and_the_request_is_exact() {
    let server = Server::start(fake_severa);
    let out = bridgectl(
        &server.url,
        Some(KEY),
        &[
            "severa",
            "call",
            "ICase.GetCaseByGUID",
            "--param",
            "caseGuid=case-1",
        ],
    );
    assert_eq!(
        stdout_json(&out),
        serde_json::json!({
            "CaseNumber": "1042",
            "Description": null,
            "GUID": "case-1",
            "Name": "Fish & chips"
        })
    );
    assert_key_hidden(&out);
    assert!(out.stderr.is_empty(), "{}", text(&out.stderr));

    let requests = server.requests();
    assert_eq!(requests.len(), 1);
    let req = &requests[0];
    assert_eq!(req.path, "/webservice/S3/API.svc");
    assert_eq!(
        req.header("SOAPAction"),
        Some("\"http://soap.severa.com/ICase/GetCaseByGUID\"")
    );
    assert!(
        req.header("Content-Type")
            .unwrap_or_default()
            .starts_with("text/xml"),
        "{:?}",
        req.headers
    );
    assert!(req.body.contains(&format!(
        "<WebServicePassword xmlns=\"http://soap.severa.com/\">{KEY}</WebServicePassword>"
    )));
    assert!(
        req.body.contains(
            "<s:Body><t:GetCaseByGUID><t:caseGuid>case-1</t:caseGuid></t:GetCaseByGUID></s:Body>"
        ),
        "{}",
        req.body
    );
}

#[test]
fn parameters_go_out_in_contract_order_with_nil_empty_and_xml() {
    let server = Server::start(fake_severa);
    let dir = std::env::temp_dir().join(format!("bridgectl-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("entry.xml");
    std::fs::write(
        &file,
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<e:Description>Planning &amp; review</e:Description><e:InvoiceGUID i:nil=\"true\"/><e:Quantity>1.5</e:Quantity>",
    )
    .unwrap();

    let out = bridgectl(
        &server.url,
        Some(KEY),
        &[
            "severa",
            "call",
            "IHourEntry.GetHourEntriesByCaseGUID",
            "--param-nil",
            "endDate",
            "--param",
            "startDate=2024-05-01",
            "--param",
            "caseGuid=",
        ],
    );
    assert!(stdout_json(&out).is_array());

    let xml_arg = format!("hourEntryInfo=@{}", file.display());
    let out = bridgectl(
        &server.url,
        Some(KEY),
        &[
            "severa",
            "call",
            "IHourEntry.AddNewHourEntry",
            "--param-xml",
            &xml_arg,
        ],
    );
    assert_eq!(stdout_json(&out), serde_json::json!({"GUID": "he-new"}));

    let requests = server.requests();
    assert_eq!(requests.len(), 2);
    assert!(
        requests[0].body.contains(
            "<t:GetHourEntriesByCaseGUID><t:caseGuid></t:caseGuid><t:startDate>2024-05-01</t:startDate><t:endDate i:nil=\"true\"/></t:GetHourEntriesByCaseGUID>"
        ),
        "{}",
        requests[0].body
    );
    assert!(
        requests[1].body.contains(
            "<t:AddNewHourEntry><t:hourEntryInfo><e:Description>Planning &amp; review</e:Description><e:InvoiceGUID i:nil=\"true\"/><e:Quantity>1.5</e:Quantity></t:hourEntryInfo></t:AddNewHourEntry>"
        ),
        "{}",
        requests[1].body
    );
    // The prefixes the --help text promises are declared on the envelope.
    for decl in [
        "xmlns:e=\"http://schemas.datacontract.org/2004/07/Severa.Entities.API\"",
        "xmlns:arr=\"http://schemas.microsoft.com/2003/10/Serialization/Arrays\"",
        "xmlns:i=\"http://www.w3.org/2001/XMLSchema-instance\"",
    ] {
        assert!(requests[1].body.contains(decl), "{decl}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn list_results_print_arrays_even_with_one_or_no_items() {
    let server = Server::start(fake_severa);
    let out = bridgectl(
        &server.url,
        Some(KEY),
        &[
            "severa",
            "call",
            "IHourEntry.GetHourEntriesByCaseGUID",
            "--param",
            "caseGuid=c-1",
        ],
    );
    assert_eq!(
        stdout_json(&out),
        serde_json::json!([
            {
                "Description": "Planning <3",
                "EventDate": "2024-05-02T00:00:00",
                "GUID": "he-1",
                "InvoiceGUID": null,
                "Quantity": "1.5"
            },
            {"GUID": "he-2", "Quantity": "2"}
        ])
    );

    let out = bridgectl(
        &server.url,
        Some(KEY),
        &[
            "severa",
            "call",
            "IHourEntry.GetHourEntriesChangedSince",
            "--param",
            "startDate=2024-05-01T00:00:00Z",
        ],
    );
    assert_eq!(
        stdout_json(&out),
        serde_json::json!([{"GUID": "he-2", "Quantity": "2"}])
    );

    let out = bridgectl(
        &server.url,
        Some(KEY),
        &["severa", "call", "IInvoiceStatus.GetAllInvoiceStatuses"],
    );
    assert_eq!(stdout_json(&out), serde_json::json!([]));
}

#[test]
fn void_result_prints_null() {
    let server = Server::start(fake_severa);
    let out = bridgectl(
        &server.url,
        Some(KEY),
        &[
            "severa",
            "call",
            "IInvoice.SetInvoicePaymentDate",
            "--param",
            "invoiceGUID=inv-1",
            "--param",
            "paymentDate=2024-05-31",
        ],
    );
    assert_eq!(stdout_json(&out), serde_json::Value::Null);
    assert_eq!(text(&out.stdout).trim(), "null");
}

#[test]
fn ping_prints_versions_and_quota() {
    let server = Server::start(fake_severa);
    let out = bridgectl(&server.url, Some(KEY), &["severa", "ping"]);
    assert_eq!(
        stdout_json(&out),
        serde_json::json!({
            "endpoint": server.url,
            "version": "3.7.1",
            "entity_schema_version": "12",
            "quota": {"limit": 100000, "used": 42, "used_percent": 0.04}
        })
    );
    let ops: Vec<_> = server.requests().iter().map(action_op).collect();
    assert_eq!(ops, ["GetVersion", "GetEntitySchemaVersion"]);

    let out = bridgectl(&server.url, Some(KEY), &["severa", "ping", "--text"]);
    assert_eq!(out.status.code(), Some(0));
    let line = single_line(&out.stdout);
    assert!(line.contains("version 3.7.1, entity schema 12"), "{line}");
    assert!(line.contains("42/100000"), "{line}");
}

#[test]
fn fault_exits_2_with_one_json_line() {
    let server = Server::start(fake_severa);
    let out = bridgectl(
        &server.url,
        Some(KEY),
        &[
            "severa",
            "call",
            "IHourEntry.DeleteHourEntry",
            "--param",
            "hourEntryGUID=he-1",
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
    let line = single_line(&out.stderr);
    let json: serde_json::Value = serde_json::from_str(&line).unwrap();
    assert_eq!(json["error"], "ValidationException");
    assert_eq!(json["retryable"], false);
    assert!(
        json["message"]
            .as_str()
            .unwrap()
            .contains("Entry is locked")
    );
    assert_eq!(json.as_object().unwrap().len(), 3);
    assert_key_hidden(&out);
}

#[test]
fn wrong_key_is_an_authentication_fault_and_neither_key_is_printed() {
    let server = Server::start(fake_severa);
    let wrong = "wrong-key-xyz";
    let out = bridgectl(&server.url, Some(wrong), &["severa", "ping"]);
    assert_eq!(out.status.code(), Some(2));
    let line = single_line(&out.stderr);
    let json: serde_json::Value = serde_json::from_str(&line).unwrap();
    assert_eq!(json["error"], "AuthenticationFailureException");
    assert_eq!(json["retryable"], false);
    // The fake server echoes the key in its fault text; bridgectl must not pass it on.
    assert!(!line.contains(wrong), "{line}");
    assert!(line.contains("<redacted>"), "{line}");
    assert!(server.requests()[0].body.contains(wrong));
}

#[test]
fn connection_refused_exits_1_with_one_line() {
    let port = {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let endpoint = format!("http://127.0.0.1:{port}/webservice/S3/API.svc");
    let out = bridgectl(&endpoint, Some(KEY), &["severa", "ping", "--timeout", "5"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    let line = single_line(&out.stderr);
    assert!(line.starts_with("bridgectl: "), "{line}");
    assert!(line.contains("Transport.Connect"), "{line}");
    assert_key_hidden(&out);
}

#[test]
fn missing_key_exits_1_without_calling() {
    let server = Server::start(fake_severa);
    let out = bridgectl(&server.url, None, &["severa", "call", "IAPI.GetVersion"]);
    assert_eq!(out.status.code(), Some(1));
    let line = single_line(&out.stderr);
    assert!(
        line.starts_with("bridgectl: SEVERA_API_KEY is not set"),
        "{line}"
    );
    assert!(server.requests().is_empty());
}

#[test]
fn unknown_parameter_of_a_known_operation_exits_1_listing_expected_names() {
    let server = Server::start(fake_severa);
    let out = bridgectl(
        &server.url,
        Some(KEY),
        &[
            "severa",
            "call",
            "IHourEntry.GetHourEntriesByCaseGUID",
            "--param",
            "caseGUID=c-1",
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    let line = single_line(&out.stderr);
    assert!(line.starts_with("bridgectl: "), "{line}");
    assert!(
        line.contains(
            "GetHourEntriesByCaseGUID takes caseGuid (string), startDate (dateTime?), endDate (dateTime?); unknown parameter 'caseGUID' (case matters: did you mean caseGuid?)"
        ),
        "{line}"
    );
    assert!(server.requests().is_empty());
    assert_key_hidden(&out);
}

#[test]
fn usage_errors_exit_1_with_one_line_and_help_documents_the_contract() {
    let out = bridgectl("http://127.0.0.1:9/", Some(KEY), &["severa", "call"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(single_line(&out.stderr).starts_with("bridgectl: "));

    let out = bridgectl(
        "http://127.0.0.1:9/",
        Some(KEY),
        &["severa", "call", "--help"],
    );
    assert_eq!(out.status.code(), Some(0));
    let help = text(&out.stdout);
    for needle in [
        "--param-xml",
        "--force",
        "bridgectl severa ops",
        "e:",
        "arr:",
        "i:",
        "Exit codes:",
        "SEVERA_API_KEY",
    ] {
        assert!(help.contains(needle), "{needle} missing from help");
    }
    assert_key_hidden(&out);
}

/// `severa-sim` with its admin API, for the contract-check tests.
struct Sim {
    sim: severa_sim::RunningSim,
    http: reqwest::Client,
}

impl Sim {
    async fn start() -> Self {
        // reqwest is built without a default TLS provider here (workspace features).
        severa::install_crypto_provider();
        let sim = severa_sim::RunningSim::start(severa_sim::SimConfig::default())
            .await
            .expect("simulator starts");
        Self {
            sim,
            http: reqwest::Client::new(),
        }
    }

    /// Runs `bridgectl <args>` against the simulator with its key.
    async fn bridgectl(&self, args: &[&str]) -> Output {
        let endpoint = self.sim.endpoint();
        let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        tokio::task::spawn_blocking(move || {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            bridgectl(&endpoint, Some(severa_sim::DEFAULT_API_KEY), &args)
        })
        .await
        .expect("bridgectl ends")
    }

    /// The SOAP requests the simulator received.
    async fn requests(&self) -> Vec<serde_json::Value> {
        let log = severa_sim::admin_client::admin_request(
            &self.http,
            &self.sim.admin_url(),
            reqwest::Method::GET,
            "requests",
            None,
        )
        .await
        .expect("admin API answers");
        log.as_array()
            .cloned()
            .expect("the request log is an array")
    }

    async fn stop(self) {
        self.sim.shutdown().await;
    }
}

/// Exit 1, one `bridgectl:` line naming what the contract refused, nothing on stdout.
fn refused(out: &Output) -> String {
    assert_eq!(
        out.status.code(),
        Some(1),
        "stdout: {} stderr: {}",
        text(&out.stdout),
        text(&out.stderr)
    );
    assert!(out.stdout.is_empty());
    let line = single_line(&out.stderr);
    assert!(line.starts_with("bridgectl: "), "{line}");
    assert!(
        line.contains("not sent (--force sends it anyway)"),
        "{line}"
    );
    line
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_misspelt_parameter_is_refused_before_anything_is_sent() {
    let sim = Sim::start().await;
    let out = sim
        .bridgectl(&["severa", "call", "GetUserByCode", "--param", "code=AA"])
        .await;
    let line = refused(&out);
    assert!(
        line.contains("GetUserByCode takes userCode (string); unknown parameter 'code'"),
        "{line}"
    );
    // A case slip gets a hint.
    let out = sim
        .bridgectl(&[
            "severa",
            "call",
            "IUser.GetUserByCode",
            "--param",
            "usercode=AA",
        ])
        .await;
    let line = refused(&out);
    assert!(line.contains("did you mean userCode?"), "{line}");
    assert_eq!(sim.requests().await, Vec::<serde_json::Value>::new());
    sim.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn force_sends_a_refused_call_after_a_warning() {
    let sim = Sim::start().await;
    let out = sim
        .bridgectl(&[
            "severa",
            "call",
            "GetUserByCode",
            "--param",
            "code=AA",
            "--force",
        ])
        .await;
    let stderr = text(&out.stderr);
    let warning = stderr.lines().next().unwrap_or_default();
    assert!(
        warning.starts_with("bridgectl: warning: --force: sending although GetUserByCode takes userCode (string); unknown parameter 'code'"),
        "{stderr}"
    );
    // Severa ignores `code` and reads userCode as null: no user. (Null, or NotFound where the
    // service faults for a missing user.)
    match out.status.code() {
        Some(0) => {
            assert_eq!(stderr.lines().count(), 1, "{stderr}");
            assert_eq!(text(&out.stdout).trim(), "null");
        }
        Some(2) => {
            let fault: serde_json::Value =
                serde_json::from_str(stderr.lines().last().unwrap_or_default()).unwrap();
            assert_eq!(fault["error"], "NotFoundException", "{stderr}");
        }
        other => panic!("exit {other:?}: {stderr}"),
    }
    assert!(!text(&out.stdout).contains("sim-user-alice"));
    let requests = sim.requests().await;
    assert_eq!(requests.len(), 1, "{requests:?}");
    assert_eq!(requests[0]["operation"], "GetUserByCode");
    // The simulator judges by the contract too: it skipped `code`, as Severa would.
    assert_eq!(
        requests[0]["ignored"],
        serde_json::json!(["code"]),
        "{requests:?}"
    );
    sim.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_types_and_missing_non_nullable_parameters_are_refused() {
    let sim = Sim::start().await;
    let out = sim
        .bridgectl(&[
            "severa",
            "call",
            "IAccount.GetAccountByNumber",
            "--param",
            "accountNumber=abc",
        ])
        .await;
    let line = refused(&out);
    assert!(
        line.contains("GetAccountByNumber takes accountNumber (long); 'abc' is not a valid long"),
        "{line}"
    );

    let out = sim
        .bridgectl(&[
            "severa",
            "call",
            "GetInvoicesByDate",
            "--param",
            "startDate=2024-01-01",
            "--param",
            "options=0",
        ])
        .await;
    let line = refused(&out);
    assert!(
        line.contains(
            "GetInvoicesByDate: endDate (dateTime) is not given; Severa would read it as 0001-01-01T00:00:00"
        ),
        "{line}"
    );

    let out = sim
        .bridgectl(&[
            "severa",
            "call",
            "AddNewHourEntry",
            "--param",
            "hourEntryInfo=x",
        ])
        .await;
    let line = refused(&out);
    assert!(line.contains("--param-xml hourEntryInfo=@FILE"), "{line}");

    let out = sim.bridgectl(&["severa", "call", "GetUserByCod"]).await;
    assert_eq!(out.status.code(), Some(1));
    let line = single_line(&out.stderr);
    assert!(line.contains("did you mean"), "{line}");
    assert!(line.contains("GetUserByCode"), "{line}");

    assert_eq!(sim.requests().await, Vec::<serde_json::Value>::new());
    sim.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_with_contract_names_returns_the_user() {
    let sim = Sim::start().await;
    let out = sim
        .bridgectl(&["severa", "call", "GetUserByCode", "--param", "userCode=AA"])
        .await;
    let user = stdout_json(&out);
    assert_eq!(user["GUID"], severa_sim::fixture::USER_ALICE_GUID, "{user}");
    assert_eq!(user["Code"], "AA");
    assert_eq!(user["Email"], severa_sim::fixture::USER_ALICE_EMAIL);
    assert!(out.stderr.is_empty(), "{}", text(&out.stderr));
    let requests = sim.requests().await;
    assert_eq!(requests.len(), 1);
    assert_eq!(
        requests[0]["ignored"],
        serde_json::json!([]),
        "{requests:?}"
    );
    sim.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn entity_members_are_checked_and_a_checked_entity_is_read_whole() {
    let sim = Sim::start().await;
    let dir = std::env::temp_dir().join(format!("bridgectl-members-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let swapped = dir.join("swapped.xml");
    std::fs::write(
        &swapped,
        "<e:Quantity>1</e:Quantity><e:EventDate>2026-11-27</e:EventDate>",
    )
    .unwrap();
    let arg = format!("hourEntryInfo=@{}", swapped.display());
    let out = sim
        .bridgectl(&["severa", "call", "AddNewHourEntry", "--param-xml", &arg])
        .await;
    let line = refused(&out);
    assert!(
        line.contains("HourEntry member EventDate is written after Quantity"),
        "{line}"
    );
    assert_eq!(sim.requests().await, Vec::<serde_json::Value>::new());

    // The example the README points at passes the checks, and the service ignores nothing.
    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/hour-entry.xml");
    let arg = format!("hourEntryInfo=@{example}");
    let out = sim
        .bridgectl(&["severa", "call", "AddNewHourEntry", "--param-xml", &arg])
        .await;
    let entry = stdout_json(&out);
    assert_eq!(entry["Quantity"], "2.5", "{entry}");
    let requests = sim.requests().await;
    assert_eq!(requests.len(), 1);
    assert_eq!(
        requests[0]["ignored"],
        serde_json::json!([]),
        "{requests:?}"
    );
    let _ = std::fs::remove_dir_all(&dir);
    sim.stop().await;
}

#[test]
fn ops_lists_signatures_without_a_key_or_a_call() {
    // No key, an endpoint nothing listens on: ops never needs either.
    let out = bridgectl("http://127.0.0.1:9/", None, &["severa", "ops", "user"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let listing = text(&out.stdout);
    assert!(
        listing
            .lines()
            .any(|l| l == "IUser.GetUserByCode(userCode: string) -> User"),
        "{listing}"
    );
    assert!(listing.lines().all(|l| l.to_lowercase().contains("user")));

    let out = bridgectl("http://127.0.0.1:9/", None, &["severa", "ops"]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(text(&out.stdout).lines().count(), 256);

    let out = bridgectl(
        "http://127.0.0.1:9/",
        None,
        &[
            "severa",
            "ops",
            "IHourEntry.GetHourEntriesChangedSince",
            "--json",
        ],
    );
    assert_eq!(
        stdout_json(&out),
        serde_json::json!([{
            "interface": "IHourEntry",
            "name": "GetHourEntriesChangedSince",
            "soap_action": "http://soap.severa.com/IHourEntry/GetHourEntriesChangedSince",
            "params": [{"name": "startDate", "type": "dateTime", "nullable": false}],
            "returns": "HourEntry[]"
        }])
    );

    let out = bridgectl(
        "http://127.0.0.1:9/",
        None,
        &["severa", "ops", "--type", "HourEntry"],
    );
    assert_eq!(out.status.code(), Some(0));
    let members = text(&out.stdout);
    assert!(
        members
            .lines()
            .any(|l| l == "  IsBillable: boolean  [non-nullable: read as false when left out]"),
        "{members}"
    );

    let out = bridgectl(
        "http://127.0.0.1:9/",
        None,
        &["severa", "ops", "nosuchthing"],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(single_line(&out.stderr).starts_with("bridgectl: no operation"));
}
