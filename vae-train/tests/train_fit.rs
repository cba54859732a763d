//! The training loop end to end: it learns, it is reproducible, it checkpoints and resumes
//! exactly, it stops early, and it reports divergence and bad setups clearly.

use dfdx::tensor::{Cpu, TensorFromVec};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rand_distr::StandardNormal;
use std::fs;
use std::path::Path;
use std::sync::atomic::AtomicBool;
use vae_core::model_file::Transform;
use vae_core::{Outcome, ScoreConfig};
use vae_train::model::{ModelMeta, Network, OwnedModel};
use vae_train::train::{
    columns, initial_network, loss_sums, state_path, train, train_with, EpochStats, TrainConfig, TrainError,
    TrainOutcome, VaeNet, LOG_HEADER,
};

const WINDOW: usize = 8;
const CHANNELS: usize = 2;
const X: usize = WINDOW * CHANNELS;

fn meta() -> ModelMeta {
    ModelMeta {
        weights: vae_core::weights::Encoding::F32,
        name: "fit".into(),
        seed: 0,
        window: WINDOW,
        hop: 1,
        channels: vec!["sin".into(), "cos".into()],
        norm_mean: vec![0.0; CHANNELS],
        norm_std: vec![1.0; CHANNELS],
        score: ScoreConfig::DETERMINISTIC,
        transform: Transform::Raw,
    }
}

/// `n` windows of a rotating phasor (sin, cos) with random phase and amplitude, plus
/// Gaussian noise of standard deviation `noise`.
fn sine(n: usize, seed: u64, noise: f32) -> Vec<f32> {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut out = Vec::with_capacity(n * X);
    for _ in 0..n {
        let phase: f32 = rng.gen_range(0.0..std::f32::consts::TAU);
        let amp: f32 = rng.gen_range(0.8..1.2);
        for t in 0..WINDOW {
            let a = 0.6 * t as f32 + phase;
            out.push(amp * a.sin() + noise * rng.sample::<f32, _>(StandardNormal));
            out.push(amp * a.cos() + noise * rng.sample::<f32, _>(StandardNormal));
        }
    }
    out
}

fn small() -> TrainConfig {
    TrainConfig {
        hidden: vec![12],
        latent: 3,
        epochs: 6,
        batch_size: 64,
        patience: None,
        ..TrainConfig::default()
    }
}

fn model(out: &TrainOutcome, seed: u64) -> OwnedModel {
    let mut meta = meta();
    meta.seed = seed;
    OwnedModel { meta, net: out.net.clone(), thresholds: vec![], alarm: vae_core::AlarmRule::STATIC }
}

fn scores(net: &Network, windows: &[f32]) -> Vec<f32> {
    let m =
        OwnedModel { meta: meta(), net: net.clone(), thresholds: vec![], alarm: vae_core::AlarmRule::STATIC };
    m.with_dyn_vae(|vae| {
        let mut work = vec![0.0; vae.work_len(CHANNELS)];
        let mut ch = vec![0.0; CHANNELS];
        let mut rng = vae_core::Rng::new(0);
        windows
            .chunks_exact(X)
            .map(|w| match vae.score(w, ScoreConfig::DETERMINISTIC, &mut rng, &mut work, &mut ch).unwrap() {
                Outcome::Scored(s) => s.score,
                Outcome::Overflow => f32::INFINITY,
                o => panic!("{o:?}"),
            })
            .collect::<Vec<_>>()
    })
    .unwrap()
}

fn without_seconds(h: &[EpochStats]) -> Vec<EpochStats> {
    h.iter().map(|s| EpochStats { seconds: 0.0, ..s.clone() }).collect()
}

fn log_rows(path: &Path) -> Vec<String> {
    let text = fs::read_to_string(path).unwrap();
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some(LOG_HEADER));
    // Everything but the seconds column.
    lines.map(|l| l.rsplit_once(',').unwrap().0.to_string()).collect()
}

