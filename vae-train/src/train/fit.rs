//! The training loop: batches, Adam steps, validation, early stopping, checkpoints.

use super::adam::Adam;
use super::batches::{data_hash, gather_columns, normals, rng, shuffled, Stream};
use super::checkpoint::{state_path, write_model, Fingerprint, TrainState};
use super::loss::{loss_and_gradients, loss_sums, LossSums};
use super::network::{init_network, param_names, params, params_mut, Columns, VaeNet, MAX_TRAIN_HIDDEN};
use super::progress::{CsvLog, Progress};
use super::{EpochStats, TrainConfig, TrainError, TrainOutcome};
use crate::model::{ModelMeta, Network};
use dfdx::tensor::Cpu;
use dfdx::tensor_ops::Device;
use rand::rngs::StdRng;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

/// Windows per validation forward pass.
const VAL_CHUNK: usize = 1024;

/// Trains on the CPU. `train` and `val` are row-major normalised windows (`n * x` values;
/// `val` may be empty: early stopping then watches the training loss); `meta` describes the
/// input (its window x channels must equal `x`) and goes into the checkpoint.
pub fn train(
    train: &[f32],
    val: &[f32],
    x: usize,
    meta: &ModelMeta,
    cfg: &TrainConfig,
) -> Result<TrainOutcome, TrainError> {
    train_with(&Cpu::seed_from_u64(cfg.seed), train, val, x, meta, cfg, None)
}

/// Trains on the CUDA device 0 (needs the `cuda` feature, the CUDA toolkit and a GPU).
#[cfg(feature = "cuda")]
pub fn train_cuda(
    train: &[f32],
    val: &[f32],
    x: usize,
    meta: &ModelMeta,
    cfg: &TrainConfig,
) -> Result<TrainOutcome, TrainError> {
    let dev =
        dfdx::tensor::Cuda::try_build(0, cfg.seed).map_err(|e| TrainError::Device(format!("CUDA: {e:?}")))?;
    train_with(&dev, train, val, x, meta, cfg, None)
}

/// Trains on any dfdx device. When `stop` is given and becomes true (e.g. from a Ctrl-C
/// handler), the run stops at the next batch with [`TrainError::Interrupted`]; the resume
/// state holds the last completed epoch.
pub fn train_with<D: Device<f32>>(
    dev: &D,
    train: &[f32],
    val: &[f32],
    x: usize,
    meta: &ModelMeta,
    cfg: &TrainConfig,
    stop: Option<&AtomicBool>,
) -> Result<TrainOutcome, TrainError> {
    validate(train, val, x, meta, cfg)?;
    let (n_train, n_val) = (train.len() / x, val.len() / x);
    let lr = cfg.learning_rate as f32;
    let fingerprint = Fingerprint::new(cfg, x, n_train, n_val, data_hash(&[train, val]));
    let state_file = cfg.checkpoint.as_deref().map(state_path);

    let st = match (&state_file, cfg.resume) {
        (Some(path), true) => TrainState::load(path, &fingerprint, lr)?,
        _ => fresh_state(fingerprint, x, cfg, lr),
    };
    // The checkpoint always holds the state's best model (it may be newer when a run was
    // killed between the two writes; the resumed run repeats that epoch exactly).
    let mut checkpoint_epoch = None;
    if let (Some(path), true) = (&cfg.checkpoint, st.best_epoch > 0) {
        write_model(path, meta, cfg.seed, &st.best)?;
        checkpoint_epoch = Some(st.best_epoch);
    }
    let log = match &cfg.log {
        Some(path) => CsvLog::start(path, &st.history)?,
        None => CsvLog::none(),
    };
    if st.stopped_early || st.epochs_done >= cfg.epochs {
        return Ok(outcome(st));
    }

    let batches = n_train.div_ceil(cfg.batch_size);
    let mut run = Run {
        dev,
        train,
        x,
        n_val,
        meta,
        cfg,
        stop,
        state_file,
        names: param_names(&st.latest),
        net: VaeNet::<f32, D>::from_network(dev, &st.latest),
        validation: validation_set(dev, val, x, cfg),
        progress: Progress::new(cfg.progress, ((cfg.epochs - st.epochs_done) * batches) as u64, cfg.epochs),
        log,
        checkpoint_epoch,
        cols: Vec::new(),
        st,
    };
    for epoch in run.st.epochs_done + 1..=cfg.epochs {
        run.run_epoch(epoch)?;
        if run.st.stopped_early {
            break;
        }
    }
    run.progress.finish();
    Ok(outcome(run.st))
}

