//! Closed-form Gaussian terms of the bounds.
//!
//! With q(z|x) = N(mu, diag(exp(log_var))) and the prior p(z) = N(0, I):
//! * KL(q || p) = 1/2 sum_j (exp(log_var_j) + mu_j^2 - 1 - log_var_j);
//! * for a reparameterised sample z = mu + exp(log_var / 2) * eps,
//!   log q(z|x) = -1/2 sum_j (eps_j^2 + log_var_j + ln 2 pi) and
//!   log p(z) = -1/2 sum_j (z_j^2 + ln 2 pi).

use crate::math::{self, LN_2PI};

/// The encoder's output for one window: a diagonal Gaussian over the latent space.
#[derive(Clone, Copy, Debug, PartialEq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Posterior<const Z: usize> {
    /// Mean.
    pub mu: [f32; Z],
    /// Log-variance per dimension.
    pub log_var: [f32; Z],
}

impl<const Z: usize> Posterior<Z> {
    /// KL(q || N(0, I)) in closed form.
    pub fn kl_to_prior(&self) -> f32 {
        kl_to_std_normal(&self.mu, &self.log_var)
    }

    /// Standard deviations exp(log_var / 2).
    pub fn std_dev(&self) -> [f32; Z] {
        core::array::from_fn(|j| math::exp(0.5 * self.log_var[j]))
    }

    /// z = mu + sigma * eps for given noise `eps` and `sigma` from [`Posterior::std_dev`].
    #[inline]
    pub fn reparameterise(&self, sigma: &[f32; Z], eps: &[f32; Z]) -> [f32; Z] {
        core::array::from_fn(|j| self.mu[j] + sigma[j] * eps[j])
    }

    /// log q(z|x) at the reparameterised sample with noise `eps`.
    pub fn log_density_at_noise(&self, eps: &[f32; Z]) -> f32 {
        log_q_at_noise(eps, &self.log_var)
    }
}

/// KL(N(mu, diag(exp(log_var))) || N(0, I)).
pub fn kl_to_std_normal(mu: &[f32], log_var: &[f32]) -> f32 {
    let mut s = 0.0;
    for (m, lv) in mu.iter().zip(log_var) {
        s += math::exp(*lv) + m * m - 1.0 - lv;
    }
    0.5 * s
}

/// log q(z|x) at the reparameterised sample z = mu + exp(log_var / 2) * eps; it does not
/// depend on mu.
pub fn log_q_at_noise(eps: &[f32], log_var: &[f32]) -> f32 {
    let mut s = 0.0;
    for (e, lv) in eps.iter().zip(log_var) {
        s += e * e + lv;
    }
    -0.5 * (s + eps.len() as f32 * LN_2PI)
}

/// log N(z; 0, I).
pub fn log_std_normal(z: &[f32]) -> f32 {
    let mut s = 0.0;
    for v in z {
        s += v * v;
    }
    -0.5 * (s + z.len() as f32 * LN_2PI)
}

/// log(sum_k exp(w_k)) accumulated one term at a time with a running maximum, so no term
/// overflows and no buffer of K terms is needed.
#[derive(Clone, Copy, Debug)]
pub struct LogSumExp {
    max: f32,
    sum: f32,
}

impl Default for LogSumExp {
    fn default() -> Self {
        Self::new()
    }
}

impl LogSumExp {
    /// The empty sum (log 0 = -inf).
    pub const fn new() -> Self {
        Self { max: f32::NEG_INFINITY, sum: 0.0 }
    }

    /// Adds exp(w) to the sum. NaN poisons the result; -inf adds nothing.
    #[inline]
    pub fn add(&mut self, w: f32) {
        if w == f32::NEG_INFINITY {
            return;
        }
        if w > self.max {
            self.sum = self.sum * math::exp(self.max - w) + 1.0;
            self.max = w;
        } else if w.is_nan() {
            self.max = f32::NAN;
        } else {
            self.sum += math::exp(w - self.max);
        }
    }

    /// log of the sum so far.
    pub fn value(&self) -> f32 {
        if self.max.is_nan() {
            f32::NAN
        } else if self.sum == 0.0 {
            f32::NEG_INFINITY
        } else {
            self.max + math::ln(self.sum)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kl_by_hand() {
        // One dimension: mu = 1, var = e: 1/2 (e + 1 - 1 - 1) = (e - 1) / 2.
        let kl = kl_to_std_normal(&[1.0], &[1.0]);
        assert!((kl - (core::f32::consts::E - 1.0) / 2.0).abs() < 1e-6);
        assert_eq!(kl_to_std_normal(&[0.0, 0.0], &[0.0, 0.0]), 0.0);
    }

    #[test]
    fn log_densities_by_hand() {
        let half_ln_2pi = 0.5 * LN_2PI;
        assert!((log_std_normal(&[0.0]) + half_ln_2pi).abs() < 1e-7);
        assert!((log_std_normal(&[1.0, -1.0]) - (-1.0 - LN_2PI)).abs() < 1e-6);
        let q = Posterior {
            mu: [3.0],
            log_var: [2.0f32.ln() * 2.0], // sigma = 2
        };
        // z = 3 + 2 * 0.5 = 4; log N(4; 3, 4) = -1/2 (0.25 + ln 4 + ln 2 pi).
        let want = -0.5 * (0.25 + 4.0f32.ln() + LN_2PI);
        assert!((q.log_density_at_noise(&[0.5]) - want).abs() < 1e-6);
        let sigma = q.std_dev();
        assert!((sigma[0] - 2.0).abs() < 1e-6);
        assert!((q.reparameterise(&sigma, &[0.5])[0] - 4.0).abs() < 1e-6);
    }

    #[test]
    fn log_sum_exp_is_stable() {
        let mut l = LogSumExp::new();
        assert_eq!(l.value(), f32::NEG_INFINITY);
        for w in [1000.0, 1000.0, f32::NEG_INFINITY] {
            l.add(w);
        }
        assert!((l.value() - (1000.0 + 2.0f32.ln())).abs() < 1e-4);
        let mut l = LogSumExp::new();
        for w in [-1000.0, -999.0] {
            l.add(w);
        }
        let want = -999.0 + (1.0 + (-1.0f32).exp()).ln();
        assert!((l.value() - want).abs() < 1e-4);
        let mut l = LogSumExp::new();
        l.add(1.0);
        l.add(f32::NAN);
        assert!(l.value().is_nan());
        let mut l = LogSumExp::new();
        l.add(f32::NAN);
        assert!(l.value().is_nan());
    }
}
