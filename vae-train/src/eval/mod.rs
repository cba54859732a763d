//! Evaluation on labelled recordings: per-window labels, the model's scores (with its
//! transform and smoothing, exactly as the device computes them), detection metrics, three
//! reference scorers on the same windows, and a Markdown report with PNG plots.
//!
//! ```text
//! LabelSource::load      -> recordings with a label per row (column, JSON windows, or files)
//! evaluate(model, recs)  -> Evaluation: one EvalWindow per window, Metrics of the model,
//!                           of flagging every window, of the no-training score and of PCA
//! evaluate_given(..)     -> the same with the model's scores and decisions read from a
//!                           score CSV (a device's log), not computed
//! summary / report::write -> JSON, text, report.md + plots
//! ```
//!
//! Beside the ranking metrics, [`alarms`] counts what a user of the device feels at the
//! model's own threshold: the false-alarm rate, alarm episodes, event recall and detection
//! delay; and the same for the no-training reference at a threshold fitted by the same rule
//! (the empirical quantile `q` of the model's first calibration, over the reference's scores
//! smoothed as the model smooths) on the training windows given (`--train`).
//!
//! A window is anomalous when any of its rows is labelled. Windows whose samples hold
//! NaN/Inf are not scored (the device reports them invalid); they are counted and left out
//! of every metric, for the model and the references alike. Nothing here chooses anything on
//! the labels: the threshold is the model's (calibrated on normal training-side windows), and
//! "best F1" is reported as what it is, the best any threshold could do in hindsight.

pub mod alarms;
pub mod baselines;
mod given;
pub mod labels;
pub mod metrics;
pub mod period;
mod plots;
mod report;

pub use alarms::AlarmFigures;
pub use labels::{EvalError, LabelSource, LabelWindows, Stamp};
pub use metrics::Metrics;
pub use report::FILES as REPORT_FILES;

use crate::data::{self, Recording, Windows};
use crate::error::Error;
use crate::model::OwnedModel;
use crate::pipeline::ScoresFile;
use crate::scoring::{self, ScoredWindow};
use serde::Serialize;
use std::fmt::Write as _;
use std::path::PathBuf;
use vae_core::{AlarmRule, Decision, Outcome, ScoreConfig, Threshold, Transform, WindowScore};

/// One evaluated window.
#[derive(Clone, Debug, PartialEq)]
pub struct EvalWindow {
    /// Index of its recording.
    pub recording: usize,
    /// First row within the recording.
    pub start: usize,
    /// First row within the file.
    pub file_row: usize,
    /// Whether any of its rows is labelled anomalous.
    pub label: bool,
    /// The model's outcome for the window alone.
    pub outcome: Outcome,
    /// The score the decision uses (smoothed when the model smooths); `None` when not scored.
    pub score: Option<f32>,
    /// The decision at the model's threshold (`Normal` when the model has none).
    pub decision: Decision,
    /// The no-training reference score (NaN when not scored).
    pub no_training: f32,
    /// The PCA reference score, when training recordings were given.
    pub pca: Option<f32>,
}

/// What one recording contributed.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RecordingInfo {
    /// The file.
    pub path: PathBuf,
    /// Its first row evaluated (after `--rows`).
    pub first_row: usize,
    /// Rows evaluated.
    pub rows: usize,
    /// Windows cut.
    pub windows: usize,
    /// Of them labelled anomalous.
    pub anomalous_windows: usize,
    /// Of them not scored (NaN/Inf samples).
    pub invalid_windows: usize,
}

