//! `fit --auto`: the front end, window, smoothing and width chosen from the training rows
//! alone, so a user without a recipe gets a model that suits the recording.
//!
//! 1. **Window** ([`auto_window`]): with timestamps spanning at least two days, about one
//!    day of samples (a window that holds one whole daily cycle); else the dominant period
//!    of the training rows' autocorrelation; else 32 samples. It is the power of two nearest
//!    to the period (at least [`MIN_AUTO_WINDOW`]), halved while the training rows hold fewer
//!    than [`MIN_WINDOWS`] windows at hop W/8 for a day from the timestamps,
//!    [`MIN_WINDOWS_ACF`] for any other period ([`crate::eval::period::period_window`]), and per front end while
//!    the network would take more than [`MAX_INPUTS`] inputs (what a microcontroller holds).
//! 2. **Candidates**: each front end (raw, diff, demean, stats and spectrum, with wandering
//!    levels decided on the training rows where the front end has a level row) is trained
//!    once on the same loaded rows.
//! 3. **Criterion** ([`criterion`]): the validation ELBO cannot compare front ends (their
//!    inputs differ), so faults are injected into the held-out validation rows, on the
//!    recording's own signal and in units of each channel's training spread: a spike, a level
//!    shift, a frequency change, a stuck sensor, a noise burst, a slow drift, a gain change
//!    and a shifted cycle (the rows of half a period earlier). A candidate's criterion is
//!    the mean over fault kinds (but the one-sample spike, see [`Fault::counts`]) of the
//!    ROC-AUC of its decision scores, windows touched by a fault against the clean
//!    validation windows. Each smoothing length (1, 2, 4, 8) is scored on the same window
//!    scores, as the device would smooth them.
//! 4. **Choice**: the best criterion; candidates within [`TIE`] of it count as tied, and the
//!    cheapest on the device (multiply-accumulates per window) of those wins. The chosen
//!    candidate's network is the model: it is calibrated with its smoothing as any fit is.
//!
//! Parts the user sets on the command line (`--transform`, `--window`, `--smooth`,
//! `--hidden`) are kept as set; the others are chosen.

use super::fit::{self, FitPlan, Fitted, Prepared, Trained};
use super::Notes;
use crate::data::{self, Recording};
use crate::error::Error;
use crate::eval::metrics::roc_auc;
use crate::eval::period;
use crate::frontend::Wandering;
use crate::model::OwnedModel;
use crate::scoring::{self, ScoredWindow};
use std::sync::atomic::AtomicBool;
use std::time::Instant;
use vae_core::transform::Features;
use vae_core::Rng;

/// Most network inputs `--auto` gives a model: with 32 hidden units about 130 kB of f32
/// weights, an eighth of an nRF52840's flash.
pub const MAX_INPUTS: usize = 512;
/// Fewest training windows (at hop W/8) the automatic window leaves, as for NAB in
/// `cargo xtask eval-real`.
pub const MIN_WINDOWS: usize = 32;
/// Fewest training windows a window from the autocorrelation (or the 32-sample default)
/// leaves: twice [`MIN_WINDOWS`]. A day from the timestamps is kept down to
/// [`MIN_WINDOWS`] because a shorter window loses the daily cycle; a period found in a few
/// hundred rows is worth less than the windows it costs: with 33 training windows (SKAB
/// `other`, windows of 64 from 400 rows) the model learnt its windows by heart, and its
/// calibration on 3 validation windows put the threshold below half the new normal
/// windows (docs/evaluation.md).
pub const MIN_WINDOWS_ACF: usize = 2 * MIN_WINDOWS;
/// Criterion values closer than this count as tied (then the cheaper candidate wins): the
/// criterion of a file rests on a few dozen validation windows, and on the development sets
/// a margin of 0.03 chose better than 0 or 0.01 (docs/evaluation.md).
pub const TIE: f64 = 0.03;
/// Shortest window `--auto` starts from (fewer only when the rows hold too few windows):
/// `fit`'s default, several cycles of a period shorter than it.
pub const MIN_AUTO_WINDOW: usize = 32;
/// Most windows an automatic hop leaves in the recordings (see `auto_hop`).
pub const MAX_TRAIN_WINDOWS: usize = 8_192;
/// Smoothing lengths tried when `--smooth` is not given.
pub const SMOOTHINGS: [u16; 4] = [1, 2, 4, 8];
/// Fault placements per kind and validation recording.
const PLACEMENTS: usize = 6;
/// Rows of the autocorrelation looked at (the first of the training rows).
const ACF_ROWS: usize = 20_000;
/// Smallest autocorrelation peak taken as a period.
const ACF_PEAK: f32 = 0.3;