#[test]
fn learns_and_separates_anomalies() {
    let tr = sine(3000, 1, 0.1);
    let va = sine(500, 2, 0.1);
    let cfg = TrainConfig {
        hidden: vec![32],
        latent: 4,
        epochs: 40,
        learning_rate: 5e-3,
        patience: Some(5),
        ..TrainConfig::default()
    };
    // The untrained network's validation loss (same initialisation as the run).
    let dev = Cpu::default();
    let init = VaeNet::<f32, Cpu>::from_network(&dev, &initial_network(X, &cfg));
    let mut rng = StdRng::seed_from_u64(5);
    let eps: Vec<f32> = (0..cfg.latent * 500).map(|_| rng.sample(StandardNormal)).collect();
    let s = loss_sums(&init, &columns(&dev, &va, X), &dev.tensor_from_vec(eps, (cfg.latent, 500)));
    let initial = s.loss() / s.windows as f64;

    let out = train(&tr, &va, X, &meta(), &cfg).unwrap();
    let best = out.history[out.best_epoch - 1].val_loss.unwrap();
    assert_eq!(best, out.best_loss);
    let last = out.history.last().unwrap();
    eprintln!(
        "initial validation loss {initial:.2}, best {best:.2} (epoch {}), last epoch {}: {:.2} (recon {:.2}, KL {:.2})",
        out.best_epoch,
        last.epoch,
        last.val_loss.unwrap(),
        last.val_recon.unwrap(),
        last.val_kl.unwrap()
    );
    // From about +20 nats to below zero (a noise level of 0.1 is worth about -0.9 nats
    // per dimension at best): the model learned the signal and most of the noise level.
    assert!(best < initial - 15.0 && best < 0.0, "initial {initial}, best {best}");
    assert!(out.history.iter().all(|s| s.val_loss.unwrap().is_finite() && s.beta == 1.0));
    assert!(out.history.windows(2).all(|w| w[1].epoch == w[0].epoch + 1));

    // Windows with one spike of 3 (30 noise standard deviations) score far higher.
    let normal = scores(&out.net, &sine(400, 3, 0.1));
    let mut spiked = sine(400, 4, 0.1);
    let mut rng = StdRng::seed_from_u64(6);
    for w in spiked.chunks_exact_mut(X) {
        w[rng.gen_range(0..X)] += 3.0;
    }
    let spiked = scores(&out.net, &spiked);
    let mut sorted = normal.clone();
    sorted.sort_by(f32::total_cmp);
    let p99 = sorted[sorted.len() * 99 / 100];
    let above = spiked.iter().filter(|&&s| s > p99).count();
    let median = |v: &[f32]| {
        let mut v = v.to_vec();
        v.sort_by(f32::total_cmp);
        v[v.len() / 2]
    };
    eprintln!(
        "normal median {:.1}, 99th percentile {p99:.1}; spiked median {:.1}; {above}/400 spiked above",
        median(&normal),
        median(&spiked)
    );
    assert!(above >= 390, "{above} of 400 spiked windows above the 99th percentile of normal ones");
    assert!(median(&spiked) > median(&normal) + 100.0);
}

#[test]
fn same_seed_same_bytes_other_seed_other_bytes() {
    // 400 windows, batches of 64: the last batch of every epoch holds 16.
    let tr = sine(400, 7, 0.2);
    let va = sine(100, 8, 0.2);
    let cfg = TrainConfig { epochs: 3, ..small() };
    let a = train(&tr, &va, X, &meta(), &cfg).unwrap();
    let b = train(&tr, &va, X, &meta(), &cfg).unwrap();
    let other = TrainConfig { seed: 1, ..cfg.clone() };
    let c = train(&tr, &va, X, &meta(), &other).unwrap();
    let bytes = |o: &TrainOutcome, seed| model(o, seed).to_bytes().unwrap();
    assert_eq!(bytes(&a, 0), bytes(&b, 0));
    assert_eq!(without_seconds(&a.history), without_seconds(&b.history));
    assert_ne!(a.net, c.net);
    assert_ne!(bytes(&a, 0), bytes(&c, 0), "a different seed gives different weights");
    assert_eq!(a.history.len(), 3);
}