/// An evaluation of one model on labelled recordings.
#[derive(Clone, Debug, PartialEq)]
pub struct Evaluation {
    /// The model's name.
    pub model_name: String,
    /// Its transform.
    pub transform: Transform,
    /// Windows averaged by its smoothing.
    pub smoothing: u16,
    /// The score used.
    pub config: ScoreConfig,
    /// The decision threshold (the model's first calibration, when the score is the one it
    /// was calibrated for).
    pub threshold: Option<f32>,
    /// Channel names.
    pub channels: Vec<String>,
    /// Per recording.
    pub recordings: Vec<RecordingInfo>,
    /// Every window, recordings in order.
    pub windows: Vec<EvalWindow>,
    /// The model's metrics.
    pub metrics: Metrics,
    /// Flagging every (scored) window.
    pub flag_all: Metrics,
    /// The no-training score.
    pub no_training: Metrics,
    /// PCA reconstruction error, when training recordings were given.
    pub pca: Option<Metrics>,
    /// Principal components of the PCA reference.
    pub pca_components: usize,
    /// Windows not scored (NaN/Inf samples).
    pub invalid_windows: usize,
    /// The false-alarm rate the model's threshold was calibrated for, `1 - q` of its first
    /// calibration (`None` without one).
    pub requested_false_alarm_rate: Option<f64>,
    /// The model's alarm figures at its threshold (`None` without one).
    pub alarms: Option<AlarmFigures>,
    /// The no-training reference's alarm figures at its own threshold, the same quantile of
    /// its smoothed scores on the training windows (`None` without training recordings or a
    /// calibration).
    pub no_training_alarms: Option<AlarmFigures>,
    /// Things the reader should know (a score other than the calibrated one, a class with no
    /// window).
    pub notes: Vec<String>,
}

/// Evaluates `model` on `recordings` (raw samples, every row labelled, columns in the
/// model's channel order) with `config`. `train`, the raw training recordings, enables the
/// PCA reference (`k` = the model's latent width) and the no-training reference's threshold
/// for its alarm figures; both are normalised with the model's statistics.
pub fn evaluate(
    model: &OwnedModel,
    recordings: &[Recording],
    config: ScoreConfig,
    train: Option<&[Recording]>,
) -> Result<Evaluation, Error> {
    evaluate_from(model, recordings, Source::Model(config), train)
}

/// Evaluates what a device (or an earlier `vae-train score`) decided: as [`evaluate`], but
/// the model's scores and decisions are read from `scores` instead of computed, so a
/// device's log can be judged against labels offline. The model gives the windows, hop,
/// channels, threshold and requested false-alarm rate; the labels and both references come
/// from `recordings` as in [`evaluate`].
///
/// Each window (recording, start) takes the row of `scores` with the same `start_row` (the
/// window's row in its file) and file: the row's `file` equal to the recording's path as
/// given, else the only file of `scores` with the recording's file name, else, with one
/// recording and one file in `scores`, that file. The score is `smoothed_score` when the
/// file has it, else `score`; `nan` (or an `invalid` flag) is not scored, `inf` an overflow.
/// The decision is the row's flag (`learning` is not an alarm); with no flag on any scored
/// row (a model without threshold), F1, precision, recall and the alarm figures at the
/// threshold are not reported. A window with no row is an error; rows matching no window
/// are counted in a note. [`EvalWindow::outcome`] holds the file's score alone (the bound
/// and reconstruction term `-score`, the KL 0), as the file has no more.
pub fn evaluate_given(
    model: &OwnedModel,
    recordings: &[Recording],
    scores: &ScoresFile,
    train: Option<&[Recording]>,
) -> Result<Evaluation, Error> {
    evaluate_from(model, recordings, Source::Given(scores), train)
}

/// Where the model's scores and decisions come from.
#[derive(Clone, Copy)]
enum Source<'a> {
    /// Computed with the model and this score.
    Model(ScoreConfig),
    /// Read from a score CSV.
    Given(&'a ScoresFile),
}

/// The model's verdict on one window: what [`EvalWindow`] takes from the model.
struct Verdict {
    outcome: Outcome,
    score: Option<f32>,
    decision: Decision,
}

