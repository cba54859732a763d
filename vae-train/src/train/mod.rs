//! Training with dfdx: the VAE of `vae-core`'s shape, negative-ELBO loss with the
//! reparameterisation trick, Adam, KL warm-up, early stopping, checkpoints and resume.
//!
//! ## The model and the objective
//! Input x in R^X (a normalised window, time-major). Encoder: the hidden layers of
//! [`TrainConfig::hidden`] with [`TrainConfig::activation`], then two linear heads mu and
//! log_var of width Z. Decoder: the hidden sizes reversed, the same activation, a linear
//! output layer (the Gaussian mean m) and a free per-dimension log-variance s (initialised
//! to 0). Weights are `[out][in]` row-major, as in the model file.
//!
//! Per window, with one reparameterised sample z = mu + exp(log_var / 2) * eps per step:
//! - recon = -log p(x|z) = 1/2 sum_i ((x_i - m_i)^2 exp(-s_i) + s_i + ln 2 pi) (real nats);
//! - KL = 1/2 sum_j (exp(lv_j) + mu_j^2 - 1 - lv_j);
//! - the gradient is that of the batch mean of recon + beta * KL.
//!
//! Reported losses ([`EpochStats`]) are means per window of the *negative ELBO with
//! beta = 1*, recon + KL, whatever beta weighted the gradient: they stay comparable across
//! the warm-up, and early stopping compares them. No log-variance is clamped (vae-core does
//! not clamp at inference either): a run whose loss or parameters stop being finite stops
//! with [`TrainError::Diverged`].
//!
//! ## The run
//! - Parameters start from PyTorch's `nn.Linear` initialisation drawn from a `StdRng`
//!   seeded from [`TrainConfig::seed`]; every epoch shuffles and samples its noise from its
//!   own `StdRng`, derived from (seed, epoch). The same seed, data and configuration give
//!   bit-identical weights (the whole pipeline is sequential f32 on the host or the device
//!   kernels, with no atomics).
//! - KL warm-up: beta = min(1, (epoch - 1) / kl_warmup) for 1-based epochs (beta is 0 in
//!   the first epoch and reaches 1 at epoch kl_warmup + 1); 0 disables it (beta = 1).
//! - Validation: the negative ELBO of every validation window, with one noise sample per
//!   window fixed for the whole run (so epochs are compared on the same noise). With no
//!   validation windows the epoch's mean training loss stands in (documented choice).
//! - Early stopping (`patience: Some(p)`): stop after `p` consecutive epochs without a new
//!   best validation loss; epochs of the KL warm-up do not count. The outcome holds the
//!   best weights.
//! - Checkpoints (`checkpoint: Some(PATH)`): after every epoch with a new best, PATH gets
//!   the best model so far (a valid model file, written atomically through vae-core's
//!   validated writer, no thresholds). After *every* epoch, `PATH.state`
//!   ([`state_path`]) gets the resume state (safetensors: latest and best weights, Adam
//!   moments and step, epoch, best loss, patience counter, history), atomically. A run
//!   killed at any moment loses at most the epoch in progress; `resume: true` continues
//!   from the state and reaches bit-identical weights and history (seconds aside) to an
//!   uninterrupted run with the same configuration.
//! - Divergence (NaN/Inf loss or parameter): the run stops with [`TrainError::Diverged`],
//!   which names the epoch and batch; checkpoint and state keep the last good epoch.
//!
//! ## Why not `nn::Linear`, `TensorCollection` and `optim::Adam`
//! dfdx 0.13's `Linear` has compile-time sizes; a `TensorCollection` over run-time-shaped
//! tensors cannot be written (`TensorOptions` is `#[non_exhaustive]` and its constructors
//! need `S: ConstShape`); and `optim::Adam` keeps its moments private, so they could not be
//! checkpointed. The network is therefore plain `(usize, usize)` / `(usize,)` tensors
//! ([`VaeNet`]), with Adam on a host copy of the parameters (the update formula of dfdx's
//! Adam kernel).

mod adam;
mod batches;
mod checkpoint;
mod fit;
mod loss;
mod network;
mod progress;

use crate::model::Network;
use std::path::PathBuf;
use vae_core::Activation;

/// Training errors live with the crate's error type, which wraps them.
pub use crate::error::TrainError;
pub use checkpoint::state_path;
#[cfg(feature = "cuda")]
pub use fit::train_cuda;
pub use fit::{initial_network, train, train_with};
pub use loss::{loss_and_gradients, loss_sums, loss_value, score_deterministic, score_elbo, LossSums};
pub use network::{
    activate, columns, init_network, kl_to_prior, param_names, param_shapes, params, params_mut,
    reparameterise, Columns, DenseLayer, PerWindow, VaeNet, MAX_TRAIN_HIDDEN,
};
pub use progress::LOG_HEADER;

