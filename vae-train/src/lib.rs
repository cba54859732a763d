//! # vae-train
//!
//! The host side of the toolchain: load sensor recordings (CSV, NumPy), cut and normalise
//! windows, train the VAE with dfdx, calibrate a threshold on validation windows, score and
//! evaluate, and write the model file the firmware embeds. Scores on the host come from
//! `vae-core`, the same engine the firmware runs.
//!
//! ## Features
//! * `train` (default): everything but the data readers (training with dfdx, the model
//!   types, scoring, export, the command line). Without it the crate is [`data`] alone, the
//!   pure readers the fuzz targets in `fuzz/` build on with a nightly toolchain, where
//!   dfdx does not compile. Modules that need dfdx or the CLI belong under this feature.
//! * `cuda`: dfdx's CUDA device (implies `train`).
#![deny(missing_docs)]

pub mod data;

#[cfg(feature = "train")]
pub mod atomic;
#[cfg(feature = "train")]
pub mod cli;
#[cfg(feature = "train")]
pub mod error;
#[cfg(feature = "train")]
pub mod eval;
#[cfg(feature = "train")]
pub mod export;
#[cfg(feature = "train")]
pub mod frontend;
#[cfg(feature = "train")]
pub mod model;
#[cfg(feature = "train")]
pub mod output;
#[cfg(feature = "train")]
pub mod scoring;
#[cfg(feature = "train")]
pub mod synth;
#[cfg(feature = "train")]
pub mod train;

#[cfg(feature = "train")]
pub use error::Error;
#[cfg(feature = "train")]
pub use model::{Layer, ModelMeta, Network, OwnedModel};