/// Which parts of a plan `--auto` chooses; a part the user set stays as set.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AutoParts {
    /// The front end (and its wandering levels).
    pub features: bool,
    /// The window and hop.
    pub window: bool,
    /// The smoothing.
    pub smoothing: bool,
    /// The hidden width.
    pub width: bool,
}

impl AutoParts {
    /// Everything chosen.
    pub const ALL: AutoParts = AutoParts { features: true, window: true, smoothing: true, width: true };
    /// Nothing chosen: a plain fit.
    pub const NONE: AutoParts = AutoParts { features: false, window: false, smoothing: false, width: false };

    /// Whether anything is chosen.
    pub const fn any(self) -> bool {
        self.features || self.window || self.smoothing || self.width
    }
}

/// An injected fault kind (see the module docs).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// One sample jumps by 4 training spreads.
    Spike,
    /// The level moves by 1 spread.
    LevelShift,
    /// The signal runs 1.5 times as fast.
    FrequencyChange,
    /// The sensor repeats one value.
    StuckSensor,
    /// Noise of half a spread is added.
    NoiseBurst,
    /// A ramp to 1.5 spreads.
    Drift,
    /// Deviations from the local mean grow 1.5-fold.
    GainChange,
    /// The rows of half a period earlier: the cycle's shape at the wrong time.
    ShiftedCycle,
}

impl Fault {
    /// Every kind.
    pub const ALL: [Fault; 8] = [
        Fault::Spike,
        Fault::LevelShift,
        Fault::FrequencyChange,
        Fault::StuckSensor,
        Fault::NoiseBurst,
        Fault::Drift,
        Fault::GainChange,
        Fault::ShiftedCycle,
    ];

    /// Whether the criterion counts it. A one-sample spike does not: on the development
    /// sets the front ends it favours (those that react to single samples) were the worse
    /// detectors (Spearman correlation of its ROC-AUC with the real ROC-AUC, across
    /// candidates of a file, -0.04 to -0.31 on every set), and smoothing is there to keep
    /// such blips from raising an alarm. It is still injected and reported.
    pub const fn counts(self) -> bool {
        !matches!(self, Fault::Spike)
    }

    /// Name as printed.
    pub const fn name(self) -> &'static str {
        match self {
            Fault::Spike => "spike",
            Fault::LevelShift => "level-shift",
            Fault::FrequencyChange => "frequency-change",
            Fault::StuckSensor => "stuck-sensor",
            Fault::NoiseBurst => "noise-burst",
            Fault::Drift => "drift",
            Fault::GainChange => "gain-change",
            Fault::ShiftedCycle => "shifted-cycle",
        }
    }

    /// Applies the fault to channel `c` of `rows` (row-major, `channels` per row) over rows
    /// `span`; `period` is the rows of one cycle.
    fn apply(
        self,
        rows: &mut [f32],
        channels: usize,
        c: usize,
        span: std::ops::Range<usize>,
        period: usize,
        rng: &mut Rng,
    ) {
        let orig = rows.to_vec();
        let n = rows.len() / channels;
        let at = |r: usize| orig[r.min(n - 1) * channels + c];
        let len = span.len().max(1);
        let sign = if rng.next_u32() & 1 == 0 { 1.0 } else { -1.0 };
        let mean = span.clone().map(at).sum::<f32>() / len as f32;
        for (k, r) in span.clone().enumerate() {
            let v = &mut rows[r * channels + c];
            *v = match self {
                Fault::Spike if k == len / 2 => at(r) + 4.0 * sign,
                Fault::Spike => at(r),
                Fault::LevelShift => at(r) + sign,
                Fault::FrequencyChange => at(span.start + (k * 3) / 2),
                Fault::StuckSensor => at(span.start),
                Fault::NoiseBurst => at(r) + 0.5 * rng.normal(),
                Fault::Drift => at(r) + 1.5 * sign * (k + 1) as f32 / len as f32,
                Fault::GainChange => mean + 1.5 * (at(r) - mean),
                Fault::ShiftedCycle => at(if r >= period / 2 { r - period / 2 } else { r + period / 2 }),
            };
        }
    }
}

