//! The whole model with every size a const generic: the device's hot path.

use crate::decoder::Decoder;
use crate::dense::{LayerShape, Layers};
use crate::encoder::Encoder;
use crate::rng::Rng;
use crate::score::{evaluate, evaluate_deterministic, Network, Outcome, ScoreConfig, Work};
use crate::weights::{Store, F32};

/// The buffers of a deterministic score of a model with input width `X`, latent width `Z`
/// and `C` channels, kept by a caller that scores window after window: each score overwrites
/// them, and a buffer on the stack would be zeroed first for every window (about 450
/// instructions of a 64-32-8 model's 11,800 on a Cortex-M4F). `H` is the length of the hidden
/// buffer: at least the last hidden width of the encoder and of the decoder, else those
/// layers use buffers on the stack (same scores).
#[derive(Clone, Debug)]
pub struct Scratch<const X: usize, const Z: usize, const H: usize, const C: usize> {
    mu: [f32; Z],
    log_var: [f32; Z],
    mean: [f32; X],
    channel_sq: [f32; C],
    hidden: [f32; H],
}

impl<const X: usize, const Z: usize, const H: usize, const C: usize> Scratch<X, Z, H, C> {
    /// Zeroed buffers.
    pub const fn new() -> Self {
        Self { mu: [0.0; Z], log_var: [0.0; Z], mean: [0.0; X], channel_sq: [0.0; C], hidden: [0.0; H] }
    }
}

impl<const X: usize, const Z: usize, const H: usize, const C: usize> Default for Scratch<X, Z, H, C> {
    fn default() -> Self {
        Self::new()
    }
}

/// A variational autoencoder with input width `X`, last encoder hidden width `HE`, latent
/// width `Z` and last decoder hidden width `HD`; `EB` and `DB` are the hidden stacks
/// (a [`Dense`](crate::Dense) or a [`Chain`](crate::Chain) of them).
///
/// Every buffer of a score lives on the stack with its size known at compile time; the
/// weights are borrowed, so a model over a file in flash costs no RAM beyond the decoder's
/// precomputed precision (X floats).
///
/// `S` is how the heads' and the output layer's weights are stored (the hidden stacks carry
/// their own in their types); see [`crate::weights`].
#[derive(Clone, Copy, Debug)]
pub struct Vae<'a, EB, DB, const X: usize, const HE: usize, const Z: usize, const HD: usize, S: Store = F32> {
    encoder: Encoder<'a, EB, X, HE, Z, S>,
    decoder: Decoder<'a, DB, Z, HD, X, S>,
}

impl<'a, EB, DB, const X: usize, const HE: usize, const Z: usize, const HD: usize, S: Store>
    Vae<'a, EB, DB, X, HE, Z, HD, S>
