//! Tooling shared by the end-to-end tests and `cargo xtask`: build the firmware for a model
//! file, run it in QEMU on a CSV, and decode its defmt log into lines.
#![deny(missing_docs)]

pub mod capture;
pub mod device;
pub mod monitor;
pub mod qemu;
pub mod stream;
