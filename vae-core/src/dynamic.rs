//! The same model with sizes known only at run time, for hosts that load a model file of any
//! shape (the trainer's `score` and `eval`). It shares the scoring engine with [`Vae`], so
//! host and device compute the same numbers; buffers come from the caller, never from an
//! allocator.
//!
//! [`Vae`]: crate::Vae

use crate::activation::Activation;
use crate::decoder::fill_noise_constants;
use crate::error::Error;
use crate::kernel;
use crate::rng::Rng;
use crate::score::{evaluate, Network, Outcome, ScoreConfig, Work};
use heapless::Vec;

/// Most hidden layers per side a [`DynVae`] holds.
pub const MAX_HIDDEN: usize = 8;

/// A dense layer over borrowed weights with run-time sizes.
#[derive(Clone, Copy, Debug)]
pub struct DenseRef<'a> {
    weight: &'a [f32],
    bias: &'a [f32],
    inputs: usize,
    activation: Activation,
}

impl<'a> DenseRef<'a> {
    /// A layer with `bias.len()` outputs and `inputs` inputs; `weight` is row-major
    /// (`weight[o * inputs + i]`).
    pub fn new(
        weight: &'a [f32],
        bias: &'a [f32],
        inputs: usize,
        activation: Activation,
    ) -> Result<Self, Error> {
        let expected = inputs * bias.len();
        if weight.len() != expected {
            return Err(Error::Length { what: "dense weight", expected, found: weight.len() });
        }
        Ok(Self { weight, bias, inputs, activation })
    }

    /// Input width.
    pub const fn inputs(&self) -> usize {
        self.inputs
    }

    /// Output width.
    pub const fn outputs(&self) -> usize {
        self.bias.len()
    }

    /// The activation.
    pub const fn activation(&self) -> Activation {
        self.activation
    }

    /// The weights, row-major.
    pub const fn weight(&self) -> &'a [f32] {
        self.weight
    }

    /// The bias.
    pub const fn bias(&self) -> &'a [f32] {
        self.bias
    }

    fn forward(&self, x: &[f32], y: &mut [f32]) {
        let y = prefix_mut(y, self.outputs());
        kernel::matvec(self.weight, prefix(x, self.inputs), self.bias, y);
        self.activation.apply_all(y);
    }
}

fn prefix(s: &[f32], n: usize) -> &[f32] {
    s.get(..n).unwrap_or(s)
}

fn prefix_mut(s: &mut [f32], n: usize) -> &mut [f32] {
    let n = n.min(s.len());
    s.split_at_mut(n).0
}

/// Runs a stack through two ping-pong buffers and returns the last output.
fn run_stack<'s>(layers: &[DenseRef<'_>], x: &[f32], scratch: &'s mut [f32], width: usize) -> &'s [f32] {
    let (mut cur, mut next) = scratch.split_at_mut(width.min(scratch.len()));
    let mut input_is_x = true;
    for layer in layers {
        if input_is_x {
            layer.forward(x, next);
            input_is_x = false;
        } else {
            layer.forward(cur, next);
        }
        core::mem::swap(&mut cur, &mut next);
    }
    let out_len = layers.last().map_or(0, DenseRef::outputs);
    if input_is_x {
        return &[];
    }
    prefix(cur, out_len)
}

/// A VAE with run-time sizes over borrowed weights.
#[derive(Clone, Debug)]
pub struct DynVae<'a> {
    encoder: Vec<DenseRef<'a>, MAX_HIDDEN>,
    mu: DenseRef<'a>,
    log_var_head: DenseRef<'a>,
    decoder: Vec<DenseRef<'a>, MAX_HIDDEN>,
    mean: DenseRef<'a>,
    log_var: &'a [f32],
    precision: &'a [f32],
    log_norm: f32,
    width: usize,
}

/// The layers of a [`DynVae`], input side first.
#[derive(Clone, Copy, Debug)]
pub struct DynLayers<'l, 'a> {
    /// Encoder hidden stack (1 to [`MAX_HIDDEN`] layers).
    pub encoder: &'l [DenseRef<'a>],
    /// Mean head.
    pub mu: DenseRef<'a>,
    /// Log-variance head.
    pub log_var: DenseRef<'a>,
    /// Decoder hidden stack (1 to [`MAX_HIDDEN`] layers).
    pub decoder: &'l [DenseRef<'a>],
    /// Output layer (the Gaussian mean).
    pub mean: DenseRef<'a>,
}