/// One configuration tried, with its criterion.
#[derive(Clone, Debug)]
pub struct Candidate {
    /// The front end.
    pub features: Features,
    /// Window and hop.
    pub window: usize,
    /// Samples between windows.
    pub hop: usize,
    /// The smoothing that scored best for it.
    pub smoothing: u16,
    /// Hidden widths.
    pub hidden: Vec<usize>,
    /// Channels with wandering levels.
    pub wandering: Vec<String>,
    /// The criterion at that smoothing (see [`criterion`]).
    pub criterion: f64,
    /// Its gap term: how well the model tells the validation rows from its training rows.
    pub gap: f64,
    /// ROC-AUC per fault kind at that smoothing.
    pub by_fault: Vec<(Fault, f64)>,
    /// Multiply-accumulates per window on the device (the network's dense layers).
    pub macs: usize,
    /// Training epochs run.
    pub epochs: usize,
    /// Wall time of its training, seconds.
    pub seconds: f64,
}

impl Candidate {
    /// One line for `fit`'s output.
    pub fn line(&self) -> String {
        format!(
            "{:<8} W={:<4} hop={:<3} smooth={:<2} hidden={:?}{}: criterion {:.3} (gap {:.2}), {} MACs/window",
            self.features.name(),
            self.window,
            self.hop,
            self.smoothing,
            self.hidden,
            if self.wandering.is_empty() {
                String::new()
            } else {
                format!(" wandering {}", self.wandering.join(","))
            },
            self.criterion,
            self.gap,
            self.macs
        )
    }
}

/// A candidate's criterion at one smoothing length (see [`criterion`]).
#[derive(Clone, Debug, PartialEq)]
pub struct Criterion {
    /// The smoothing length.
    pub smoothing: u16,
    /// Mean ROC-AUC over the fault kinds that count ([`Fault::counts`]): injected windows
    /// against clean validation windows.
    pub faults: f64,
    /// ROC-AUC per fault kind.
    pub by_fault: Vec<(Fault, f64)>,
    /// ROC-AUC of the clean validation windows against the training windows: 0.5 when the
    /// model cannot tell normal rows it has not seen from those it was fitted on.
    pub gap: f64,
    /// The value compared: `faults - GAP_WEIGHT * max(0, gap - 0.5)`.
    pub value: f64,
}

/// What the search tried and chose.
#[derive(Clone, Debug)]
pub struct Search {
    /// Every candidate, in the order tried.
    pub candidates: Vec<Candidate>,
    /// Each candidate's network (uncalibrated, smoothing 1) and its criterion at every
    /// smoothing length tried, for studies of the criterion.
    pub tried: Vec<(OwnedModel, Vec<Criterion>)>,
    /// Index of the chosen one.
    pub chosen: usize,
    /// Why the window is what it is.
    pub window_reason: String,
    /// Wall time of the whole search, seconds.
    pub seconds: f64,
}

impl Search {
    /// The search's wall time over the mean training time of one candidate: what `--auto`
    /// costs in single fits.
    pub fn cost_in_fits(&self) -> f64 {
        let n = self.candidates.len().max(1) as f64;
        let mean = self.candidates.iter().map(|c| c.seconds).sum::<f64>() / n;
        self.seconds / mean.max(1e-9)
    }
}