/// [`evaluate`] and [`evaluate_given`].
fn evaluate_from(
    model: &OwnedModel,
    recordings: &[Recording],
    source: Source<'_>,
    train: Option<&[Recording]>,
) -> Result<Evaluation, Error> {
    let meta = &model.meta;
    for r in recordings {
        scoring::check_channels(model, r)?;
        if r.labels.is_none() {
            return Err(Error::Input(format!("{}: no labels to evaluate against", r.path.display())));
        }
        if r.rows() < meta.window {
            return Err(
                EvalError::NoWindows { path: r.path.clone(), rows: r.rows(), window: meta.window }.into()
            );
        }
    }
    let mut recs = recordings.to_vec();
    scoring::normalise(model, &mut recs);
    let mut notes = Vec::new();
    let config = match source {
        Source::Model(config) => config,
        Source::Given(file) => {
            notes.push(format!(
                "scores and decisions read from {}, not computed with the model",
                file.path.display()
            ));
            meta.score
        }
    };
    let mut threshold = decision_threshold(model, config, &mut notes);
    let train_windows = train.map(|t| training_windows(model, t)).transpose()?;
    let pca = train_windows.as_ref().and_then(|tw| pca_reference(model, tw, &mut notes));
    let reference = reference_threshold(model, train_windows.as_ref(), &mut notes)?;
    let windows = data::windows_of(&recs, meta.window, meta.hop)?;
    let verdicts = match source {
        Source::Model(config) => model_verdicts(model, &windows, config, threshold)?,
        Source::Given(file) => {
            let v = given::verdicts(model, file, &recs, &windows, &mut notes)?;
            if v.undecided && threshold.is_some() {
                notes.push(format!(
                    "{} holds no decision (empty anomalous column): F1, precision, recall and the alarm figures at the threshold are not reported",
                    file.path.display()
                ));
                threshold = None;
            }
            v.verdicts
        }
    };
    let out = eval_windows(&recs, &windows, verdicts, pca.as_ref())?;
    let mut e =
        summarise(model, config, threshold, &recs, out, pca.as_ref().map(baselines::Pca::components), notes);
    add_alarms(&mut e, model, &recs, reference)?;
    Ok(e)
}

/// The model's scores of `windows` with `config`, and its decisions at `threshold` by its
/// alarm rule.
fn model_verdicts(
    model: &OwnedModel,
    windows: &Windows,
    config: ScoreConfig,
    threshold: Option<f32>,
) -> Result<Vec<Verdict>, Error> {
    let scored = scoring::score_windows(model, windows, config)?;
    let threshold_t = threshold.and_then(|t| Threshold::new(t).ok());
    let decisions = scoring::decisions(&scored, threshold_t, model.alarm)?;
    Ok(scored
        .iter()
        .zip(decisions)
        .map(|(s, decision)| Verdict { outcome: s.outcome, score: s.smoothed, decision })
        .collect())
}

/// Every window of `recs` (normalised, cut into `windows`) with its label, the model's
/// verdict and the references' scores.
fn eval_windows(
    recs: &[Recording],
    windows: &Windows,
    verdicts: Vec<Verdict>,
    pca: Option<&baselines::Pca>,
) -> Result<Vec<EvalWindow>, Error> {
    let labels = windows
        .labels(recs)
        .ok_or_else(|| Error::Input("a recording has no labels to evaluate against".into()))?;
    Ok(windows
        .origin
        .iter()
        .zip(&labels)
        .zip(windows.iter())
        .zip(verdicts)
        .map(|(((o, &label), x), v)| {
            let valid = v.score.is_some();
            EvalWindow {
                recording: o.recording,
                start: o.start,
                file_row: recs[o.recording].file_row(o.start),
                label,
                outcome: v.outcome,
                score: v.score,
                decision: v.decision,
                no_training: if valid { baselines::no_training(x) } else { f32::NAN },
                pca: pca.map(|p| if valid { p.error(x) } else { f32::NAN }),
            }
        })
        .collect())
}

/// The model's decision threshold when `config` is the score it was calibrated for.
fn decision_threshold(model: &OwnedModel, config: ScoreConfig, notes: &mut Vec<String>) -> Option<f32> {
    let meta = &model.meta;
    let threshold = if config == meta.score {
        model.thresholds.first().map(|c| c.threshold)
    } else {
        notes.push(format!(
            "scored with {} K={}, but the model's threshold was calibrated for {} K={}: F1, precision and recall at the threshold are not reported",
            config.kind().name(),
            config.samples(),
            meta.score.kind().name(),
            meta.score.samples()
        ));
        None
    };
    if threshold.is_none() && model.thresholds.is_empty() {
        notes.push("the model has no calibrated threshold".into());
    }
    threshold
}

