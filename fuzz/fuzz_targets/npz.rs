//! Fuzz target `npz`: see `vae_fuzz::npz` for what it checks.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| vae_fuzz::npz(data));