/// The state of a run that starts from scratch: the initial network, no epoch done.
fn fresh_state(fingerprint: Fingerprint, x: usize, cfg: &TrainConfig, lr: f32) -> TrainState {
    let latest = initial_network(x, cfg);
    TrainState {
        fingerprint,
        epochs_done: 0,
        best_epoch: 0,
        best_loss: f64::INFINITY,
        since_best: 0,
        stopped_early: false,
        history: Vec::new(),
        best: latest.clone(),
        adam: Adam::new(lr, params(&latest).iter().map(|p| p.len())),
        latest,
    }
}

/// A run in progress: its inputs, the state it saves, and what the epochs share (the device
/// network, the fixed validation set, the progress display and the CSV log).
struct Run<'a, D: Device<f32>> {
    dev: &'a D,
    train: &'a [f32],
    x: usize,
    n_val: usize,
    meta: &'a ModelMeta,
    cfg: &'a TrainConfig,
    stop: Option<&'a AtomicBool>,
    state_file: Option<PathBuf>,
    /// Parameter names, to name the one that became non-finite.
    names: Vec<String>,
    net: VaeNet<f32, D>,
    validation: Vec<(Columns<f32, D>, Columns<f32, D>)>,
    progress: Progress,
    log: CsvLog,
    /// The epoch of the model in the checkpoint file, if one was written.
    checkpoint_epoch: Option<usize>,
    /// Buffer for a batch's input columns.
    cols: Vec<f32>,
    st: TrainState,
}

