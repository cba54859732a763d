//! Host scoring: every window of a recording through `vae-core` (the engine the firmware
//! runs), with the same noise streams, the same input transform and the same smoothing of
//! scores, so host and device scores and decisions agree window by window.

use crate::data::{Recording, Windows};
use crate::error::Error;
use crate::model::OwnedModel;
use vae_core::{Decision, Outcome, Rng, ScoreConfig, Smoother, Threshold};

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
    let mut scores: Vec<f32> = scored.iter().filter_map(|w| w.smoothed.filter(|v| v.is_finite())).collect();
    Ok(Threshold::from_quantile(&mut scores, q)?)
}

/// Normalises recordings with the model's statistics (the device does the same per sample).
pub fn normalise(model: &OwnedModel, recordings: &mut [Recording]) {
    for r in recordings {
        vae_core::normalize::normalize_in_place(&mut r.values, &model.meta.norm_mean, &model.meta.norm_std);
    }
}
