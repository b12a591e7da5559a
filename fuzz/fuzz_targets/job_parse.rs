#![no_main]
//! See `fuzz_checks::jobs::job_parse` for the input and the invariants.

libfuzzer_sys::fuzz_target!(|data: &[u8]| fuzz_checks::jobs::job_parse(data));