#[test]
fn resume_reaches_the_uninterrupted_result() {
    let dir = tempfile::tempdir().unwrap();
    let tr = sine(300, 11, 0.2);
    let va = sine(80, 12, 0.2);
    let (ck_full, log_full) = (dir.path().join("full.vaem"), dir.path().join("full.csv"));
    let (ck, log) = (dir.path().join("half.vaem"), dir.path().join("half.csv"));
    let full_cfg = TrainConfig { checkpoint: Some(ck_full.clone()), log: Some(log_full.clone()), ..small() };
    let full = train(&tr, &va, X, &meta(), &full_cfg).unwrap();

    let half_cfg = TrainConfig { epochs: 3, checkpoint: Some(ck.clone()), log: Some(log.clone()), ..small() };
    let half = train(&tr, &va, X, &meta(), &half_cfg).unwrap();
    assert_eq!(half.history.len(), 3);
    // The checkpoint is a model file holding the best weights so far.
    let saved = OwnedModel::load(&ck).unwrap();
    assert_eq!(saved.net, half.net);
    assert!(saved.thresholds.is_empty());
    assert!(state_path(&ck).exists());

    // A run killed after writing its log row but before its state repeats that epoch:
    // the stray row must not survive the resume.
    fs::write(&log, fs::read_to_string(&log).unwrap() + "4,1,1,1,1,1,1,1,1\n").unwrap();
    // A stop request (Ctrl-C) interrupts without touching the state.
    let state_before = fs::read(state_path(&ck)).unwrap();
    let resume_cfg = TrainConfig { resume: true, ..TrainConfig { epochs: 6, ..half_cfg.clone() } };
    let e = train_with(&Cpu::default(), &tr, &va, X, &meta(), &resume_cfg, Some(&AtomicBool::new(true)))
        .unwrap_err();
    assert!(matches!(e, TrainError::Interrupted { epoch: 4, .. }), "{e}");
    assert!(e.to_string().contains("half.vaem.state"), "{e}");
    assert_eq!(fs::read(state_path(&ck)).unwrap(), state_before);

    let resumed = train(&tr, &va, X, &meta(), &resume_cfg).unwrap();
    // Bit-identical weights, the same history (but the clock), the same checkpoint bytes.
    assert_eq!(resumed.net, full.net);
    assert_eq!(resumed.best_epoch, full.best_epoch);
    assert_eq!(without_seconds(&resumed.history), without_seconds(&full.history));
    assert_eq!(fs::read(&ck).unwrap(), fs::read(&ck_full).unwrap());
    assert_eq!(OwnedModel::load(&ck).unwrap().net, full.net);
    assert_eq!(log_rows(&log), log_rows(&log_full));
    assert_eq!(log_rows(&log).len(), 6);

    // Resuming a finished run returns its outcome without training.
    let again = train(&tr, &va, X, &meta(), &resume_cfg).unwrap();
    assert_eq!(again.net, full.net);
    assert_eq!(again.history, resumed.history);
}

#[test]
fn resume_refuses_another_model_or_data() {
    let dir = tempfile::tempdir().unwrap();
    let ck = dir.path().join("m.vaem");
    let tr = sine(100, 1, 0.2);
    let cfg = TrainConfig { epochs: 1, checkpoint: Some(ck.clone()), ..small() };
    train(&tr, &[], X, &meta(), &cfg).unwrap();

    let wider = TrainConfig { hidden: vec![13], epochs: 2, resume: true, ..cfg.clone() };
    let e = train(&tr, &[], X, &meta(), &wider).unwrap_err();
    assert!(matches!(e, TrainError::ResumeMismatch { .. }), "{e}");
    let msg = e.to_string();
    assert!(msg.contains("model shape") && msg.contains("[13]") && msg.contains("[12]"), "{msg}");

    let more = TrainConfig { epochs: 2, resume: true, ..cfg.clone() };
    let e = train(&sine(100, 2, 0.2), &[], X, &meta(), &more).unwrap_err().to_string();
    assert!(e.contains("data") && e.contains("m.vaem.state"), "{e}");

    let missing = TrainConfig { checkpoint: Some(dir.path().join("none.vaem")), ..more };
    let e = train(&tr, &[], X, &meta(), &missing).unwrap_err();
    assert!(
        matches!(e, TrainError::ResumeMissing { .. }) && e.to_string().contains("none.vaem.state"),
        "{e}"
    );
}

