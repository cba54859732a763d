//! Training a model from loaded recordings: split, normalise, front end, train, calibrate.

use super::Notes;
use crate::data::{self, Recording, Windows};
use crate::error::Error;
use crate::frontend::{self, Wandering};
use crate::model::{ModelMeta, OwnedModel};
use crate::scoring::{self, ScoredWindow, ThresholdRule};
use crate::train::{self, TrainOutcome};
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use vae_core::model_file::Calibration;
use vae_core::transform::Features;
use vae_core::weights::Encoding;
use vae_core::{Activation, ScoreConfig};

/// Which normal windows the threshold is calibrated on.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Calibrate {
    /// The validation windows (those the model was not fitted on).
    #[default]
    Validation,
    /// Training and validation windows.
    All,
    /// Validation when it has at least `1 / (1 - quantile)` windows, else all.
    Auto,
}

/// Where training runs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Device {
    /// dfdx's CPU device.
    #[default]
    Cpu,
    /// dfdx's CUDA device 0 (needs the `cuda` feature).
    Cuda,
}

/// Everything `fit` decides, typed. [`FitPlan::default`] is `vae-train fit`'s defaults.
#[derive(Clone, Debug, PartialEq)]
pub struct FitPlan {
    /// Window length in samples.
    pub window: usize,
    /// Samples between window starts.
    pub hop: usize,
    /// The input front end.
    pub features: Features,
    /// Channels whose level feature is its change across the window.
    pub wandering: Wandering,
    /// Decide on the mean score of this many consecutive windows.
    pub smoothing: u16,
    /// Encoder hidden widths, input side first (the decoder mirrors them).
    pub hidden: Vec<usize>,
    /// Latent width.
    pub latent: usize,
    /// Hidden activation.
    pub activation: Activation,
    /// Most epochs (early stopping normally ends training first).
    pub epochs: usize,
    /// Minibatch size.
    pub batch: usize,
    /// Adam learning rate.
    pub learning_rate: f64,
    /// Seed of initialisation, shuffling and noise (same seed, same model bytes).
    pub seed: u64,
    /// Epochs of KL warm-up.
    pub kl_warmup: usize,
    /// Epochs without a better validation loss before stopping (`None`: never).
    pub patience: Option<usize>,
    /// Share of each recording's rows, at its end, held out for validation and calibration.
    pub val_fraction: f64,
    /// The score the model is calibrated for.
    pub score: ScoreConfig,
    /// Quantile of normal scores taken as the decision threshold.
    pub quantile: f32,
    /// How the threshold is estimated from those scores.
    pub threshold_rule: ThresholdRule,
    /// Which windows it is estimated on.
    pub calibrate: Calibrate,
    /// Windows the device learns after boot before deciding (0: the static threshold; see
    /// [`vae_core::alarm`]).
    pub learn: u16,
    /// Consecutive alarm windows after which the device learns again (0: never).
    pub relearn_after: u16,
    /// The model's name in its file.
    pub name: String,
    /// How the file stores the weights. Training is in `f32` either way; the weights are
    /// rounded to this encoding before calibration, so the threshold is set on the scores
    /// the device computes.
    pub weights: Encoding,
    /// Where to train.
    pub device: Device,
    /// Checkpoint of the best model so far (its resume state goes beside it).
    pub checkpoint: Option<PathBuf>,
    /// Per-epoch CSV log.
    pub log: Option<PathBuf>,
    /// Continue from the checkpoint's resume state.
    pub resume: bool,
    /// Draw a progress bar.
    pub progress: bool,
}

impl Default for FitPlan {
    fn default() -> Self {
        Self {
            window: 32,
            hop: 4,
            features: Features::Raw,
            wandering: Wandering::None,
            smoothing: 1,
            hidden: vec![32],
            latent: 8,
            activation: Activation::Tanh,
            epochs: train::DEFAULT_EPOCHS,
            batch: 128,
            learning_rate: 1e-3,
            seed: 0,
            kl_warmup: 0,
            patience: Some(train::DEFAULT_PATIENCE),
            val_fraction: 0.2,
            score: ScoreConfig::DETERMINISTIC,
            quantile: 0.995,
            learn: scoring::DEFAULT_LEARN,
            relearn_after: scoring::DEFAULT_RELEARN_AFTER,
            threshold_rule: ThresholdRule::Quantile,
            calibrate: Calibrate::Validation,
            name: String::new(),
            weights: Encoding::F32,
            device: Device::Cpu,
            checkpoint: None,
            log: None,
            resume: false,
            progress: false,
        }
    }
}

