#![no_main]
// Thin wrapper: the body is rtmfp_fuzz_targets::targets::yaml_errors (fuzz-targets/src), which
// `cargo test` replays on every seed and saved regression input.
libfuzzer_sys::fuzz_target!(|data: &[u8]| rtmfp_fuzz_targets::targets::yaml_errors(data));
