//! # vae-core
//!
//! `no_std`, allocation-free f32 inference for variational-autoencoder anomaly detection on
//! microcontrollers: a window of sensor samples goes in, a bound on its log-density comes
//! out, and a window unlike the training data gets a high anomaly score.
//!
//! ## Start here
//!
//! `vae-train fit` writes a model file; a firmware embeds it and decides on its sensor's
//! windows exactly as the host does. In a firmware (the complete crate is
//! `firmware/template` in the repository), `build.rs` is one line, `vae_build::embed("model.vaem")`,
//! and the model's sizes, layer types and `detector()` come from the file:
//!
//! ```ignore
//! vae_core::include_model!(mod model);
//!
//! let mut detector = model::detector()?;            // every setting the file records
//! loop {
//!     let sample: [f32; model::C] = read_sensor();   // channels in model::CHANNELS order
//!     if let Some(window) = detector.push(sample) {
//!         let report = detector.score(window);       // score, smoothed score, decision
//!     }
//! }
//! ```
//!
//! The same path by hand, on a small model trained on a sine (`vibration`) and a steady
//! `level` (windows of 16 samples, hop 4, decisions on the mean score of 2 windows):
//!
//! ```
//! use vae_core::{Aligned, Decision, Dense, Detector, ModelFile, Vae};
//!
//! // The model file, 4-byte aligned (in a firmware: `MODEL_FILE`, in flash).
//! static MODEL: &Aligned<[u8]> =
//!     &Aligned(*include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/start-here.vaem")));
//! // Its sizes and layer types: `include_model!` writes these from the file.
//! const C: usize = 2; // channels
//! const W: usize = 16; // samples per window
//! const X: usize = W * C; // network input (raw windows)
//! type Model = Vae<'static, Dense<'static, X, 8>, Dense<'static, 2, 8>, X, 8, 2, 8>;
//!
//! let file = ModelFile::parse(&MODEL.0)?; // CRC, every field and parameter
//! assert_eq!(file.header().channel_names().collect::<Vec<_>>(), ["vibration", "level"]);
//! let vae: Model = file.vae()?; // the sizes are checked against the type
//! // Normalisation, hop, front end, smoothing, threshold, alarm rule, score and seed: all
//! // from the file.
//! let mut detector: Detector<Model, C, W, { W * C }, X> = Detector::from_file(vae, &file)?;
//!
//! let mut decisions = Vec::new();
//! for t in 0..400 {
//!     let phase = 2.0 * core::f32::consts::PI * t as f32 / 16.0;
//!     // From sample 200 on, the level drops to 0.6: a fault.
//!     let sample = [phase.sin(), if t < 200 { 1.0 } else { 0.6 }];
//!     if let Some(window) = detector.push(sample) {
//!         let report = detector.score(window);
//!         decisions.push((report.window.start, report.decision));
//!     }
//! }
//! // Normal while the machine is, anomalous once every window holds the fault.
//! assert!(decisions.iter().all(|&(start, d)| (start >= 200) == (d == Decision::Anomalous) || (185..200).contains(&start)));
//! assert_eq!(detector.counters().anomalous, decisions.iter().filter(|(_, d)| *d == Decision::Anomalous).count() as u64);
//! # Ok::<(), vae_core::Error>(())
//! ```
//!
//! Scores are in nats: minus the bound on log p(x), so higher is more anomalous; they can
//! be negative (a density above 1), and only their comparison with the calibrated
//! [`Threshold`] matters. NaN/Inf samples are counted and their windows reported
//! [`Decision::Invalid`], never scored and never a panic.
//!
//! The data path, one module per step:
//!
//! samples → [`Windower`] → [`Normalizer`] → [`Encoder`] → [`Posterior`] (mu, log-variance)
//! → z ([`Rng`], reparameterised) → [`Decoder`] → log p(x|z), KL → [`Outcome`] →
//! [`Decision`] against a [`Threshold`].
//!
//! The math is the evidence identity log p(x) = ELBO + KL(q(z|x) || p(z|x)) with
//! ELBO = E_q[log p(x|z)] - KL(q(z|x) || p(z)); see [`score`] for the bounds offered.
//!
//! Sizes are const generics ([`Vae`], [`Dense`], [`Chain`]), so a model for a
//! microcontroller has all its buffers on the stack with sizes known at compile time, and its
//! weights are borrowed (from a model file in flash). [`DynVae`] runs the same engine with
//! sizes known at run time, for hosts.
//!
//! ```
//! use vae_core::{Activation, Chain, Decoder, Dense, Encoder, Outcome, Rng, ScoreConfig, Vae};
//!
//! // A 4-input, 3-hidden, 2-latent model with made-up weights.
//! let w_in = [[0.1f32; 4]; 3];
//! let b3 = [0.0f32; 3];
//! let w_head = [[0.2f32; 3]; 2];
//! let b2 = [0.0f32; 2];
//! let w_dec = [[0.3f32; 2]; 3];
//! let w_out = [[0.5f32; 3]; 4];
//! let b4 = [0.0f32; 4];
//! let log_var = [0.0f32; 4];
//! let encoder: Encoder<'_, _, 4, 3, 2> = Encoder::new(
//!     Dense::new(&w_in, &b3, Activation::Tanh),
//!     Dense::new(&w_head, &b2, Activation::Identity),
//!     Dense::new(&w_head, &b2, Activation::Identity),
//! );
//! let decoder: Decoder<'_, _, 2, 3, 4> = Decoder::new(
//!     Dense::new(&w_dec, &b3, Activation::Tanh),
//!     Dense::new(&w_out, &b4, Activation::Identity),
//!     &log_var,
//! )?;
//! let vae = Vae::new(encoder, decoder);
//!
//! // A window of 2 time steps x 2 channels, time-major.
//! let window = [0.1, -0.2, 0.3, 0.0];
//! match vae.score::<2>(&window, ScoreConfig::DETERMINISTIC, &mut Rng::new(0)) {
//!     Outcome::Scored(s) => assert!(s.score.is_finite() && s.kl >= 0.0),
//!     other => panic!("unexpected {other:?}"),
//! }
//! // A NaN never yields a score.
//! let bad = [0.1, f32::NAN, 0.3, 0.0];
//! assert_eq!(
//!     vae.score::<2>(&bad, ScoreConfig::DETERMINISTIC, &mut Rng::new(0)),
//!     Outcome::NonFinite { count: 1, first: 1 }
//! );
//! # Ok::<(), vae_core::Error>(())
//! ```
//!
//! ## Features
//! * `arm-vfma`: hand-written VLDM/VFMA matrix-vector kernel on Cortex-M4F/M7 (see
//!   [`kernel`]). That kernel and the UTF-8 check of the model file's names (a
//!   `from_utf8_unchecked` after a check far smaller in flash than core's) are the only
//!   `unsafe` code of the crate.
//! * `fast-math`: micromath's `exp` (see [`math`]).
//! * `defmt`: `defmt::Format` for the public types.
#![no_std]
#![deny(unsafe_code)]
#![deny(missing_docs)]
#![warn(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