/// Fits with the parts `parts` chooses decided by the search (see the module docs); the
/// other parts as `plan` says. `progress(i, n, what)` is told before candidate `i` of `n`.
pub fn fit_auto(
    recordings: &[Recording],
    plan: &FitPlan,
    parts: AutoParts,
    stop: Option<&AtomicBool>,
    notes: &mut Notes<'_>,
) -> Result<(Fitted, Search), Error> {
    let started = Instant::now();
    if plan.resume {
        return Err(Error::Usage(
            "--resume continues one training run, and the search of the front end trains several: \
             give --no-auto (with the configuration of the interrupted run)"
                .into(),
        ));
    }
    let channels = recordings.first().map_or(0, |r| r.channels.len()).max(1);
    let rows: usize = recordings.iter().map(Recording::rows).sum();
    let (base_window, window_reason, period) = if parts.window {
        auto_window(recordings, plan.val_fraction)
    } else {
        (plan.window, format!("{} (--window)", plan.window), plan.window)
    };
    let features: Vec<Features> = if parts.features { Features::ALL.to_vec() } else { vec![plan.features] };
    let mut plans = Vec::new();
    for f in features {
        let mut p = plan.clone();
        p.features = f;
        p.window = if parts.window { fit_inputs(f, base_window, channels) } else { plan.window };
        if f.check_window(p.window).is_err() {
            continue;
        }
        p.hop = if parts.window { auto_hop(p.window, rows) } else { plan.hop };
        if parts.features && plan.wandering == Wandering::None {
            p.wandering = if f.has_level() { Wandering::Auto } else { Wandering::None };
        } else if parts.features && !f.has_level() && plan.wandering != Wandering::None {
            // Wandering channels given: only front ends with a level row are candidates (a
            // fixed front end without one is refused with the reason when it is trained).
            continue;
        }
        p.smoothing = 1;
        (p.checkpoint, p.log, p.progress) = (None, None, plan.progress);
        plans.push(p);
    }
    if plans.is_empty() {
        return Err(Error::Usage(format!("no front end suits a window of {} samples", plan.window)));
    }
    let smoothings: Vec<u16> = if parts.smoothing { SMOOTHINGS.to_vec() } else { vec![plan.smoothing] };
    let mut prepared: Vec<((usize, usize), Prepared)> = Vec::new();
    let mut tried: Vec<(Candidate, Trained, usize)> = Vec::new();
    let mut all = Vec::new();
    let n = plans.len();
    for (i, mut p) in plans.into_iter().enumerate() {
        let key = (p.window, p.hop);
        let at = match prepared.iter().position(|(k, _)| *k == key) {
            Some(at) => at,
            None => {
                // The notes on the rows (columns left out, dropped rows, drifting channels)
                // once, from the first split; later windows split the same rows.
                let first = prepared.is_empty();
                prepared.push((
                    key,
                    fit::prepare(recordings, &p, &mut |l| {
                        if first {
                            notes(l)
                        }
                    })?,
                ));
                prepared.len() - 1
            }
        };
        let prep = &prepared[at].1;
        if i == 0 && prep.val.iter().all(|r| r.rows() < p.window + p.hop) {
            notes(
                "warning: auto: no held-out rows long enough to inject faults into (see --val-fraction): \
                 every candidate's criterion is 0.5, so the cheapest is kept",
            );
        }
        if parts.width {
            p.hidden = auto_width(prep, &p, channels);
        }
        notes(&format!(
            "auto: candidate {}/{n}: {} W={} hop={} hidden {:?}",
            i + 1,
            p.features.name(),
            p.window,
            p.hop,
            p.hidden
        ));
        let t0 = Instant::now();
        let trained = fit::train_prepared(prep, &p, stop, notes);
        if let Err(Error::Train(crate::train::TrainError::Interrupted { .. })) = &trained {
            notes(&format!(
                "auto: interrupted in candidate {}/{n}; a search keeps no state to resume from: run it again, \
                 or give --no-auto (with the configuration) for a run that --resume continues",
                i + 1
            ));
        }
        let trained = trained?;
        let seconds = t0.elapsed().as_secs_f64();
        let scores = criterion(&trained.model, &prep.windows, &prep.val, &smoothings, period, plan.seed)?;
        all.push((trained.model.clone(), scores.clone()));
        // The best smoothing; the shorter one of a tie (it decides sooner).
        let best = scores
            .into_iter()
            .fold(None::<Criterion>, |best, s| match best {
                Some(b) if b.value + 1e-9 >= s.value => Some(b),
                _ => Some(s),
            })
            .unwrap_or(Criterion { smoothing: 1, faults: 0.5, by_fault: Vec::new(), gap: 0.5, value: 0.5 });
        let (smoothing, value, by_fault, gap) = (best.smoothing, best.value, best.by_fault, best.gap);
        let c = Candidate {
            features: p.features,
            window: p.window,
            hop: p.hop,
            smoothing,
            hidden: p.hidden.clone(),
            wandering: trained.wandering.clone(),
            criterion: value,
            gap,
            by_fault,
            macs: trained.model.net.layers().map(|l| l.inputs * l.outputs).sum(),
            epochs: trained.outcome.history.len(),
            seconds,
        };
        notes(&format!("auto:   {}", c.line()));
        tried.push((c, trained, at));
    }
    let best = tried.iter().map(|t| t.0.criterion).fold(f64::NEG_INFINITY, f64::max);
    let chosen = (0..tried.len())
        .filter(|&i| tried[i].0.criterion >= best - TIE)
        .min_by_key(|&i| tried[i].0.macs)
        .unwrap_or(0);
    let candidates: Vec<Candidate> = tried.iter().map(|t| t.0.clone()).collect();
    let (c, trained, at) = tried.swap_remove(chosen);
    let mut final_plan = plan.clone();
    (final_plan.features, final_plan.window, final_plan.hop, final_plan.smoothing, final_plan.hidden) =
        (c.features, c.window, c.hop, c.smoothing, c.hidden.clone());
    let mut model = trained.model;
    model.meta.transform.smoothing = c.smoothing;
    let fitted = fit::calibrate(model, &trained.outcome, &prepared[at].1, &final_plan, notes)?;
    let search =
        Search { candidates, tried: all, chosen, window_reason, seconds: started.elapsed().as_secs_f64() };
    Ok((fitted, search))
}

