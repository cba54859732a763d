//! Fuzz target `csv`: see `vae_fuzz::csv` for what it checks.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| vae_fuzz::csv(data));
