//! Tooling shared by the end-to-end tests and `cargo xtask`: build the firmware for a model
//! file, run it in QEMU on a CSV, and decode its defmt log into lines.
#![deny(missing_docs)]

pub mod capture;
pub mod device;
pub mod monitor;
pub mod qemu;
pub mod stream;

/// Runs `vae-train ARGS...` in this process, as the CLI would (the tests' way to train,
/// score and evaluate); `Err` holds the usage or run error.
pub fn vae_train(args: &[&str]) -> Result<(), String> {
    let mut full = vec!["vae-train"];
    full.extend_from_slice(args);
    let cli = <vae_train::cli::Cli as clap::Parser>::try_parse_from(&full).map_err(|e| e.to_string())?;
    vae_train::cli::run(cli).map_err(|e| format!("vae-train {}: {e}", args.join(" ")))
}