where
    EB: Layers<X, HE>,
    DB: Layers<Z, HD>,
{
    /// A model from its two halves.
    pub const fn new(encoder: Encoder<'a, EB, X, HE, Z, S>, decoder: Decoder<'a, DB, Z, HD, X, S>) -> Self {
        Self { encoder, decoder }
    }

    /// The encoder.
    pub const fn encoder(&self) -> &Encoder<'a, EB, X, HE, Z, S> {
        &self.encoder
    }

    /// The decoder.
    pub const fn decoder(&self) -> &Decoder<'a, DB, Z, HD, X, S> {
        &self.decoder
    }

    /// Scores one window of `C` channels (time-major: `x[t * C + c]`), returning the outcome
    /// with the most anomalous channel. `rng` supplies the noise of sampled kinds; use
    /// [`Rng::for_stream`] with the window index for reproducible scores.
    pub fn score<const C: usize>(&self, x: &[f32; X], config: ScoreConfig, rng: &mut Rng) -> Outcome {
        self.score_inner::<C>(x, config, rng, None)
    }

    /// [`Vae::score`], also writing -log p(x|z) of each channel into `channel_nll` (their sum
    /// is `-recon`; for sampled kinds, the mean over the samples).
    pub fn score_channels<const C: usize>(
        &self,
        x: &[f32; X],
        config: ScoreConfig,
        rng: &mut Rng,
        channel_nll: &mut [f32; C],
    ) -> Outcome {
        self.score_inner::<C>(x, config, rng, Some(channel_nll))
    }

    /// The deterministic score (z = mu) alone: a caller that only uses this links none of the
    /// sampler's code (the firmware does so for deterministic models, to save flash).
    pub fn score_deterministic<const C: usize>(&self, x: &[f32; X]) -> Outcome {
        // No hidden buffer (H = 0): the layers keep theirs on the stack, as they always did.
        self.score_deterministic_in::<C, 0>(x, &mut Scratch::new())
    }

    /// [`Vae::score_deterministic`] with buffers the caller keeps between windows
    /// ([`Scratch`]), so that no score first zeroes them: the firmware's loop.
    pub fn score_deterministic_in<const C: usize, const H: usize>(
        &self,
        x: &[f32; X],
        scratch: &mut Scratch<X, Z, H, C>,
    ) -> Outcome {
        const { assert!(C > 0 && X.is_multiple_of(C), "X must be a whole number of C-channel samples") };
        let Scratch { mu, log_var, mean, channel_sq, hidden } = scratch;
        let work = Work {
            mu,
            log_var,
            sigma: &mut [],
            eps: &mut [],
            z: &mut [],
            mean,
            channel_sq,
            channel_tmp: &mut [],
            scratch: hidden,
        };
        evaluate_deterministic::<Self, C>(self, x, work, None)
    }

    fn score_inner<const C: usize>(
        &self,
        x: &[f32; X],
        config: ScoreConfig,
        rng: &mut Rng,
        channel_nll: Option<&mut [f32; C]>,
    ) -> Outcome {
        const { assert!(C > 0 && X.is_multiple_of(C), "X must be a whole number of C-channel samples") };
        let mut mu = [0.0f32; Z];
        let mut log_var = [0.0f32; Z];
        let mut sigma = [0.0f32; Z];
        let mut eps = [0.0f32; Z];
        let mut z = [0.0f32; Z];
        let mut mean = [0.0f32; X];
        let mut channel_sq = [0.0f32; C];
        let work = Work {
            mu: &mut mu,
            log_var: &mut log_var,
            sigma: &mut sigma,
            eps: &mut eps,
            z: &mut z,
            mean: &mut mean,
            channel_sq: &mut channel_sq,
            channel_tmp: &mut [],
            scratch: &mut [],
        };
        evaluate::<Self, C>(self, x, config, rng, work, channel_nll.map(|c| c.as_mut_slice()))
    }

    /// Multiply-accumulates of one deterministic score (encoder plus one decoder pass).
    pub fn macs(&self) -> usize {
        self.encoder.macs() + self.decoder.macs()
    }

    /// Calls `f` with every layer's shape: encoder hidden stack, mean head, log-variance head,
    /// decoder hidden stack, output layer.
    pub fn for_each_layer(&self, f: &mut dyn FnMut(LayerShape)) {
        self.encoder.for_each_layer(f);
        self.decoder.for_each_layer(f);
    }
}

impl<EB, DB, const X: usize, const HE: usize, const Z: usize, const HD: usize, S: Store> Network
    for Vae<'_, EB, DB, X, HE, Z, HD, S>
where
    EB: Layers<X, HE>,
    DB: Layers<Z, HD>,
{
    fn encode(&self, x: &[f32], mu: &mut [f32], log_var: &mut [f32], scratch: &mut [f32]) {
        // The typed entry points pass arrays of exactly these lengths, so the conversions
        // always succeed; they are written without a panic path all the same.
        if let (Some(x), Some(mu), Some(log_var)) =
            (x.first_chunk::<X>(), mu.first_chunk_mut::<Z>(), log_var.first_chunk_mut::<Z>())
        {
            match scratch.first_chunk_mut::<HE>() {
                Some(h) => self.encoder.encode_with(x, h, mu, log_var),
                None => self.encoder.encode_into(x, mu, log_var),
            }
        }
    }

    fn decode(&self, z: &[f32], mean: &mut [f32], scratch: &mut [f32]) {
        if let (Some(z), Some(mean)) = (z.first_chunk::<Z>(), mean.first_chunk_mut::<X>()) {
            match scratch.first_chunk_mut::<HD>() {
                Some(h) => self.decoder.mean_with(z, h, mean),
                None => self.decoder.mean_into(z, mean),
            }
        }
    }

    fn precision(&self) -> &[f32] {
        self.decoder.precision()
    }

    fn log_var(&self) -> &[f32] {
        self.decoder.log_var()
    }

    fn log_norm(&self) -> f32 {
        self.decoder.log_norm()
    }
}