impl<D: Device<f32>> Run<'_, D> {
    /// Trains 1-based `epoch`, validates, and records it in the state (saved to the state
    /// file, with the checkpoint when the epoch is the best so far).
    fn run_epoch(&mut self, epoch: usize) -> Result<(), TrainError> {
        let started = Instant::now();
        let beta = beta(epoch, self.cfg.kl_warmup);
        let sums = self.train_epoch(epoch, beta)?;
        let val_sums = self.validation_pass(epoch)?;
        let stats = epoch_stats(epoch, beta, &sums, val_sums, started.elapsed().as_secs_f64());
        self.record(stats)
    }

    /// One pass over the training windows in the epoch's shuffled order, one Adam step per
    /// batch; the loss sums over all of them.
    fn train_epoch(&mut self, epoch: usize, beta: f64) -> Result<LossSums, TrainError> {
        let cfg = self.cfg;
        let mut r = rng(cfg.seed, Stream::Epoch, epoch as u64);
        let order = shuffled(&mut r, self.train.len() / self.x);
        let mut sums = LossSums::default();
        for (b, rows) in order.chunks(cfg.batch_size).enumerate() {
            if self.stop.is_some_and(|s| s.load(Ordering::Relaxed)) {
                // Point at the state only when one was written: a run stopped in its
                // first epoch has nothing to resume.
                let state = self.state_file.clone().filter(|p| p.exists());
                return Err(TrainError::Interrupted { epoch, state });
            }
            let batch_sums = self.step(epoch, b + 1, rows, &mut r, beta)?;
            sums.add(&batch_sums);
            let n = sums.windows as f64;
            self.progress.batch(epoch, b + 1, (sums.loss() / n, sums.recon / n, sums.kl / n));
        }
        Ok(sums)
    }

    /// One Adam step on the windows `rows` (1-based `batch` of `epoch`); the batch's loss
    /// sums. A non-finite loss or parameter is an error.
    fn step(
        &mut self,
        epoch: usize,
        batch: usize,
        rows: &[usize],
        r: &mut StdRng,
        beta: f64,
    ) -> Result<LossSums, TrainError> {
        let (dev, x, latent) = (self.dev, self.x, self.cfg.latent);
        gather_columns(self.train, x, rows, &mut self.cols);
        let xb = dev.tensor_from_vec(std::mem::take(&mut self.cols), (x, rows.len()));
        let eps = dev.tensor_from_vec(normals(r, latent * rows.len()), (latent, rows.len()));
        let (objective, batch_sums, grads) = loss_and_gradients(&self.net, &xb, &eps, beta);
        if !objective.is_finite() || !batch_sums.loss().is_finite() {
            let value = if objective.is_finite() { batch_sums.loss() } else { objective };
            return Err(self.diverged(epoch, Some(batch), format!("the loss is {value}")));
        }
        if let Err(bad) = self.st.adam.update(&mut params_mut(&mut self.st.latest), &grads) {
            let value = params(&self.st.latest)[bad.tensor][bad.index];
            let name = &self.names[bad.tensor];
            let what = format!("{name}[{}] became {value} in the update", bad.index);
            return Err(self.diverged(epoch, Some(batch), what));
        }
        self.net.set_from_network(&self.st.latest);
        Ok(batch_sums)
    }

    /// The loss sums over the validation set (`None` without validation windows).
    fn validation_pass(&self, epoch: usize) -> Result<Option<LossSums>, TrainError> {
        if self.n_val == 0 {
            return Ok(None);
        }
        let mut s = LossSums::default();
        for (xc, eps) in &self.validation {
            s.add(&loss_sums(&self.net, xc, eps));
        }
        if !s.loss().is_finite() {
            return Err(self.diverged(epoch, None, format!("the validation loss is {}", s.loss())));
        }
        Ok(Some(s))
    }

    /// Records a finished epoch: the best model so far (written to the checkpoint), early
    /// stopping, the progress display, the log and the state file.
    fn record(&mut self, stats: EpochStats) -> Result<(), TrainError> {
        let (cfg, epoch) = (self.cfg, stats.epoch);
        let st = &mut self.st;
        let monitored = stats.monitored_loss();
        let improved = monitored < st.best_loss;
        if improved {
            st.best = st.latest.clone();
            st.best_loss = monitored;
            st.best_epoch = epoch;
            st.since_best = 0;
            if let Some(path) = &cfg.checkpoint {
                write_model(path, self.meta, cfg.seed, &st.best)?;
                self.checkpoint_epoch = Some(epoch);
            }
        } else if epoch > cfg.kl_warmup {
            st.since_best += 1;
        }
        st.epochs_done = epoch;
        if let Some(p) = cfg.patience {
            st.stopped_early = st.since_best > 0 && st.since_best >= p && epoch < cfg.epochs;
        }
        self.progress.epoch(&stats, improved);
        self.log.append(&stats)?;
        st.history.push(stats);
        if let Some(path) = &self.state_file {
            st.save(path)?;
        }
        Ok(())
    }

    /// The error for a loss or parameter that stopped being finite in `epoch` (in `batch`,
    /// or in validation), pointing at the last checkpoint.
    fn diverged(&self, epoch: usize, batch: Option<usize>, what: String) -> TrainError {
        TrainError::Diverged {
            epoch,
            batch,
            what,
            checkpoint: self.cfg.checkpoint.clone(),
            checkpoint_epoch: self.checkpoint_epoch,
        }
    }
}

/// The means of an epoch's loss sums.
fn epoch_stats(
    epoch: usize,
    beta: f64,
    sums: &LossSums,
    val_sums: Option<LossSums>,
    seconds: f64,
) -> EpochStats {
    let mean = |v: f64, s: &LossSums| v / s.windows as f64;
    EpochStats {
        epoch,
        train_loss: mean(sums.loss(), sums),
        train_recon: mean(sums.recon, sums),
        train_kl: mean(sums.kl, sums),
        val_loss: val_sums.map(|s| mean(s.loss(), &s)),
        val_recon: val_sums.map(|s| mean(s.recon, &s)),
        val_kl: val_sums.map(|s| mean(s.kl, &s)),
        beta,
        seconds,
    }
}

/// The network a fresh run of `cfg` on inputs of width `x` starts from.
pub fn initial_network(x: usize, cfg: &TrainConfig) -> Network {
    init_network(x, &cfg.hidden, cfg.latent, cfg.activation, &mut rng(cfg.seed, Stream::Init, 0))
}

