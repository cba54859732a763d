//! Window scores: the bounds on log p(x), the anomaly score, and the outcome of one window.
//!
//! | kind | bound on log p(x) | cost |
//! |---|---|---|
//! | [`ScoreKind::Deterministic`] | log p(x\|z = mu) - KL(q \|\| p) | 1 decoder pass, no noise |
//! | [`ScoreKind::Elbo`] | (1/K) sum_k log p(x\|z_k) - KL(q \|\| p) | K decoder passes |
//! | [`ScoreKind::Iwae`] | log (1/K) sum_k p(x\|z_k) p(z_k) / q(z_k\|x) | K decoder passes; tightest |
//! | [`ScoreKind::ReconProb`] | (1/K) sum_k log p(x\|z_k) (An & Cho 2015; no KL) | K decoder passes |
//!
//! The anomaly score is minus the bound: a window unlike the training data has a low bound
//! and a high score.

use crate::decoder::{weighted_squares, weighted_squares_fixed};
use crate::error::Error;
use crate::gaussian::{kl_to_std_normal, log_q_at_noise, log_std_normal, LogSumExp};
use crate::math::{self, LN_2PI};
use crate::rng::Rng;

/// Which bound on log p(x) a window is scored by.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum ScoreKind {
    /// ELBO with the decoder evaluated at z = mu: deterministic and the cheapest.
    Deterministic,
    /// Monte-Carlo ELBO with K reparameterised samples and the closed-form KL.
    Elbo,
    /// K-sample importance-weighted bound (Burda et al. 2015); L_1 = ELBO, rises with K.
    Iwae,
    /// Reconstruction probability: mean log p(x|z_k), without the KL term.
    ReconProb,
}

impl ScoreKind {
    /// All kinds, in code order.
    pub const ALL: [ScoreKind; 4] =
        [ScoreKind::Deterministic, ScoreKind::Elbo, ScoreKind::Iwae, ScoreKind::ReconProb];

    /// The byte that stands for this kind in the model file.
    pub const fn code(self) -> u8 {
        match self {
            ScoreKind::Deterministic => 0,
            ScoreKind::Elbo => 1,
            ScoreKind::Iwae => 2,
            ScoreKind::ReconProb => 3,
        }
    }

    /// The kind a model-file byte stands for, if any.
    pub const fn from_code(code: u8) -> Option<Self> {
        match code {
            0 => Some(ScoreKind::Deterministic),
            1 => Some(ScoreKind::Elbo),
            2 => Some(ScoreKind::Iwae),
            3 => Some(ScoreKind::ReconProb),
            _ => None,
        }
    }

    /// Name as the CLI spells it.
    pub const fn name(self) -> &'static str {
        match self {
            ScoreKind::Deterministic => "deterministic",
            ScoreKind::Elbo => "elbo",
            ScoreKind::Iwae => "iwae",
            ScoreKind::ReconProb => "recon-prob",
        }
    }

    /// Parses [`ScoreKind::name`] back.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.name() == name)
    }

    /// Whether the kind draws latent samples.
    pub const fn is_sampled(self) -> bool {
        !matches!(self, ScoreKind::Deterministic)
    }
}

/// A score kind with its sample count K.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct ScoreConfig {
    kind: ScoreKind,
    samples: u16,
}

impl ScoreConfig {
    /// The deterministic score (K = 1, no sampling).
    pub const DETERMINISTIC: ScoreConfig = ScoreConfig { kind: ScoreKind::Deterministic, samples: 1 };

    /// `kind` with `samples` draws per window (ignored, and stored as 1, for
    /// [`ScoreKind::Deterministic`]).
    pub const fn new(kind: ScoreKind, samples: u16) -> Result<Self, Error> {
        if !kind.is_sampled() {
            return Ok(Self::DETERMINISTIC);
        }
        if samples == 0 {
            return Err(Error::ZeroSamples);
        }
        Ok(Self { kind, samples })
    }