/// The window `--auto` starts from, why, and the period (in rows) the shifted-cycle fault
/// uses: see the module docs.
pub fn auto_window(recordings: &[Recording], val_fraction: f64) -> (usize, String, usize) {
    let rows: usize = recordings.iter().map(Recording::rows).sum();
    let train_rows = recordings.iter().map(Recording::rows).max().unwrap_or(0);
    let stamps = recordings.first().and_then(|r| r.timestamps.as_deref()).unwrap_or(&[]);
    let step = period::median_step_seconds(stamps).filter(|s| *s > 0.0);
    let days = step.map_or(0.0, |s| s * rows as f64 / period::DAY_SECONDS);
    let (period, why, min_windows) = match step {
        Some(s) if days >= 2.0 && period::DAY_SECONDS / s >= 4.0 => (
            period::DAY_SECONDS / s,
            format!("from the timestamps: a day is {:.0} samples of {s} s", period::DAY_SECONDS / s),
            MIN_WINDOWS,
        ),
        _ => match dominant_period(recordings) {
            Some((p, r)) => (
                p as f64,
                format!("from the autocorrelation: a period of {p} samples (r = {r:.2})"),
                MIN_WINDOWS_ACF,
            ),
            None => (
                32.0,
                "no period found (timestamps or autocorrelation): 32 samples".to_string(),
                MIN_WINDOWS_ACF,
            ),
        },
    };
    // A window holds at least MIN_AUTO_WINDOW samples: several cycles of a fast period
    // (a vibration's resonance), whose shape a single cycle does not show.
    let w = period::period_window(period.max(MIN_AUTO_WINDOW as f64), train_rows, val_fraction, min_windows);
    (w, format!("{w} ({why})"), (period.round() as usize).max(2))
}