/// How to train.
#[derive(Clone, Debug, PartialEq)]
pub struct TrainConfig {
    /// Encoder hidden widths, input side first (1 to 3 layers); the decoder mirrors them.
    pub hidden: Vec<usize>,
    /// Latent width Z.
    pub latent: usize,
    /// Activation of the hidden layers (the heads and the output layer are linear).
    pub activation: Activation,
    /// Most epochs to run.
    pub epochs: usize,
    /// Windows per gradient step (the last batch of an epoch may be smaller).
    pub batch_size: usize,
    /// Adam's learning rate.
    pub learning_rate: f64,
    /// Seed of the initialisation, the shuffles and the noise.
    pub seed: u64,
    /// Epochs over which the KL weight beta rises from 0 to 1; 0 = no warm-up.
    pub kl_warmup: usize,
    /// Stop after this many epochs without a new best validation loss; `None` = never.
    pub patience: Option<usize>,
    /// Best-model checkpoint (a model file); the resume state goes to `PATH.state`.
    pub checkpoint: Option<PathBuf>,
    /// Per-epoch CSV log (header [`LOG_HEADER`]).
    pub log: Option<PathBuf>,
    /// Continue from the state beside `checkpoint`.
    pub resume: bool,
    /// Show a progress bar on stderr.
    pub progress: bool,
}

/// Most epochs a run takes by default: high enough that early stopping, not the cap, ends
/// training on small data sets (one minibatch an epoch).
pub const DEFAULT_EPOCHS: usize = 1000;

/// Epochs without a better monitored loss before early stopping ends a run, by default.
pub const DEFAULT_PATIENCE: usize = 10;

impl Default for TrainConfig {
    fn default() -> Self {
        Self {
            hidden: vec![32],
            latent: 8,
            activation: Activation::Tanh,
            epochs: DEFAULT_EPOCHS,
            batch_size: 128,
            learning_rate: 1e-3,
            seed: 0,
            kl_warmup: 0,
            patience: Some(DEFAULT_PATIENCE),
            checkpoint: None,
            log: None,
            resume: false,
            progress: false,
        }
    }
}

/// What one epoch did. Losses are means per window, in nats; `loss = recon + kl`
/// (negative ELBO with beta = 1).
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct EpochStats {
    /// 1-based epoch number.
    pub epoch: usize,
    /// Mean training negative ELBO (over the epoch's batches, as the weights moved).
    pub train_loss: f64,
    /// Mean training -log p(x|z).
    pub train_recon: f64,
    /// Mean training KL(q(z|x) || p(z)).
    pub train_kl: f64,
    /// Mean validation negative ELBO after the epoch (`None` without validation windows).
    pub val_loss: Option<f64>,
    /// Mean validation -log p(x|z).
    pub val_recon: Option<f64>,
    /// Mean validation KL.
    pub val_kl: Option<f64>,
    /// The KL weight of the epoch's gradient.
    pub beta: f64,
    /// Wall-clock seconds of the epoch (training and validation).
    pub seconds: f64,
}

impl EpochStats {
    /// The loss early stopping compares: validation, or training without validation.
    pub fn monitored_loss(&self) -> f64 {
        self.val_loss.unwrap_or(self.train_loss)
    }
}

/// What training produced.
#[derive(Clone, Debug, PartialEq)]
pub struct TrainOutcome {
    /// The weights of the best epoch.
    pub net: Network,
    /// One entry per epoch run (including those before a resume).
    pub history: Vec<EpochStats>,
    /// 1-based number of the best epoch.
    pub best_epoch: usize,
    /// Its monitored loss (validation negative ELBO per window, or training without
    /// validation).
    pub best_loss: f64,
    /// Whether early stopping ended the run before `epochs`.
    pub stopped_early: bool,
}

impl TrainOutcome {
    /// Whether the run ended at its epoch cap with the last epoch its best: the monitored loss
    /// was still falling, so the cap, not the data, ended training. On small data sets (one
    /// minibatch an epoch) this is common, and an undertrained model scores normal windows
    /// worse than it should.
    pub fn still_improving(&self) -> bool {
        !self.stopped_early && self.history.len() > 1 && self.best_epoch == self.history.len()
    }
}

/// The owned weights of a dfdx network (f32, row-major `[out][in]`).
pub fn to_network<D: dfdx::tensor_ops::Device<f32>>(net: &VaeNet<f32, D>) -> Network {
    net.to_network()
}