pub mod activation;
pub mod alarm;
pub mod decoder;
pub mod dense;
pub mod detector;
pub mod dynamic;
pub mod embedded;
pub mod encoder;
pub mod error;
pub mod gaussian;
pub mod kernel;
pub mod math;
pub mod model_file;
pub mod normalize;
pub mod rng;
pub mod sampling;
pub mod score;
pub mod selftest;
pub mod threshold;
pub mod transform;
mod utf8;
pub mod vae;
pub mod weights;
pub mod windower;

pub use activation::Activation;
pub use alarm::{Alarm, AlarmCounters, AlarmRule, Phase};
pub use decoder::Decoder;
pub use dense::{Chain, Dense, LayerShape, Layers};
pub use detector::{Detector, Report};
pub use dynamic::{DenseRef, DynLayers, DynVae};
pub use encoder::Encoder;
pub use error::{Error, ErrorKind};
pub use gaussian::{kl_to_std_normal, LogSumExp, Posterior};
pub use model_file::{Aligned, ModelFile};
pub use normalize::Normalizer;
pub use rng::Rng;
pub use score::{Decision, Outcome, ScoreConfig, ScoreKind, WindowScore};
pub use threshold::Threshold;
pub use transform::{Features, Smoother, Transform};
pub use vae::{Scratch, Vae};
pub use windower::Windower;
