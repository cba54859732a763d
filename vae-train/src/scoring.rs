//! Host scoring: every window of a recording through `vae-core` (the engine the firmware
//! runs), with the same noise streams, the same input transform and the same smoothing of
//! scores, so host and device scores and decisions agree window by window.

use crate::data::{Recording, Windows};
use crate::error::Error;
use crate::model::OwnedModel;
use vae_core::{Alarm, AlarmRule, Decision, Outcome, Rng, ScoreConfig, Smoother, Threshold};

/// The score of one window.
#[derive(Clone, Debug, PartialEq)]
pub struct ScoredWindow {
    /// Index of the recording in the list scored.
    pub recording: usize,
    /// Index of the window within its recording (0, 1, ...): its noise stream.
    pub index: usize,
    /// First row of the window within the recording.
    pub start: usize,
    /// The outcome.
    pub outcome: Outcome,
    /// -log p(x|z) per channel (empty when the window was not scored).
    pub channel_nll: Vec<f32>,
    /// The score the decision uses: the window's own, or with the model's smoothing the mean
    /// of the last scores of its recording (`+inf` after an overflow, `None` when the window
    /// was not scored), exactly as the device computes it.
    pub smoothed: Option<f32>,
}

impl ScoredWindow {
    /// The anomaly score, if finite.
    pub fn score(&self) -> Option<f32> {
        self.outcome.score()
    }

    /// The score for ranking: overflowed windows rank above every finite score, invalid
    /// ones are `None`.
    pub fn rank_score(&self) -> Option<f32> {
        match self.outcome {
            Outcome::Scored(s) => Some(s.score),
            Outcome::Overflow => Some(f32::INFINITY),
            Outcome::NonFinite { .. } => None,
        }
    }

    /// The decision against `threshold`, on the smoothed score (as the device decides).
    pub fn decide(&self, threshold: &Threshold) -> Decision {
        match self.smoothed {
            Some(v) if threshold.is_exceeded(v) => Decision::Anomalous,
            Some(_) => Decision::Normal,
            None => Decision::Invalid,
        }
    }
}

/// The device's decisions on `scored` (each recording its own stream, from boot): the
/// alarm logic of `rule` ([`vae_core::alarm`]: learning, watching, re-learning) over the
/// smoothed scores, with `threshold` the static one. The same code decides on the device,
/// so both make the same decisions. Without a threshold every scored window is `Normal`.
pub fn decisions(
    scored: &[ScoredWindow],
    threshold: Option<Threshold>,
    rule: AlarmRule,
) -> Result<Vec<Decision>, Error> {
    let Some(t) = threshold else {
        return Ok(scored
            .iter()
            .map(|w| if w.smoothed.is_some() { Decision::Normal } else { Decision::Invalid })
            .collect());
    };
    let mut alarm = Alarm::new(rule, t)?;
    let mut recording = None;
    Ok(scored
        .iter()
        .map(|w| {
            if recording != Some(w.recording) {
                alarm.reset(t);
                recording = Some(w.recording);
            }
            alarm.step(w.smoothed)
        })
        .collect())
}

/// Bootstrap guard of the alarm rule, in calibration spreads: during the learning period
/// after boot, a window scoring more than this many spreads (the calibrated threshold minus
/// the median calibration score) above the median is an alarm and is not learnt. At the
/// start of the development streams (SKAB `other`, NAB's AWS and traffic series) normal
/// windows reached 13.8 spreads; 20 leaves room and still catches a machine already
/// broken at boot whose scores are far beyond training.
pub const BOOT_GUARD_SPREADS: f32 = 20.0;

/// Windows learnt after boot by default: 32 windows (4 window lengths at hop W/8). Chosen
/// on the development sets (16 and 32 tried, with re-learning after 4, 8, 12 and 16).
pub const DEFAULT_LEARN: u16 = 32;

/// Consecutive alarm windows after which the device re-learns by default (half a window
/// length at hop W/8). Chosen on the development sets with the spread floor (4 and 8
/// tried): a false alarm that holds is re-learnt sooner, and the device is back to
/// watching sooner.
pub const DEFAULT_RELEARN_AFTER: u16 = 4;