/// The training recordings normalised with the model's statistics and cut into its windows.
fn training_windows(model: &OwnedModel, train: &[Recording]) -> Result<Windows, Error> {
    let mut t = train.to_vec();
    for r in &t {
        scoring::check_channels(model, r)?;
    }
    scoring::normalise(model, &mut t);
    Ok(data::windows_of(&t, model.meta.window, model.meta.hop)?)
}

/// The PCA reference fitted on the finite training windows (`None`, noted, when there is
/// none).
fn pca_reference(model: &OwnedModel, tw: &Windows, notes: &mut Vec<String>) -> Option<baselines::Pca> {
    let clean: Vec<f32> = tw.iter().filter(|w| w.iter().all(|v| v.is_finite())).flatten().copied().collect();
    let pca = baselines::Pca::fit(&clean, tw.width, model.net.latent_len());
    if pca.is_none() {
        notes.push("no training window for the PCA reference".into());
    }
    pca
}

/// The no-training reference's threshold and alarm rule by the model's rules: the quantile
/// `q` of the model's first calibration over the reference's scores of the training
/// windows, smoothed as the model smooths, and the model's learning and re-learning with
/// the margin of `q` and a boot guard from those scores (`None`, noted, without training
/// windows or a finite score; `None` without a calibration, which is noted already).
fn reference_threshold(
    model: &OwnedModel,
    tw: Option<&Windows>,
    notes: &mut Vec<String>,
) -> Result<Option<(f32, AlarmRule)>, Error> {
    let Some(q) = model.thresholds.first().map(|c| c.quantile) else { return Ok(None) };
    let Some(tw) = tw else {
        notes.push(
            "the no-training reference's alarm figures need the model's training recordings (--train): not reported"
                .into(),
        );
        return Ok(None);
    };
    let scores =
        tw.origin.iter().zip(tw.iter()).map(|(o, x)| (o.recording, o.start, baselines::no_training(x)));
    let scored = smoothed_scores(model, scores)?;
    match scoring::calibrate(&scored, q) {
        Ok(t) => {
            let rule = scoring::alarm_rule(&scored, q, t, model.alarm.learn, model.alarm.relearn_after)?;
            Ok(Some((t.value(), rule)))
        }
        Err(_) => {
            notes.push("no finite training window for the no-training reference's threshold".into());
            Ok(None)
        }
    }
}

/// Reference scores `(recording, start, score)` (NaN: not scored, `+inf`: overflowed) as
/// scored windows smoothed with the model's smoothing, as the device would smooth them.
fn smoothed_scores(
    model: &OwnedModel,
    scores: impl Iterator<Item = (usize, usize, f32)>,
) -> Result<Vec<ScoredWindow>, Error> {
    let hop = model.meta.hop.max(1);
    let mut out: Vec<ScoredWindow> = scores
        .map(|(recording, start, v)| ScoredWindow {
            recording,
            index: start / hop,
            start,
            outcome: outcome_of(v, 0),
            channel_nll: Vec::new(),
            smoothed: None,
        })
        .collect();
    scoring::smooth(model.meta.transform.smoothing, &mut out)?;
    Ok(out)
}

/// The outcome of a bare score `v` (NaN: not scored, `+inf`: overflowed) whose top channel
/// is `top_channel`; the bound and reconstruction term are `-v`, the KL 0.
fn outcome_of(v: f32, top_channel: usize) -> Outcome {
    if v.is_nan() {
        Outcome::NonFinite { count: 1, first: 0 }
    } else if v.is_finite() {
        Outcome::Scored(WindowScore { score: v, bound: -v, recon: -v, kl: 0.0, top_channel })
    } else {
        Outcome::Overflow
    }
}

