//! The streaming pipeline of a device: raw samples in, one report per window out.
//!
//! sample -> [`Normalizer`] -> [`Windower`] -> [`Transform`] (features) -> model score ->
//! [`Smoother`] -> [`Decision`]. Window `k` (starting at sample `k * hop`) draws its noise
//! from `Rng::for_stream(seed, k)`, so a sampled score equals the one the host computes for
//! the same window of the recording; the transform and the smoothing are the same code on
//! both sides.

use crate::dense::Layers;
use crate::error::Error;
use crate::normalize::Normalizer;
use crate::rng::Rng;
use crate::score::{Decision, Outcome, ScoreConfig};
use crate::threshold::Threshold;
use crate::transform::{Features, Smoother, Transform};
use crate::vae::Vae;
use crate::windower::Windower;

/// A model that scores windows of `X` values; implemented by [`Vae`]. Scoring takes
/// `&mut self` so that an implementation can keep its buffers between windows (see
/// [`Scratch`](crate::Scratch)).
pub trait WindowModel<const X: usize> {
    /// Scores one window of `C` channels; a sampled score draws its noise from
    /// `Rng::for_stream(seed, stream)`, created only when it is needed.
    fn score_window<const C: usize>(
        &mut self,
        x: &[f32; X],
        config: ScoreConfig,
        seed: u64,
        stream: u64,
    ) -> Outcome;
}

impl<EB, DB, const X: usize, const HE: usize, const Z: usize, const HD: usize> WindowModel<X>
    for Vae<'_, EB, DB, X, HE, Z, HD>
where
    EB: Layers<X, HE>,
    DB: Layers<Z, HD>,
{
    fn score_window<const C: usize>(
        &mut self,
        x: &[f32; X],
        config: ScoreConfig,
        seed: u64,
        stream: u64,
    ) -> Outcome {
        if config.kind().is_sampled() {
            self.score::<C>(x, config, &mut Rng::for_stream(seed, stream))
        } else {
            self.score_deterministic::<C>(x)
        }
    }
}

/// A complete window, ready to be scored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct ReadyWindow {
    /// 0 for the first window, then 1, 2, ...
    pub index: u64,
    /// Index of the window's first sample in the stream.
    pub start: u64,
}

/// What the detector says about one window.
#[derive(Clone, Copy, Debug, PartialEq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Report {
    /// Which window.
    pub window: ReadyWindow,
    /// Its outcome (score, or why there is none).
    pub outcome: Outcome,
    /// The score the decision compared with the threshold: the window's own score, or with
    /// smoothing the mean of the last scores (`+inf` after an overflow; `None` when the
    /// window was not scored).
    pub score: Option<f32>,
    /// Its decision against the threshold.
    pub decision: Decision,
}

/// Counters since start.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Counters {
    /// Samples pushed.
    pub samples: u64,
    /// Sample values (one per channel) that were NaN or infinite.
    pub non_finite_values: u64,
    /// Windows scored (finite input).
    pub scored: u64,
    /// Windows above the threshold (including overflowed scores).
    pub anomalous: u64,
    /// Windows not scored because they held non-finite values.
    pub invalid: u64,
}

/// Samples of `C` channels in, windows of `W` samples (`N = W * C` values) out, turned into
/// `X` network inputs by the model's [`Transform`], scored, smoothed and decided.
pub struct Detector<M, const C: usize, const W: usize, const N: usize, const X: usize> {
    model: M,
    normalizer: Normalizer<C>,
    windower: Windower<C, W>,
    transform: Transform,
    smoother: Smoother,
    threshold: Threshold,
    config: ScoreConfig,
    seed: u64,
    next_index: u64,
    counters: Counters,
    /// The window being scored, copied out of the windower: kept here rather than on the
    /// stack so that no score zeroes N floats first.
    samples: [f32; N],
}