/// The margin of the alarm rule in learnt standard deviations, per standard-normal
/// quantile `z(1 - a)` of the false-alarm rate `a`, when the calibration is too small to
/// measure its own: `2 z`, 5.15 at 0.005. A Gaussian tail, widened because a learning
/// period holds few independent windows (the smoothing correlates them); chosen on the
/// development sets (margins of 4 to 10, and Cantelli's 14.1, tried at 0.005), with the
/// learnt spread floored at the calibration's ([`alarm_rule`]).
pub const MARGIN_PER_QUANTILE: f64 = 2.0;

/// The alarm rule for a model calibrated at quantile `q` with `threshold`, over the
/// smoothed calibration scores `scored`: learn `learn` windows, re-learn after
/// `relearn_after` alarm windows, boot guard [`BOOT_GUARD_SPREADS`] spreads above the
/// median calibration score, and the learnt spread floored at the calibration's standard
/// deviation (a learning period's few independent windows can give a far narrower one).
/// The margin in learnt standard deviations is the calibration's own,
/// `(threshold - mean) / sd`, when the calibration holds enough windows to estimate the
/// quantile (`1 / (1 - q)`, as [`ThresholdRule::Auto`] decides), else
/// [`MARGIN_PER_QUANTILE`] `* z(q)`. `learn == 0` or `q >= 1`: the static threshold.
pub fn alarm_rule(
    scored: &[ScoredWindow],
    q: f32,
    threshold: Threshold,
    learn: u16,
    relearn_after: u16,
) -> Result<AlarmRule, Error> {
    if learn == 0 || q >= 1.0 {
        return Ok(AlarmRule::STATIC);
    }
    let mut s = finite_scores(scored);
    let t = threshold.value();
    let median = Threshold::from_quantile(&mut s, 0.5).map_or(t, |m| m.value());
    let guard = median + BOOT_GUARD_SPREADS * (t - median).max(0.0);
    let moments = moments(scored);
    let margin = match (ThresholdRule::Auto.resolve(s.len(), q), moments) {
        (ThresholdRule::Quantile, Some((mean, sd))) if sd > 0.0 => ((f64::from(t) - mean) / sd).max(0.0),
        _ => MARGIN_PER_QUANTILE * normal_quantile(f64::from(q)),
    };
    let floor = moments.map_or(0.0, |(_, sd)| sd);
    let rule = AlarmRule {
        learn,
        relearn_after,
        margin: margin as f32,
        guard: if guard.is_finite() { guard } else { f32::INFINITY },
        floor: if (floor as f32).is_finite() { floor as f32 } else { 0.0 },
    };
    rule.check()?;
    Ok(rule)
}

/// The standard normal quantile `z(p)`, `0 < p < 1` (Acklam's rational approximation,
/// relative error below 1.2e-9; `p` outside (0, 1) gives +-inf).
pub fn normal_quantile(p: f64) -> f64 {
    const A: [f64; 6] = [
        -3.969_683_028_665_376e1,
        2.209_460_984_245_205e2,
        -2.759_285_104_469_687e2,
        1.383_577_518_672_69e2,
        -3.066_479_806_614_716e1,
        2.506_628_277_459_239,
    ];
    const B: [f64; 5] = [
        -5.447_609_879_822_406e1,
        1.615_858_368_580_409e2,
        -1.556_989_798_598_866e2,
        6.680_131_188_771_972e1,
        -1.328_068_155_288_572e1,
    ];
    const C: [f64; 6] = [
        -7.784_894_002_430_293e-3,
        -3.223_964_580_411_365e-1,
        -2.400_758_277_161_838,
        -2.549_732_539_343_734,
        4.374_664_141_464_968,
        2.938_163_982_698_783,
    ];
    const D: [f64; 4] =
        [7.784_695_709_041_462e-3, 3.224_671_290_700_398e-1, 2.445_134_137_142_996, 3.754_408_661_907_416];
    if p <= 0.0 {
        return f64::NEG_INFINITY;
    }
    if p >= 1.0 {
        return f64::INFINITY;
    }
    let tail = |q: f64| {
        (((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5])
            / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0)
    };
    if p < 0.024_25 {
        tail((-2.0 * p.ln()).sqrt())
    } else if p > 1.0 - 0.024_25 {
        -tail((-2.0 * (1.0 - p).ln()).sqrt())
    } else {
        let q = p - 0.5;
        let r = q * q;
        (((((A[0] * r + A[1]) * r + A[2]) * r + A[3]) * r + A[4]) * r + A[5]) * q
            / (((((B[0] * r + B[1]) * r + B[2]) * r + B[3]) * r + B[4]) * r + 1.0)
    }
}

