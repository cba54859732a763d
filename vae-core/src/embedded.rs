//! A model embedded in a firmware image, with its sizes, types and transform constants of the
//! build.
//!
//! A firmware does not write these by hand: its `build.rs` calls `vae_build::embed` once,
//! which reads the model file and writes the constants, the layer types, a [`Spec`] and two
//! functions (`file()` and `detector()`), and [`crate::include_model!`] brings them in:
//!
//! ```ignore
//! // build.rs
//! fn main() {
//!     vae_build::embed("model.vaem");
//! }
//! ```
//!
//! ```ignore
//! // src/main.rs
//! vae_core::include_model!(mod model);
//!
//! fn run() -> Result<(), vae_core::Error> {
//!     let mut detector = model::detector()?; // every setting of the file, checked at boot
//!     loop {
//!         // One sample of model::C channels, in the order of the model's channel names.
//!         if let Some(window) = detector.push(read_sample()) {
//!             let report = detector.score(window); // score, smoothed score, decision
//!         }
//!     }
//! }
//! ```
//!
//! [`Embedded`] is the scorer behind that detector: the model's own score kind, with the
//! buffers kept between windows ([`Scratch`]), so that the deterministic score (the fast
//! path the benchmarks measure) zeroes nothing per window and never links the sampler.

use crate::dense::Layers;
use crate::detector::{Detector, WindowModel};
use crate::error::Error;
use crate::model_file::{LoadLayers, ModelFile};
use crate::rng::Rng;
use crate::score::{Outcome, ScoreConfig};
use crate::transform::Transform;
use crate::vae::{Scratch, Vae};
use core::marker::PhantomData;

/// What a build knows of its model beyond the sizes: written by `vae_build` for the
/// embedded file.
pub trait Spec {
    /// The model's transform: the detector refuses a file with another one, and the front
    /// ends it does not use are not linked.
    const TRANSFORM: Transform;
    /// The model's score is the deterministic one: the sampler is not linked.
    const DETERMINISTIC: bool;
    /// How the heads' and output layer's weights are stored (the hidden stacks' types say
    /// their own): [`F32`](crate::weights::F32), [`F16`](crate::weights::F16) or
    /// [`Int8`](crate::weights::Int8).
    type Weights: crate::weights::Store;
}

/// The embedded VAE with its scoring buffers; `S` says what the build fixed, `H` is the
/// wider of the last hidden widths `HE` and `HD`.
pub struct Embedded<
    'a,
    EB,
    DB,
    S: Spec,
    const X: usize,
    const HE: usize,
    const Z: usize,
    const HD: usize,
    const C: usize,
    const H: usize,
> {
    vae: Vae<'a, EB, DB, X, HE, Z, HD, S::Weights>,
    scratch: Scratch<X, Z, H, C>,
    spec: PhantomData<S>,
}

impl<
        'a,
        EB,
        DB,
        S,
        const X: usize,
        const HE: usize,
        const Z: usize,
        const HD: usize,
        const C: usize,
        const H: usize,
    > Embedded<'a, EB, DB, S, X, HE, Z, HD, C, H>
where
    EB: LoadLayers<'a> + Layers<X, HE>,
    DB: LoadLayers<'a> + Layers<Z, HD>,
    S: Spec,
{
    /// The model of `file`, whose sizes must be the build's (checked layer by layer; its
    /// transform and score kind are checked by [`Detector::new`]).
    pub fn from_file(file: &ModelFile<'a>) -> Result<Self, Error> {
        const { assert!(H >= HE && H >= HD, "H must hold the last hidden layers") };
        Ok(Self { vae: file.encoded_vae()?, scratch: Scratch::new(), spec: PhantomData })
    }

    /// The VAE.
    pub const fn vae(&self) -> &Vae<'a, EB, DB, X, HE, Z, HD, S::Weights> {
        &self.vae
    }
}

impl<
        EB,
        DB,
        S,
        const X: usize,
        const HE: usize,
        const Z: usize,
        const HD: usize,
        const C: usize,
        const H: usize,
    > WindowModel<X> for Embedded<'_, EB, DB, S, X, HE, Z, HD, C, H>
where
    EB: Layers<X, HE>,
    DB: Layers<Z, HD>,
    S: Spec,
{
    const TRANSFORM: Option<Transform> = Some(S::TRANSFORM);
    const SAMPLED: Option<bool> = Some(!S::DETERMINISTIC);

    fn score_window<const CC: usize>(
        &mut self,
        x: &[f32; X],
        config: ScoreConfig,
        seed: u64,
        stream: u64,
    ) -> Outcome {
        const { assert!(CC == C, "the detector scores windows of the model's channels") };
        if S::DETERMINISTIC {
            self.vae.score_deterministic_in::<C, H>(x, &mut self.scratch)
        } else {
            self.vae.score::<C>(x, config, &mut Rng::for_stream(seed, stream))
        }
    }
}

/// The detector of the embedded model `file`, with every setting the file records: what
/// `detector()` of [`crate::include_model!`] calls.
#[allow(clippy::type_complexity)]
pub fn detector<
    'a,
    EB,
    DB,
    S,
    const X: usize,
    const HE: usize,
    const Z: usize,
    const HD: usize,
    const C: usize,
    const H: usize,
    const W: usize,
    const N: usize,
>(
    file: &ModelFile<'a>,
) -> Result<Detector<Embedded<'a, EB, DB, S, X, HE, Z, HD, C, H>, C, W, N, X>, Error>
where
    EB: LoadLayers<'a> + Layers<X, HE>,
    DB: LoadLayers<'a> + Layers<Z, HD>,
    S: Spec,
{
    Detector::from_file(Embedded::from_file(file)?, file)
}

/// Brings in the model a firmware's `build.rs` embedded with `vae_build::embed`: its sizes
/// (`C`, `W`, `HOP`, `X`, `Z`, ...), layer types, `TRANSFORM`, `MODEL_FILE`, the `Detector`
/// type, and `file()` and `detector()` (see [`crate::embedded`]).
///
/// `include_model!(mod model)` (or `pub mod model`) puts them in a module;
/// `include_model!()` writes them where it stands, e.g. inside a module of your own.
#[macro_export]
macro_rules! include_model {
    () => {
        include!(concat!(env!("OUT_DIR"), "/vae_model.rs"));
    };
    ($vis:vis mod $name:ident) => {
        /// The embedded model (generated by `vae_build` from the model file).
        #[allow(dead_code)]
        $vis mod $name {
            include!(concat!(env!("OUT_DIR"), "/vae_model.rs"));
        }
    };
}
