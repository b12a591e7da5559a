#![no_main]
//! See `fuzz_checks::verify::standard` for the input and the invariants.

libfuzzer_sys::fuzz_target!(|data: &[u8]| fuzz_checks::verify::standard(data));
