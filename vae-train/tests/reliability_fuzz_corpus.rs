//! The fuzz corpus on the stable toolchain: every committed seed (`fuzz/corpus/<target>/`)
//! and every crash reproducer (`fuzz/regressions/<target>/`) goes through exactly the checks
//! the fuzz targets run (`fuzz/src/lib.rs`, included below), so `cargo test` catches a
//! regression without nightly or cargo-fuzz. See `docs/fuzzing.md`.
//!
//! The model-file seeds are generated here from `vae-core`'s writer; a format change makes
//! `model_file_seeds_are_current` fail until they are rewritten with
//! `VAE_REGEN_FUZZ_SEEDS=1 cargo test -p vae-train --test reliability_fuzz_corpus`.

#[path = "../../fuzz/src/lib.rs"]
mod targets;

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use vae_core::model_file::{Calibration, Features, Transform};
use vae_core::{Activation, ScoreConfig, ScoreKind};
use vae_train::model::{Layer, ModelMeta, Network, OwnedModel};

/// A fuzz target: its directory name, its check, and the fewest seeds its corpus must hold
/// (so an emptied corpus directory fails instead of passing vacuously).
type Target = (&'static str, fn(&[u8]), usize);

const TARGETS: [Target; 4] = [
    ("model_file", targets::model_file, 11),
    ("csv", targets::csv, 20),
    ("npy", targets::npy, 8),
    ("npz", targets::npz, 3),
];

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join("fuzz")
}

/// The regular files of `dir`, sorted (none when it does not exist).
fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = match std::fs::read_dir(dir) {
        Ok(entries) => entries.filter_map(Result::ok).map(|e| e.path()).filter(|p| p.is_file()).collect(),
        Err(_) => Vec::new(),
    };
    out.retain(|p| p.file_name().is_some_and(|n| n != "README.md"));
    out.sort();
    out
}

/// Runs `check` on every file, collecting the failures instead of stopping at the first.
fn replay(check: fn(&[u8]), inputs: &[PathBuf], failures: &mut Vec<String>) {
    for path in inputs {
        let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        if let Err(p) = catch_unwind(AssertUnwindSafe(|| check(&bytes))) {
            let msg = p
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            failures.push(format!("{}: {msg}", path.display()));
        }
    }
}

#[test]
fn corpus_and_crash_reproducers_replay_clean() {
    seeds_written();
    let mut failures = Vec::new();
    for (name, check, min_seeds) in TARGETS {
        let corpus = files(&fuzz_dir().join("corpus").join(name));
        assert!(
            corpus.len() >= min_seeds,
            "fuzz/corpus/{name} holds {} files, expected >= {min_seeds}",
            corpus.len()
        );
        replay(check, &corpus, &mut failures);
        replay(check, &files(&fuzz_dir().join("regressions").join(name)), &mut failures);
    }
    assert!(failures.is_empty(), "fuzz checks failed on:\n{}", failures.join("\n"));
}

/// The replay reports a failing input by name instead of stopping or passing silently.
#[test]
fn replay_reports_every_failing_input() {
    let corpus = files(&fuzz_dir().join("corpus").join("csv"));
    let mut failures = Vec::new();
    replay(|bytes| assert!(!bytes.is_empty(), "empty input"), &corpus, &mut failures);
    assert_eq!(failures.len(), 1, "{failures:?}");
    assert!(failures[0].contains("empty.csv") && failures[0].contains("empty input"), "{failures:?}");
}

/// A small deterministic layer.
fn layer(inputs: usize, outputs: usize, activation: Activation, salt: usize) -> Layer {
    let mut l = Layer::zeros(inputs, outputs, activation);
    for (k, w) in l.weight.iter_mut().enumerate() {
        *w = (((k + salt) * 37 % 23) as f32 - 11.0) / 16.0;
    }
    for (k, b) in l.bias.iter_mut().enumerate() {
        *b = ((k + salt) % 5) as f32 * 0.125 - 0.25;
    }
    l
}

