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

    let mut st = match (&state_file, cfg.resume) {
        (Some(path), true) => TrainState::load(path, &fingerprint, lr)?,
        _ => {
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
    };
    // The checkpoint always holds the state's best model (it may be newer when a run was
    // killed between the two writes; the resumed run repeats that epoch exactly).
    let mut checkpoint_epoch = None;
    if let (Some(path), true) = (&cfg.checkpoint, st.best_epoch > 0) {
        write_model(path, meta, cfg.seed, &st.best)?;
        checkpoint_epoch = Some(st.best_epoch);
    }
    let mut log = match &cfg.log {
        Some(path) => CsvLog::start(path, &st.history)?,
        None => CsvLog::none(),
    };
    if st.stopped_early || st.epochs_done >= cfg.epochs {
        return Ok(outcome(st));
    }

    let names = param_names(&st.latest);
    let mut net = VaeNet::<f32, D>::from_network(dev, &st.latest);
    let validation = validation_set(dev, val, x, cfg);
    let batches = n_train.div_ceil(cfg.batch_size);
    let progress = Progress::new(cfg.progress, ((cfg.epochs - st.epochs_done) * batches) as u64, cfg.epochs);
    let mut cols = Vec::new();

    for epoch in st.epochs_done + 1..=cfg.epochs {
        let started = Instant::now();
        let beta = beta(epoch, cfg.kl_warmup);
        let diverged = |batch: Option<usize>, what: String| TrainError::Diverged {
            epoch,
            batch,
            what,
            checkpoint: cfg.checkpoint.clone(),
            checkpoint_epoch,
        };
        let mut r = rng(cfg.seed, Stream::Epoch, epoch as u64);
        let order = shuffled(&mut r, n_train);
        let mut sums = LossSums::default();
        for (b, rows) in order.chunks(cfg.batch_size).enumerate() {
            if stop.is_some_and(|s| s.load(Ordering::Relaxed)) {
                // Point at the state only when one was written: a run stopped in its
                // first epoch has nothing to resume.
                let state = state_file.filter(|p| p.exists());
                return Err(TrainError::Interrupted { epoch, state });
            }
            gather_columns(train, x, rows, &mut cols);
            let xb = dev.tensor_from_vec(std::mem::take(&mut cols), (x, rows.len()));
            let eps = dev.tensor_from_vec(normals(&mut r, cfg.latent * rows.len()), (cfg.latent, rows.len()));
            let (objective, batch_sums, grads) = loss_and_gradients(&net, &xb, &eps, beta);
            if !objective.is_finite() || !batch_sums.loss().is_finite() {
                let value = if objective.is_finite() { batch_sums.loss() } else { objective };
                return Err(diverged(Some(b + 1), format!("the loss is {value}")));
            }
            sums.add(&batch_sums);
            if let Err(bad) = st.adam.update(&mut params_mut(&mut st.latest), &grads) {
                let value = params(&st.latest)[bad.tensor][bad.index];
                let name = &names[bad.tensor];
                return Err(diverged(
                    Some(b + 1),
                    format!("{name}[{}] became {value} in the update", bad.index),
                ));
            }
            net.set_from_network(&st.latest);
            let n = sums.windows as f64;
            progress.batch(epoch, b + 1, (sums.loss() / n, sums.recon / n, sums.kl / n));
        }

        let val_sums = (n_val > 0).then(|| {
            let mut s = LossSums::default();
            for (xc, eps) in &validation {
                s.add(&loss_sums(&net, xc, eps));
            }
            s
        });
        if let Some(v) = &val_sums {
            if !v.loss().is_finite() {
                return Err(diverged(None, format!("the validation loss is {}", v.loss())));
            }
        }
        let mean = |v: f64, s: &LossSums| v / s.windows as f64;
        let stats = EpochStats {
            epoch,
            train_loss: mean(sums.loss(), &sums),
            train_recon: mean(sums.recon, &sums),
            train_kl: mean(sums.kl, &sums),
            val_loss: val_sums.map(|s| mean(s.loss(), &s)),
            val_recon: val_sums.map(|s| mean(s.recon, &s)),
            val_kl: val_sums.map(|s| mean(s.kl, &s)),
            beta,
            seconds: started.elapsed().as_secs_f64(),
        };

        let monitored = stats.monitored_loss();
        let improved = monitored < st.best_loss;
        if improved {
            st.best = st.latest.clone();
            st.best_loss = monitored;
            st.best_epoch = epoch;
            st.since_best = 0;
            if let Some(path) = &cfg.checkpoint {
                write_model(path, meta, cfg.seed, &st.best)?;
                checkpoint_epoch = Some(epoch);
            }
        } else if epoch > cfg.kl_warmup {
            st.since_best += 1;
        }
        st.epochs_done = epoch;
        if let Some(p) = cfg.patience {
            st.stopped_early = st.since_best > 0 && st.since_best >= p && epoch < cfg.epochs;
        }
        progress.epoch(&stats, improved);
        log.append(&stats)?;
        st.history.push(stats);
        if let Some(path) = &state_file {
            st.save(path)?;
        }
        if st.stopped_early {
            break;
        }
    }
    progress.finish();
    Ok(outcome(st))
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
