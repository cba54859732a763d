//! Training and host-scoring throughput for the reference model: X = 64 (32 samples x 2
//! channels), hidden [32], Z = 8, 20,000 training windows, batch 128.
//!
//! A plain `harness = false` program (Cargo.toml: `[[bench]] name = "train"
//! harness = false`): `cargo bench -p vae-train --bench train` prints
//! - seconds per epoch of training (no validation), its median over the epochs run, and
//!   windows per second;
//! - seconds per epoch with 2,000 validation windows;
//! - host scoring: windows per second of vae-core's `DynVae` deterministic score (through
//!   `OwnedModel::with_dyn_vae`, the engine the CLI scores with), and of dfdx's scorer.
//!
//! - the whole pipeline as `vae-train fit` and `score` run it (`vae_train::pipeline`) on the
//!   simulated machine of `cargo xtask demo` (12,000 + 6,000 rows, spectrum front end):
//!   seconds for `fit` (load excluded) and windows per second for `score`.
//!
//! `VAE_BENCH_EPOCHS` (default 10) sets the epochs timed.
#![cfg_attr(test, allow(dead_code, unused_imports))]

use dfdx::tensor::Cpu;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rand_distr::StandardNormal;
use std::hint::black_box;
use std::time::Instant;
use vae_core::model_file::Transform;
use vae_core::{Outcome, ScoreConfig};
use vae_train::model::{ModelMeta, OwnedModel};
use vae_train::train::{score_deterministic, train, TrainConfig, VaeNet};

const WINDOW: usize = 32;
const CHANNELS: usize = 2;
const X: usize = WINDOW * CHANNELS;

fn windows(n: usize, seed: u64) -> Vec<f32> {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut out = Vec::with_capacity(n * X);
    for _ in 0..n {
        let phase: f32 = rng.gen_range(0.0..std::f32::consts::TAU);
        for t in 0..WINDOW {
            let a = 0.3 * t as f32 + phase;
            out.push(a.sin() + 0.1 * rng.sample::<f32, _>(StandardNormal));
            out.push(a.cos() + 0.1 * rng.sample::<f32, _>(StandardNormal));
        }
    }
    out
}

fn meta() -> ModelMeta {
    ModelMeta {
        weights: vae_core::weights::Encoding::F32,
        name: "bench".into(),
        seed: 0,
        window: WINDOW,
        hop: WINDOW,
        channels: vec!["a".into(), "b".into()],
        norm_mean: vec![0.0; CHANNELS],
        norm_std: vec![1.0; CHANNELS],
        score: ScoreConfig::DETERMINISTIC,
        transform: Transform::Raw,
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let epochs: usize = std::env::var("VAE_BENCH_EPOCHS").ok().and_then(|v| v.parse().ok()).unwrap_or(10);
    let n_train = 20_000;
    let tr = windows(n_train, 1);
    let va = windows(2_000, 2);
    let cfg = TrainConfig {
        hidden: vec![32],
        latent: 8,
        epochs,
        batch_size: 128,
        patience: None,
        ..TrainConfig::default()
    };
    println!(
        "model {X}-{}-{} ({} threads available), {n_train} windows, batch {}",
        cfg.hidden[0],
        cfg.latent,
        std::thread::available_parallelism().map_or(1, |n| n.get()),
        cfg.batch_size
    );

    let out = train(&tr, &[], X, &meta(), &cfg).expect("training");
    let secs: Vec<f64> = out.history.iter().map(|s| s.seconds).collect();
    let med = median(secs.clone());
    println!(
        "train, no validation:   {med:.4} s/epoch median (min {:.4}, first {:.4}), {:.0} windows/s; loss {:.2} -> {:.2}",
        secs.iter().copied().fold(f64::INFINITY, f64::min),
        secs[0],
        n_train as f64 / med,
        out.history[0].train_loss,
        out.history.last().map_or(f64::NAN, |s| s.train_loss)
    );

    let out = train(&tr, &va, X, &meta(), &cfg).expect("training");
    let med = median(out.history.iter().map(|s| s.seconds).collect());
    println!("train + 2,000 val:      {med:.4} s/epoch median");

    // Host scoring with vae-core (the engine the firmware runs), deterministic.
    let model = OwnedModel {
        meta: meta(),
        net: out.net.clone(),
        thresholds: vec![],
        alarm: vae_core::AlarmRule::STATIC,
    };
    let test = windows(20_000, 3);
    let (n, secs) = model
        .with_dyn_vae(|vae| {
            let mut work = vec![0.0f32; vae.work_len(CHANNELS)];
            let mut ch = vec![0.0f32; CHANNELS];
            let mut rng = vae_core::Rng::new(0);
            let started = Instant::now();
            let mut n = 0usize;
            for w in test.chunks_exact(X) {
                if let Ok(Outcome::Scored(s)) =
                    vae.score(w, ScoreConfig::DETERMINISTIC, &mut rng, &mut work, &mut ch)
                {
                    black_box(s.score);
                    n += 1;
                }
            }
            (n, started.elapsed().as_secs_f64())
        })
        .expect("model");
    println!("score, vae-core DynVae: {:.0} windows/s ({n} windows, deterministic)", n as f64 / secs);

    let dev = Cpu::default();
    let vnet = VaeNet::<f32, Cpu>::from_network(&dev, &out.net);
    let started = Instant::now();
    let s = score_deterministic(&vnet, &test);
    let secs = started.elapsed().as_secs_f64();
    black_box(s);
    println!("score, dfdx batched:    {:.0} windows/s", test.len() as f64 / X as f64 / secs);

    pipeline(epochs);
}

/// `vae_train::pipeline` end to end on the demo's simulated machine.
fn pipeline(epochs: usize) {
    use vae_train::{data, pipeline, synth};
    let machine = synth::SynthConfig::default();
    let s = synth::generate(&machine);
    let dir = std::env::temp_dir().join(format!("vae-train-bench-{}", std::process::id()));
    synth::write(&dir, &machine, &s).expect("write the simulated machine");
    let read = data::LoadOptions { min_rows: 16, ..Default::default() };
    let normal = data::load(&[dir.join("train.csv")], &read).expect("train.csv");
    let plan = pipeline::FitPlan {
        window: 16,
        hop: 4,
        features: vae_core::transform::Features::Spectrum,
        epochs,
        patience: None,
        ..Default::default()
    };
    let started = Instant::now();
    let fitted = pipeline::fit(&normal, &plan, None, &mut |_| {}).expect("fit");
    let fit_secs = started.elapsed().as_secs_f64();
    let read = data::LoadOptions {
        columns: Some(fitted.model.meta.channels.clone()),
        nan: data::NanPolicy::Keep,
        ..read
    };
    let mut test = data::load(&[dir.join("test.csv")], &read).expect("test.csv");
    let started = Instant::now();
    let scored = pipeline::score(&fitted.model, &mut test, fitted.model.meta.score).expect("score");
    let score_secs = started.elapsed().as_secs_f64();
    let _ = std::fs::remove_dir_all(&dir);
    println!(
        "pipeline (demo machine, spectrum, {epochs} epochs): fit {fit_secs:.2} s, score {:.0} windows/s ({} windows)",
        scored.len() as f64 / score_secs,
        scored.len()
    );
}