fn outcome(st: TrainState) -> super::TrainOutcome {
    TrainOutcome {
        net: st.best,
        history: st.history,
        best_epoch: st.best_epoch,
        best_loss: st.best_loss,
        stopped_early: st.stopped_early,
    }
}

/// The KL weight of 1-based `epoch`: rises linearly from 0 (first epoch) to 1 (epoch
/// `warmup + 1`); always 1 without warm-up.
pub(crate) fn beta(epoch: usize, warmup: usize) -> f64 {
    if warmup == 0 {
        1.0
    } else {
        (epoch.saturating_sub(1) as f64 / warmup as f64).min(1.0)
    }
}

/// The validation windows as device columns with their noise, fixed for the run.
fn validation_set<D: Device<f32>>(
    dev: &D,
    val: &[f32],
    x: usize,
    cfg: &TrainConfig,
) -> Vec<(Columns<f32, D>, Columns<f32, D>)> {
    let mut r = rng(cfg.seed, Stream::Validation, 0);
    let n = val.len() / x;
    let all: Vec<usize> = (0..n).collect();
    all.chunks(VAL_CHUNK)
        .map(|rows| {
            let mut cols = Vec::new();
            gather_columns(val, x, rows, &mut cols);
            let xc = dev.tensor_from_vec(cols, (x, rows.len()));
            let eps = dev.tensor_from_vec(normals(&mut r, cfg.latent * rows.len()), (cfg.latent, rows.len()));
            (xc, eps)
        })
        .collect()
}

fn validate(
    train: &[f32],
    val: &[f32],
    x: usize,
    meta: &ModelMeta,
    cfg: &TrainConfig,
) -> Result<(), TrainError> {
    let bad = |m: String| Err(TrainError::Config(m));
    let max = usize::from(u16::MAX);
    if x == 0 {
        return bad("the input width X is 0".into());
    }
    let meta_x = meta.transform.input_len(meta.window, meta.channels.len());
    if meta_x != x {
        return bad(format!(
            "X = {x}, but the model describes windows of {} samples x {} channels = {meta_x} inputs",
            meta.window,
            meta.channels.len()
        ));
    }
    if cfg.hidden.is_empty() || cfg.hidden.len() > MAX_TRAIN_HIDDEN {
        return bad(format!("1 to {MAX_TRAIN_HIDDEN} hidden layers are supported, got {}", cfg.hidden.len()));
    }
    if let Some(i) = cfg.hidden.iter().position(|&h| h == 0 || h > max) {
        return bad(format!("hidden layer {} has width {} (1 to {max})", i + 1, cfg.hidden[i]));
    }
    if cfg.latent == 0 || cfg.latent > max {
        return bad(format!("latent width {} (1 to {max})", cfg.latent));
    }
    if x > max {
        return bad(format!("input width X = {x} exceeds {max}"));
    }
    if cfg.epochs == 0 {
        return bad("epochs must be at least 1".into());
    }
    if cfg.batch_size == 0 {
        return bad("batch size must be at least 1".into());
    }
    let lr = cfg.learning_rate as f32;
    if !(lr.is_finite() && lr > 0.0) {
        return bad(format!("learning rate {} is not a positive finite f32", cfg.learning_rate));
    }
    if cfg.resume && cfg.checkpoint.is_none() {
        return bad("resume needs a checkpoint path".into());
    }
    for (what, data) in [("training", train), ("validation", val)] {
        if data.len() % x != 0 {
            return bad(format!("{what} data holds {} values, not a multiple of X = {x}", data.len()));
        }
        if let Some(i) = data.iter().position(|v| !v.is_finite()) {
            return bad(format!("{what} window {} holds {} at position {}", i / x, data[i], i % x));
        }
    }
    if train.is_empty() {
        return bad("no training windows".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warm_up_schedule() {
        assert_eq!(beta(1, 0), 1.0);
        assert_eq!(beta(7, 0), 1.0);
        let b: Vec<f64> = (1..=6).map(|e| beta(e, 4)).collect();
        assert_eq!(b, [0.0, 0.25, 0.5, 0.75, 1.0, 1.0]);
    }
}
