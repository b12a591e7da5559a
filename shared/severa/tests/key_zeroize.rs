//! The API key leaves no copy behind in freed heap memory: every buffer this crate puts the key
//! in (the key itself, the request envelope, the request body handed to the HTTP stack) is
//! overwritten with zeros before it is freed, and none is reallocated while it holds the key.
//!
//! Observed without undefined behaviour: this test binary's global allocator looks at every
//! block while it is still allocated — the moment before it is freed — and counts the blocks
//! that still contain the key.

use severa::wire::request_envelope;
use severa::{ApiKey, SeveraClient, SeveraConfig};
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A key no other bytes of the process contain by chance.
const KEY: &[u8] = b"zk-7Qm2-leak-probe-91fd3c";

static WATCHING: AtomicBool = AtomicBool::new(false);
static LEAKED: AtomicUsize = AtomicUsize::new(0);
/// One watching test at a time (the count is process-wide).
static SERIAL: Mutex<()> = Mutex::new(());

struct Watching;

fn contains_key(block: &[u8]) -> bool {
    block.len() >= KEY.len() && block.windows(KEY.len()).any(|w| w == KEY)
}

unsafe impl GlobalAlloc for Watching {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if WATCHING.load(Ordering::SeqCst) {
            // SAFETY: the block is still allocated (it is freed below) and `layout.size()` long.
            let block = unsafe { std::slice::from_raw_parts(ptr, layout.size()) };
            if contains_key(block) {
                LEAKED.fetch_add(1, Ordering::SeqCst);
            }
        }
        unsafe { System.dealloc(ptr, layout) }
    }
    // `realloc` is the default: alloc, copy, dealloc — so an outgrown buffer is seen too.
}

#[global_allocator]
static ALLOCATOR: Watching = Watching;

fn key_text() -> String {
    // Built at run time with spare capacity, like a key read from a secret or the environment.
    let mut text = String::with_capacity(128);
    text.push_str(std::str::from_utf8(KEY).unwrap_or_default());
    text
}

fn watch<T>(work: impl FnOnce() -> T) -> (T, usize) {
    LEAKED.store(0, Ordering::SeqCst);
    WATCHING.store(true, Ordering::SeqCst);
    let out = work();
    WATCHING.store(false, Ordering::SeqCst);
    (out, LEAKED.load(Ordering::SeqCst))
}

#[test]
fn the_key_and_the_envelope_are_zeroed_before_they_are_freed() {
    let _one = SERIAL
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let (carried, leaked) = watch(|| {
        let key = ApiKey::new(key_text());
        let envelope = request_envelope("GetVersion", &key, &[]).expect("envelope");
        let carried = envelope.contains(std::str::from_utf8(KEY).unwrap_or_default());
        drop(envelope);
        drop(key);
        carried
    });
    assert!(carried, "the envelope carries the key");
    assert_eq!(leaked, 0, "freed blocks that still held the key");
}

/// A whole call over loopback HTTP: the body reqwest sends is the envelope's own buffer, freed
/// (zeroed) when the HTTP stack is done with it.
#[test]
fn a_call_leaves_no_copy_of_the_key_in_freed_memory() {
    let _one = SERIAL
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .expect("bind");
    let endpoint = format!(
        "http://{}/webservice/S3/API.svc",
        listener.local_addr().expect("address")
    );
    // The server reads into a stack buffer it zeroes, so it keeps no copy of its own.
    let server = runtime.spawn(async move {
        let Ok((mut stream, _)) = listener.accept().await else {
            return false;
        };
        let mut buf = [0u8; 8192];
        let mut seen = 0;
        let mut carried = false;
        while let Ok(n) = stream.read(&mut buf[seen..]).await {
            if n == 0 {
                break;
            }
            seen += n;
            carried |= contains_key(&buf[..seen]);
            if buf[..seen].ends_with(b"</s:Envelope>") || seen == buf.len() {
                break;
            }
        }
        buf.fill(0);
        let body = "<s:Envelope xmlns:s=\"http://schemas.xmlsoap.org/soap/envelope/\"><s:Body>\
                    <GetVersionResponse xmlns=\"http://soap.severa.com/\"><GetVersionResult>3\
                    </GetVersionResult></GetVersionResponse></s:Body></s:Envelope>";
        let head = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: text/xml; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        );
        let _ = stream.write_all(head.as_bytes()).await;
        let _ = stream.write_all(body.as_bytes()).await;
        let _ = stream.shutdown().await;
        carried
    });
    let (answered, leaked) = watch(|| {
        runtime.block_on(async {
            let client = SeveraClient::new(
                SeveraConfig::with_endpoint(endpoint),
                ApiKey::new(key_text()),
            )
            .expect("client");
            let answered = client
                .call_raw("IAPI", "GetVersion", Vec::new())
                .await
                .is_ok();
            drop(client);
            answered
        })
    });
    let carried = runtime.block_on(server).unwrap_or(false);
    assert!(carried, "the request carried the key");
    assert!(answered, "the call succeeded");
    assert_eq!(leaked, 0, "freed blocks that still held the key");
}
