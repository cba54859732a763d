//! The encoder q(z|x): a stack of dense layers and two heads, mean and log-variance.

use crate::dense::{Dense, LayerShape, Layers};
use crate::gaussian::Posterior;
use crate::weights::{Store, F32};

/// Encoder with input width `X`, last hidden width `H` and latent width `Z`; the heads'
/// weights are stored as `S`.
#[derive(Clone, Copy, Debug)]
pub struct Encoder<'a, B, const X: usize, const H: usize, const Z: usize, S: Store = F32> {
    body: B,
    mu: Dense<'a, H, Z, S>,
    log_var: Dense<'a, H, Z, S>,
}

impl<'a, B: Layers<X, H>, const X: usize, const H: usize, const Z: usize, S: Store>
    Encoder<'a, B, X, H, Z, S>
{
    /// An encoder from its hidden stack and its two heads (normally with
    /// [`Activation::Identity`](crate::Activation::Identity)).
    pub const fn new(body: B, mu: Dense<'a, H, Z, S>, log_var: Dense<'a, H, Z, S>) -> Self {
        Self { body, mu, log_var }
    }

    /// q(z|x) for one input.
    pub fn encode(&self, x: &[f32; X]) -> Posterior<Z> {
        let mut post = Posterior { mu: [0.0; Z], log_var: [0.0; Z] };
        self.encode_into(x, &mut post.mu, &mut post.log_var);
        post
    }

    /// q(z|x) written into `mu` and `log_var` (no copy of a returned value).
    pub fn encode_into(&self, x: &[f32; X], mu: &mut [f32; Z], log_var: &mut [f32; Z]) {
        self.encode_with(x, &mut [0.0f32; H], mu, log_var);
    }

    /// [`Encoder::encode_into`] with the caller's buffer `h` for the last hidden layer (kept
    /// between calls, it need not be zeroed for each).
    pub fn encode_with(&self, x: &[f32; X], h: &mut [f32; H], mu: &mut [f32; Z], log_var: &mut [f32; Z]) {
        self.body.forward(x, h);
        self.mu.forward(h, mu);
        self.log_var.forward(h, log_var);
    }

    /// The hidden stack.
    pub const fn body(&self) -> &B {
        &self.body
    }

    /// The mean head.
    pub const fn mu_head(&self) -> &Dense<'a, H, Z, S> {
        &self.mu
    }

    /// The log-variance head.
    pub const fn log_var_head(&self) -> &Dense<'a, H, Z, S> {
        &self.log_var
    }

    /// Calls `f` with each layer's shape: the hidden stack, then the mean and log-variance
    /// heads.
    pub fn for_each_layer(&self, f: &mut dyn FnMut(LayerShape)) {
        self.body.for_each_layer(f);
        self.mu.for_each_layer(f);
        self.log_var.for_each_layer(f);
    }

    /// Multiply-accumulates per encoding.
    pub fn macs(&self) -> usize {
        self.body.macs() + 2 * H * Z
    }
}