/// The finite decision scores of `scored`.
fn finite_scores(scored: &[ScoredWindow]) -> Vec<f32> {
    scored.iter().filter_map(|w| w.smoothed.filter(|v| v.is_finite())).collect()
}

/// Mean and sample standard deviation of the finite decision scores of `scored` (`None`
/// without one; sd 0 for one).
fn moments(scored: &[ScoredWindow]) -> Option<(f64, f64)> {
    let scores: Vec<f64> = finite_scores(scored).into_iter().map(f64::from).collect();
    if scores.is_empty() {
        return None;
    }
    let n = scores.len() as f64;
    let mean = scores.iter().sum::<f64>() / n;
    let var = if scores.len() > 1 {
        scores.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / (n - 1.0)
    } else {
        0.0
    };
    Some((mean, var.sqrt()))
}

/// Scores `windows` (normalised, cut from `recordings` with the model's window and hop):
/// the model's transform turns each into the network input, then window `k` of each
/// recording draws its noise from `Rng::for_stream(seed, k)`, as the device does for the
/// `k`-th window of its stream, and the model's smoothing runs over each recording's windows
/// in order (`windows` must list each recording's windows in order, as
/// [`crate::data::windows_of`] does).
pub fn score_windows(
    model: &OwnedModel,
    windows: &Windows,
    config: ScoreConfig,
) -> Result<Vec<ScoredWindow>, Error> {
    let channels = model.meta.channels.len();
    let hop = model.meta.hop.max(1);
    let seed = model.meta.seed;
    let transform = model.meta.transform;
    let x_len = transform.input_len(windows.window, channels);
    let mut out = model.with_dyn_vae(|vae| -> Result<Vec<ScoredWindow>, Error> {
        let mut work = vec![0.0f32; vae.work_len(channels)];
        let mut features = vec![0.0f32; x_len];
        let mut scratch = vec![0.0f32; windows.window];
        let mut out = Vec::with_capacity(windows.len());
        for (i, origin) in windows.origin.iter().enumerate() {
            let raw = windows.get(i).unwrap_or(&[]);
            let index = origin.start / hop;
            let mut nll = vec![0.0f32; channels];
            let outcome = match transform.apply(raw, channels, &mut features, &mut scratch)? {
                None => vae.score(
                    &features,
                    config,
                    &mut Rng::for_stream(seed, index as u64),
                    &mut work,
                    &mut nll,
                )?,
                Some(skip) => skip,
            };
            if !matches!(outcome, Outcome::Scored(_)) {
                nll.clear();
            }
            out.push(ScoredWindow {
                recording: origin.recording,
                index,
                start: origin.start,
                outcome,
                channel_nll: nll,
                smoothed: None,
            });
        }
        Ok(out)
    })??;
    smooth(transform.smoothing, &mut out)?;
    Ok(out)
}

/// Fills [`ScoredWindow::smoothed`] with the moving mean of the last `length` scores of each
/// recording (the device's [`Smoother`]); windows of one recording must be in stream order.
pub fn smooth(length: u16, scored: &mut [ScoredWindow]) -> Result<(), Error> {
    let mut smoother = Smoother::new(length)?;
    let mut current = None;
    for w in scored {
        if current != Some(w.recording) {
            smoother.reset();
            current = Some(w.recording);
        }
        w.smoothed = w.rank_score().map(|s| smoother.push(s));
    }
    Ok(())
}

/// The threshold at quantile `q` of the finite decision scores ([`ScoredWindow::smoothed`])
/// of `scored` (normal windows).
pub fn calibrate(scored: &[ScoredWindow], q: f32) -> Result<Threshold, Error> {
    let mut scores = finite_scores(scored);
    Ok(Threshold::from_quantile(&mut scores, q)?)
}

/// How a threshold is estimated from the decision scores of normal windows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ThresholdRule {
    /// The empirical quantile `q` ([`calibrate`]).
    Quantile,
    /// The distribution-free Cantelli bound for a false-alarm rate of `1 - q`
    /// ([`calibrate_cantelli`]).
    Cantelli,
    /// The quantile when there are at least `1 / (1 - q)` finite scores (enough for the
    /// quantile to be more than their maximum), else the Cantelli bound.
    Auto,
}