#[test]
fn divergence_stops_and_keeps_the_last_good_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let ck = dir.path().join("good.vaem");
    let tr = sine(300, 21, 0.2);
    let va = sine(60, 22, 0.2);
    let cfg = TrainConfig { epochs: 2, checkpoint: Some(ck.clone()), ..small() };
    let good = train(&tr, &va, X, &meta(), &cfg).unwrap();
    let (model_before, state_before) = (fs::read(&ck).unwrap(), fs::read(state_path(&ck)).unwrap());

    // Continue with an absurd learning rate.
    let wild = TrainConfig { epochs: 5, learning_rate: 1e6, resume: true, ..cfg.clone() };
    let e = train(&tr, &va, X, &meta(), &wild).unwrap_err();
    let msg = e.to_string();
    eprintln!("{msg}");
    match &e {
        TrainError::Diverged { epoch, batch, checkpoint, checkpoint_epoch, .. } => {
            assert_eq!(*epoch, 3);
            assert!(batch.is_some());
            assert_eq!(checkpoint.as_deref(), Some(ck.as_path()));
            assert_eq!(*checkpoint_epoch, Some(good.best_epoch));
        }
        other => panic!("{other}"),
    }
    assert!(msg.contains("epoch 3") && msg.contains("good.vaem") && msg.contains("kept"), "{msg}");
    assert_eq!(fs::read(&ck).unwrap(), model_before);
    assert_eq!(fs::read(state_path(&ck)).unwrap(), state_before);
    assert_eq!(OwnedModel::load(&ck).unwrap().net, good.net);

    // From scratch: it diverges in the first epoch, and no checkpoint appears.
    let fresh = dir.path().join("fresh.vaem");
    let wild = TrainConfig { learning_rate: 1e6, checkpoint: Some(fresh.clone()), ..small() };
    let e = train(&tr, &va, X, &meta(), &wild).unwrap_err();
    assert!(
        matches!(e, TrainError::Diverged { epoch: 1, batch: Some(_), checkpoint_epoch: None, .. }),
        "{e}"
    );
    assert!(!fresh.exists());
}

#[test]
fn early_stopping_keeps_the_best_weights() {
    let dir = tempfile::tempdir().unwrap();
    let ck = dir.path().join("es.vaem");
    let tr = sine(300, 31, 0.05);
    // Validation windows of another kind: once the model fits the training data tightly,
    // their loss rises.
    let va: Vec<f32> = sine(60, 32, 0.05).iter().map(|v| 2.5 * v).collect();
    let cfg = TrainConfig {
        epochs: 60,
        learning_rate: 1e-2,
        patience: Some(2),
        kl_warmup: 2,
        checkpoint: Some(ck.clone()),
        ..small()
    };
    let out = train(&tr, &va, X, &meta(), &cfg).unwrap();
    let losses: Vec<f64> = out.history.iter().map(|s| s.val_loss.unwrap()).collect();
    eprintln!("validation losses {losses:?}");
    assert!(out.stopped_early, "{losses:?}");
    assert!(!out.still_improving());
    assert_eq!(out.history.len(), out.best_epoch + 2);
    let min = losses.iter().copied().fold(f64::INFINITY, f64::min);
    assert_eq!(out.best_loss, min);
    assert_eq!(losses[out.best_epoch - 1], min);
    assert_eq!(OwnedModel::load(&ck).unwrap().net, out.net);
    // Warm-up: beta 0, 1/2, then 1.
    let betas: Vec<f64> = out.history.iter().take(4).map(|s| s.beta).collect();
    assert_eq!(betas, [0.0, 0.5, 1.0, 1.0]);
}

