//! Weights stored as f16 or int8, through the real binary: `fit --weights` writes the
//! encoding and calibrates the threshold on the scores of the stored weights, `convert`
//! re-encodes a file under the output rules, and `inspect` says how the weights are stored.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use vae_core::weights::{f16_to_f32, f32_to_f16, Encoding};
use vae_train::data::{self, LoadOptions, NanPolicy};
use vae_train::model::AlignedBytes;
use vae_train::pipeline::{self, AutoParts, FitPlan};
use vae_train::{scoring, OwnedModel};

const BIN: &str = env!("CARGO_BIN_EXE_vae-train");
/// Rows of the simulated training recording, and the share `fit` holds out (its default).
const ROWS: usize = 600;
const VAL_FRACTION: f64 = 0.2;

fn run(args: &[&str]) -> Output {
    Command::new(BIN).args(args).output().unwrap_or_else(|e| panic!("cannot run {BIN}: {e}"))
}

fn ok(args: &[&str]) -> String {
    let out = run(args);
    let (o, e) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{args:?}\nstdout:\n{o}\nstderr:\n{e}");
    o.into_owned()
}

/// Runs `args`, expecting failure with `expected` in the error.
fn fails(args: &[&str], expected: &str) {
    let out = run(args);
    let e = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{args:?} succeeded");
    assert!(e.contains(expected), "{args:?}: expected `{expected}` in:\n{e}");
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// `train.csv` and `test.csv` of a small simulated machine in `dir`.
fn synth(dir: &Path) -> (PathBuf, PathBuf) {
    let d = dir.join("synth");
    ok(&["synth", "--out", s(&d), "--train-rows", "600", "--test-rows", "60", "--seed", "2"]);
    (d.join("train.csv"), d.join("test.csv"))
}

/// A short plain fit of `train` to `out` with the weights stored as `weights` (the same
/// name for every encoding, so files differ only where the encoding makes them).
fn fit(train: &Path, out: &Path, weights: &str) -> String {
    ok(&[
        "fit",
        "--no-auto",
        "--data",
        s(train),
        "--out",
        s(out),
        "--window",
        "16",
        "--hop",
        "4",
        "--hidden",
        "8",
        "--latent",
        "2",
        "--epochs",
        "3",
        "--quiet",
        "--name",
        "m",
        "--weights",
        weights,
    ])
}

/// The encoding a model file's header records for its weights.
fn header_weights(path: &Path) -> Option<Encoding> {
    let bytes = fs::read(path).unwrap();
    let aligned = AlignedBytes::new(&bytes);
    vae_core::ModelFile::parse(aligned.bytes()).unwrap().header().weights()
}

/// The `score` column of `vae-train score` on `data`.
fn cli_scores(model: &Path, data: &Path) -> Vec<f32> {
    let csv = ok(&["score", "--model", s(model), "--data", s(data)]);
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let col = header.iter().position(|h| *h == "score").unwrap();
    lines.map(|l| l.split(',').nth(col).unwrap().parse().unwrap()).collect()
}

/// The model's decision scores on the validation rows `fit` held out of `train`, and the
/// 0.995 quantile of them as `fit` takes it.
fn validation_threshold(model: &OwnedModel, train: &Path) -> f32 {
    let opts = LoadOptions {
        columns: Some(model.meta.channels.clone()),
        nan: NanPolicy::Keep,
        ..LoadOptions::default()
    };
    let all = data::load(&[train.to_path_buf()], &opts).unwrap();
    let n = all[0].rows();
    assert_eq!(n, ROWS);
    let val_rows = (n as f64 * VAL_FRACTION).round() as usize;
    let mut val = vec![all[0].slice(n - val_rows..n)];
    let scored = pipeline::score(model, &mut val, model.meta.score).unwrap();
    let q = (1.0 - 0.005f64) as f32;
    scoring::calibrate(&scored, q).unwrap().value()
}

#[test]
fn fit_stores_the_encoding_and_calibrates_on_its_scores() {
    let dir = tempfile::tempdir().unwrap();
    let (train, test) = synth(dir.path());
    let f32_path = dir.path().join("f32.vaem");
    let printed = fit(&train, &f32_path, "f32");
    assert!(!printed.contains("weights stored as"), "{printed}");
    assert_eq!(header_weights(&f32_path), Some(Encoding::F32));
    let plain = OwnedModel::load(&f32_path).unwrap();
    let f32_weights = pipeline::weight_bytes(&plain.net, Encoding::F32);
    let f32_len = fs::metadata(&f32_path).unwrap().len() as usize;
    // The method below gives the f32 fit's own threshold: it finds what fit calibrates on.
    assert_eq!(validation_threshold(&plain, &train), plain.thresholds[0].threshold);
    let reference = cli_scores(&f32_path, &test);
    assert!(!reference.is_empty() && reference.iter().all(|v| v.is_finite()));

    for (enc, share, tolerance) in [(Encoding::F16, 0.5, 1e-3), (Encoding::Int8, 0.25, 2e-2)] {
        let path = dir.path().join(format!("{}.vaem", enc.name()));
        let printed = fit(&train, &path, enc.name());
        assert!(printed.contains(&format!("weights stored as {}:", enc.name())), "{printed}");
        assert_eq!(header_weights(&path), Some(enc));
        let model = OwnedModel::load(&path).unwrap();
        assert_eq!(model.meta.weights, enc);
        // Trained as the f32 model was, then rounded: the same network, encoded.
        assert_eq!(model.net, pipeline::encode(plain.clone(), enc).unwrap().net);

        // Smaller by what the weights save: f16 half of their bytes, int8 about a quarter
        // (plus a scale per output row).
        let bytes = pipeline::weight_bytes(&model.net, enc);
        let len = fs::metadata(&path).unwrap().len() as usize;
        assert_eq!(f32_len - len, f32_weights - bytes, "{}", enc.name());
        let ratio = bytes as f64 / f32_weights as f64;
        assert!(ratio >= share && ratio < share + 0.1, "{}: {bytes} of {f32_weights} bytes", enc.name());
        assert!(printed.contains(&format!("{bytes} bytes of weights instead of {f32_weights}")), "{printed}");

        // The threshold is the 0.995 quantile of the encoded model's own validation scores,
        // and the rounding moved it away from the f32 fit's.
        let t = model.thresholds[0].threshold;
        assert_eq!(t, validation_threshold(&model, &train), "{}", enc.name());
        assert_ne!(t, plain.thresholds[0].threshold, "{}", enc.name());

        // The device's scores with the stored weights stay close to the f32 model's.
        let scores = cli_scores(&path, &test);
        assert_eq!(scores.len(), reference.len());
        assert!(scores.iter().all(|v| v.is_finite()), "{}", enc.name());
        let worst = scores
            .iter()
            .zip(&reference)
            .map(|(a, b)| f64::from((a - b).abs()) / f64::from(b.abs()).max(1e-6))
            .fold(0.0f64, f64::max);
        println!(
            "{}: {len} bytes (f32 {f32_len}), weights {bytes} of {f32_weights} bytes; threshold {t} (f32 {}); \
             largest relative score difference on test.csv {worst:.2e}",
            enc.name(),
            plain.thresholds[0].threshold
        );
        assert!(worst > 0.0 && worst < tolerance, "{}: {worst}", enc.name());
    }
}

#[test]
fn the_search_calibrates_its_chosen_model_with_the_encoding() {
    let dir = tempfile::tempdir().unwrap();
    let (train, _) = synth(dir.path());
    let opts = LoadOptions { min_rows: 16, ..LoadOptions::default() };
    let recs = data::load(&[train], &opts).unwrap();
    let plan = FitPlan {
        window: 16,
        hop: 4,
        hidden: vec![8],
        latent: 2,
        epochs: 2,
        weights: Encoding::Int8,
        ..FitPlan::default()
    };
    // Only the smoothing is searched: one candidate to train.
    let parts = AutoParts { smoothing: true, ..AutoParts::NONE };
    let (fitted, _) = pipeline::fit_auto(&recs, &plan, parts, None, &mut |_| {}).unwrap();
    assert_eq!(fitted.model.meta.weights, Encoding::Int8);
    let r = fitted.rounded.expect("an int8 fit reports what the rounding changed");
    assert_eq!(r.weights, Encoding::Int8);
    assert!(r.bytes < r.f32_bytes);
    // The model holds the int8 values: writing and reading them again changes nothing.
    let bytes = fitted.model.to_bytes().unwrap();
    assert_eq!(OwnedModel::from_bytes(&bytes).unwrap(), fitted.model);
}

#[test]
fn convert_round_trips_and_follows_the_output_rules() {
    let dir = tempfile::tempdir().unwrap();
    let (train, test) = synth(dir.path());
    let original = dir.path().join("m.vaem");
    fit(&train, &original, "f32");
    let before = fs::read(&original).unwrap();
    let m = OwnedModel::load(&original).unwrap();
    let (half, back) = (dir.path().join("half.vaem"), dir.path().join("back.vaem"));

    let said = ok(&["convert", "--model", s(&original), "--weights", "f16", "--out", s(&half)]);
    assert!(said.contains("weights f32 -> f16"), "{said}");
    assert!(said.contains("calibrated on the scores of the f32 weights"), "{said}");
    assert!(said.contains("fit --weights f16"), "{said}");
    assert_eq!(header_weights(&half), Some(Encoding::F16));

    let said =
        ok(&["convert", "--model", s(&half), "--weights", "f32", "--out", s(&back), "--data", s(&test)]);
    assert!(said.contains("cannot restore the trained values"), "{said}");
    assert!(said.contains("the thresholds still hold"), "{said}");
    assert!(said.contains("moved by at most 0 ") && said.contains(" 0 decision(s) changed"), "{said}");
    assert_eq!(header_weights(&back), Some(Encoding::F32));
    // The f32 file holds exactly the f16 values of the trained weights; the rest is kept.
    let b = OwnedModel::load(&back).unwrap();
    for (l, k) in b.net.layers().zip(m.net.layers()) {
        for (w, trained) in l.weight.iter().zip(&k.weight) {
            assert_eq!(w.to_bits(), f16_to_f32(f32_to_f16(*trained)).to_bits());
        }
        assert_eq!(l.bias, k.bias);
    }
    assert_eq!(b.net, OwnedModel::load(&half).unwrap().net);
    assert_eq!((&b.thresholds, b.alarm, &b.meta.name), (&m.thresholds, m.alarm, &m.meta.name));

    // Never over the input, --force or not; an existing output only with --force.
    fails(
        &["convert", "--model", s(&original), "--weights", "int8", "--out", s(&original)],
        "is also an input",
    );
    fails(
        &["convert", "--model", s(&original), "--weights", "int8", "--out", s(&original), "--force"],
        "is also an input",
    );
    let kept = fs::read(&half).unwrap();
    fails(&["convert", "--model", s(&original), "--weights", "int8", "--out", s(&half)], "pass --force");
    assert_eq!(fs::read(&half).unwrap(), kept);
    // A --data file that cannot be read leaves the output as it was.
    fails(
        &[
            "convert",
            "--model",
            s(&original),
            "--weights",
            "int8",
            "--out",
            s(&half),
            "--force",
            "--data",
            s(&dir.path().join("missing.csv")),
        ],
        "missing.csv",
    );
    assert_eq!(fs::read(&half).unwrap(), kept);
    ok(&["convert", "--model", s(&original), "--weights", "int8", "--out", s(&half), "--force"]);
    assert_eq!(header_weights(&half), Some(Encoding::Int8));
    fails(
        &["convert", "--model", s(&original), "--weights", "f8", "--out", s(&back)],
        "use f32, f16 or int8",
    );
    assert_eq!(fs::read(&original).unwrap(), before);
    // Written atomically: no temporary file is left beside the outputs.
    let mut names: Vec<String> = fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["back.vaem", "half.vaem", "m.vaem", "m.vaem.log.csv", "synth"], "{names:?}");
}

