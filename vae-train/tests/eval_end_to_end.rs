//! `vae-train eval` end to end on the simulated machine: `synth` writes a test recording with
//! an `anomaly` column; a model trained on the normal recording is evaluated with `--json`
//! and `--report`; the numbers agree with the window labels and with each other.

use clap::Parser;
use std::path::Path;

fn run(args: &[&str]) -> Result<(), vae_train::Error> {
    let mut full = vec!["vae-train"];
    full.extend_from_slice(args);
    let cli = vae_train::cli::Cli::try_parse_from(&full).unwrap_or_else(|e| panic!("{e}"));
    vae_train::cli::run(cli)
}

fn s(p: &Path) -> String {
    p.to_str().unwrap().to_string()
}

fn synth(dir: &Path) {
    run(&["synth", "--out", &s(dir), "--train-rows", "4000", "--test-rows", "2400", "--seed", "3"]).unwrap();
}

fn fit(dir: &Path, name: &str, extra: &[&str]) -> std::path::PathBuf {
    let model = dir.join(name);
    let train = s(&dir.join("train.csv"));
    let out = s(&model);
    let mut a = vec![
        "fit",
        "--no-auto",
        "--data",
        &train,
        "--window",
        "16",
        "--hop",
        "4",
        "--epochs",
        "15",
        "--quiet",
        "--out",
        &out,
    ];
    a.extend_from_slice(extra);
    run(&a).unwrap();
    model
}

/// Per-window labels of test.csv computed here, independently of the eval module.
fn expected_labels(dir: &Path, window: usize, hop: usize) -> Vec<bool> {
    let text = std::fs::read_to_string(dir.join("test.csv")).unwrap();
    let rows: Vec<bool> = text.lines().skip(1).map(|l| l.ends_with(",1")).collect();
    (0..=(rows.len() - window) / hop).map(|k| rows[k * hop..k * hop + window].iter().any(|&x| x)).collect()
}

#[test]
fn json_report_and_labels_agree() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    synth(d);
    let model = fit(d, "raw.vaem", &[]);
    let e = {
        let m = vae_train::OwnedModel::load(&model).unwrap();
        let src = vae_train::eval::LabelSource::Column {
            files: vec![d.join("test.csv")],
            column: "anomaly".into(),
        };
        let opts =
            vae_train::data::LoadOptions { columns: Some(m.meta.channels.clone()), ..Default::default() };
        let recs = src.load(&opts).unwrap();
        let train =
            vae_train::data::load(&[d.join("train.csv")], &vae_train::data::LoadOptions::default()).unwrap();
        vae_train::eval::evaluate(&m, &recs, m.meta.score, Some(&train)).unwrap()
    };
    let labels = expected_labels(d, 16, 4);
    assert_eq!(e.windows.len(), labels.len());
    assert_eq!(e.windows.iter().map(|w| w.label).collect::<Vec<_>>(), labels);
    let m = e.metrics;
    let p = m.anomalous_windows as f64 / m.windows as f64;
    assert_eq!(m.anomalous_windows, labels.iter().filter(|&&l| l).count());
    // Flagging everything: F1 = 2p / (1 + p).
    assert!((e.flag_all.f1.unwrap() - 2.0 * p / (1.0 + p)).abs() < 1e-12);
    // The injected faults are found far better than by chance.
    assert!(m.roc_auc.unwrap() > 0.8, "{m:?}");
    assert!(m.best_f1.unwrap() >= m.f1.unwrap());
    assert!(m.best_f1.unwrap() > e.flag_all.f1.unwrap());
    assert_eq!(e.pca_components, 8);
    // The decisions are those of `vae-train score`.
    let host = d.join("host.csv");
    run(&["score", "--model", &s(&model), "--data", &s(&d.join("test.csv")), "--out", &s(&host)]).unwrap();
    let text = std::fs::read_to_string(&host).unwrap();
    let flags: Vec<bool> = text.lines().skip(1).map(|l| l.split(',').nth(4) == Some("yes")).collect();
    assert_eq!(
        flags,
        e.windows.iter().map(|w| w.decision == vae_core::Decision::Anomalous).collect::<Vec<_>>()
    );

    // --json prints one object with the documented keys; --report writes the report.
    let report = d.join("report");
    let json_file = d.join("eval.json");
    let exe = env!("CARGO_BIN_EXE_vae-train");
    let out = std::process::Command::new(exe)
        .args(["eval", "--model", &s(&model), "--data", &s(&d.join("test.csv")), "--labels", "anomaly"])
        .args(["--train", &s(&d.join("train.csv")), "--json", "--report", &s(&report)])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    std::fs::write(&json_file, &out.stdout).unwrap();
    let j: serde_json::Value = serde_json::from_slice(&out.stdout).expect("stdout is one JSON object");
    for key in ["roc_auc", "pr_auc", "best_f1", "f1", "precision", "recall", "windows", "anomalous_windows"] {
        assert!(j.get(key).is_some(), "missing {key} in {j}");
    }
    assert_eq!(j["windows"].as_u64(), Some(m.windows as u64));
    assert!((j["roc_auc"].as_f64().unwrap() - m.roc_auc.unwrap()).abs() < 1e-12);
    assert!(j["baselines"]["no_training"]["roc_auc"].as_f64().is_some());
    assert!(j["baselines"]["pca"]["roc_auc"].as_f64().is_some());
    for f in ["report.md", "scores.png", "histogram.png", "roc.png", "windows.csv"] {
        let bytes = std::fs::read(report.join(f)).unwrap_or_else(|e| panic!("{f}: {e}"));
        assert!(bytes.len() > 100, "{f}");
        if f.ends_with(".png") {
            assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "{f}");
        }
    }
    let md = std::fs::read_to_string(report.join("report.md")).unwrap();
    assert!(md.contains("| model |") && md.contains("no-training score") && md.contains("!["), "{md}");
}

