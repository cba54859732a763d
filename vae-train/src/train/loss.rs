//! The training objective (negative ELBO with one reparameterised sample per window) with
//! its gradients, and dfdx-side scores used to pin dfdx to `vae-core`.

use super::network::{columns, kl_to_prior, reparameterise, scalar, Columns, VaeNet};
use dfdx::shapes::{Dtype, Rank0};
use dfdx::tensor::{NoneTape, OwnedTape, WithEmptyTape};
use dfdx::tensor_ops::{Backward, Device, MeanTo};
use rand::Rng;
use rand_distr::StandardNormal;

/// The loss of one batch, summed over its windows (divide by `windows` for means).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct LossSums {
    /// Windows in the batch.
    pub windows: usize,
    /// Sum of -log p(x|z) (the reconstruction term, nats).
    pub recon: f64,
    /// Sum of KL(q(z|x) || p(z)).
    pub kl: f64,
}

impl LossSums {
    /// Sum of the negative ELBO (beta = 1).
    pub fn loss(&self) -> f64 {
        self.recon + self.kl
    }

    /// Adds another batch.
    pub fn add(&mut self, o: &LossSums) {
        self.windows += o.windows;
        self.recon += o.recon;
        self.kl += o.kl;
    }

    fn from_terms<E: Dtype>(recon: &[E], kl: &[E]) -> Self {
        let sum = |v: &[E]| v.iter().map(|x| x.to_f64().unwrap_or(f64::NAN)).sum::<f64>();
        Self { windows: recon.len(), recon: sum(recon), kl: sum(kl) }
    }
}

/// One training step's forward and backward pass on columns `x` `(X, batch)` with noise
/// `eps` `(Z, batch)`: the objective mean over the batch of -log p(x|z) + beta * KL, its
/// terms, and the gradient of the objective for every parameter (in `param_names` order).
pub fn loss_and_gradients<E: Dtype, D: Device<E>>(
    net: &VaeNet<E, D>,
    x: &Columns<E, D>,
    eps: &Columns<E, D>,
    beta: f64,
) -> (f64, LossSums, Vec<Vec<E>>) {
    let (mu, log_var) = net.encode::<OwnedTape<E, D>>(x.clone());
    let z = reparameterise(mu.with_empty_tape(), log_var.with_empty_tape(), eps);
    let mean = net.decode::<OwnedTape<E, D>, OwnedTape<E, D>>(z);
    let nll = net.neg_log_likelihood(x, mean);
    let kl = kl_to_prior(mu, log_var);
    let sums = LossSums::from_terms(&nll.as_vec(), &kl.as_vec());
    let per_window = if beta == 1.0 { nll + kl } else { nll + kl * scalar::<E>(beta) };
    let objective = per_window.mean::<Rank0, _>();
    let value = objective.as_vec().first().and_then(|v| v.to_f64()).unwrap_or(f64::NAN);
    let grads = objective.backward();
    (value, sums, net.gradients(&grads))
}

/// The objective of [`loss_and_gradients`] without a tape (for finite differences).
pub fn loss_value<E: Dtype, D: Device<E>>(
    net: &VaeNet<E, D>,
    x: &Columns<E, D>,
    eps: &Columns<E, D>,
    beta: f64,
) -> (f64, LossSums) {
    let sums = loss_sums(net, x, eps);
    (if sums.windows == 0 { f64::NAN } else { (sums.recon + beta * sums.kl) / sums.windows as f64 }, sums)
}

/// The loss terms of columns `x` with noise `eps`, no tape.
pub fn loss_sums<E: Dtype, D: Device<E>>(
    net: &VaeNet<E, D>,
    x: &Columns<E, D>,
    eps: &Columns<E, D>,
) -> LossSums {
    let (mu, log_var) = net.encode::<NoneTape>(x.clone());
    let z = reparameterise(mu.clone(), log_var.clone(), eps);
    let nll = net.neg_log_likelihood(x, net.decode::<NoneTape, NoneTape>(z));
    let kl = kl_to_prior(mu, log_var);
    LossSums::from_terms(&nll.as_vec(), &kl.as_vec())
}

/// Windows per forward pass in the scorers (bounds the memory of one pass).
const SCORE_CHUNK: usize = 1024;

/// The deterministic anomaly score of each row-major window (`n * X` values):
/// -(log p(x|z = mu) - KL(q(z|x) || p(z))), computed with dfdx. `vae-core`'s
/// `ScoreConfig::DETERMINISTIC` computes the same number. Trailing values that do not fill
/// a window are ignored.
pub fn score_deterministic<D: Device<f32>>(net: &VaeNet<f32, D>, windows: &[f32]) -> Vec<f32> {
    let xl = net.input_len();
    let mut out = Vec::with_capacity(windows.len() / xl.max(1));
    for chunk in windows.chunks(SCORE_CHUNK * xl.max(1)) {
        let x = columns(net.device(), chunk, xl);
        let (mu, log_var) = net.encode::<NoneTape>(x.clone());
        let nll = net.neg_log_likelihood(&x, net.decode::<NoneTape, NoneTape>(mu.clone()));
        let kl = kl_to_prior(mu, log_var);
        out.extend(nll.as_vec().iter().zip(kl.as_vec()).map(|(n, k)| n + k));
    }
    out
}

/// The K-sample ELBO score of each window, -((1/K) sum_k log p(x|z_k) - KL), with noise
/// from `rng` (what `vae-core` computes for `ScoreKind::Elbo`, with other noise).
pub fn score_elbo<D: Device<f32>>(
    net: &VaeNet<f32, D>,
    windows: &[f32],
    samples: usize,
    rng: &mut impl Rng,
) -> Vec<f32> {
    let (xl, zl) = (net.input_len(), net.latent_len());
    let k = samples.max(1);
    let mut out = Vec::with_capacity(windows.len() / xl.max(1));
    for chunk in windows.chunks(SCORE_CHUNK * xl.max(1)) {
        let n = chunk.len() / xl.max(1);
        let x = columns(net.device(), chunk, xl);
        let (mu, log_var) = net.encode::<NoneTape>(x.clone());
        let mut nll_sum = vec![0.0f64; n];
        for _ in 0..k {
            let eps: Vec<f32> = (0..zl * n).map(|_| rng.sample(StandardNormal)).collect();
            let eps = net.device().tensor_from_vec(eps, (zl, n));
            let z = reparameterise(mu.clone(), log_var.clone(), &eps);
            let nll = net.neg_log_likelihood(&x, net.decode::<NoneTape, NoneTape>(z));
            for (s, v) in nll_sum.iter_mut().zip(nll.as_vec()) {
                *s += f64::from(v);
            }
        }
        let kl = kl_to_prior(mu, log_var).as_vec();
        out.extend(nll_sum.iter().zip(kl).map(|(s, kl)| (s / k as f64) as f32 + kl));
    }
    out
}