/// The hop of an automatic window: W/8 (each sample in 8 windows), widened so that `rows`
/// rows give at most [`MAX_TRAIN_WINDOWS`] windows (a long recording of a fast sensor).
fn auto_hop(window: usize, rows: usize) -> usize {
    (window / 8).max(rows.div_ceil(MAX_TRAIN_WINDOWS)).max(1)
}

/// The window of front end `f` from `window`: halved while the network would take more
/// than [`MAX_INPUTS`] inputs (not below 4 samples).
fn fit_inputs(f: Features, window: usize, channels: usize) -> usize {
    let mut w = window;
    while w > 4 && f.rows(w) * channels > MAX_INPUTS {
        w /= 2;
    }
    w
}

/// The hidden width: 32 (the width of every recipe), 16 when the training rows hold fewer
/// values than a 32-wide model has parameters.
fn auto_width(p: &Prepared, plan: &FitPlan, channels: usize) -> Vec<usize> {
    let x = plan.features.rows(plan.window) * channels;
    let wide = FitPlan { hidden: vec![32], ..plan.clone() };
    vec![if p.training_values() < fit::parameter_count(x, &wide) { 16 } else { 32 }]
}

/// The strongest autocorrelation peak over the channels of the first training rows: the
/// lag (2 to 1024 rows, at most a third of the rows) of the highest local maximum after the
/// first zero crossing, when it reaches 0.3.
pub fn dominant_period(recordings: &[Recording]) -> Option<(usize, f32)> {
    let r = recordings.iter().max_by_key(|r| r.rows())?;
    let c = r.channels.len().max(1);
    let n = r.rows().min(ACF_ROWS);
    if n < 6 {
        return None;
    }
    let max_lag = (n / 3).min(vae_core::transform::MAX_SPECTRUM_WINDOW);
    let mut best: Option<(usize, f32)> = None;
    for ch in 0..c {
        let x: Vec<f64> = (0..n).map(|i| f64::from(r.values[i * c + ch])).collect();
        if x.iter().any(|v| !v.is_finite()) {
            continue;
        }
        let mean = x.iter().sum::<f64>() / n as f64;
        let d: Vec<f64> = x.iter().map(|v| v - mean).collect();
        let var: f64 = d.iter().map(|v| v * v).sum();
        if var <= 0.0 {
            continue;
        }
        let acf =
            |lag: usize| (d[..n - lag].iter().zip(&d[lag..]).map(|(a, b)| a * b).sum::<f64>() / var) as f32;
        let mut crossed = false;
        let (mut prev2, mut prev) = (1.0f32, acf(1));
        for lag in 2..=max_lag {
            let v = acf(lag);
            crossed |= v < 0.0;
            if crossed && prev > prev2 && prev >= v && prev >= ACF_PEAK && best.is_none_or(|b| prev > b.1) {
                best = Some((lag - 1, prev));
                break;
            }
            (prev2, prev) = (prev, v);
        }
    }
    best
}

/// How much the gap term weighs (see [`Criterion::value`]): nothing. On the development
/// sets it helped SKAB valve1+2 (+0.04 ROC-AUC) and hurt SKAB other and NAB (-0.01 to -0.09),
/// so it is reported, not used.
pub const GAP_WEIGHT: f64 = 0.0;

