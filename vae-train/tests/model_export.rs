//! The model-file issue's host side: `inspect`, safetensors `export`/`import` round trips,
//! and the errors of each, through the real `vae-train` binary.

use std::path::Path;
use std::process::Command;
use vae_core::model_file::{Calibration, Transform};
use vae_core::transform::Features;
use vae_core::{Activation, ScoreConfig, ScoreKind};
use vae_train::{Layer, ModelMeta, Network, OwnedModel};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_vae-train"))
}

fn layer(i: usize, o: usize, a: Activation, seed: usize) -> Layer {
    let mut l = Layer::zeros(i, o, a);
    for (k, w) in l.weight.iter_mut().enumerate() {
        *w = (((k * 31 + seed * 17) % 23) as f32 - 11.0) / 40.0;
    }
    for (k, b) in l.bias.iter_mut().enumerate() {
        *b = (k as f32 - 1.0) / 10.0;
    }
    l
}

fn model() -> OwnedModel {
    model_with(Transform::Raw, 8)
}

/// A model whose input is `x` values produced by `transform` from windows of 4 x 2.
fn model_with(transform: Transform, x: usize) -> OwnedModel {
    OwnedModel {
        meta: ModelMeta {
            weights: vae_core::weights::Encoding::F32,
            name: "pump 3, rev b".into(),
            seed: 42,
            window: 4,
            hop: 2,
            channels: vec!["pressure".into(), "flow rate".into()],
            norm_mean: vec![1.5, -2.0],
            norm_std: vec![0.5, 3.0],
            score: ScoreConfig::new(ScoreKind::Iwae, 16).unwrap(),
            transform,
        },
        net: Network {
            encoder: vec![layer(x, 6, Activation::Tanh, 1), layer(6, 5, Activation::Relu, 2)],
            mu: layer(5, 3, Activation::Identity, 3),
            log_var: layer(5, 3, Activation::Identity, 4),
            decoder: vec![layer(3, 5, Activation::Relu, 5), layer(5, 6, Activation::Tanh, 6)],
            mean: layer(6, x, Activation::Identity, 7),
            decoder_log_var: (0..x).map(|i| (i as f32 - 3.0) / 20.0).collect(),
        },
        thresholds: vec![
            Calibration { quantile: 0.995, threshold: 12.25 },
            Calibration { quantile: 0.99, threshold: 11.0 },
        ],
        // A learning rule, so that every round trip carries it.
        alarm: vae_core::AlarmRule {
            learn: 32,
            relearn_after: 8,
            margin: 14.106_736,
            guard: 60.5,
            floor: 1.25,
        },
    }
}

fn run(cmd: &mut Command) -> (bool, String, String) {
    let out = cmd.output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn p(path: &Path) -> &str {
    path.to_str().unwrap()
}

#[test]
fn inspect_prints_the_header_and_verifies_the_checksum() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("m.vaem");
    model().save(&f).unwrap();
    let (ok, out, err) = run(bin().args(["inspect", p(&f)]));
    assert!(ok, "{err}");
    for want in [
        "valid model file",
        "CRC-32 ok",
        "pump 3, rev b",
        "window 4 x 2 channels = 8 values, hop 2",
        "latent      3",
        "2 encoder hidden, 2 decoder hidden",
        "iwae (K = 16)",
        "12.2500 at quantile 0.995 (decision: false-alarm rate 0.005)",
        "flow rate",
        "multiply-accumulates",
        "flash",
    ] {
        assert!(out.contains(want), "missing `{want}` in:\n{out}");
    }
    // A flipped byte: non-zero exit, the file named, the checksum mentioned.
    let mut bytes = std::fs::read(&f).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x10;
    std::fs::write(&f, &bytes).unwrap();
    let (ok, out, err) = run(bin().args(["inspect", p(&f)]));
    assert!(!ok && out.is_empty(), "{out}");
    assert!(err.contains("m.vaem") && err.contains("CRC-32"), "{err}");
    assert!(!err.contains("panicked"));
}

#[test]
fn safetensors_round_trip_is_exact() {
    let dir = tempfile::tempdir().unwrap();
    let (m, st, back) =
        (dir.path().join("m.vaem"), dir.path().join("m.safetensors"), dir.path().join("back.vaem"));
    model().save(&m).unwrap();
    let (ok, _, err) = run(bin().args(["export", "--model", p(&m), "--safetensors", p(&st)]));
    assert!(ok, "{err}");
    // Refuses to clobber.
    let (ok, _, err) = run(bin().args(["export", "--model", p(&m), "--safetensors", p(&st)]));
    assert!(!ok && err.contains("--force"), "{err}");
    let (ok, out, err) = run(bin().args(["import", "--safetensors", p(&st), "--out", p(&back)]));
    assert!(ok, "{err}");
    assert!(out.contains("valid model file"));
    assert_eq!(OwnedModel::load(&back).unwrap(), model());
    assert_eq!(std::fs::read(&back).unwrap(), std::fs::read(&m).unwrap(), "byte-identical model file");

    // The tensors carry PyTorch's names and shapes.
    let bytes = std::fs::read(&st).unwrap();
    let t = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let shape = |n: &str| t.tensor(n).unwrap().shape().to_vec();
    assert_eq!(shape("encoder.0.weight"), [6, 8]);
    assert_eq!(shape("encoder.1.bias"), [5]);
    assert_eq!(shape("encoder.mu.weight"), [3, 5]);
    assert_eq!(shape("decoder.out.weight"), [8, 6]);
    assert_eq!(shape("decoder.log_var"), [8]);
    assert_eq!(shape("norm.std"), [2]);

    // A front end, a wandering channel and smoothing travel too.
    let stats = Transform { features: Features::Stats, wandering: 0b10, smoothing: 4 };
    let m2 = model_with(stats, 4);
    let back =
        vae_train::export::from_safetensors(&vae_train::export::to_safetensors(&m2).unwrap(), "m2").unwrap();
    assert_eq!(back, m2);
    assert_eq!(OwnedModel::from_bytes(&m2.to_bytes().unwrap()).unwrap(), m2);
}

#[test]
fn import_names_what_is_wrong() {
    let dir = tempfile::tempdir().unwrap();
    let st = dir.path().join("x.safetensors");
    let out = dir.path().join("x.vaem");
    std::fs::write(&st, b"not safetensors").unwrap();
    let (ok, _, err) = run(bin().args(["import", "--safetensors", p(&st), "--out", p(&out)]));
    assert!(!ok && err.contains("x.safetensors") && err.contains("not a safetensors file"), "{err}");
    assert!(!out.exists());

    // A tensor missing: named.
    let bytes = vae_train::export::to_safetensors(&model()).unwrap();
    let t = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let (_, meta) = safetensors::SafeTensors::read_metadata(&bytes).unwrap();
    let kept: Vec<(String, safetensors::tensor::TensorView<'_>)> =
        t.tensors().into_iter().filter(|(n, _)| n != "decoder.log_var").collect();
    let cut = safetensors::serialize(kept, meta.metadata()).unwrap();
    std::fs::write(&st, cut).unwrap();
    let (ok, _, err) = run(bin().args(["import", "--safetensors", p(&st), "--out", p(&out)]));
    assert!(!ok && err.contains("decoder.log_var") && err.contains("missing"), "{err}");
    assert!(!out.exists());
}