/// The alarm figures of the model at its threshold and of the no-training reference at
/// `reference`, and the false-alarm rate asked for.
fn add_alarms(
    e: &mut Evaluation,
    model: &OwnedModel,
    recs: &[Recording],
    reference: Option<(f32, AlarmRule)>,
) -> Result<(), Error> {
    let rows: Vec<alarms::RecordingRows> = recs.iter().map(alarms::RecordingRows::of).collect();
    let layout = alarms::Layout { window: model.meta.window, hop: model.meta.hop, recordings: &rows };
    // An alarm, not one (learning or normal), or not scored.
    let alarm_window = |w: &EvalWindow, d: Decision| alarms::AlarmWindow {
        recording: w.recording,
        start: w.start,
        label: w.label,
        alarm: match d {
            Decision::Anomalous => Some(true),
            Decision::Normal | Decision::Learning => Some(false),
            Decision::Invalid => None,
        },
    };
    e.requested_false_alarm_rate = model.thresholds.first().map(|c| requested_rate(c.quantile));
    e.alarms = e.threshold.map(|t| {
        let w: Vec<alarms::AlarmWindow> = e.windows.iter().map(|w| alarm_window(w, w.decision)).collect();
        alarms::AlarmFigures::of(&w, t, &layout)
    });
    if let Some((t, rule)) = reference {
        let threshold = Threshold::new(t)?;
        let scored = smoothed_scores(model, e.windows.iter().map(|w| (w.recording, w.start, w.no_training)))?;
        let decisions = scoring::decisions(&scored, Some(threshold), rule)?;
        let w: Vec<alarms::AlarmWindow> =
            e.windows.iter().zip(decisions).map(|(w, d)| alarm_window(w, d)).collect();
        e.no_training_alarms = Some(alarms::AlarmFigures::of(&w, t, &layout));
    }
    Ok(())
}

/// The false-alarm rate `1 - q` a calibration at quantile `q` asks for, as the quantile is
/// written (0.995 gives 0.005, not the f32's 0.00499999...).
pub fn requested_rate(q: f32) -> f64 {
    let q: f64 = q.to_string().parse().unwrap_or(f64::from(q));
    ((1.0 - q) * 1e12).round() / 1e12
}

/// The metrics of every scorer, per-recording counts and the notes on what is undefined.
fn summarise(
    model: &OwnedModel,
    config: ScoreConfig,
    threshold: Option<f32>,
    recs: &[Recording],
    out: Vec<EvalWindow>,
    pca_components: Option<usize>,
    mut notes: Vec<String>,
) -> Evaluation {
    let meta = &model.meta;
    let model_scores: Vec<f32> = out.iter().map(|w| w.score.unwrap_or(f32::NAN)).collect();
    let labels: Vec<bool> = out.iter().map(|w| w.label).collect();
    // F1, precision and recall of the device's decisions (learning windows are not alarms).
    let (flagged, scored_labels): (Vec<bool>, Vec<bool>) = out
        .iter()
        .filter(|w| w.score.is_some())
        .map(|w| (w.decision == Decision::Anomalous, w.label))
        .unzip();
    let metrics = match threshold {
        Some(_) => Metrics::of(&model_scores, &labels, threshold).with_decisions(&flagged, &scored_labels),
        None => Metrics::of(&model_scores, &labels, threshold),
    };
    let nt: Vec<f32> = out.iter().map(|w| w.no_training).collect();
    let pca_metrics = pca_components.map(|_| {
        let s: Vec<f32> = out.iter().map(|w| w.pca.unwrap_or(f32::NAN)).collect();
        Metrics::of(&s, &labels, None)
    });
    let invalid_windows = out.iter().filter(|w| w.score.is_none()).count();
    undefined_notes(&metrics, threshold.is_some(), invalid_windows, &mut notes);
    let recordings = recs
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let mine = out.iter().filter(|w| w.recording == i);
            RecordingInfo {
                path: r.path.clone(),
                first_row: r.first_row,
                rows: r.rows(),
                windows: mine.clone().count(),
                anomalous_windows: mine.clone().filter(|w| w.label).count(),
                invalid_windows: mine.filter(|w| w.score.is_none()).count(),
            }
        })
        .collect();
    Evaluation {
        model_name: meta.name.clone(),
        transform: meta.transform,
        smoothing: meta.transform.smoothing,
        config,
        threshold,
        channels: meta.channels.clone(),
        recordings,
        windows: out,
        metrics,
        flag_all: Metrics::flag_all(&scored_labels),
        no_training: Metrics::of(&nt, &labels, None),
        pca: pca_metrics,
        pca_components: pca_components.unwrap_or(0),
        invalid_windows,
        requested_false_alarm_rate: None,
        alarms: None,
        no_training_alarms: None,
        notes,
    }
}

