//! Host scoring: every window of a recording through `vae-core` (the engine the firmware
//! runs), with the same noise streams, so host and device scores agree window by window.

use crate::data::{Recording, Windows};
use crate::error::Error;
use crate::model::OwnedModel;
use vae_core::{Outcome, Rng, ScoreConfig, Threshold};

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
}

/// Scores `windows` (normalised, cut from `recordings` with the model's window and hop).
/// Window `k` of each recording draws its noise from `Rng::for_stream(seed, k)`, as the
/// device does for the `k`-th window of its stream.
pub fn score_windows(
    model: &OwnedModel,
    windows: &Windows,
    config: ScoreConfig,
) -> Result<Vec<ScoredWindow>, Error> {
    let channels = model.meta.channels.len();
    let hop = model.meta.hop.max(1);
    let seed = model.meta.seed;
    model.with_dyn_vae(|vae| {
        let mut work = vec![0.0f32; vae.work_len(channels)];
        let mut out = Vec::with_capacity(windows.len());
        for (i, origin) in windows.origin.iter().enumerate() {
            let x = windows.get(i).unwrap_or(&[]);
            let index = origin.start / hop;
            let mut nll = vec![0.0f32; channels];
            let outcome =
                vae.score(x, config, &mut Rng::for_stream(seed, index as u64), &mut work, &mut nll)?;
            if !matches!(outcome, Outcome::Scored(_)) {
                nll.clear();
            }
            out.push(ScoredWindow {
                recording: origin.recording,
                index,
                start: origin.start,
                outcome,
                channel_nll: nll,
            });
        }
        Ok(out)
    })?
}

/// The threshold at quantile `q` of the finite scores of `scored` (normal windows).
pub fn calibrate(scored: &[ScoredWindow], q: f32) -> Result<Threshold, Error> {
    let mut scores: Vec<f32> = scored.iter().filter_map(ScoredWindow::score).collect();
    Ok(Threshold::from_quantile(&mut scores, q)?)
}

/// Normalises recordings with the model's statistics (the device does the same per sample).
pub fn normalise(model: &OwnedModel, recordings: &mut [Recording]) {
    for r in recordings {
        vae_core::normalize::normalize_in_place(&mut r.values, &model.meta.norm_mean, &model.meta.norm_std);
    }
}