struct Spec {
    file: &'static str,
    name: &'static str,
    window: usize,
    hop: usize,
    channels: &'static [&'static str],
    hidden: &'static [usize],
    latent: usize,
    activation: Activation,
    score: (ScoreKind, u16),
    thresholds: &'static [(f32, f32)],
    transform: Transform,
}

const SPECS: [Spec; 8] = [
    Spec {
        file: "det_2x2.vaem",
        name: "tiny",
        window: 2,
        hop: 1,
        channels: &["a", "b"],
        hidden: &[3],
        latent: 2,
        activation: Activation::Tanh,
        score: (ScoreKind::Deterministic, 1),
        thresholds: &[(0.995, 3.5)],
        transform: Transform::Raw,
    },
    Spec {
        file: "elbo_deep.vaem",
        name: "pump station 7",
        window: 3,
        hop: 2,
        channels: &["Pressure", "Flow", "Température"],
        hidden: &[6, 4],
        latent: 2,
        activation: Activation::Relu,
        score: (ScoreKind::Elbo, 4),
        thresholds: &[(0.995, 12.25), (0.99, 10.0), (0.999, 15.5)],
        transform: Transform::Raw,
    },
    Spec {
        file: "iwae_1ch_uncalibrated.vaem",
        name: "",
        window: 4,
        hop: 4,
        channels: &["DE"],
        hidden: &[2],
        latent: 1,
        activation: Activation::Sigmoid,
        score: (ScoreKind::Iwae, 8),
        thresholds: &[],
        transform: Transform::Raw,
    },
    Spec {
        file: "recon_prob_8_thresholds.vaem",
        name: "rp",
        window: 1,
        hop: 1,
        channels: &["x", "y", "z"],
        hidden: &[4, 3, 2],
        latent: 1,
        activation: Activation::Tanh,
        score: (ScoreKind::ReconProb, 2),
        thresholds: &[
            (0.5, -1.0),
            (0.9, 0.0),
            (0.95, 0.5),
            (0.99, 1.0),
            (0.995, 1.5),
            (0.999, 2.0),
            (0.0, -3.0),
            (1.0, 9.0),
        ],
        transform: Transform::Raw,
    },
    Spec {
        file: "det_max_depth.vaem",
        name: "deep",
        window: 2,
        hop: 1,
        channels: &["c"],
        hidden: &[2, 2, 2, 2, 2, 2, 2, 2],
        latent: 1,
        activation: Activation::Relu,
        score: (ScoreKind::Deterministic, 1),
        thresholds: &[(0.99, 1.0)],
        transform: Transform::Raw,
    },
    Spec {
        file: "diff_smoothed.vaem",
        name: "diff",
        window: 5,
        hop: 2,
        channels: &["a", "b"],
        hidden: &[4],
        latent: 2,
        activation: Activation::Tanh,
        score: (ScoreKind::Elbo, 2),
        thresholds: &[(0.99, 4.0)],
        transform: Transform { features: Features::Diff, wandering: 0, smoothing: 3 },
    },
    Spec {
        file: "spectrum_wandering.vaem",
        name: "spectrum",
        window: 8,
        hop: 4,
        channels: &["vib", "temp"],
        hidden: &[6],
        latent: 2,
        activation: Activation::Relu,
        score: (ScoreKind::Deterministic, 1),
        thresholds: &[(0.995, 7.0)],
        transform: Transform { features: Features::Spectrum, wandering: 0b10, smoothing: 4 },
    },
    Spec {
        file: "stats_demean.vaem",
        name: "stats",
        window: 3,
        hop: 1,
        channels: &["p", "q", "r"],
        hidden: &[3],
        latent: 1,
        activation: Activation::Sigmoid,
        score: (ScoreKind::ReconProb, 3),
        thresholds: &[(0.9, 2.0)],
        transform: Transform { features: Features::Demean, wandering: 0b101, smoothing: 1 },
    },
];

