//! The fuzz targets as a short smoke in `make test`: every target over its seeds (generated
//! and committed), every recorded crash input (`fuzz/regressions/<target>/`), and a few hundred
//! proptest inputs each — random bytes and mutated seeds. The long runs are `make fuzz`.

use fuzz_checks::{Check, TARGETS, run, seeds};
use proptest::prelude::*;
use proptest::sample::Index;
use std::path::{Path, PathBuf};

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz")
}

fn files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut out: Vec<(String, Vec<u8>)> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file())
        .filter_map(|p| Some((p.display().to_string(), std::fs::read(&p).ok()?)))
        .collect();
    out.sort();
    out
}

fn check(target: &str) -> Check {
    run(target).unwrap_or_else(|| panic!("no target {target}"))
}

#[test]
fn generated_seeds_hold_every_invariant() {
    for seed in seeds::all() {
        eprintln!("{} / {}", seed.target, seed.name);
        check(seed.target)(&seed.bytes);
    }
}

#[test]
fn committed_corpus_holds_every_invariant() {
    for (target, f) in TARGETS {
        let corpus = files(&fuzz_dir().join("corpus").join(target));
        assert!(!corpus.is_empty(), "fuzz/corpus/{target} has no seeds");
        for (path, bytes) in corpus {
            eprintln!("{path}");
            f(&bytes);
        }
    }
}

/// Every input a fuzz run ever crashed on stays fixed (FUZZING.md lists them).
#[test]
fn recorded_crashes_stay_fixed() {
    for (target, f) in TARGETS {
        for (path, bytes) in files(&fuzz_dir().join("regressions").join(target)) {
            eprintln!("{path}");
            f(&bytes);
        }
    }
}

/// Random bytes, or a target's seed with a few bytes changed, inserted or cut off.
fn input(target: &'static str) -> impl Strategy<Value = Vec<u8>> {
    let seeds: Vec<Vec<u8>> = seeds::all()
        .into_iter()
        .filter(|s| s.target == target)
        .map(|s| s.bytes)
        .collect();
    let edits = prop::collection::vec((any::<Index>(), any::<u8>(), 0u8..3), 0..6);
    prop_oneof![
        1 => prop::collection::vec(any::<u8>(), 0..256),
        3 => (prop::sample::select(seeds), edits, prop::option::of(any::<Index>())).prop_map(
            |(mut bytes, edits, cut)| {
                for (at, byte, how) in edits {
                    let i = at.index(bytes.len() + 1);
                    match how {
                        0 if i < bytes.len() => bytes[i] = byte,
                        1 if i < bytes.len() => {
                            bytes.remove(i);
                        }
                        _ => bytes.insert(i, byte),
                    }
                }
                if let Some(cut) = cut {
                    bytes.truncate(cut.index(bytes.len() + 1));
                }
                bytes
            }
        ),
    ]
}

macro_rules! smoke {
    ($($name:ident),* $(,)?) => {
        proptest! {
            // Failures are recorded as files under fuzz/regressions/ instead (see FUZZING.md).
            #![proptest_config(ProptestConfig {
                cases: 512,
                failure_persistence: None,
                ..ProptestConfig::default()
            })]
            $(
                #[test]
                fn $name(bytes in input(stringify!($name))) {
                    check(stringify!($name))(&bytes);
                }
            )*
        }
    };
}

smoke!(
    soap_envelope,
    soap_typed_decode,
    soap_fault,
    webhook_verify_standard,
    webhook_verify_toggl,
    job_parse,
    toggl_parse,
    sources_config,
    syncs_config,
);