#[test]
fn a_run_stopped_by_its_epoch_cap_says_it_was_still_improving() {
    // Three epochs of a fresh model on data like its validation windows: the loss still falls.
    let tr = sine(300, 51, 0.05);
    let va = sine(60, 52, 0.05);
    let cfg = TrainConfig { epochs: 3, patience: Some(5), ..small() };
    let out = train(&tr, &va, X, &meta(), &cfg).unwrap();
    let losses: Vec<f64> = out.history.iter().map(|s| s.val_loss.unwrap()).collect();
    assert!(losses.windows(2).all(|w| w[1] < w[0]), "{losses:?}");
    assert!(!out.stopped_early && out.best_epoch == 3);
    assert!(out.still_improving());
    // A run whose last epoch is not its best is not.
    let worse = TrainOutcome { best_epoch: 2, ..out };
    assert!(!worse.still_improving());
}

#[test]
fn empty_validation_uses_the_training_loss() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("log.csv");
    let tr = sine(200, 41, 0.2);
    let cfg = TrainConfig { epochs: 3, log: Some(log.clone()), progress: true, ..small() };
    let out = train(&tr, &[], X, &meta(), &cfg).unwrap();
    assert!(out.history.iter().all(|s| s.val_loss.is_none() && s.val_recon.is_none() && s.val_kl.is_none()));
    let best = out.history.iter().map(|s| s.train_loss).fold(f64::INFINITY, f64::min);
    assert_eq!(out.best_loss, best);
    let rows = log_rows(&log);
    assert_eq!(rows.len(), 3);
    assert!(rows[0].starts_with("1,") && rows[0].contains(",,,"), "{}", rows[0]);
}

#[test]
fn bad_setups_are_refused_with_a_reason() {
    let tr = sine(10, 1, 0.1);
    let cases: Vec<(TrainConfig, &[f32], usize, &str)> = vec![
        (TrainConfig { hidden: vec![], ..small() }, &tr, X, "hidden layers"),
        (TrainConfig { hidden: vec![4, 4, 4, 4], ..small() }, &tr, X, "hidden layers"),
        (TrainConfig { hidden: vec![4, 0], ..small() }, &tr, X, "hidden layer 2 has width 0"),
        (TrainConfig { latent: 0, ..small() }, &tr, X, "latent width 0"),
        (TrainConfig { batch_size: 0, ..small() }, &tr, X, "batch size"),
        (TrainConfig { epochs: 0, ..small() }, &tr, X, "epochs"),
        (TrainConfig { learning_rate: f64::NAN, ..small() }, &tr, X, "learning rate"),
        (TrainConfig { resume: true, ..small() }, &tr, X, "checkpoint"),
        (small(), &[], X, "no training windows"),
        (small(), &tr[..X + 3], X, "not a multiple"),
        (small(), &tr, X + 1, "2 channels"),
    ];
    for (cfg, data, x, want) in cases {
        let e = train(data, &[], x, &meta(), &cfg).unwrap_err();
        assert!(matches!(e, TrainError::Config(_)), "{e}");
        assert!(e.to_string().contains(want), "`{e}` should mention `{want}`");
    }
    let mut nan = tr.clone();
    nan[X + 5] = f32::NAN;
    let e = train(&nan, &[], X, &meta(), &small()).unwrap_err().to_string();
    assert!(e.contains("training window 1") && e.contains("NaN"), "{e}");
}

#[test]
fn an_interrupt_in_the_first_epoch_does_not_point_at_a_state_never_written() {
    let dir = tempfile::tempdir().unwrap();
    let ck = dir.path().join("first.vaem");
    let cfg = TrainConfig { checkpoint: Some(ck.clone()), ..small() };
    let tr = sine(200, 1, 0.1);
    let e =
        train_with(&Cpu::default(), &tr, &[], X, &meta(), &cfg, Some(&AtomicBool::new(true))).unwrap_err();
    assert!(matches!(e, TrainError::Interrupted { epoch: 1, state: None }), "{e}");
    let text = e.to_string();
    assert!(!text.contains(".state") && text.contains("nothing was saved"), "{text}");
    assert!(!state_path(&ck).exists());
}