#[test]
fn transform_and_smoothing_models_and_whole_file_labels() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    synth(d);
    let model = fit(d, "stats.vaem", &["--transform", "stats", "--wandering", "auto", "--smooth", "4"]);
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_vae-train"))
        .args([
            "eval",
            "--model",
            &s(&model),
            "--data",
            &s(&d.join("test.csv")),
            "--labels",
            "anomaly",
            "--json",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let j: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!((j["transform"].as_str(), j["smoothing"].as_u64()), (Some("stats"), Some(4)));
    assert!(j["roc_auc"].as_f64().unwrap() > 0.7, "{j}");
    assert!(j["baselines"]["pca"].is_null(), "no --train: no PCA reference");

    // Whole recordings: the normal one (its last 30%) against the faulty one.
    let m = vae_train::OwnedModel::load(&model).unwrap();
    let src = vae_train::eval::LabelSource::Files {
        normal: vec![d.join("train.csv")],
        anomalous: vec![d.join("test.csv")],
    };
    let opts = vae_train::data::LoadOptions { columns: Some(m.meta.channels.clone()), ..Default::default() };
    let recs = src.load(&opts).unwrap();
    let e = vae_train::eval::evaluate(&m, &recs, m.meta.score, None).unwrap();
    assert_eq!(e.recordings.len(), 2);
    assert_eq!(e.recordings[0].anomalous_windows, 0);
    assert_eq!(e.recordings[1].anomalous_windows, e.recordings[1].windows);
    assert!(e.metrics.roc_auc.is_some());
    // A score other than the calibrated one reports no F1 at the threshold, with a note.
    let iwae = vae_core::ScoreConfig::new(vae_core::ScoreKind::Iwae, 2).unwrap();
    let e = vae_train::eval::evaluate(&m, &recs, iwae, None).unwrap();
    assert_eq!(e.metrics.f1, None);
    assert!(e.notes.iter().any(|n| n.contains("calibrated")), "{:?}", e.notes);
}
