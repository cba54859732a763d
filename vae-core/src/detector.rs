//! The streaming pipeline of a device: raw samples in, one report per window out.
//!
//! sample -> [`Normalizer`] -> [`Windower`] -> [`Transform`] (features) -> model score ->
//! [`Smoother`] -> [`Alarm`] -> [`Decision`]. Window `k` (starting at sample `k * hop`) draws its noise
//! from `Rng::for_stream(seed, k)`, so a sampled score equals the one the host computes for
//! the same window of the recording; the transform and the smoothing are the same code on
//! both sides.
//!
//! A detector is built from every setting its model file records ([`Settings::of`],
//! [`Detector::from_file`]): front end, wandering levels, smoothing, hop, normalisation,
//! threshold, alarm rule, score kind and seed. There is no constructor that leaves one out,
//! so a firmware cannot silently decide differently from the host. A firmware embeds its
//! model with [`crate::include_model!`], whose `detector()` is the one call.

use crate::alarm::{Alarm, AlarmRule};
use crate::dense::Layers;
use crate::error::Error;
use crate::model_file::ModelFile;
use crate::normalize::Normalizer;
use crate::rng::Rng;
use crate::score::{Decision, Outcome, ScoreConfig};
use crate::threshold::Threshold;
use crate::transform::{Features, Smoother, Transform};
use crate::vae::Vae;
use crate::windower::Windower;

/// A model that scores windows of `X` values; implemented by [`Vae`] and by the embedded
/// model of a firmware ([`crate::embedded::Embedded`]). Scoring takes `&mut self` so that an
/// implementation can keep its buffers between windows (see [`Scratch`](crate::Scratch)).
pub trait WindowModel<const X: usize> {
    /// The transform the model was built for, when it is a constant of the build (an
    /// embedded model): the detector refuses settings with another one, and the code of the
    /// front ends it does not use is not linked. `None`: any transform of the right width.
    const TRANSFORM: Option<Transform> = None;

    /// Whether the model scores by sampling, when that is a constant of the build (the
    /// sampler is then linked or not): the detector refuses settings of the other kind.
    const SAMPLED: Option<bool> = None;

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

impl<EB, DB, const X: usize, const HE: usize, const Z: usize, const HD: usize, S: crate::weights::Store>
    WindowModel<X> for Vae<'_, EB, DB, X, HE, Z, HD, S>
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

/// Every setting a detector decides with, as its model file records them.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Settings<const C: usize> {
    /// The training statistics each sample is normalised with.
    pub normalizer: Normalizer<C>,
    /// Samples between the starts of consecutive windows.
    pub hop: usize,
    /// Front end, wandering levels and smoothing.
    pub transform: Transform,
    /// The calibrated threshold (the alarm rule may learn its own after boot).
    pub threshold: Threshold,
    /// On-device learning and re-learning of the threshold (see [`crate::alarm`]).
    pub alarm: AlarmRule,
    /// The score: kind and latent samples.
    pub config: ScoreConfig,
    /// Seed of the noise of sampled scores (window `k` uses `Rng::for_stream(seed, k)`).
    pub seed: u64,
}

impl<const C: usize> Settings<C> {
    /// The settings `file` records; fails when it has no calibrated threshold or not `C`
    /// channels.
    pub fn of(file: &ModelFile<'_>) -> Result<Self, Error> {
        let h = file.header();
        Ok(Self {
            normalizer: file.normalizer::<C>()?,
            hop: h.hop,
            transform: h.transform,
            threshold: h.threshold().ok_or(Error::InvalidField { field: "threshold count", found: 0 })?,
            alarm: h.alarm,
            config: h.score,
            seed: h.seed,
        })
    }
}