/// Notes on the metrics that are undefined for these windows.
fn undefined_notes(metrics: &Metrics, thresholded: bool, invalid_windows: usize, notes: &mut Vec<String>) {
    if metrics.anomalous_windows == 0 {
        notes.push("no anomalous window: ROC-AUC, PR-AUC, best F1, F1 and recall are undefined".into());
    } else if metrics.anomalous_windows == metrics.windows {
        notes.push("every window is anomalous: ROC-AUC is undefined".into());
    }
    if thresholded && metrics.windows > 0 && metrics.precision.is_none() {
        notes.push(
            "no window is above the threshold: precision is undefined (F1 and recall are 0 when there are anomalous windows)"
                .into(),
        );
    }
    if invalid_windows > 0 {
        notes.push(format!(
            "{invalid_windows} window(s) hold NaN/Inf samples: not scored, left out of every metric"
        ));
    }
}

/// The reference scorers' metrics.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Baselines {
    /// Flagging every window.
    pub flag_all: Metrics,
    /// Mean squared normalised value.
    pub no_training: Metrics,
    /// PCA reconstruction error (when training recordings were given).
    pub pca: Option<Metrics>,
    /// Its number of components.
    pub pca_components: usize,
    /// The no-training score's alarm figures at its own threshold (the model's rule fitted on
    /// the training windows; `null` without `--train`).
    pub no_training_alarms: Option<AlarmFigures>,
}

/// The `--json` object: the model's metrics at the top level, the references under
/// `baselines`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Summary {
    /// Model name.
    pub model: String,
    /// Score kind.
    pub score: String,
    /// Latent samples K.
    pub samples: u16,
    /// Front end.
    pub transform: String,
    /// Channels whose level feature is its change across the window.
    pub wandering: Vec<String>,
    /// Windows averaged before the decision.
    pub smoothing: u16,
    /// Windows not scored (NaN/Inf).
    pub invalid_windows: usize,
    /// The false-alarm rate asked for, `1 - q` of the model's calibration.
    pub requested_false_alarm_rate: Option<f64>,
    /// The model's alarm figures at its threshold: `false_alarm_rate`, `episodes_per_1000`,
    /// `episodes_per_day`, `event_recall`, `median_delay_rows`, ... (`null` without one).
    pub alarms: Option<AlarmFigures>,
    /// The model's metrics, at the top level of the JSON object (`windows`,
    /// `anomalous_windows`, `roc_auc`, `pr_auc`, `best_f1`, `best_f1_threshold`, `threshold`,
    /// `f1`, `precision`, `recall`).
    #[serde(flatten)]
    pub metrics: Metrics,
    /// References on the same windows.
    pub baselines: Baselines,
    /// Per recording.
    pub recordings: Vec<RecordingInfo>,
    /// Notes.
    pub notes: Vec<String>,
}

impl Evaluation {
    /// The JSON summary.
    pub fn summary(&self) -> Summary {
        Summary {
            model: self.model_name.clone(),
            score: self.config.kind().name().to_string(),
            samples: self.config.samples(),
            transform: self.transform.name().to_string(),
            wandering: self.wandering_names(),
            smoothing: self.smoothing,
            invalid_windows: self.invalid_windows,
            requested_false_alarm_rate: self.requested_false_alarm_rate,
            alarms: self.alarms,
            metrics: self.metrics,
            baselines: Baselines {
                flag_all: self.flag_all,
                no_training: self.no_training,
                pca: self.pca,
                pca_components: self.pca_components,
                no_training_alarms: self.no_training_alarms,
            },
            recordings: self.recordings.clone(),
            notes: self.notes.clone(),
        }
    }