/// A trained and calibrated model, with what the run found.
#[derive(Clone, Debug)]
pub struct Fitted {
    /// The model (not yet saved).
    pub model: OwnedModel,
    /// The best epoch (1-based) and the epochs run.
    pub best_epoch: usize,
    /// Epochs run.
    pub epochs: usize,
    /// Early stopping ended the run.
    pub stopped_early: bool,
    /// The best monitored loss (nats per window).
    pub best_loss: f64,
    /// The loss monitored: `validation` or `training`.
    pub loss_on: &'static str,
    /// The rule that set the decision threshold (the quantile, or Cantelli's bound).
    pub decision_rule: ThresholdRule,
    /// Scores the threshold was calibrated on.
    pub calibration_windows: usize,
    /// Which windows those were: `validation`, `training and validation` or `training`.
    pub calibrated_on: &'static str,
    /// What storing the weights in a smaller encoding changed (`None` for `f32`).
    pub rounded: Option<Rounded>,
}

/// What rounding the trained weights to the file's encoding changed, on the calibration
/// windows: the price of the smaller file, in the terms of the decision.
#[derive(Clone, Debug, PartialEq)]
pub struct Rounded {
    /// The encoding.
    pub weights: Encoding,
    /// Bytes of weights in the file ([`super::weight_bytes`]).
    pub bytes: usize,
    /// Bytes the `f32` weights would take.
    pub f32_bytes: usize,
    /// The decision threshold the `f32` weights' scores would have given.
    pub f32_threshold: f32,
    /// The largest change of a calibration window's score.
    pub largest_change: f32,
}

/// The normalised split of the recordings and their windows.
pub(super) struct Prepared {
    pub(super) channels: Vec<String>,
    pub(super) stats: data::Stats,
    pub(super) train: Vec<Recording>,
    /// The validation rows, normalised.
    pub(super) val: Vec<Recording>,
    pub(super) windows: Windows,
    pub(super) val_windows: Option<Windows>,
}

impl Prepared {
    /// Values (samples times channels) of the training rows.
    pub(super) fn training_values(&self) -> usize {
        self.train.iter().map(|r| r.values.len()).sum()
    }
}

/// A trained network of a plan, not yet calibrated.
pub(super) struct Trained {
    pub(super) model: OwnedModel,
    pub(super) outcome: TrainOutcome,
    /// The channels its front end treats as wandering.
    pub(super) wandering: Vec<String>,
}

/// Trains and calibrates a model on `recordings` as `plan` says; notes (dropped rows, the
/// front end chosen, the run's size) go to `notes`. `stop` interrupts training at the next
/// batch (a Ctrl-C handler).
pub fn fit(
    recordings: &[Recording],
    plan: &FitPlan,
    stop: Option<&AtomicBool>,
    notes: &mut Notes<'_>,
) -> Result<Fitted, Error> {
    let p = prepare(recordings, plan, notes)?;
    let trained = train_prepared(&p, plan, stop, notes)?;
    calibrate(trained.model, &trained.outcome, &p, plan, notes)
}

/// Trains the network of `plan` on prepared windows (its front end decided on them).
pub(super) fn train_prepared(
    p: &Prepared,
    plan: &FitPlan,
    stop: Option<&AtomicBool>,
    notes: &mut Notes<'_>,
) -> Result<Trained, Error> {
    let (transform, wandering) = frontend::transform_of(
        plan.features,
        &plan.wandering,
        plan.smoothing,
        &p.channels,
        &p.train,
        plan.window,
        plan.hop,
    )?;
    if !wandering.is_empty() {
        notes(&format!(
            "note: wandering levels (their feature is the change across the window): {}",
            wandering.join(", ")
        ));
    }
    let x = transform.input_len(plan.window, p.channels.len());
    let (train_x, val_x, scale) = frontend::training_inputs(&transform, &p.windows, p.val_windows.as_ref())?;
    let meta = ModelMeta {
        weights: vae_core::weights::Encoding::F32,
        name: plan.name.clone(),
        seed: plan.seed,
        window: plan.window,
        hop: plan.hop,
        channels: p.channels.clone(),
        norm_mean: p.stats.mean.clone(),
        norm_std: p.stats.std.clone(),
        score: plan.score,
        transform,
    };
    let params = check_model_fits(&meta, x, plan)?;
    notes(&format!(
        "training on {} windows ({} validation) of {} x {} samples, transform {} = {} inputs; hidden {:?}, latent {}",
        p.windows.len(),
        p.val_windows.as_ref().map_or(0, Windows::len),
        plan.window,
        p.channels.len(),
        transform.name(),
        x,
        plan.hidden,
        plan.latent
    ));
    let values = p.training_values();
    if values < params {
        notes(&format!(
            "warning: the training rows hold {values} values for a model of {params} parameters: it can \
             learn them by heart, and its threshold will then flag new normal data; give more rows, or a \
             smaller --hidden, --latent or --window"
        ));
    }
    let outcome = train_on(&train_x, &val_x, x, &meta, plan, stop)?;
    if outcome.still_improving() {
        notes(&format!(
            "note: the {} loss was still falling at the last epoch ({}): more --epochs would train further",
            if val_x.is_empty() { "training" } else { "validation" },
            outcome.history.len()
        ));
    }
    let mut net = outcome.net.clone();
    if let Some(scale) = &scale {
        scale.fold(&mut net);
    }
    let model = OwnedModel { meta, net, thresholds: Vec::new(), alarm: vae_core::AlarmRule::STATIC };
    Ok(Trained { model, outcome, wandering })
}