/// Samples of `C` channels in, windows of `W` samples (`N = W * C` values) out, turned into
/// `X` network inputs by the model's [`Transform`], scored, smoothed and decided.
///
/// ```
/// use vae_core::{Aligned, Decision, Dense, Detector, ModelFile, Vae};
///
/// static BYTES: &Aligned<[u8]> =
///     &Aligned(*include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/start-here.vaem")));
/// type Model = Vae<'static, Dense<'static, 32, 8>, Dense<'static, 2, 8>, 32, 8, 2, 8>;
/// let file = ModelFile::parse(&BYTES.0)?;
/// let mut d: Detector<Model, 2, 16, 32, 32> = Detector::from_file(file.vae()?, &file)?;
///
/// // Windows of 16 samples every 4: the first after 16 samples, then one per 4.
/// let mut reports = Vec::new();
/// for t in 0..24 {
///     let level = if t == 20 { f32::NAN } else { 1.0 }; // a failed reading
///     if let Some(w) = d.push([(t as f32 * 0.4).sin(), level]) {
///         reports.push(d.score(w));
///     }
/// }
/// assert_eq!(reports.iter().map(|r| r.window.start).collect::<Vec<_>>(), [0, 4, 8]);
/// // The window holding the NaN (samples 8 to 23) is not scored, and nothing panics.
/// assert_eq!(reports[2].decision, Decision::Invalid);
/// assert!(reports[..2].iter().all(|r| r.score.is_some() && r.decision != Decision::Invalid));
/// assert_eq!(d.counters().non_finite_values, 1);
/// # Ok::<(), vae_core::Error>(())
/// ```
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
    /// The detector of `model` with the settings of the model file it was read from.
    /// Fails, naming the sizes, when the file's window is not `W` samples (a front end
    /// such as `stats` has the same input width for any window).
    pub fn from_file(model: M, file: &ModelFile<'_>) -> Result<Self, Error> {
        let window = file.header().window;
        if window != W {
            return Err(Error::SizeMismatch { what: "window W", expected: W, found: window });
        }
        Self::new(model, Settings::of(file)?)
    }

    /// The detector of `model` deciding with `settings`. Fails, naming the sizes, when the
    /// transform does not turn windows of `W` samples of `C` channels into `X` inputs, and
    /// when the model was built for another transform or score kind
    /// ([`WindowModel::TRANSFORM`], [`WindowModel::SAMPLED`]).
    pub fn new(model: M, settings: Settings<C>) -> Result<Self, Error> {
        const { assert!(N == W * C, "the window buffer must hold W samples of C channels") };
        let Settings { normalizer, hop, transform, threshold, alarm, config, seed } = settings;
        // A transform fixed at build time continues as that constant, so that its checks
        // fold away.
        let transform = match M::TRANSFORM {
            Some(t) if t != transform => {
                return Err(Error::InvalidField {
                    field: "transform (not this build's)",
                    found: transform.code().into(),
                })
            }
            Some(t) => t,
            None => transform,
        };
        if M::SAMPLED.is_some_and(|s| s != config.kind().is_sampled()) {
            return Err(Error::InvalidField {
                field: "score kind (not this build's)",
                found: config.kind() as u64,
            });
        }
        check_width::<C, W, X>(&transform)?;
        Ok(Self {
            model,
            normalizer,
            windower: Windower::new(hop)?,
            transform,
            smoother: Smoother::new(transform.smoothing)?,
            threshold,
            alarm: Alarm::new(alarm, threshold)?,
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
        // A transform fixed at build time is a constant here: the front ends it does not use
        // fold away (a raw model links no front-end code at all).
        let transform = match M::TRANSFORM {
            Some(t) => t,
            None => self.transform,
        };
        let samples = &self.samples;
        let outcome = match (transform.features, samples.first_chunk::<X>()) {
            // Raw windows are the network input itself: no copy, and the scorer reports
            // NaN/Inf exactly as the transform would.
            (Features::Raw, Some(x)) => self.model.score_window::<C>(x, self.config, seed, stream),
            // Checked at construction (X = N for raw windows); unscored rather than a panic.
            (Features::Raw, None) => Outcome::NonFinite { count: 0, first: 0 },
            _ => {
                let mut x = [0.0f32; X];
                let mut scratch = [0.0f32; W];
                // The sizes were checked when the transform was set, so `apply` cannot fail;
                // were it to, the window is reported unscored rather than scored on garbage.
                match transform.apply(samples, C, &mut x, &mut scratch) {
                    Ok(None) => self.model.score_window::<C>(&x, self.config, seed, stream),
                    Ok(Some(skip)) => skip,
                    Err(_) => Outcome::NonFinite { count: 0, first: 0 },
                }
            }
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

    /// Hop 1, the static threshold `t`, the deterministic score.
    fn settings(normalizer: Normalizer<2>, transform: Transform, t: Threshold) -> Settings<2> {
        Settings {
            normalizer,
            hop: 1,
            transform,
            threshold: t,
            alarm: AlarmRule::STATIC,
            config: ScoreConfig::DETERMINISTIC,
            seed: 0,
        }
    }

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
            let mut d: Detector<_, 2, 2, 4, 4> =
                Detector::new(tiny_vae(), settings(norm, Transform::new(features), t)).unwrap();
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
        let mut d: Detector<_, 2, 2, 4, 4> = Detector::new(vae, settings(norm, Transform::Raw, t)).unwrap();
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
