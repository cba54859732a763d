//! # vae-train
//!
//! The host side of the toolchain: load sensor recordings (CSV, NumPy), cut and normalise
//! windows, train the VAE with dfdx, calibrate a threshold on validation windows, score and
//! evaluate, and write the model file the firmware embeds. Scores on the host come from
//! `vae-core`, the same engine the firmware runs.
//!
//! ## Start here: recording -> model file -> decisions
//!
//! ```
//! use vae_train::{data, pipeline, synth, OwnedModel};
//!
//! // A simulated machine: a normal recording, and a test recording with five faults.
//! let dir = std::env::temp_dir().join(format!("vae-train-doc-{}", std::process::id()));
//! let machine = synth::SynthConfig::default();
//! synth::write(&dir, &machine, &synth::generate(&machine))?;
//!
//! // Fit: split, normalise, train and calibrate the threshold on held-out normal windows.
//! let read = data::LoadOptions { min_rows: 16, ..Default::default() };
//! let normal = data::load(&[dir.join("train.csv")], &read)?;
//! let plan = pipeline::FitPlan {
//!     window: 16,
//!     hop: 4,
//!     features: vae_core::transform::Features::Spectrum,
//!     hidden: vec![16],
//!     latent: 4,
//!     epochs: 30,
//!     name: "doc example".into(),
//!     ..Default::default()
//! };
//! let fitted = pipeline::fit(&normal, &plan, None, &mut |_| {})?;
//!
//! // Save the file the firmware embeds, and read it back.
//! let path = dir.join("model.vaem");
//! fitted.model.save(&path)?;
//! let model = OwnedModel::load(&path)?;
//!
//! // Score the test recording with the model's channels, as the device would.
//! let read = data::LoadOptions {
//!     columns: Some(model.meta.channels.clone()),
//!     nan: data::NanPolicy::Keep,
//!     ..read
//! };
//! let mut test = data::load(&[dir.join("test.csv")], &read)?;
//! let scored = pipeline::score(&model, &mut test, model.meta.score)?;
//! let threshold = pipeline::threshold(&model).expect("fit calibrates a threshold");
//! // The device's decisions: it learns the first windows, then alarms (`vae_core::alarm`).
//! let decided = pipeline::decisions(&model, &scored, Some(&threshold))?;
//! let alarms = decided.iter().filter(|d| **d == vae_core::Decision::Anomalous).count();
//! assert!(alarms > 0 && alarms < scored.len());
//! std::fs::remove_dir_all(&dir)?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! [`pipeline`] holds these steps; the `vae-train` command line only parses arguments into
//! its plans and prints.
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
pub mod pipeline;
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
