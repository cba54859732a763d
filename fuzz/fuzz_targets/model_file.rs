//! Fuzz target `model_file`: see `vae_fuzz::model_file` for what it checks.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| vae_fuzz::model_file(data));