impl<M: WindowModel<X>, const C: usize, const W: usize, const N: usize, const X: usize>
    Detector<M, C, W, N, X>
{
    /// A detector of raw windows ([`Transform::Raw`], `X = N`) scoring with `config`,
    /// deciding with `threshold`, drawing noise for window `k` from
    /// `Rng::for_stream(seed, k)`. See [`Detector::with_transform`] for other front ends.
    pub fn new(
        model: M,
        normalizer: Normalizer<C>,
        hop: usize,
        threshold: Threshold,
        config: ScoreConfig,
        seed: u64,
    ) -> Result<Self, Error> {
        Self::with_transform(model, normalizer, hop, Transform::Raw, threshold, config, seed)
    }

    /// A detector whose windows go through `transform` (the model file's: front end,
    /// wandering levels, smoothing) before the model. Fails, naming the sizes, when the
    /// transform does not turn windows of `W` samples of `C` channels into `X` inputs.
    pub fn with_transform(
        model: M,
        normalizer: Normalizer<C>,
        hop: usize,
        transform: Transform,
        threshold: Threshold,
        config: ScoreConfig,
        seed: u64,
    ) -> Result<Self, Error> {
        const { assert!(N == W * C, "the window buffer must hold W samples of C channels") };
        check_width::<C, W, X>(&transform)?;
        Ok(Self {
            model,
            normalizer,
            windower: Windower::new(hop)?,
            transform,
            smoother: Smoother::new(transform.smoothing)?,
            threshold,
            config,
            seed,
            next_index: 0,
            counters: Counters::default(),
            samples: [0.0; N],
        })
    }

    /// Adds one raw sample (all channels of one instant). Returns a window when one is
    /// complete; score it with [`Detector::score`].
    pub fn push(&mut self, raw: [f32; C]) -> Option<ReadyWindow> {
        let mut sample = raw;
        self.counters.samples += 1;
        self.counters.non_finite_values += sample.iter().filter(|v| !v.is_finite()).count() as u64;
        self.normalizer.apply(&mut sample);
        let start = self.windower.push(sample)?;
        let index = self.next_index;
        self.next_index += 1;
        Some(ReadyWindow { index, start })
    }

    /// Scores the window that [`Detector::push`] just completed.
    pub fn score(&mut self, window: ReadyWindow) -> Report {
        self.windower.window(&mut self.samples);
        let (seed, stream) = (self.seed, window.index);
        let samples = &self.samples;
        let outcome = match (self.transform.features, samples.first_chunk::<X>()) {
            // Raw windows are the network input itself: no copy, and the scorer reports
            // NaN/Inf exactly as the transform would.
            (Features::Raw, Some(x)) => self.model.score_window::<C>(x, self.config, seed, stream),
            _ => {
                let mut x = [0.0f32; X];
                let mut scratch = [0.0f32; W];
                // The sizes were checked when the transform was set, so `apply` cannot fail;
                // were it to, the window is reported unscored rather than scored on garbage.
                match self.transform.apply(samples, C, &mut x, &mut scratch) {
                    Ok(None) => self.model.score_window::<C>(&x, self.config, seed, stream),
                    Ok(Some(skip)) => skip,
                    Err(_) => Outcome::NonFinite { count: 0, first: 0 },
                }
            }
        };
        self.decide(window, outcome)
    }

    /// [`Detector::score`] for a detector of raw windows, without the front-end code: a
    /// firmware whose model has no front end (a constant of its build) links less. A
    /// detector with a front end gets every window reported unscored.
    pub fn score_raw(&mut self, window: ReadyWindow) -> Report {
        self.windower.window(&mut self.samples);
        let outcome = match (self.transform.features, self.samples.first_chunk::<X>()) {
            (Features::Raw, Some(x)) => self.model.score_window::<C>(x, self.config, self.seed, window.index),
            _ => Outcome::NonFinite { count: 0, first: 0 },
        };
        self.decide(window, outcome)
    }

    /// Smoothing, the decision, the counters.
    fn decide(&mut self, window: ReadyWindow, outcome: Outcome) -> Report {
        let score = match outcome {
            Outcome::Scored(s) => Some(self.smoother.push(s.score)),
            Outcome::Overflow => Some(self.smoother.push(f32::INFINITY)),
            Outcome::NonFinite { .. } => None,
        };
        let decision = match score {
            Some(v) if self.threshold.is_exceeded(v) => Decision::Anomalous,
            Some(_) => Decision::Normal,
            None => Decision::Invalid,
        };
        match decision {
            Decision::Invalid => self.counters.invalid += 1,
            Decision::Anomalous => {
                self.counters.scored += 1;
                self.counters.anomalous += 1;
            }
            Decision::Normal => self.counters.scored += 1,
        }
        Report { window, outcome, score, decision }
    }

    /// The transform (front end and smoothing).
    pub const fn transform(&self) -> &Transform {
        &self.transform
    }

    /// Counters since start.
    pub const fn counters(&self) -> &Counters {
        &self.counters
    }

    /// The threshold.
    pub const fn threshold(&self) -> &Threshold {
        &self.threshold
    }

    /// The score used.
    pub const fn config(&self) -> ScoreConfig {
        self.config
    }
}

