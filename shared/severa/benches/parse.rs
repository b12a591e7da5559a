//! Parse benchmark: typed decoding of a large `GetHourEntriesChangedSince` response versus a
//! plain quick-xml event scan of the same bytes (the practical ceiling), plus peak heap during
//! one typed parse, measured by a counting global allocator.
//!
//! Targets (reported, never asserted — timing must not fail a build): typed ≥ 50 % of the
//! scan's speed, peak heap ≤ 3× the response size, peak/size flat across sizes.
//!
//! `cargo bench -p severa --bench parse` runs criterion and prints a summary table at the end.
//! Under `cargo test --benches` (no `--bench` flag) only the 1 MiB input is used.

use criterion::{BenchmarkId, Criterion, SamplingMode, Throughput};
use quick_xml::Reader;
use quick_xml::events::Event;
use severa::entities::HourEntry;
use severa::wire::{Decoded, Outcome, decode_response};
use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

// ---------------------------------------------------------------------------------------------
// Counting allocator: current and peak live heap bytes.

struct Counting;

static CURRENT: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

fn grew(bytes: usize) {
    let now = CURRENT.fetch_add(bytes, Ordering::Relaxed) + bytes;
    PEAK.fetch_max(now, Ordering::Relaxed);
}

fn shrank(bytes: usize) {
    CURRENT.fetch_sub(bytes, Ordering::Relaxed);
}

// SAFETY: every call is forwarded to `System` unchanged; only the byte counters are added.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: same contract as the caller's.
        let ptr = unsafe { System.alloc(layout) };
        if !ptr.is_null() {
            grew(layout.size());
        }
        ptr
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: same contract as the caller's.
        let ptr = unsafe { System.alloc_zeroed(layout) };
        if !ptr.is_null() {
            grew(layout.size());
        }
        ptr
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) };
        shrank(layout.size());
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: same contract as the caller's.
        let new = unsafe { System.realloc(ptr, layout, new_size) };
        if !new.is_null() {
            if new_size >= layout.size() {
                grew(new_size - layout.size());
            } else {
                shrank(layout.size() - new_size);
            }
        }
        new
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Starts a peak measurement from the current live heap; returns that baseline.
fn reset_peak() -> usize {
    let now = CURRENT.load(Ordering::Relaxed);
    PEAK.store(now, Ordering::Relaxed);
    now
}

// ---------------------------------------------------------------------------------------------
// Input: a response in Severa's shape (facts sheet §2.2), no whitespace between elements like
// WCF writes it, every member present (nil rather than omitted), members in ordinal order.

const MIB: usize = 1024 * 1024;
const NS_ENT: &str = "http://schemas.datacontract.org/2004/07/Severa.Entities.API";
const NS_XSI: &str = "http://www.w3.org/2001/XMLSchema-instance";

/// Small deterministic generator (xorshift64*), so every run parses the same bytes.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn guid(&mut self) -> String {
        let a = self.next();
        let b = self.next();
        format!(
            "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
            a >> 32,
            (a >> 16) & 0xffff,
            a & 0xffff,
            b >> 48,
            b & 0xffff_ffff_ffff
        )
    }
}

const DESCRIPTIONS: &[&str] = &[
    "Sprint planning &amp; backlog grooming with the customer",
    "Fixed invoice export: totals &lt;&gt; rows when VAT 25,5 %",
    "Päivitys: asiakastapaaminen, muistiinpanot ja jatkotoimet",
    "Code review for \"payroll sync\" &amp; deployment to staging",
    "Support call — password reset &amp; training (1 h)",
    "Architecture workshop &lt;cloud migration&gt;, day 2 of 3, including documentation of the decisions taken and open questions for the steering group",
];