/// The criterion of a trained model at each smoothing length. Faults go into copies of the
/// normalised validation recordings `val` (`period`: the rows of a cycle, for the shifted
/// cycle); `train` are the windows the model was fitted on. A front end can score injected
/// faults far above clean windows and still be a poor detector: when it already tells the
/// held-out normal rows from its training rows (an input too wide for the data, a level
/// that drifts), the normal rows of the future will raise alarms. The gap term counts that.
pub fn criterion(
    model: &OwnedModel,
    train: &data::Windows,
    val: &[Recording],
    smoothings: &[u16],
    period: usize,
    seed: u64,
) -> Result<Vec<Criterion>, Error> {
    let (w, hop) = (model.meta.window, model.meta.hop.max(1));
    let channels = model.meta.channels.len().max(1);
    let mut rng = Rng::for_stream(seed, 0xFA17);
    // Window scores (unsmoothed) of each clean recording, and of each injected copy with the
    // indices of the windows a fault touches.
    let mut clean: Vec<Vec<Option<f32>>> = Vec::new();
    let mut injected: Vec<(Fault, Vec<Option<f32>>, std::ops::Range<usize>)> = Vec::new();
    let mut unsmoothed = model.clone();
    unsmoothed.meta.transform.smoothing = 1;
    let score = |windows: &data::Windows| -> Result<Vec<ScoredWindow>, Error> {
        scoring::score_windows(&unsmoothed, windows, unsmoothed.meta.score)
    };
    let scores_of = |r: &Recording| -> Result<Vec<Option<f32>>, Error> {
        let windows = data::windows_of(std::slice::from_ref(r), w, hop)?;
        Ok(score(&windows)?.iter().map(ScoredWindow::rank_score).collect())
    };
    // Training windows by recording, in stream order, for smoothing.
    let mut fitted: Vec<Vec<Option<f32>>> = Vec::new();
    for s in score(train)? {
        if fitted.len() <= s.recording {
            fitted.resize(s.recording + 1, Vec::new());
        }
        fitted[s.recording].push(s.rank_score());
    }
    let context = usize::from(smoothings.iter().copied().max().unwrap_or(1).max(1)) - 1;
    for r in val {
        let rows = r.rows();
        if rows < w + hop {
            continue;
        }
        clean.push(scores_of(r)?);
        let span = (2 * w).min(rows / 2).max(1);
        for fault in Fault::ALL {
            for _ in 0..PLACEMENTS {
                let c = rng.next_u32() as usize % channels;
                let start = rng.next_u32() as usize % (rows - span + 1);
                let mut copy = r.clone();
                fault.apply(&mut copy.values, channels, c, start..start + span, period, &mut rng);
                // Windows touching the span: starts in (start - w, start + span).
                let first = (start + 1).saturating_sub(w).div_ceil(hop);
                let last = (start + span - 1) / hop;
                // Only those windows are scored, with the windows before them that the
                // longest smoothing averages in.
                let lo = first.saturating_sub(context);
                let part = copy.slice(lo * hop..(last * hop + w).min(rows));
                injected.push((fault, scores_of(&part)?, first - lo..last - lo + 1));
            }
        }
    }
    let mut out = Vec::new();
    for &s in smoothings {
        let smooth = |xs: &[Option<f32>]| -> Vec<Option<f32>> {
            let mut sm = vae_core::Smoother::new(s).ok();
            xs.iter().map(|x| x.and_then(|v| sm.as_mut().map(|m| m.push(v)))).collect()
        };
        let normal: Vec<f32> = clean.iter().flat_map(|x| smooth(x)).flatten().collect();
        let seen: Vec<f32> = fitted.iter().flat_map(|x| smooth(x)).flatten().collect();
        let gap = auc(&normal, &seen).unwrap_or(0.5);
        let mut by_fault = Vec::new();
        for fault in Fault::ALL {
            let mut hits = Vec::new();
            for (_, xs, range) in injected.iter().filter(|i| i.0 == fault) {
                let sm = smooth(xs);
                let end = range.end.min(sm.len());
                hits.extend(sm.get(range.start.min(end)..end).unwrap_or(&[]).iter().flatten());
            }
            if let Some(a) = auc(&hits, &normal) {
                by_fault.push((fault, a));
            }
        }
        let counted: Vec<f64> = by_fault.iter().filter(|f| f.0.counts()).map(|f| f.1).collect();
        let faults =
            if counted.is_empty() { 0.5 } else { counted.iter().sum::<f64>() / counted.len() as f64 };
        let value = faults - GAP_WEIGHT * (gap - 0.5).max(0.0);
        out.push(Criterion { smoothing: s, faults, by_fault, gap, value });
    }
    Ok(out)
}