impl ThresholdRule {
    /// Parses `quantile`, `cantelli` or `auto`.
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "quantile" => Some(Self::Quantile),
            "cantelli" => Some(Self::Cantelli),
            "auto" => Some(Self::Auto),
            _ => None,
        }
    }

    /// The rule [`ThresholdRule::Auto`] picks for `n` finite scores and quantile `q` (the
    /// rule itself otherwise).
    pub fn resolve(self, n: usize, q: f32) -> Self {
        match self {
            // Tolerance: 0.995 as f32 is 0.99500000477, which would make 200 too few.
            Self::Auto if (n as f64) * (1.0 - f64::from(q)) >= 1.0 - 1e-6 => Self::Quantile,
            Self::Auto => Self::Cantelli,
            r => r,
        }
    }

    /// Name as the CLI spells it.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Quantile => "quantile",
            Self::Cantelli => "cantelli",
            Self::Auto => "auto",
        }
    }
}

/// The factor `k = sqrt(q / (1 - q))` of the Cantelli bound for quantile `q` (14.1 for
/// 0.995).
pub fn cantelli_factor(q: f32) -> f64 {
    let q = f64::from(q);
    (q / (1.0 - q)).sqrt()
}

/// The threshold `mean + k sd` of the finite decision scores of `scored` (normal windows),
/// `k = sqrt(q / (1 - q))`: by Cantelli's inequality (the one-sided Chebyshev inequality),
/// `P(S - mean >= k sd) <= 1 / (1 + k^2) = 1 - q` for *any* distribution of scores with
/// that mean and standard deviation. A quantile `q` estimated from fewer than `1 / (1 - q)`
/// windows is only their maximum, and consecutive windows overlap (and are smoothed), so
/// they are far fewer independent draws than they number: the bound needs no tail shape and
/// only the first two moments, which few correlated windows estimate without bias. `q` must
/// lie in `[0, 1)`.
pub fn calibrate_cantelli(scored: &[ScoredWindow], q: f32) -> Result<Threshold, Error> {
    if !(0.0..1.0).contains(&q) {
        return Err(vae_core::Error::InvalidQuantile { found: q }.into());
    }
    let (mean, sd) = moments(scored).ok_or(vae_core::Error::NoScores)?;
    let t = mean + cantelli_factor(q) * sd;
    Ok(Threshold::new(t as f32)?)
}

/// The threshold of `rule` at quantile `q` over the decision scores of `scored`, and the
/// rule used ([`ThresholdRule::Auto`] resolved).
pub fn calibrate_with(
    scored: &[ScoredWindow],
    q: f32,
    rule: ThresholdRule,
) -> Result<(Threshold, ThresholdRule), Error> {
    let n = scored.iter().filter(|w| w.smoothed.is_some_and(f32::is_finite)).count();
    match rule.resolve(n, q) {
        ThresholdRule::Cantelli => Ok((calibrate_cantelli(scored, q)?, ThresholdRule::Cantelli)),
        _ => Ok((calibrate(scored, q)?, ThresholdRule::Quantile)),
    }
}

/// Refuses a recording whose channels are not the model's.
pub fn check_channels(model: &OwnedModel, r: &Recording) -> Result<(), Error> {
    if r.channels != model.meta.channels {
        return Err(Error::Input(format!(
            "{}: columns {:?} do not match the model's channels {:?}",
            r.path.display(),
            r.channels,
            model.meta.channels
        )));
    }
    Ok(())
}