#[test]
fn inspect_says_how_the_weights_are_stored() {
    let dir = tempfile::tempdir().unwrap();
    let (train, _) = synth(dir.path());
    let (plain, half) = (dir.path().join("m.vaem"), dir.path().join("h.vaem"));
    fit(&train, &plain, "f32");
    ok(&["convert", "--model", s(&plain), "--weights", "f16", "--out", s(&half)]);
    let parameters = |text: &str| text.lines().find(|l| l.contains("parameters")).unwrap().to_string();
    let shown = ok(&["inspect", s(&plain)]);
    assert!(parameters(&shown).ends_with("(f32)"), "{shown}");
    let (len, f32_len) = (fs::metadata(&half).unwrap().len(), fs::metadata(&plain).unwrap().len());
    let shown_half = ok(&["inspect", s(&half)]);
    assert!(parameters(&shown_half).ends_with("(f16 weights, f32 biases)"), "{shown_half}");
    assert!(
        shown_half.contains(&format!("flash       {len} bytes ({f32_len} with f32 weights")),
        "{shown_half}"
    );
    // The same parameters, however they are stored.
    let count = |line: String| line.split_whitespace().nth(1).unwrap().to_string();
    assert_eq!(count(parameters(&shown)), count(parameters(&shown_half)));
}
