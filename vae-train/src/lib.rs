//! # vae-train
//!
//! The host side of the toolchain: load sensor recordings (CSV, NumPy), cut and normalise
//! windows, train the VAE with dfdx, calibrate a threshold on validation windows, score and
//! evaluate, and write the model file the firmware embeds. Scores on the host come from
//! `vae-core`, the same engine the firmware runs.
#![deny(missing_docs)]

pub mod atomic;
pub mod cli;
pub mod data;
pub mod error;
pub mod export;
pub mod model;
pub mod scoring;
pub mod synth;
pub mod train;

pub use error::Error;
pub use model::{Layer, ModelMeta, Network, OwnedModel};