/// The member's value as it appears between the tags, or `None` for `i:nil`.
fn member_value(name: &str, index: usize, rng: &mut Rng) -> Option<String> {
    let day = 1 + (index % 28);
    let month = 1 + (index / 28) % 12;
    let hour = 7 + rng.below(9);
    Some(match name {
        "InvoiceGUID" | "InvoiceRowGUID" if index % 3 != 0 => return None,
        "OverTimeGUID" | "OvertimeCode" | "TaskGUID" if index % 7 != 0 => return None,
        "CaseCostCenterIdentifier" | "InvoiceDescription" if index % 2 == 0 => return None,
        "Description" if index % 10 == 9 => return None,
        "StartTime" | "EndTime" if index % 4 == 0 => return None,
        "OvertimeCode" => "OT50".to_string(),
        "CaseNumber" => (1000 + rng.below(9000)).to_string(),
        "CaseName" => format!("Customer project #{} – rollout &amp; support", index % 500),
        "CaseBusinessUnitCode" | "UserBusinessUnitCode" => "FI-HEL".to_string(),
        "CaseCostCenterIdentifier" => format!("CC-{:03}", rng.below(200)),
        "Description" => DESCRIPTIONS[index % DESCRIPTIONS.len()].to_string(),
        "InvoiceDescription" => "Consulting, see attachment".to_string(),
        "EventDate" => format!("2024-{month:02}-{day:02}T00:00:00"),
        "StartTime" => format!("2024-{month:02}-{day:02}T{hour:02}:15:00"),
        "EndTime" => format!("2024-{month:02}-{day:02}T{:02}:45:00.5000000Z", hour + 1),
        "Quantity" | "InvoiceQuantity" => {
            format!("{}.{}", rng.below(12), [0, 25, 5, 75][index % 4])
        }
        "UserCode" => format!("user{:04}", index % 300),
        "UserFirstName" => ["Aino", "Jüri", "Matti", "Sofia"][index % 4].to_string(),
        "UserLastName" => {
            ["Virtanen", "Korhonen", "Mäkinen", "O&apos;Brien"][index % 4].to_string()
        }
        n if n.ends_with("GUID") => rng.guid(),
        n if n.starts_with("Is") || n.starts_with("Use") => {
            if rng.below(2) == 0 { "false" } else { "true" }.to_string()
        }
        n if n.starts_with("UnitCost") || n.starts_with("UnitPrice") => {
            format!("{}.{:04}", 20 + rng.below(180), rng.below(10_000))
        }
        n if n.contains("Currency") => "EUR".to_string(),
        other => panic!("bench generator has no value rule for HourEntry member {other}"),
    })
}

/// A `GetHourEntriesChangedSince` response of at least `target` bytes and its entry count.
fn response(target: usize) -> (Vec<u8>, usize) {
    const OP: &str = "GetHourEntriesChangedSince";
    let mut out = String::with_capacity(target + 64 * 1024);
    out.push_str(
        "<s:Envelope xmlns:s=\"http://schemas.xmlsoap.org/soap/envelope/\"><s:Header>\
         <Quota xmlns=\"http://soap.severa.com/\">100000</Quota>\
         <UsedQuota xmlns=\"http://soap.severa.com/\">4242</UsedQuota></s:Header><s:Body>",
    );
    out.push_str(&format!(
        "<{OP}Response xmlns=\"http://soap.severa.com/\"><{OP}Result xmlns:a=\"{NS_ENT}\" xmlns:i=\"{NS_XSI}\">"
    ));
    let tail = format!("</{OP}Result></{OP}Response></s:Body></s:Envelope>");
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut count = 0;
    while out.len() + tail.len() < target {
        out.push_str("<a:HourEntry>");
        for member in HourEntry::MEMBERS {
            match member_value(member, count, &mut rng) {
                Some(value) => {
                    out.push_str("<a:");
                    out.push_str(member);
                    out.push('>');
                    out.push_str(&value);
                    out.push_str("</a:");
                    out.push_str(member);
                    out.push('>');
                }
                None => {
                    out.push_str("<a:");
                    out.push_str(member);
                    out.push_str(" i:nil=\"true\"/>");
                }
            }
        }
        out.push_str("</a:HourEntry>");
        count += 1;
    }
    out.push_str(&tail);
    (out.into_bytes(), count)
}

// ---------------------------------------------------------------------------------------------
// The two workloads.

fn typed_parse(bytes: &[u8]) -> Vec<HourEntry> {
    match decode_response::<_, Vec<HourEntry>>(bytes) {
        Ok(Decoded {
            outcome: Outcome::Result(Some(entries)),
            ..
        }) => entries,
        Ok(other) => panic!("unexpected outcome: {:?}", other.outcome),
        Err(e) => panic!("typed parse failed: {e}"),
    }
}