/// Splits, normalises and windows the recordings, checking there is enough to train on.
pub(super) fn prepare(
    recordings: &[Recording],
    plan: &FitPlan,
    notes: &mut Notes<'_>,
) -> Result<Prepared, Error> {
    if let Some(note) = recordings.first().and_then(Recording::column_note) {
        notes(&format!("note: {note}"));
    }
    for r in recordings.iter().filter(|r| !r.dropped_rows.is_empty()) {
        notes(&format!(
            "note: {}: dropped {} row(s) with NaN/Inf/empty cells",
            r.path.display(),
            r.dropped_rows.len()
        ));
    }
    let split = data::split(recordings, plan.val_fraction, plan.window)?;
    for n in &split.notes {
        notes(&format!("note: {n}"));
    }
    let stats = data::Stats::fit(&split.train)?;
    let channels = recordings.first().map(|r| r.channels.clone()).unwrap_or_default();
    for &c in &stats.floored {
        notes(&format!(
            "note: channel `{}` is (nearly) constant in the training rows; its std is floored",
            channels[c]
        ));
    }
    let (mut train, mut val) = (split.train, split.val);
    for r in train.iter_mut().chain(val.iter_mut()) {
        stats.apply(r)?;
    }
    for line in drift_warnings(&channels, &train, &val) {
        notes(&line);
    }
    let windows = data::windows_of(&train, plan.window, plan.hop)?;
    let val_windows =
        if val.is_empty() { None } else { Some(data::windows_of(&val, plan.window, plan.hop)?) };
    check_window_counts(plan, windows.len(), val_windows.as_ref().map_or(0, Windows::len))?;
    Ok(Prepared { channels, stats, train, val, windows, val_windows })
}

/// Share of a channel's validation rows beyond its widened training range (see
/// [`drift_warnings`]) from which `fit` warns.
pub const DRIFT_SHARE: f64 = 0.05;

/// Warnings for channels whose validation rows leave the range of their training rows: more
/// than [`DRIFT_SHARE`] of them beyond the training range widened by half its width on each
/// side. The model has not seen such values, so the threshold calibrated on them is not a
/// threshold of normal operation as trained.
fn drift_warnings(channels: &[String], train: &[Recording], val: &[Recording]) -> Vec<String> {
    let c = channels.len();
    let mut out = Vec::new();
    for (ch, name) in channels.iter().enumerate() {
        let column = |rs: &[Recording]| -> Vec<f32> {
            rs.iter().flat_map(|r| r.values.iter().skip(ch).step_by(c.max(1)).copied()).collect()
        };
        let (t, v) = (column(train), column(val));
        let (lo, hi) = t.iter().fold((f32::INFINITY, f32::NEG_INFINITY), |(a, b), &x| (a.min(x), b.max(x)));
        if v.is_empty() || !(lo.is_finite() && hi.is_finite()) {
            continue;
        }
        let pad = 0.5 * (hi - lo);
        let beyond = v.iter().filter(|&&x| x < lo - pad || x > hi + pad).count();
        let share = beyond as f64 / v.len() as f64;
        if share > DRIFT_SHARE {
            let (vlo, vhi) =
                v.iter().fold((f32::INFINITY, f32::NEG_INFINITY), |(a, b), &x| (a.min(x), b.max(x)));
            out.push(format!(
                "warning: channel `{name}`: {:.0}% of the validation rows lie far beyond its training range \
                 ({lo:.2} to {hi:.2} training sds; validation {vlo:.2} to {vhi:.2}): the model never saw such \
                 values, and the threshold calibrated on them will not hold; train on rows that cover normal \
                 operation, or give its level as a change (--transform stats --wandering {name})",
                100.0 * share
            ));
        }
    }
    out
}

