//! The streaming pipeline of a device: raw samples in, one report per window out.
//!
//! sample -> [`Normalizer`] -> [`Windower`] -> [`Transform`] (features) -> model score ->
//! [`Smoother`] -> [`Alarm`] -> [`Decision`]. Window `k` (starting at sample `k * hop`) draws its noise
//! from `Rng::for_stream(seed, k)`, so a sampled score equals the one the host computes for
//! the same window of the recording; the transform and the smoothing are the same code on
//! both sides.

use crate::alarm::{Alarm, AlarmRule};
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
    /// Windows above the threshold (including overflowed scores: a window of finite but
    /// extreme samples, e.g. `f32::MAX`, is anomalous).
    pub anomalous: u64,
    /// Windows not scored because they held NaN/Inf samples (only those: a finite sample
    /// stays finite through the normalisation, see
    /// [`normalize_value`](crate::normalize::normalize_value)).
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
    alarm: Alarm,
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
            alarm: Alarm::new(AlarmRule::STATIC, threshold)?,
            config,
            seed,
            next_index: 0,
            counters: Counters::default(),
            samples: [0.0; N],
        })
    }

    /// The detector with the model file's alarm rule (on-device learning and re-learning,
    /// see [`crate::alarm`]) instead of the static threshold it was built with.
    pub fn with_alarm(mut self, rule: AlarmRule) -> Result<Self, Error> {
        self.alarm = Alarm::new(rule, self.threshold)?;
        Ok(self)
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
        let decision = self.alarm.step(score);
        match decision {
            Decision::Invalid => self.counters.invalid += 1,
            Decision::Anomalous => {
                self.counters.scored += 1;
                self.counters.anomalous += 1;
            }
            Decision::Normal | Decision::Learning => self.counters.scored += 1,
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

    /// The calibrated threshold of the model file (the alarm logic's learnt one is
    /// [`Alarm::threshold`]).
    pub const fn threshold(&self) -> &Threshold {
        &self.threshold
    }

    /// The alarm logic: phase, threshold in force, alarm and episode counts.
    pub const fn alarm(&self) -> &Alarm {
        &self.alarm
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

    const W: [[f32; 4]; 2] = [[0.5; 4]; 2];
    const B2: [f32; 2] = [0.0; 2];
    const WZ: [[f32; 2]; 1] = [[0.1; 2]; 1];
    const B1: [f32; 1] = [0.0; 1];
    const WD: [[f32; 1]; 2] = [[1.0; 1]; 2];
    const WO: [[f32; 2]; 4] = [[0.3; 2]; 4];
    const B4: [f32; 4] = [0.0; 4];
    const S: [f32; 4] = [0.0; 4];

    /// A 4-2-1 model: windows of 2 samples of 2 channels.
    fn tiny_vae() -> impl WindowModel<4> {
        let enc: Encoder<'static, _, 4, 2, 1> = Encoder::new(
            Dense::new(&W, &B2, Activation::Tanh),
            Dense::new(&WZ, &B1, Activation::Identity),
            Dense::new(&WZ, &B1, Activation::Identity),
        );
        let dec = Decoder::new(
            Dense::new(&WD, &B2, Activation::Tanh),
            Dense::new(&WO, &B4, Activation::Identity),
            &S,
        )
        .unwrap();
        Vae::new(enc, dec)
    }

    /// Found by a hostile test pass: one sample of `f32::MAX` (a common sentinel) with a
    /// training std below 1 normalised to `inf`, so the window was reported `NonFinite`
    /// (invalid, never flagged) although no sample was NaN/Inf (`non_finite_values` 0). A
    /// finite spike is an anomaly: its windows overflow and are flagged, on every front end.
    #[test]
    fn a_finite_spike_of_f32_max_overflows_and_is_flagged_not_invalid() {
        for (features, spike) in [
            (Features::Raw, f32::MAX),
            (Features::Raw, f32::MIN),
            (Features::Raw, 3.4e38),
            (Features::Stats, f32::MAX),
            (Features::Stats, f32::MIN),
        ] {
            let norm = Normalizer::new([0.1, -0.2], [0.5, 0.25]).unwrap();
            let t = Threshold::new(10.0).unwrap();
            let mut d: Detector<_, 2, 2, 4, 4> = Detector::with_transform(
                tiny_vae(),
                norm,
                1,
                Transform::new(features),
                t,
                ScoreConfig::DETERMINISTIC,
                0,
            )
            .unwrap();
            let mut reports = heapless::Vec::<Report, 8>::new();
            for s in [[0.0, 0.0], [spike, 0.0], [0.0, spike], [0.0, 0.0], [0.1, 0.0]] {
                if let Some(w) = d.push(s) {
                    reports.push(d.score(w)).unwrap();
                }
            }
            let what = (features, spike);
            // Windows start at samples 0..4; the spikes at samples 1 and 2 are in windows 0-2.
            for r in &reports[..3] {
                assert_eq!(r.outcome, Outcome::Overflow, "{what:?}: {r:?}");
                assert_eq!((r.decision, r.score), (Decision::Anomalous, Some(f32::INFINITY)), "{what:?}");
            }
            assert_eq!(reports[3].decision, Decision::Normal, "{what:?}: {:?}", reports[3]);
            let c = d.counters();
            assert_eq!(
                (c.samples, c.non_finite_values, c.scored, c.invalid, c.anomalous),
                (5, 0, 4, 0, 3),
                "{what:?}"
            );
        }
    }

    #[test]
    fn streams_reports_counts_and_recovers_from_nan() {
        let vae = tiny_vae();
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