/// Every event read through the same `BufRead` path the typed parse uses; text lengths summed
/// so no event can be optimised away.
fn scan(bytes: &[u8]) -> (usize, usize) {
    let mut reader = Reader::from_reader(bytes);
    let mut buf = Vec::with_capacity(256);
    let (mut events, mut text) = (0usize, 0usize);
    loop {
        buf.clear();
        match reader.read_event_into(&mut buf) {
            Ok(Event::Eof) => break,
            Ok(Event::Text(t)) => text += t.len(),
            Ok(Event::GeneralRef(r)) => text += r.len(),
            Ok(Event::Start(s)) | Ok(Event::Empty(s)) => text += s.name().as_ref().len(),
            Ok(_) => {}
            Err(e) => panic!("scan failed: {e}"),
        }
        events += 1;
    }
    (events, text)
}

// ---------------------------------------------------------------------------------------------

struct Input {
    label: String,
    bytes: Vec<u8>,
    entries: usize,
}

fn inputs(full: bool) -> Vec<Input> {
    let sizes: &[usize] = if full { &[1, 16, 64] } else { &[1] };
    sizes
        .iter()
        .map(|&mib| {
            let (bytes, entries) = response(mib * MIB);
            let parsed = typed_parse(&bytes);
            assert_eq!(
                parsed.len(),
                entries,
                "the typed parse must read every entry"
            );
            assert!(parsed[0].guid.is_some() && parsed[0].quantity.is_some());
            assert!(parsed[0].invoice_guid.is_some() && parsed[1].invoice_guid.is_none());
            assert_eq!(
                parsed[0].description.as_deref(),
                Some("Sprint planning & backlog grooming with the customer")
            );
            Input {
                label: format!("{mib}MiB"),
                bytes,
                entries,
            }
        })
        .collect()
}

fn criterion_benches(c: &mut Criterion, inputs: &[Input]) {
    let mut group = c.benchmark_group("parse_hour_entries");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3))
        .sampling_mode(SamplingMode::Flat);
    for input in inputs {
        if input.bytes.len() >= 32 * MIB {
            group.measurement_time(Duration::from_secs(8));
        }
        group.throughput(Throughput::Bytes(input.bytes.len() as u64));
        group.bench_with_input(
            BenchmarkId::new("typed", &input.label),
            &input.bytes,
            |b, bytes| b.iter(|| black_box(typed_parse(black_box(bytes)))),
        );
        group.bench_with_input(
            BenchmarkId::new("scan", &input.label),
            &input.bytes,
            |b, bytes| b.iter(|| black_box(scan(black_box(bytes)))),
        );
    }
    group.finish();
}

/// Best of a few runs, in MiB/s (cheap and stable enough for the summary table; criterion's
/// own figures are printed above it).
fn mib_per_s(bytes: &[u8], runs: usize, f: &dyn Fn(&[u8])) -> f64 {
    let best = (0..runs)
        .map(|_| {
            let start = Instant::now();
            f(bytes);
            start.elapsed()
        })
        .min()
        .unwrap_or(Duration::MAX);
    bytes.len() as f64 / MIB as f64 / best.as_secs_f64()
}

fn summary(inputs: &[Input]) {
    println!();
    println!("summary (peak = extra heap during one typed parse, input excluded; MiB/s best of 5)");
    println!(
        "{:>6} {:>9} {:>10} {:>10} {:>7} {:>12} {:>9}",
        "size", "entries", "typed", "scan", "ratio", "peak bytes", "peak/size"
    );
    for input in inputs {
        let baseline = reset_peak();
        let parsed = typed_parse(&input.bytes);
        let peak = PEAK.load(Ordering::Relaxed).saturating_sub(baseline);
        drop(black_box(parsed));

        let typed = mib_per_s(&input.bytes, 5, &|b| drop(black_box(typed_parse(b))));
        let scanned = mib_per_s(&input.bytes, 5, &|b| {
            black_box(scan(b));
        });
        println!(
            "{:>6} {:>9} {:>10} {:>10} {:>6.0}% {:>12} {:>8.2}x",
            input.label,
            input.entries,
            format!("{typed:.1} MiB/s"),
            format!("{scanned:.1} MiB/s"),
            typed / scanned * 100.0,
            peak,
            peak as f64 / input.bytes.len() as f64,
        );
    }
    println!("targets: typed >= 50% of scan; peak/size <= 3x and flat across sizes");
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` does not.
    let full = std::env::args().any(|a| a == "--bench");
    let inputs = inputs(full);
    let mut c = Criterion::default().configure_from_args();
    criterion_benches(&mut c, &inputs);
    c.final_summary();
    if full {
        summary(&inputs);
    }
}