/// Fewest training windows `fit` trains on.
pub const MIN_TRAIN_WINDOWS: usize = 2;

/// Refuses a split that leaves too few windows to train on or to calibrate with.
fn check_window_counts(plan: &FitPlan, train: usize, val: usize) -> Result<(), Error> {
    if train < MIN_TRAIN_WINDOWS {
        return Err(Error::Input(format!(
            "only {train} training window(s) of {} samples with hop {} (at least {MIN_TRAIN_WINDOWS} are needed): \
             give more rows, a shorter --window or --hop, or a smaller --val-fraction ({})",
            plan.window, plan.hop, plan.val_fraction
        )));
    }
    if plan.val_fraction > 0.0 && val == 1 {
        return Err(Error::Input(format!(
            "only 1 validation window of {} samples with hop {}: a threshold needs more; \
             give more rows, a shorter --hop, a larger --val-fraction, or --val-fraction 0",
            plan.window, plan.hop
        )));
    }
    Ok(())
}

/// Most parameters `fit` trains (16 Mi: 64 MiB of f32).
pub const MAX_PARAMETERS: usize = 16 << 20;

/// Writes the model file of a zero network of the run's shape, so what the file format
/// cannot hold (too wide an input, names too long for its header) is refused before
/// training rather than at the first checkpoint. Returns the network's parameter count.
fn check_model_fits(meta: &ModelMeta, x: usize, plan: &FitPlan) -> Result<usize, Error> {
    if plan.hidden.is_empty() {
        return Err(Error::Usage("at least one hidden layer is needed".into()));
    }
    let mut widths = vec![x];
    widths.extend(&plan.hidden);
    let last = widths[widths.len() - 1];
    let params: usize =
        widths.windows(2).map(|w| (w[0] + 1) * w[1]).sum::<usize>() * 2 + (last + 1) * plan.latent * 3;
    if params > MAX_PARAMETERS {
        return Err(Error::Usage(format!(
            "a model of {x} inputs, hidden {:?} and latent {} has about {params} parameters; at most {MAX_PARAMETERS}",
            plan.hidden, plan.latent
        )));
    }
    // The network training starts from: its shape is the one every checkpoint will have.
    let net = train::initial_network(x, &train_config(plan));
    let exact = net.parameter_count();
    OwnedModel { meta: meta.clone(), net, thresholds: Vec::new(), alarm: vae_core::AlarmRule::STATIC }
        .to_bytes()
        .map(|_| exact)
        .map_err(|e| Error::Input(format!("this model cannot be written as a model file: {e}")))
}

/// Trains the network on the chosen device.
fn train_on(
    train_x: &[f32],
    val_x: &[f32],
    x: usize,
    meta: &ModelMeta,
    plan: &FitPlan,
    stop: Option<&AtomicBool>,
) -> Result<TrainOutcome, Error> {
    let cfg = train_config(plan);
    match plan.device {
        Device::Cpu => {
            use dfdx::tensor::Cpu;
            Ok(train::train_with(&Cpu::seed_from_u64(plan.seed), train_x, val_x, x, meta, &cfg, stop)?)
        }
        #[cfg(feature = "cuda")]
        Device::Cuda => {
            let dev = dfdx::tensor::Cuda::try_build(0, plan.seed)
                .map_err(|e| Error::Usage(format!("cannot open CUDA device 0: {e:?}")))?;
            Ok(train::train_with(&dev, train_x, val_x, x, meta, &cfg, stop)?)
        }
        #[cfg(not(feature = "cuda"))]
        Device::Cuda => {
            Err(Error::Usage("this vae-train was built without CUDA: rebuild with `--features cuda`".into()))
        }
    }
}

