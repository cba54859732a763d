//! dfdx (training side) and vae-core (inference side) compute the same scores.

use dfdx::tensor::Cpu;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rand_distr::StandardNormal;
use vae_core::model_file::Transform;
use vae_core::{Activation, Outcome, ScoreConfig, ScoreKind};
use vae_train::model::{ModelMeta, Network, OwnedModel};
use vae_train::train::{
    init_network, params_mut, score_deterministic, score_elbo, train, TrainConfig, VaeNet,
};

fn meta(window: usize, channels: usize) -> ModelMeta {
    ModelMeta {
        weights: vae_core::weights::Encoding::F32,
        name: "parity".into(),
        seed: 0,
        window,
        hop: 1,
        channels: (0..channels).map(|c| format!("c{c}")).collect(),
        norm_mean: vec![0.0; channels],
        norm_std: vec![1.0; channels],
        score: ScoreConfig::DETERMINISTIC,
        transform: Transform::Raw,
    }
}

/// A random network with non-trivial log-variances and biases.
fn random_network(x: usize, hidden: &[usize], z: usize, act: Activation, seed: u64) -> Network {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut net = init_network(x, hidden, z, act, &mut rng);
    for p in params_mut(&mut net) {
        for v in p.iter_mut() {
            *v += 0.2 * rng.sample::<f32, _>(StandardNormal);
        }
    }
    net
}

fn windows(n: usize, x: usize, seed: u64) -> Vec<f32> {
    let mut rng = StdRng::seed_from_u64(seed);
    (0..n * x).map(|_| rng.sample::<f32, _>(StandardNormal)).collect()
}

/// vae-core's scores of `windows` for the model (through the model file's bytes, so the
/// writer and reader are on the path too).
fn core_scores(model: &OwnedModel, windows: &[f32], config: ScoreConfig, seed: u64) -> Vec<f32> {
    let model = OwnedModel::from_bytes(&model.to_bytes().unwrap()).unwrap();
    let c = model.meta.channels.len();
    let x = model.net.input_len();
    model
        .with_dyn_vae(|vae| {
            let mut work = vec![0.0f32; vae.work_len(c)];
            let mut channel_nll = vec![0.0f32; c];
            let mut rng = vae_core::Rng::new(seed);
            windows
                .chunks_exact(x)
                .map(|w| match vae.score(w, config, &mut rng, &mut work, &mut channel_nll).unwrap() {
                    Outcome::Scored(s) => s.score,
                    other => panic!("{other:?}"),
                })
                .collect::<Vec<f32>>()
        })
        .unwrap()
}

fn assert_deterministic_parity(net: &Network, window: usize, channels: usize, windows: &[f32]) {
    let dev = Cpu::default();
    let dfdx_scores = score_deterministic(&VaeNet::<f32, Cpu>::from_network(&dev, net), windows);
    let model = OwnedModel {
        meta: meta(window, channels),
        net: net.clone(),
        thresholds: vec![],
        alarm: vae_core::AlarmRule::STATIC,
    };
    let core = core_scores(&model, windows, ScoreConfig::DETERMINISTIC, 0);
    assert_eq!(dfdx_scores.len(), core.len());
    let mut worst = 0.0f32;
    for (i, (a, b)) in dfdx_scores.iter().zip(&core).enumerate() {
        // Relative to the score, with a floor of 1 nat for scores near zero.
        let rel = (a - b).abs() / b.abs().max(1.0);
        worst = worst.max(rel);
        assert!(rel <= 1e-5, "window {i}: dfdx {a}, vae-core {b} (relative {rel:e})");
    }
    eprintln!("deterministic parity: worst relative difference {worst:e} over {} windows", core.len());
}

#[test]
fn deterministic_scores_agree_for_random_networks() {
    for (k, act) in Activation::ALL.into_iter().enumerate() {
        let (window, channels) = (4, 3);
        let x = window * channels;
        let net = random_network(x, &[7, 5], 3, act, 10 + k as u64);
        assert_deterministic_parity(&net, window, channels, &windows(300, x, 20 + k as u64));
    }
    // One hidden layer, 64-32-8 (the reference shape).
    let net = random_network(64, &[32], 8, Activation::Tanh, 99);
    assert_deterministic_parity(&net, 32, 2, &windows(200, 64, 5));
}