fn model(s: &Spec) -> OwnedModel {
    let x = s.transform.input_len(s.window, s.channels.len());
    let mut width = x;
    let mut encoder = Vec::new();
    for (i, &h) in s.hidden.iter().enumerate() {
        encoder.push(layer(width, h, s.activation, i));
        width = h;
    }
    let mut decoder = Vec::new();
    let mut dw = s.latent;
    for (i, &h) in s.hidden.iter().rev().enumerate() {
        decoder.push(layer(dw, h, s.activation, 10 + i));
        dw = h;
    }
    OwnedModel {
        meta: ModelMeta {
            weights: vae_core::weights::Encoding::F32,
            name: s.name.into(),
            seed: x as u64 * 1000 + s.latent as u64,
            window: s.window,
            hop: s.hop,
            channels: s.channels.iter().map(|c| c.to_string()).collect(),
            norm_mean: (0..s.channels.len()).map(|c| c as f32 - 0.5).collect(),
            norm_std: (0..s.channels.len()).map(|c| 0.5 + c as f32).collect(),
            score: ScoreConfig::new(s.score.0, s.score.1).expect("valid score"),
            transform: s.transform,
        },
        net: Network {
            encoder,
            mu: layer(width, s.latent, Activation::Identity, 5),
            log_var: layer(width, s.latent, Activation::Identity, 6),
            decoder,
            mean: layer(dw, x, Activation::Identity, 7),
            decoder_log_var: (0..x).map(|i| (i % 3) as f32 * 0.25 - 0.25).collect(),
        },
        thresholds: s
            .thresholds
            .iter()
            .map(|&(quantile, threshold)| Calibration { quantile, threshold })
            .collect(),
        // Calibrated seeds carry a learning alarm rule, so the fuzzer mutates its bytes too;
        // those with an odd number of thresholds a spread floor (format version 4).
        alarm: match s.thresholds.len() {
            0 => vae_core::AlarmRule::STATIC,
            n => vae_core::AlarmRule {
                learn: 32,
                relearn_after: 8,
                margin: 14.1,
                guard: 50.0,
                floor: if n % 2 == 1 { 1.5 } else { 0.0 },
            },
        },
    }
}

/// The model-file seeds: valid files of every score kind, depth 1 to 8, 0 to 8 thresholds,
/// UTF-8 names, four input front ends with smoothing and wandering channels; and three
/// damaged ones (one bit flipped, truncated, unknown version).
fn seed_models() -> Vec<(String, Vec<u8>)> {
    let mut out: Vec<(String, Vec<u8>)> = SPECS
        .iter()
        .map(|s| (s.file.to_string(), model(s).to_bytes().unwrap_or_else(|e| panic!("{}: {e}", s.file))))
        .collect();
    let valid = out[0].1.clone();
    let mut flipped = valid.clone();
    flipped[60] ^= 0x10;
    let mut version = valid.clone();
    version[4] = 2;
    out.push(("bad_crc.vaem".into(), flipped));
    out.push(("truncated.vaem".into(), valid[..40].to_vec()));
    out.push(("version_2.vaem".into(), version));
    out
}

/// With `VAE_REGEN_FUZZ_SEEDS` set, writes the model-file seeds (once per run, before any
/// test reads them).
fn seeds_written() {
    static DONE: std::sync::Once = std::sync::Once::new();
    DONE.call_once(|| {
        if std::env::var_os("VAE_REGEN_FUZZ_SEEDS").is_some() {
            let dir = fuzz_dir().join("corpus").join("model_file");
            for (file, bytes) in seed_models() {
                let path = dir.join(&file);
                std::fs::write(&path, &bytes).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            }
        }
    });
}

#[test]
fn model_file_seeds_are_current() {
    seeds_written();
    let dir = fuzz_dir().join("corpus").join("model_file");
    for (file, bytes) in seed_models() {
        let path = dir.join(&file);
        let committed = std::fs::read(&path).unwrap_or_default();
        assert!(
            committed == bytes,
            "{} is not what vae-core's writer produces now; rewrite the seeds with \
             VAE_REGEN_FUZZ_SEEDS=1 cargo test -p vae-train --test reliability_fuzz_corpus",
            path.display()
        );
    }
}