/// Sets the model's thresholds from the scores of normal windows: by default those of the
/// validation windows, which the model was not fitted on. The weights are first rounded to
/// `plan.weights`, so the scores are those the device computes with the file's weights.
pub(super) fn calibrate(
    trained: OwnedModel,
    outcome: &TrainOutcome,
    p: &Prepared,
    plan: &FitPlan,
    notes: &mut Notes<'_>,
) -> Result<Fitted, Error> {
    let mut model = super::encode(trained.clone(), plan.weights)?;
    let (scored, on) = calibration_scores(&model, p, plan, notes)?;
    let rounded = match plan.weights {
        Encoding::F32 => None,
        weights => {
            // The same windows with the trained weights: what the rounding moved.
            let (exact, _) = calibration_scores(&trained, p, plan, &mut |_| {})?;
            let (f32_threshold, _) = scoring::calibrate_with(&exact, plan.quantile, plan.threshold_rule)?;
            let largest_change = exact
                .iter()
                .zip(&scored)
                .filter_map(|(a, b)| Some((a.score()? - b.score()?).abs()))
                .fold(0.0f32, f32::max);
            Some(Rounded {
                weights,
                bytes: super::weight_bytes(&model.net, weights),
                f32_bytes: super::weight_bytes(&model.net, Encoding::F32),
                f32_threshold: f32_threshold.value(),
                largest_change,
            })
        }
    };
    let mut quantiles = vec![plan.quantile];
    quantiles.extend([0.99f32, 0.999].into_iter().filter(|q| (q - plan.quantile).abs() > 1e-6));
    let mut decision_rule = ThresholdRule::Quantile;
    for (i, q) in quantiles.into_iter().enumerate() {
        let (t, used) = scoring::calibrate_with(&scored, q, plan.threshold_rule)?;
        if i == 0 {
            decision_rule = used;
        }
        model.thresholds.push(Calibration { quantile: q, threshold: t.value() });
        if i == 0 {
            model.alarm = scoring::alarm_rule(&scored, q, t, plan.learn, plan.relearn_after)?;
        }
    }
    let best = outcome.history.iter().find(|h| h.epoch == outcome.best_epoch);
    Ok(Fitted {
        model,
        best_epoch: outcome.best_epoch,
        epochs: outcome.history.len(),
        stopped_early: outcome.stopped_early,
        best_loss: outcome.best_loss,
        loss_on: if best.and_then(|b| b.val_loss).is_some() { "validation" } else { "training" },
        decision_rule,
        calibration_windows: scored.len(),
        calibrated_on: on,
        rounded,
    })
}

/// The scores the threshold is taken over, and which windows they are.
fn calibration_scores(
    model: &OwnedModel,
    p: &Prepared,
    plan: &FitPlan,
    notes: &mut Notes<'_>,
) -> Result<(Vec<ScoredWindow>, &'static str), Error> {
    let n_val = p.val_windows.as_ref().map_or(0, Windows::len);
    // 1 / (1 - q) windows, rounded: 0.995 as f32 lies a little above 0.995, and 200
    // validation windows must count as enough for it.
    let enough = n_val as f64 >= (1.0 / (1.0 - f64::from(plan.quantile)).max(1e-9) - 1e-3).ceil();
    let use_all = match plan.calibrate {
        Calibrate::All => true,
        Calibrate::Auto => !enough,
        Calibrate::Validation => false,
    };
    let score = plan.score;
    Ok(match &p.val_windows {
        Some(w) if !w.is_empty() && !use_all => (scoring::score_windows(model, w, score)?, "validation"),
        Some(w) if !w.is_empty() => {
            let mut all = scoring::score_windows(model, &p.windows, score)?;
            all.extend(scoring::score_windows(model, w, score)?);
            (all, "training and validation")
        }
        _ => {
            notes("note: no validation windows; calibrating on training windows (optimistic)");
            (scoring::score_windows(model, &p.windows, score)?, "training")
        }
    })
}

/// Parameters of the network `plan` trains on `x` inputs.
pub(super) fn parameter_count(x: usize, plan: &FitPlan) -> usize {
    train::initial_network(x, &train_config(plan)).parameter_count()
}

/// The trainer's configuration of a plan.
fn train_config(plan: &FitPlan) -> train::TrainConfig {
    train::TrainConfig {
        hidden: plan.hidden.clone(),
        latent: plan.latent,
        activation: plan.activation,
        epochs: plan.epochs,
        batch_size: plan.batch,
        learning_rate: plan.learning_rate,
        seed: plan.seed,
        kl_warmup: plan.kl_warmup,
        patience: plan.patience,
        checkpoint: plan.checkpoint.clone(),
        log: plan.log.clone(),
        resume: plan.resume,
        progress: plan.progress,
    }
}