/// Normalises recordings with the model's statistics (the device does the same per sample).
pub fn normalise(model: &OwnedModel, recordings: &mut [Recording]) {
    for r in recordings {
        vae_core::normalize::normalize_in_place(&mut r.values, &model.meta.norm_mean, &model.meta.norm_std);
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Against tabulated quantiles of the standard normal distribution.
    #[test]
    fn normal_quantile_matches_the_tables() {
        for (p, z) in [
            (0.5, 0.0),
            (0.9, 1.281_551_565_5),
            (0.99, 2.326_347_874_0),
            (0.995, 2.575_829_303_5),
            (0.999, 3.090_232_306_2),
            (0.01, -2.326_347_874_0),
            (0.000_001, -4.753_424_308_8),
        ] {
            assert!((normal_quantile(p) - z).abs() < 1e-8, "z({p}) = {} != {z}", normal_quantile(p));
        }
        assert_eq!(normal_quantile(1.0), f64::INFINITY);
        assert!((MARGIN_PER_QUANTILE * normal_quantile(0.995) - 5.15).abs() < 0.01);
    }
    use crate::data::{windows_of, Recording};
    use crate::model::{Layer, ModelMeta, Network};
    use vae_core::model_file::Calibration;
    use vae_core::{Activation, Transform};

    /// A 2-channel model of windows of 2 samples, all weights zero, normalised with stds
    /// below 1 (so `f32::MAX` divided by them overflows); threshold 50. Shared with the
    /// score CSV's tests.
    pub(crate) fn model(transform: Transform) -> OwnedModel {
        let (w, c, h) = (2usize, 2usize, 3usize);
        let x = transform.input_len(w, c);
        OwnedModel {
            meta: ModelMeta {
                weights: vae_core::weights::Encoding::F32,
                name: "spike".into(),
                seed: 0,
                window: w,
                hop: 1,
                channels: vec!["a".into(), "b".into()],
                norm_mean: vec![0.1, -0.2],
                norm_std: vec![0.5, 0.25],
                score: ScoreConfig::DETERMINISTIC,
                transform,
            },
            net: Network {
                encoder: vec![Layer::zeros(x, h, Activation::Tanh)],
                mu: Layer::zeros(h, 1, Activation::Identity),
                log_var: Layer::zeros(h, 1, Activation::Identity),
                decoder: vec![Layer::zeros(1, h, Activation::Tanh)],
                mean: Layer::zeros(h, x, Activation::Identity),
                decoder_log_var: vec![0.0; x],
            },
            thresholds: vec![Calibration { quantile: 0.995, threshold: 50.0 }],
            alarm: vae_core::AlarmRule::STATIC,
        }
    }

    /// Found by a hostile test pass: a window with one sample of `f32::MAX` (a common
    /// sentinel) was counted `invalid (NaN/Inf)` by `vae-train score` and never flagged,
    /// because normalising it by a std below 1 gave infinity. A finite spike is an anomaly:
    /// its windows overflow and are decided anomalous; only the NaN sample's window is
    /// invalid.
    #[test]
    fn a_finite_f32_max_spike_is_anomalous_not_invalid() {
        for transform in [Transform::Raw, Transform::new(vae_core::Features::Stats)] {
            let m = model(transform);
            // Rows: fine, f32::MAX on b, fine, fine, NaN on a, fine.
            let values = vec![0.0, 0.0, 0.0, f32::MAX, 0.1, -0.2, 0.0, 0.0, f32::NAN, 0.0, 0.0, 0.0];
            let mut recs = vec![Recording::new("spike.csv", m.meta.channels.clone(), values)];
            normalise(&m, &mut recs);
            assert_eq!(recs[0].values[3], f32::MAX, "a finite sample normalises to a finite value");
            let windows = windows_of(&recs, m.meta.window, m.meta.hop).unwrap();
            let scored = score_windows(&m, &windows, m.meta.score).unwrap();
            let t = Threshold::new(m.thresholds[0].threshold).unwrap();
            let got: Vec<(Outcome, Decision)> = scored.iter().map(|w| (w.outcome, w.decide(&t))).collect();
            // Windows start at rows 0..5: the spike (row 1) is in windows 0 and 1, the NaN
            // (row 4) in windows 3 and 4.
            assert_eq!(got.len(), 5, "{transform:?}");
            for (i, (outcome, decision)) in got.iter().enumerate() {
                let what = format!("{transform:?} window {i}: {outcome:?}");
                match i {
                    0 | 1 => {
                        assert_eq!((*outcome, *decision), (Outcome::Overflow, Decision::Anomalous), "{what}")
                    }
                    2 => assert_eq!(*decision, Decision::Normal, "{what}"),
                    _ => assert!(
                        matches!(outcome, Outcome::NonFinite { count: 1, .. })
                            && *decision == Decision::Invalid,
                        "{what}"
                    ),
                }
            }
            assert_eq!(scored.iter().filter(|w| matches!(w.outcome, Outcome::NonFinite { .. })).count(), 2);
        }
    }
}
