//! The bodies of the fuzz targets: each takes the raw input, drives one real entry point and
//! checks what must hold beyond "no panic". A violated invariant panics (that is how libFuzzer
//! and proptest notice it), so these functions are test code, not product code.
//!
//! Used twice, so there is one definition of each target:
//! - `fuzz/fuzz_targets/<name>.rs` (cargo-fuzz, `make fuzz`) calls [`run`]'s function of the
//!   same name on libFuzzer's input;
//! - `tests/smoke.rs` (`make test`) runs every target over its seed corpus, the recorded crash
//!   inputs and a few hundred proptest-generated inputs.

pub mod config;
pub mod jobs;
pub mod seeds;
pub mod soap;
pub mod verify;

/// A fuzz target: the raw input in, a panic on a broken invariant.
pub type Check = fn(&[u8]);

/// Every target by name (the names of `fuzz/fuzz_targets/*.rs` and `fuzz/corpus/*/`).
pub const TARGETS: [(&str, Check); 9] = [
    ("soap_envelope", soap::envelope),
    ("soap_typed_decode", soap::typed_decode),
    ("soap_fault", soap::fault),
    ("webhook_verify_standard", verify::standard),
    ("webhook_verify_toggl", verify::toggl),
    ("job_parse", jobs::job_parse),
    ("toggl_parse", jobs::toggl_parse),
    ("sources_config", config::sources),
    ("syncs_config", config::syncs),
];

/// The target called `name`.
pub fn run(name: &str) -> Option<Check> {
    TARGETS.iter().find(|(n, _)| *n == name).map(|(_, f)| *f)
}

/// Splits `data` into `N` fields at the first `N - 1` newlines; missing fields are empty. The
/// structured targets read their parts this way, so seeds stay readable text files.
pub fn fields<const N: usize>(data: &[u8]) -> [&[u8]; N] {
    let mut out = [&data[..0]; N];
    let mut rest = data;
    for (i, slot) in out.iter_mut().enumerate() {
        if i + 1 == N {
            *slot = rest;
            break;
        }
        match rest.iter().position(|&b| b == b'\n') {
            Some(at) => {
                *slot = &rest[..at];
                rest = &rest[at + 1..];
            }
            None => {
                *slot = rest;
                rest = &rest[rest.len()..];
            }
        }
    }
    out
}

/// Lossy UTF-8 (header values and ids arrive as text).
pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_split_at_the_first_newlines() {
        assert_eq!(fields::<3>(b"a\nb\nc\nd"), [&b"a"[..], b"b", b"c\nd"]);
        assert_eq!(fields::<3>(b"a"), [&b"a"[..], b"", b""]);
        assert_eq!(fields::<2>(b""), [&b""[..], b""]);
    }

    #[test]
    fn every_target_is_reachable_by_name() {
        for (name, _) in TARGETS {
            assert!(run(name).is_some(), "{name}");
        }
        assert!(run("nope").is_none());
    }
}
