//! Compact weights on the device: a model stored with f16 or int8 weights (one scale per
//! row) scores on the emulated Cortex-M4F exactly as the host scores the same file (which
//! holds the dequantised weights), and its scores stay close to the f32 model's: the
//! largest difference is printed and bounded.

use std::path::Path;
use std::time::Duration;
use vae_core::weights::Encoding;
use vae_e2e::device::{compare, read_host_scores, HostWindow};
use vae_e2e::qemu;

fn cli(args: &[&str]) {
    vae_e2e::vae_train(args).unwrap_or_else(|e| panic!("{e}"));
}

fn host(model: &Path, data: &Path, out: &Path) -> Vec<HostWindow> {
    let s = |p: &Path| p.to_str().unwrap().to_string();
    cli(&["score", "--model", &s(model), "--data", &s(data), "--out", &s(out), "--force"]);
    read_host_scores(&std::fs::read_to_string(out).unwrap()).unwrap()
}

#[test]
fn f16_and_int8_models_score_on_the_device_as_on_the_host() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let s = |p: &Path| p.to_str().unwrap().to_string();
    cli(&["synth", "--out", &s(d), "--train-rows", "4000", "--test-rows", "2000", "--seed", "4"]);
    let f32_model = d.join("f32.vaem");
    cli(&[
        "fit",
        "--no-auto",
        "--data",
        &s(&d.join("train.csv")),
        "--window",
        "16",
        "--hop",
        "4",
        "--hidden",
        "32",
        "--latent",
        "8",
        "--epochs",
        "20",
        "--quiet",
        "--out",
        &s(&f32_model),
    ]);
    let test = d.join("test.csv");
    let reference = host(&f32_model, &test, &d.join("f32.csv"));
    let full = vae_train::OwnedModel::load(&f32_model).unwrap();
    let f32_len = std::fs::metadata(&f32_model).unwrap().len();
    for (enc, bound) in [(Encoding::F16, 2e-3), (Encoding::Int8, 5e-2)] {
        let mut m = full.clone();
        m.meta.weights = enc;
        let path = d.join(format!("{}.vaem", enc.name()));
        m.save(&path).unwrap();
        let len = std::fs::metadata(&path).unwrap().len();
        let loaded = vae_train::OwnedModel::load(&path).unwrap();
        assert_eq!(loaded.meta.weights, enc);
        let scores = host(&path, &test, &d.join(format!("{}.csv", enc.name())));
        // The accuracy cost: the largest score difference against the f32 model, relative
        // to the spread of the f32 scores.
        let spread = reference.iter().filter_map(|w| w.score).fold(0.0f32, |m, v| m.max(v.abs()));
        let worst = scores
            .iter()
            .zip(&reference)
            .filter_map(|(a, b)| Some((a.score? - b.score?).abs()))
            .fold(0.0f32, f32::max);
        eprintln!(
            "{}: {len} bytes ({:.0}% of f32's {f32_len}), largest score difference {worst:.4} ({:.2e} of the largest score)",
            enc.name(),
            100.0 * len as f64 / f32_len as f64,
            worst / spread
        );
        assert!(worst / spread < bound, "{}: {worst} against {spread}", enc.name());
        // Without the reader of compact weights, the build says what to enable.
        let err = qemu::Build {
            model: Some(path.clone()),
            target_dir: Some(qemu::workspace_root().join("target").join("e2e-weights-f32")),
            ..Default::default()
        }
        .run("firmware")
        .unwrap_err()
        .to_string();
        assert!(err.contains("enable the `compact-weights` feature of vae-core"), "{err}");
        let elf = qemu::Build {
            model: Some(path.clone()),
            features: vec!["compact-weights".into()],
            target_dir: Some(qemu::workspace_root().join("target").join("e2e-weights")),
            ..Default::default()
        }
        .run("firmware")
        .unwrap_or_else(|e| panic!("{e}"));
        let run = qemu::run(&elf, &[&s(&test)], Duration::from_secs(300)).unwrap();
        assert_eq!(run.status, 0, "{}:\n{}", enc.name(), run.lines.join("\n"));
        let parity = compare(&scores, &run.lines, loaded.thresholds[0].threshold)
            .unwrap_or_else(|e| panic!("{}: {e}", enc.name()));
        assert!(parity.windows > 400, "{parity:?}");
        eprintln!(
            "{}: device = host on {} windows (worst relative {:e})",
            enc.name(),
            parity.windows,
            parity.worst
        );
    }
}