    /// The bound.
    pub const fn kind(&self) -> ScoreKind {
        self.kind
    }

    /// K, the number of latent samples per window (1 when deterministic).
    pub const fn samples(&self) -> u16 {
        self.samples
    }
}

/// The score of one window whose input was finite.
#[derive(Clone, Copy, Debug, PartialEq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct WindowScore {
    /// Anomaly score, minus [`WindowScore::bound`]: higher is more anomalous.
    pub score: f32,
    /// The bound on log p(x) of the chosen kind (a log-density in nats).
    pub bound: f32,
    /// The reconstruction term: log p(x|z) at z = mu, or its mean over the K samples.
    pub recon: f32,
    /// KL(q(z|x) || p(z)), closed form.
    pub kl: f32,
    /// The input channel with the largest share of the reconstruction error (in units of the
    /// decoder's own noise): the channel that drives the score.
    pub top_channel: usize,
}

/// What scoring one window produced.
#[derive(Clone, Copy, Debug, PartialEq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[must_use]
pub enum Outcome {
    /// A finite score.
    Scored(WindowScore),
    /// The window holds NaN or infinite samples; it is not scored (a faulty sensor is not a
    /// normal window, nor evidence of an anomaly of the machine).
    NonFinite {
        /// How many values of the window are not finite.
        count: usize,
        /// Flat index of the first one.
        first: usize,
    },
    /// The input was finite but so extreme that the bound is not representable in f32; the
    /// window is certainly unlike the training data.
    Overflow,
}

/// The decision for one window against a threshold.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Decision {
    /// Score at or below the threshold.
    Normal,
    /// Score above the threshold (or beyond f32 range).
    Anomalous,
    /// The window could not be scored (non-finite input).
    Invalid,
    /// Scored and learnt as this machine's normal: no decision yet (see [`crate::alarm`]).
    Learning,
}

impl Outcome {
    /// The anomaly score, when there is a finite one.
    pub fn score(&self) -> Option<f32> {
        match self {
            Outcome::Scored(s) => Some(s.score),
            _ => None,
        }
    }

    /// Compares the outcome with a threshold.
    pub fn decide(&self, threshold: &crate::Threshold) -> Decision {
        match self {
            Outcome::Scored(s) if threshold.is_exceeded(s.score) => Decision::Anomalous,
            Outcome::Scored(_) => Decision::Normal,
            Outcome::Overflow => Decision::Anomalous,
            Outcome::NonFinite { .. } => Decision::Invalid,
        }
    }
}

/// What the scores need of a model, over slices so that one engine serves the const-generic
/// [`Vae`](crate::Vae) and the runtime-sized [`DynVae`](crate::DynVae). Sealed: lengths are
/// guaranteed by the two implementors.
pub(crate) trait Network {
    /// q(z|x): writes mu and log-variance (each of length Z).
    fn encode(&self, x: &[f32], mu: &mut [f32], log_var: &mut [f32], scratch: &mut [f32]);
    /// m(z): writes the decoder mean (length X).
    fn decode(&self, z: &[f32], mean: &mut [f32], scratch: &mut [f32]);
    /// exp(-s) per input dimension.
    fn precision(&self) -> &[f32];
    /// The decoder log-variances s.
    fn log_var(&self) -> &[f32];
    /// -1/2 sum_i (s_i + ln 2 pi).
    fn log_norm(&self) -> f32;
}

/// Buffers for one score: five of length Z, one of length X, one per channel, and the
/// network's scratch.
pub(crate) struct Work<'w> {
    pub mu: &'w mut [f32],
    pub log_var: &'w mut [f32],
    pub sigma: &'w mut [f32],
    pub eps: &'w mut [f32],
    pub z: &'w mut [f32],
    pub mean: &'w mut [f32],
    pub channel_sq: &'w mut [f32],
    /// C floats for the run-time-sized channel split (unused when C is a constant).
    pub channel_tmp: &'w mut [f32],
    pub scratch: &'w mut [f32],
}