/// Checks that `t` turns windows of `W` samples of `C` channels into `X` inputs.
fn check_width<const C: usize, const W: usize, const X: usize>(t: &Transform) -> Result<(), Error> {
    t.check(W, C)?;
    let want = t.input_len(W, C);
    if want != X {
        return Err(Error::SizeMismatch {
            what: "input width X (transform rows x channels)",
            expected: want,
            found: X,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Activation, Decoder, Dense, Encoder};

    #[test]
    fn streams_reports_counts_and_recovers_from_nan() {
        let w = [[0.5f32; 4]; 2];
        let b2 = [0.0f32; 2];
        let wz = [[0.1f32; 2]; 1];
        let b1 = [0.0f32; 1];
        let wd = [[1.0f32; 1]; 2];
        let wo = [[0.3f32; 2]; 4];
        let b4 = [0.0f32; 4];
        let s = [0.0f32; 4];
        let enc: Encoder<'_, _, 4, 2, 1> = Encoder::new(
            Dense::new(&w, &b2, Activation::Tanh),
            Dense::new(&wz, &b1, Activation::Identity),
            Dense::new(&wz, &b1, Activation::Identity),
        );
        let dec = Decoder::new(
            Dense::new(&wd, &b2, Activation::Tanh),
            Dense::new(&wo, &b4, Activation::Identity),
            &s,
        )
        .unwrap();
        let vae = Vae::new(enc, dec);
        let norm = Normalizer::new([0.0, 0.0], [1.0, 1.0]).unwrap();
        let t = Threshold::new(10.0).unwrap();
        let mut d: Detector<_, 2, 2, 4, 4> =
            Detector::new(vae, norm, 1, t, ScoreConfig::DETERMINISTIC, 0).unwrap();
        let samples = [[0.0, 0.0], [0.1, 0.0], [f32::NAN, 0.0], [0.0, 0.1], [0.0, 0.0], [50.0, -50.0]];
        let mut decisions = heapless::Vec::<Decision, 8>::new();
        for s in samples {
            if let Some(w) = d.push(s) {
                let r = d.score(w);
                assert_eq!(r.window.start, r.window.index);
                decisions.push(r.decision).unwrap();
            }
        }
        // Windows start at samples 0..4; the NaN at sample 2 spoils windows 1 and 2.
        assert_eq!(
            decisions.as_slice(),
            &[Decision::Normal, Decision::Invalid, Decision::Invalid, Decision::Normal, Decision::Anomalous]
        );
        let c = d.counters();
        assert_eq!((c.samples, c.non_finite_values, c.scored, c.invalid, c.anomalous), (6, 1, 3, 2, 1));
    }
}