/// ROC-AUC of `high` (positives) against `low`; `None` when either is empty.
fn auc(high: &[f32], low: &[f32]) -> Option<f64> {
    let mut scores = high.to_vec();
    scores.extend(low);
    let mut labels = vec![true; high.len()];
    labels.extend(std::iter::repeat_n(false, low.len()));
    roc_auc(&scores, &labels)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sine(rows: usize, period: f32, channels: usize) -> Recording {
        let mut v = Vec::new();
        for i in 0..rows {
            for c in 0..channels {
                v.push((std::f32::consts::TAU * i as f32 / period + c as f32).sin());
            }
        }
        Recording::new("sine.csv", (0..channels).map(|c| format!("c{c}")).collect(), v)
    }

    #[test]
    fn the_autocorrelation_finds_the_period_of_a_cycle_and_none_in_noise() {
        let (p, r) = dominant_period(&[sine(2000, 20.0, 2)]).unwrap();
        assert!((19..=21).contains(&p), "{p}");
        assert!(r > 0.9, "{r}");
        let mut rng = Rng::new(3);
        let noise = Recording::new("n.csv", vec!["x".into()], (0..2000).map(|_| rng.normal()).collect());
        assert_eq!(dominant_period(&[noise]), None);
        for rows in 0..8 {
            assert_eq!(dominant_period(&[sine(rows, 3.0, 1)]), None, "{rows} rows");
        }
        assert_eq!(dominant_period(&[]), None);
    }

    #[test]
    fn the_window_is_a_day_of_samples_where_timestamps_span_days() {
        // 5-minute samples over 10 days: a day is 288 samples, the nearest power of two 256.
        let mut r = sine(2880, 7.0, 1);
        r.timestamps = Some(
            (0..2880)
                .map(|i| {
                    let m = i * 5;
                    format!("2014-03-{:02} {:02}:{:02}:00", 1 + m / 1440, (m / 60) % 24, m % 60)
                })
                .collect(),
        );
        let (w, why, period) = auto_window(&[r.clone()], 0.2);
        assert_eq!((w, period), (256, 288), "{why}");
        assert!(why.contains("timestamps"), "{why}");
        // Without timestamps, the signal's own period: 7 samples, a window of at least 32;
        // 90 samples, a window of 64 (the nearest power of two on a log scale).
        r.timestamps = None;
        let (w, why, period) = auto_window(&[r], 0.2);
        assert_eq!((w, period), (32, 7), "{why}");
        let (w, why, period) = auto_window(&[sine(4000, 90.0, 1)], 0.2);
        assert!((89..=91).contains(&period) && w == 64, "{w} {period}: {why}");
    }

    #[test]
    fn wide_front_ends_get_shorter_windows_within_the_input_budget() {
        assert_eq!(fit_inputs(Features::Raw, 256, 8), 64);
        assert_eq!(fit_inputs(Features::Stats, 256, 8), 256);
        assert_eq!(fit_inputs(Features::Spectrum, 1024, 1), 512);
        assert!(Features::Spectrum.rows(fit_inputs(Features::Spectrum, 1024, 1)) <= MAX_INPUTS);
    }

    #[test]
    fn each_fault_changes_its_channel_and_span_only() {
        let r = sine(200, 20.0, 2);
        for fault in Fault::ALL {
            let mut v = r.values.clone();
            fault.apply(&mut v, 2, 1, 50..90, 20, &mut Rng::new(1));
            for (i, (a, b)) in r.values.iter().zip(&v).enumerate() {
                let (row, c) = (i / 2, i % 2);
                if c == 0 || !(50..90).contains(&row) {
                    assert_eq!(a, b, "{}: row {row} channel {c}", fault.name());
                }
            }
            let changed = r.values.iter().zip(&v).filter(|(a, b)| a != b).count();
            assert!(changed >= 1, "{} changed nothing", fault.name());
        }
        let mut v = r.values.clone();
        Fault::StuckSensor.apply(&mut v, 2, 0, 10..30, 20, &mut Rng::new(1));
        assert!((10..30).all(|row| v[row * 2] == r.values[20]));
    }
}
