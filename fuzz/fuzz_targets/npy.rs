//! Fuzz target `npy`: see `vae_fuzz::npy` for what it checks.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| vae_fuzz::npy(data));