#[test]
fn deterministic_scores_agree_for_a_trained_network() {
    let (window, channels) = (8, 2);
    let x = window * channels;
    let mut rng = StdRng::seed_from_u64(3);
    let data: Vec<f32> = (0..600)
        .flat_map(|_| {
            let phase: f32 = rng.gen_range(0.0..6.3);
            let noise: Vec<f32> = (0..x).map(|_| 0.1 * rng.sample::<f32, _>(StandardNormal)).collect();
            (0..x).map(move |i| {
                let t = (i / channels) as f32 * 0.7 + phase;
                (if i % channels == 0 { t.sin() } else { t.cos() }) + noise[i]
            })
        })
        .collect();
    let (tr, va) = data.split_at(500 * x);
    let cfg = TrainConfig {
        hidden: vec![16],
        latent: 3,
        epochs: 30,
        batch_size: 50,
        learning_rate: 5e-3,
        ..TrainConfig::default()
    };
    let out = train(tr, va, x, &meta(window, channels), &cfg).unwrap();
    // Trained: the decoder variances moved away from 1.
    assert!(out.net.decoder_log_var.iter().all(|&s| s < -0.5), "{:?}", out.net.decoder_log_var);
    assert_deterministic_parity(&out.net, window, channels, va);
    // Anomalous inputs too (large scores).
    let spiky: Vec<f32> = va.iter().enumerate().map(|(i, v)| if i % 7 == 0 { v + 4.0 } else { *v }).collect();
    assert_deterministic_parity(&out.net, window, channels, &spiky);
}

/// The K-sample ELBO: dfdx and vae-core draw different noise, so they agree within Monte-Carlo
/// error. Each side averages K single-sample estimates; the tolerance is 5 standard errors
/// of the difference, estimated from dfdx's single-sample spread.
#[test]
fn k_sample_elbo_agrees_within_monte_carlo_error() {
    let (window, channels) = (3, 2);
    let x = window * channels;
    let net = random_network(x, &[5], 2, Activation::Tanh, 4);
    let ws = windows(6, x, 8);
    let dev = Cpu::default();
    let vnet = VaeNet::<f32, Cpu>::from_network(&dev, &net);
    const K: usize = 2000;
    let mut rng = StdRng::seed_from_u64(1);
    let singles: Vec<Vec<f32>> = (0..K).map(|_| score_elbo(&vnet, &ws, 1, &mut rng)).collect();
    let model = OwnedModel {
        meta: meta(window, channels),
        net: net.clone(),
        thresholds: vec![],
        alarm: vae_core::AlarmRule::STATIC,
    };
    let core = core_scores(&model, &ws, ScoreConfig::new(ScoreKind::Elbo, K as u16).unwrap(), 77);
    let batched = score_elbo(&vnet, &ws, K, &mut rng);
    for w in 0..ws.len() / x {
        let samples: Vec<f64> = singles.iter().map(|s| f64::from(s[w])).collect();
        let mean = samples.iter().sum::<f64>() / K as f64;
        let var = samples.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (K - 1) as f64;
        let se = (2.0 * var / K as f64).sqrt();
        let diff = (mean - f64::from(core[w])).abs();
        assert!(
            diff <= 5.0 * se + 1e-4,
            "window {w}: dfdx {mean}, vae-core {}, standard error {se}",
            core[w]
        );
        let diff = (f64::from(batched[w]) - f64::from(core[w])).abs();
        assert!(diff <= 5.0 * se + 1e-4, "window {w}: dfdx K={K} {}, vae-core {}", batched[w], core[w]);
        // The comparison has power: the sampled ELBO is not the deterministic one here.
        assert!(var > 1e-4, "window {w}: no sampling spread");
        assert!(se < 0.05 * mean.abs().max(1.0));
    }
}

/// The CUDA device computes what the CPU computes (run with `--features cuda` on a machine
/// with the CUDA toolkit and a GPU; `cuda-ci-check` only type-checks it).
#[cfg(feature = "cuda")]
#[test]
fn cuda_scores_and_training_match_the_cpu() {
    use dfdx::tensor::Cuda;
    let net = random_network(64, &[32], 8, Activation::Tanh, 99);
    let ws = windows(500, 64, 5);
    let cpu = score_deterministic(&VaeNet::<f32, Cpu>::from_network(&Cpu::default(), &net), &ws);
    let gpu = score_deterministic(&VaeNet::<f32, Cuda>::from_network(&Cuda::seed_from_u64(0), &net), &ws);
    for (i, (a, b)) in gpu.iter().zip(&cpu).enumerate() {
        assert!((a - b).abs() <= 1e-5 * b.abs().max(1.0), "window {i}: CUDA {a}, CPU {b}");
    }
    let (tr, va) = (windows(2000, 64, 6), windows(200, 64, 7));
    let cfg = TrainConfig { epochs: 3, ..TrainConfig::default() };
    let a = train(&tr, &va, 64, &meta(32, 2), &cfg).unwrap();
    let b = vae_train::train::train_cuda(&tr, &va, 64, &meta(32, 2), &cfg).unwrap();
    for (x, y) in a.history.iter().zip(&b.history) {
        let (x, y) = (x.val_loss.unwrap(), y.val_loss.unwrap());
        assert!((x - y).abs() <= 1e-3 * x.abs().max(1.0), "CPU {x}, CUDA {y}");
    }
}
