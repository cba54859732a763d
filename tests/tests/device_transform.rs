//! Input front ends and score smoothing on the device: a model trained with `--transform`,
//! `--wandering` and `--smooth` is embedded in the firmware, which replays the test
//! recording (with NaN samples) in QEMU; every window's score, smoothed score and decision
//! must equal the host's `vae-train score` (which applies the same `vae-core` transform and
//! smoother) to 1e-5 relative.

use std::path::Path;
use std::time::Duration;
use vae_e2e::device::{parse_summary, parse_window};
use vae_e2e::qemu;

fn cli(args: &[&str]) {
    vae_e2e::vae_train(args).unwrap_or_else(|e| panic!("{e}"));
}

/// `smoothed=` of a device line.
fn smoothed(line: &str) -> Option<f32> {
    line.split_whitespace().find_map(|w| w.strip_prefix("smoothed=")).and_then(|v| v.parse().ok())
}

fn run_case(extra_fit: &[&str], name: &str) {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let s = |p: &Path| p.to_str().unwrap().to_string();
    cli(&["synth", "--out", &s(d), "--train-rows", "6000", "--test-rows", "3000", "--seed", "5"]);
    let model = d.join(format!("{name}.vaem"));
    let mut fit = vec!["fit", "--no-auto", "--data"];
    let train = s(&d.join("train.csv"));
    let model_s = s(&model);
    fit.extend_from_slice(&[
        &train, "--window", "16", "--hop", "4", "--epochs", "12", "--quiet", "--out", &model_s,
    ]);
    fit.extend_from_slice(extra_fit);
    cli(&fit);
    // NaN samples at rows 100, 101 and 2500 of the test recording.
    let text = std::fs::read_to_string(d.join("test.csv")).unwrap();
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    for r in [100usize, 101, 2500] {
        let mut f: Vec<String> = lines[r + 1].split(',').map(str::to_string).collect();
        f[2] = "NaN".into();
        lines[r + 1] = f.join(",");
    }
    let test = d.join("test-nan.csv");
    std::fs::write(&test, lines.join("\n") + "\n").unwrap();
    let host_csv = d.join("host.csv");
    cli(&["score", "--model", &model_s, "--data", &s(&test), "--out", &s(&host_csv)]);
    let host_text = std::fs::read_to_string(&host_csv).unwrap();
    let mut host_lines = host_text.lines();
    let header: Vec<&str> = host_lines.next().unwrap().split(',').collect();
    let col = |n: &str| header.iter().position(|h| *h == n).unwrap_or_else(|| panic!("no column {n}"));
    let (c_start, c_score, c_flag, c_smooth) =
        (col("start_row"), col("score"), col("anomalous"), col("smoothed_score"));
    let host: Vec<Vec<String>> = host_lines.map(|l| l.split(',').map(str::to_string).collect()).collect();

    let elf = qemu::Build {
        model: Some(model.clone()),
        target_dir: Some(qemu::workspace_root().join("target").join(format!("e2e-{name}"))),
        ..Default::default()
    }
    .run("firmware")
    .unwrap_or_else(|e| panic!("{e}"));
    let run = qemu::run(&elf, &[test.to_str().unwrap()], Duration::from_secs(300)).unwrap();
    assert_eq!(run.status, 0, "firmware exit status; log:\n{}", run.lines.join("\n"));
    let device: Vec<(vae_e2e::device::DeviceWindow, Option<f32>)> =
        run.lines.iter().filter_map(|l| parse_window(l).map(|w| (w, smoothed(l)))).collect();
    let summary = run.lines.iter().find_map(|l| parse_summary(l)).expect("summary line");
    assert_eq!(device.len(), host.len(), "window count, device vs host");
    let threshold = vae_train::OwnedModel::load(&model).unwrap().thresholds[0].threshold;
    let close = |a: f32, b: f32| ((a - b).abs() / b.abs().max(1.0)) <= 1e-5;
    let mut flagged = 0;
    for ((d, d_smooth), h) in device.iter().zip(&host) {
        assert_eq!(d.start.to_string(), h[c_start], "window {} start", d.index);
        match (d.score, h[c_score].parse::<f32>().ok().filter(|v| !v.is_nan())) {
            (Some(ds), Some(hs)) => {
                assert!(close(ds, hs), "window {}: device score {ds}, host {hs}", d.index);
                let hsm: f32 = h[c_smooth].parse().unwrap();
                let dsm = d_smooth.expect("smoothed= on the device line");
                assert!(close(dsm, hsm), "window {}: device smoothed {dsm}, host {hsm}", d.index);
                if ((hsm - threshold).abs() / threshold.abs().max(1.0)) > 1e-5 {
                    assert_eq!(d.decision == "Anomalous", h[c_flag] == "yes", "window {} decision", d.index);
                }
                flagged += usize::from(h[c_flag] == "yes");
            }
            (None, None) => assert_eq!((d.decision.as_str(), h[c_flag].as_str()), ("Invalid", "invalid")),
            (ds, hs) => panic!("window {}: device {ds:?}, host {hs:?}", d.index),
        }
    }
    assert_eq!(summary.non_finite_values, 3);
    assert_eq!(summary.invalid, 4 + 4);
    // After the learning period; a held alarm re-learns, so a fault is not flagged throughout.
    assert!(flagged >= 5, "the injected faults should be flagged: {flagged}");
    eprintln!("{name}: {} windows, {flagged} flagged", device.len());
}