impl<'a> DynVae<'a> {
    /// Checks that the layers fit together and that the decoder log-variances `log_var`
    /// (length X) are usable, and precomputes exp(-s) into `precision` (length X).
    pub fn new(
        layers: DynLayers<'_, 'a>,
        log_var: &'a [f32],
        precision: &'a mut [f32],
    ) -> Result<Self, Error> {
        let x = layers.encoder.first().map_or(0, DenseRef::inputs);
        let z = layers.mu.outputs();
        for stack in [layers.encoder, layers.decoder] {
            if stack.is_empty() || stack.len() > MAX_HIDDEN {
                return Err(Error::LayerCount { max: MAX_HIDDEN, found: stack.len() });
            }
        }
        // The chain of widths: X -> encoder -> (mu, log_var) -> Z -> decoder -> X.
        let mut index = 0;
        let mut width = x;
        let mut check = |layer: &DenseRef<'_>, input: usize| -> Result<(), Error> {
            let r = if layer.inputs() == input {
                Ok(())
            } else {
                Err(Error::LayerMismatch { layer: index, expected: input, found: layer.inputs() })
            };
            index += 1;
            r
        };
        for l in layers.encoder {
            check(l, width)?;
            width = l.outputs();
        }
        check(&layers.mu, width)?;
        check(&layers.log_var, width)?;
        if layers.log_var.outputs() != z {
            return Err(Error::Length {
                what: "log-variance head outputs",
                expected: z,
                found: layers.log_var.outputs(),
            });
        }
        width = z;
        for l in layers.decoder {
            check(l, width)?;
            width = l.outputs();
        }
        check(&layers.mean, width)?;
        if layers.mean.outputs() != x {
            return Err(Error::Length { what: "decoder outputs", expected: x, found: layers.mean.outputs() });
        }
        if log_var.len() != x {
            return Err(Error::Length { what: "decoder log-variance", expected: x, found: log_var.len() });
        }
        let log_norm = fill_noise_constants(log_var, precision)?;
        let widest = layers.encoder.iter().chain(layers.decoder).map(DenseRef::outputs).max().unwrap_or(0);
        let mut encoder = Vec::new();
        let mut decoder = Vec::new();
        // Lengths were checked above, so these never fail.
        for l in layers.encoder {
            encoder
                .push(*l)
                .map_err(|_| Error::LayerCount { max: MAX_HIDDEN, found: layers.encoder.len() })?;
        }
        for l in layers.decoder {
            decoder
                .push(*l)
                .map_err(|_| Error::LayerCount { max: MAX_HIDDEN, found: layers.decoder.len() })?;
        }
        Ok(Self {
            encoder,
            mu: layers.mu,
            log_var_head: layers.log_var,
            decoder,
            mean: layers.mean,
            log_var,
            precision,
            log_norm,
            width: widest,
        })
    }

    /// Input width X.
    pub fn input_len(&self) -> usize {
        self.log_var.len()
    }

    /// Latent width Z.
    pub fn latent_len(&self) -> usize {
        self.mu.outputs()
    }

    /// Floats of `work` that [`DynVae::score`] needs for `channels` channels.
    pub fn work_len(&self, channels: usize) -> usize {
        5 * self.latent_len() + self.input_len() + 2 * channels + 2 * self.width
    }

    /// Multiply-accumulates of one deterministic score.
    pub fn macs(&self) -> usize {
        let dense = |l: &DenseRef<'_>| l.inputs() * l.outputs();
        self.encoder.iter().chain(&self.decoder).map(dense).sum::<usize>()
            + dense(&self.mu)
            + dense(&self.log_var_head)
            + dense(&self.mean)
    }

    /// Scores one window of `channel_nll.len()` channels (time-major), writing -log p(x|z)
    /// per channel into `channel_nll`. `work` must hold [`DynVae::work_len`] floats.
    pub fn score(
        &self,
        x: &[f32],
        config: ScoreConfig,
        rng: &mut Rng,
        work: &mut [f32],
        channel_nll: &mut [f32],
    ) -> Result<Outcome, Error> {
        let (xl, zl, c) = (self.input_len(), self.latent_len(), channel_nll.len());
        if x.len() != xl {
            return Err(Error::Length { what: "window", expected: xl, found: x.len() });
        }
        if c == 0 || xl % c != 0 {
            return Err(Error::Channels { inputs: xl, channels: c });
        }
        let need = self.work_len(c);
        if work.len() < need {
            return Err(Error::Length { what: "work buffer", expected: need, found: work.len() });
        }
        let (mu, rest) = work.split_at_mut(zl);
        let (log_var, rest) = rest.split_at_mut(zl);
        let (sigma, rest) = rest.split_at_mut(zl);
        let (eps, rest) = rest.split_at_mut(zl);
        let (z, rest) = rest.split_at_mut(zl);
        let (mean, rest) = rest.split_at_mut(xl);
        let (channel_sq, rest) = rest.split_at_mut(c);
        let (channel_tmp, scratch) = rest.split_at_mut(c);
        let w = Work { mu, log_var, sigma, eps, z, mean, channel_sq, channel_tmp, scratch };
        Ok(evaluate::<Self, 0>(self, x, config, rng, w, Some(channel_nll)))
    }
}

impl Network for DynVae<'_> {
    fn encode(&self, x: &[f32], mu: &mut [f32], log_var: &mut [f32], scratch: &mut [f32]) {
        let h = run_stack(&self.encoder, x, scratch, self.width);
        self.mu.forward(h, mu);
        self.log_var_head.forward(h, log_var);
    }

    fn decode(&self, z: &[f32], mean: &mut [f32], scratch: &mut [f32]) {
        let h = run_stack(&self.decoder, z, scratch, self.width);
        self.mean.forward(h, mean);
    }

    fn precision(&self) -> &[f32] {
        self.precision
    }

    fn log_var(&self) -> &[f32] {
        self.log_var
    }

    fn log_norm(&self) -> f32 {
        self.log_norm
    }
}
