//! Scoring recordings with a model: the host runs the device's engine on the same bits.

use crate::data::{self, Recording};
use crate::error::Error;
use crate::model::OwnedModel;
use crate::scoring::{self, ScoredWindow};
use std::fmt::Write as _;
use vae_core::{Decision, Outcome, ScoreConfig, Threshold};

/// Scores every window of `recordings` (raw samples, read with the model's channels): they
/// are normalised in place with the model's statistics, cut into the model's windows and
/// scored with `config` (smoothed as the model says). Refuses recordings whose channels
/// differ from the model's.
pub fn score(
    model: &OwnedModel,
    recordings: &mut [Recording],
    config: ScoreConfig,
) -> Result<Vec<ScoredWindow>, Error> {
    for r in recordings.iter() {
        scoring::check_channels(model, r)?;
    }
    scoring::normalise(model, recordings);
    let windows = data::windows_of(recordings, model.meta.window, model.meta.hop)?;
    scoring::score_windows(model, &windows, config)
}

/// The model's decision threshold, if it was calibrated.
pub fn threshold(model: &OwnedModel) -> Option<Threshold> {
    model.thresholds.first().and_then(|c| Threshold::new(c.threshold).ok())
}

/// The device's decision for every window of `scored`, each recording its own stream from
/// boot: the model's alarm rule (learning, then its threshold; see [`vae_core::alarm`]) on
/// the smoothed scores, or, with `t` other than the model's threshold, that threshold alone.
pub fn decisions(
    model: &OwnedModel,
    scored: &[ScoredWindow],
    t: Option<&Threshold>,
) -> Result<Vec<Decision>, Error> {
    let rule = match (t, threshold(model)) {
        (Some(t), Some(m)) if *t == m => model.alarm,
        _ => vae_core::AlarmRule::STATIC,
    };
    scoring::decisions(scored, t.copied(), rule)
}

/// One CSV row per window: where it is, its score and decision (`decided`, from
/// [`decisions`]: `yes`, `no`, `learning` while the device learns, `invalid`; empty without
/// a threshold), and its per-channel split.
pub fn scores_csv(
    model: &OwnedModel,
    recs: &[Recording],
    scored: &[ScoredWindow],
    decided: Option<&[Decision]>,
) -> String {
    let mut s = String::from("file,window,start_row,score,anomalous,top_channel");
    for c in &model.meta.channels {
        let _ = write!(s, ",nll_{c}");
    }
    // With smoothing, the decision is on the smoothed score: a last column.
    let smoothed = model.meta.transform.smoothing > 1;
    if smoothed {
        s.push_str(",smoothed_score");
    }
    s.push('\n');
    for (i, w) in scored.iter().enumerate() {
        let rec = &recs[w.recording];
        let file = rec.path.display().to_string();
        let file =
            if file.contains([',', '"']) { format!("\"{}\"", file.replace('"', "\"\"")) } else { file };
        let row = rec.file_row(w.start);
        let (score, top) = match w.outcome {
            Outcome::Scored(sc) => (sc.score.to_string(), model.meta.channels[sc.top_channel].clone()),
            Outcome::Overflow => ("inf".into(), String::new()),
            Outcome::NonFinite { .. } => ("nan".into(), String::new()),
        };
        let flag = match (decided.and_then(|d| d.get(i)), &w.outcome) {
            (_, Outcome::NonFinite { .. }) => "invalid",
            (Some(Decision::Anomalous), _) => "yes",
            (Some(Decision::Learning), _) => "learning",
            (Some(_), _) => "no",
            (None, _) => "",
        };
        let _ = write!(s, "{file},{},{row},{score},{flag},{top}", w.index);
        for c in 0..model.meta.channels.len() {
            match w.channel_nll.get(c) {
                Some(v) => {
                    let _ = write!(s, ",{v}");
                }
                None => s.push(','),
            }
        }
        if smoothed {
            match w.smoothed {
                Some(v) => {
                    let _ = write!(s, ",{v}");
                }
                None => s.push_str(",nan"),
            }
        }
        s.push('\n');
    }
    s
}