#[test]
fn stats_front_end_with_wandering_levels_and_smoothing() {
    run_case(&["--transform", "stats", "--wandering", "auto", "--smooth", "4"], "stats");
}

#[test]
fn spectrum_front_end_with_importance_weighted_score() {
    run_case(&["--transform", "spectrum", "--smooth", "3", "--score", "iwae", "--samples", "4"], "spectrum");
}

/// The longest spectrum window the model-file reader accepts
/// ([`vae_core::transform::MAX_SPECTRUM_WINDOW`], 1024 samples) runs end to end: found by a
/// hostile test pass, such a model passed `fit` and `inspect` and then panicked (index out
/// of bounds in microfft's `rfft_1024`, whose sine table was not enabled) in `vae-train
/// fit`/`score` and in the firmware. Here it trains, scores on the host, and the firmware
/// replays the recording in QEMU to the end with the host's scores and decisions.
#[test]
fn spectrum_front_end_at_the_longest_accepted_window() {
    let window = vae_core::transform::MAX_SPECTRUM_WINDOW;
    let (w, hop) = (window.to_string(), (window / 8).to_string());
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let s = |p: &Path| p.to_str().unwrap().to_string();
    cli(&["synth", "--out", &s(d), "--train-rows", "6000", "--test-rows", "3000", "--seed", "7"]);
    let model = d.join("spectrum-1024.vaem");
    let (train, test, model_s) = (s(&d.join("train.csv")), s(&d.join("test.csv")), s(&model));
    cli(&[
        "fit",
        "--no-auto",
        "--data",
        &train,
        "--window",
        &w,
        "--hop",
        &hop,
        "--transform",
        "spectrum",
        "--hidden",
        "16",
        "--latent",
        "4",
        "--epochs",
        "3",
        "--calibrate",
        "all",
        "--quiet",
        "--out",
        &model_s,
    ]);
    let host_csv = d.join("host.csv");
    cli(&["score", "--model", &model_s, "--data", &test, "--out", &s(&host_csv)]);
    let host = vae_e2e::device::read_host_scores(&std::fs::read_to_string(&host_csv).unwrap()).unwrap();
    assert_eq!(host.len(), (3000 - window) / (window / 8) + 1);
    assert!(host.iter().all(|h| h.score.is_some_and(f32::is_finite)), "{host:?}");

    let elf = qemu::Build {
        model: Some(model.clone()),
        target_dir: Some(qemu::workspace_root().join("target").join("e2e-spectrum-1024")),
        ..Default::default()
    }
    .run("firmware")
    .unwrap_or_else(|e| panic!("{e}"));
    let run = qemu::run(&elf, &[&test], Duration::from_secs(300)).unwrap();
    assert_eq!(run.status, 0, "firmware exit status (101: a panic); log:\n{}", run.lines.join("\n"));
    let device: Vec<_> = run.lines.iter().filter_map(|l| parse_window(l)).collect();
    let summary = run.lines.iter().find_map(|l| parse_summary(l)).expect("summary line");
    assert_eq!(device.len(), host.len(), "window count, device vs host");
    assert_eq!((summary.scored, summary.invalid), (host.len() as u64, 0));
    let threshold = vae_train::OwnedModel::load(&model).unwrap().thresholds[0].threshold;
    for (dw, h) in device.iter().zip(&host) {
        assert_eq!(dw.start, h.start, "window {} start", dw.index);
        let (ds, hs) = (dw.score.expect("scored on the device"), h.score.unwrap());
        // 2,052 inputs: the ARM kernel's sums round differently from the host's loops.
        assert!((ds - hs).abs() / hs.abs().max(1.0) <= 1e-4, "window {}: device {ds}, host {hs}", dw.index);
        if ((hs - threshold).abs() / threshold.abs().max(1.0)) > 1e-4 {
            assert_eq!(dw.decision == "Anomalous", h.anomalous == "yes", "window {} decision", dw.index);
        }
    }
    eprintln!("spectrum W={window}: {} windows", device.len());
}