/// The weighted squared residuals, with the compile-time channel count `C` when the caller
/// knows it (`C = 0`: the count is `channel_sq.len()`, known at run time).
#[inline]
fn residuals<const C: usize>(
    x: &[f32],
    m: &[f32],
    p: &[f32],
    channel_sq: &mut [f32],
    tmp: &mut [f32],
) -> f32 {
    if C > 0 {
        weighted_squares_fixed::<C>(x, m, p, channel_sq)
    } else {
        weighted_squares(x, m, p, channel_sq, tmp)
    }
}

/// Scores one window. `channel_nll`, when given (length C), receives -log p(x|z) split by
/// channel (its sum is `-recon`). `C` is the channel count when known at compile time, else 0.
pub(crate) fn evaluate<N: Network + ?Sized, const C: usize>(
    net: &N,
    x: &[f32],
    config: ScoreConfig,
    rng: &mut Rng,
    w: Work<'_>,
    channel_nll: Option<&mut [f32]>,
) -> Outcome {
    match config.kind {
        ScoreKind::Deterministic => evaluate_deterministic::<N, C>(net, x, w, channel_nll),
        kind => evaluate_sampled::<N, C>(net, x, kind, config.samples, rng, w, channel_nll),
    }
}

/// The common start of every score: refuse non-finite input, encode, the closed-form KL,
/// clear the channel sums.
fn encode<N: Network + ?Sized>(net: &N, x: &[f32], w: &mut Work<'_>) -> Result<f32, Outcome> {
    if let Some(bad) = non_finite(x) {
        return Err(bad);
    }
    net.encode(x, w.mu, w.log_var, w.scratch);
    w.channel_sq.fill(0.0);
    Ok(kl_to_std_normal(w.mu, w.log_var))
}

/// [`ScoreKind::Deterministic`]: no sampler, no noise (and none of their code linked by a
/// caller that only uses this).
pub(crate) fn evaluate_deterministic<N: Network + ?Sized, const C: usize>(
    net: &N,
    x: &[f32],
    mut w: Work<'_>,
    channel_nll: Option<&mut [f32]>,
) -> Outcome {
    let kl = match encode(net, x, &mut w) {
        Ok(kl) => kl,
        Err(bad) => return bad,
    };
    net.decode(w.mu, w.mean, w.scratch);
    let recon =
        -0.5 * residuals::<C>(x, w.mean, net.precision(), w.channel_sq, w.channel_tmp) + net.log_norm();
    finish(net, recon, recon - kl, kl, w.channel_sq, channel_nll)
}

/// The sampled kinds: K reparameterised draws z_k = mu + sigma * eps_k.
fn evaluate_sampled<N: Network + ?Sized, const C: usize>(
    net: &N,
    x: &[f32],
    kind: ScoreKind,
    samples: u16,
    rng: &mut Rng,
    mut w: Work<'_>,
    channel_nll: Option<&mut [f32]>,
) -> Outcome {
    let kl = match encode(net, x, &mut w) {
        Ok(kl) => kl,
        Err(bad) => return bad,
    };
    let (log_norm, precision) = (net.log_norm(), net.precision());
    let k = samples.max(1);
    for (s, lv) in w.sigma.iter_mut().zip(w.log_var.iter()) {
        *s = math::exp(0.5 * *lv);
    }
    let mut recon_sum = 0.0f32;
    let mut lse = LogSumExp::new();
    for _ in 0..k {
        rng.fill_normal(w.eps);
        for (((z, m), s), e) in w.z.iter_mut().zip(w.mu.iter()).zip(w.sigma.iter()).zip(w.eps.iter()) {
            *z = m + s * e;
        }
        net.decode(w.z, w.mean, w.scratch);
        let ll = -0.5 * residuals::<C>(x, w.mean, precision, w.channel_sq, w.channel_tmp) + log_norm;
        recon_sum += ll;
        if kind == ScoreKind::Iwae {
            lse.add(ll + log_std_normal(w.z) - log_q_at_noise(w.eps, w.log_var));
        }
    }
    let inv_k = 1.0 / f32::from(k);
    w.channel_sq.iter_mut().for_each(|v| *v *= inv_k);
    let recon = recon_sum * inv_k;
    let bound = match kind {
        ScoreKind::Iwae => lse.value() - math::ln(f32::from(k)),
        ScoreKind::ReconProb => recon,
        _ => recon - kl,
    };
    finish(net, recon, bound, kl, w.channel_sq, channel_nll)
}