    /// One line per scorer with alarm figures: the model at its threshold, the no-training
    /// reference at its own (empty when neither has any).
    pub fn alarm_lines(&self) -> Vec<String> {
        let mut out = Vec::new();
        if let Some(a) = &self.alarms {
            out.push(format!("at the model's threshold: {}", a.describe(self.requested_false_alarm_rate)));
        }
        if let Some(a) = &self.no_training_alarms {
            out.push(format!(
                "no-training reference at its threshold {:.4} (same rule, training windows): {}",
                a.threshold,
                a.describe(self.requested_false_alarm_rate)
            ));
        }
        out
    }

    /// Names of the wandering channels.
    pub fn wandering_names(&self) -> Vec<String> {
        self.channels
            .iter()
            .enumerate()
            .filter(|(c, _)| self.transform.is_wandering(*c))
            .map(|(_, n)| n.clone())
            .collect()
    }

    /// The metrics as a plain-text table (model and references).
    pub fn table(&self) -> String {
        let mut rows: Vec<(String, &Metrics)> = vec![
            ("model".to_string(), &self.metrics),
            ("flag every window".to_string(), &self.flag_all),
            ("no-training score".to_string(), &self.no_training),
        ];
        if let Some(p) = &self.pca {
            rows.push((format!("PCA (k={})", self.pca_components), p));
        }
        let mut s = String::new();
        let _ = writeln!(
            s,
            "{:<20} {:>8} {:>8} {:>8} {:>8} {:>9} {:>8}",
            "scorer", "ROC-AUC", "PR-AUC", "best F1", "F1", "precision", "recall"
        );
        for (name, m) in rows {
            let _ = writeln!(
                s,
                "{:<20} {:>8} {:>8} {:>8} {:>8} {:>9} {:>8}",
                name,
                fmt(m.roc_auc),
                fmt(m.pr_auc),
                fmt(m.best_f1),
                fmt(m.f1),
                fmt(m.precision),
                fmt(m.recall)
            );
        }
        s
    }
}

/// A metric with three decimals, or `n/a`.
pub fn fmt(v: Option<f64>) -> String {
    match v {
        Some(x) if x.is_finite() => format!("{x:.3}"),
        _ => "n/a".to_string(),
    }
}

/// Writes the report (`report.md`, `scores.png`, `histogram.png`, `roc.png`, `windows.csv`)
/// into `dir`; returns the path of `report.md`.
pub fn write_report(e: &Evaluation, dir: &std::path::Path) -> Result<PathBuf, Error> {
    report::write(e, dir)
}

/// The human-readable summary `eval` prints.
pub fn text_summary(e: &Evaluation) -> String {
    let mut s = String::new();
    let m = &e.metrics;
    let _ = writeln!(
        s,
        "{}: {} windows ({} anomalous, prevalence {:.3}) in {} recording(s); {} invalid",
        e.model_name,
        m.windows,
        m.anomalous_windows,
        m.anomalous_windows as f64 / m.windows.max(1) as f64,
        e.recordings.len(),
        e.invalid_windows
    );
    let wandering = e.wandering_names();
    let _ = writeln!(
        s,
        "score {} K={}, transform {}{}, smoothing {}, threshold {}",
        e.config.kind().name(),
        e.config.samples(),
        e.transform.name(),
        if wandering.is_empty() { String::new() } else { format!(" (wandering: {})", wandering.join(", ")) },
        e.smoothing,
        e.threshold.map_or("none".to_string(), |t| format!("{t:.4}"))
    );
    s.push_str(&e.table());
    if let Some(t) = m.best_f1_threshold {
        let _ = writeln!(s, "best F1 threshold (in hindsight, on these labels): {t:.4}");
    }
    for line in e.alarm_lines() {
        let _ = writeln!(s, "{line}");
    }
    for n in &e.notes {
        let _ = writeln!(s, "note: {n}");
    }
    s
}