/// Whether the sum of `x` is finite, a check without a branch per value: it is when every
/// value is (a NaN or an infinity makes it NaN or infinite), one add per value in four
/// independent lanes. Huge finite values can overflow it: where it is not finite, an exact
/// check decides.
pub(crate) fn sum_is_finite(x: &[f32]) -> bool {
    let (blocks, tail) = x.as_chunks::<4>();
    let mut lanes = [0.0f32; 4];
    for block in blocks {
        for (lane, v) in lanes.iter_mut().zip(block) {
            *lane += v;
        }
    }
    lanes.iter().chain(tail).fold(0.0f32, |a, v| a + v).is_finite()
}

/// `NonFinite` with the count and first index of NaN/Inf values, if any.
pub(crate) fn non_finite(x: &[f32]) -> Option<Outcome> {
    // A plain sum rather than a one-row product, so that a model of compact weights links
    // no f32 matrix kernel.
    if sum_is_finite(x) {
        return None;
    }
    let mut count = 0usize;
    let mut first = 0usize;
    for (i, v) in x.iter().enumerate() {
        if !v.is_finite() {
            if count == 0 {
                first = i;
            }
            count += 1;
        }
    }
    (count > 0).then_some(Outcome::NonFinite { count, first })
}

/// The outcome from the bound, with the top channel and the optional per-channel split.
fn finish<N: Network + ?Sized>(
    net: &N,
    recon: f32,
    bound: f32,
    kl: f32,
    channel_sq: &[f32],
    channel_nll: Option<&mut [f32]>,
) -> Outcome {
    if !bound.is_finite() {
        return Outcome::Overflow;
    }
    let mut top_channel = 0;
    let mut top = f32::NEG_INFINITY;
    for (c, &v) in channel_sq.iter().enumerate() {
        if v > top {
            top = v;
            top_channel = c;
        }
    }
    if let Some(out) = channel_nll {
        // -log p(x_c|z) = 1/2 sum_{i in c} ((x_i - m_i)^2 e^-s_i + s_i + ln 2 pi).
        for (o, &sq) in out.iter_mut().zip(channel_sq.iter()) {
            *o = 0.5 * sq;
        }
        let c_len = out.len();
        let mut c = 0;
        for &s in net.log_var() {
            if let Some(o) = out.get_mut(c) {
                *o += 0.5 * (s + LN_2PI);
                c += 1;
                if c == c_len {
                    c = 0;
                }
            }
        }
    }
    Outcome::Scored(WindowScore { score: -bound, bound, recon, kl, top_channel })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_rules() {
        assert_eq!(ScoreConfig::new(ScoreKind::Elbo, 0), Err(Error::ZeroSamples));
        let d = ScoreConfig::new(ScoreKind::Deterministic, 0).unwrap();
        assert_eq!(d, ScoreConfig::DETERMINISTIC);
        assert_eq!(d.samples(), 1);
        let c = ScoreConfig::new(ScoreKind::Iwae, 16).unwrap();
        assert_eq!((c.kind(), c.samples()), (ScoreKind::Iwae, 16));
        for k in ScoreKind::ALL {
            assert_eq!(ScoreKind::from_code(k.code()), Some(k));
            assert_eq!(ScoreKind::from_name(k.name()), Some(k));
        }
        assert_eq!(ScoreKind::from_code(9), None);
    }
}
