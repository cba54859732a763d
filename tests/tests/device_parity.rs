//! Train -> export -> firmware -> same scores: a model trained with `vae-train` on a
//! simulated machine is embedded in the firmware, which replays the test recording (with
//! injected faults and a few NaN samples) in QEMU; every window's score must equal the
//! host's `vae-train score` for the same window to 1e-5 relative, and the same windows must
//! be flagged.

use std::path::{Path, PathBuf};
use std::time::Duration;
use vae_e2e::device::{compare, parse_summary, parse_window, read_host_scores, DeviceWindow, HostWindow};
use vae_e2e::qemu;

fn cli(args: &[&str]) {
    vae_e2e::vae_train(args).unwrap_or_else(|e| panic!("{e}"));
}

fn host_scores(path: &Path) -> Vec<HostWindow> {
    read_host_scores(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// A test recording with NaN samples injected at a few rows (the host keeps them as NaN and
/// reports those windows invalid, as the device does).
fn with_nans(test_csv: &Path, out: &Path, rows: &[usize]) {
    let text = std::fs::read_to_string(test_csv).unwrap();
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    for &r in rows {
        let mut f: Vec<String> = lines[r + 1].split(',').map(str::to_string).collect();
        f[2] = "NaN".into();
        lines[r + 1] = f.join(",");
    }
    std::fs::write(out, lines.join("\n") + "\n").unwrap();
}

fn run_case(dir: &Path, extra_fit: &[&str], name: &str) {
    let (train, test) = (dir.join("train.csv"), dir.join("test.csv"));
    let model = dir.join(format!("{name}.vaem"));
    let mut fit = vec!["fit", "--no-auto", "--data", train.to_str().unwrap(), "--window", "16", "--hop", "4"];
    fit.extend_from_slice(&[
        "--hidden",
        "32",
        "--latent",
        "8",
        "--epochs",
        "12",
        "--quiet",
        "--out",
        model.to_str().unwrap(),
    ]);
    fit.extend_from_slice(extra_fit);
    cli(&fit);
    let nan_csv = dir.join("test-nan.csv");
    with_nans(&test, &nan_csv, &[100, 101, 2500]);
    let host_csv = dir.join(format!("{name}-host.csv"));
    cli(&[
        "score",
        "--model",
        model.to_str().unwrap(),
        "--data",
        nan_csv.to_str().unwrap(),
        "--out",
        host_csv.to_str().unwrap(),
    ]);
    let host = host_scores(&host_csv);

    let elf = qemu::Build {
        model: Some(model.clone()),
        target_dir: Some(qemu::workspace_root().join("target").join("e2e")),
        ..Default::default()
    }
    .run("firmware")
    .unwrap_or_else(|e| panic!("{e}"));
    let run = qemu::run(&elf, &[nan_csv.to_str().unwrap()], Duration::from_secs(300)).unwrap();
    assert_eq!(run.status, 0, "firmware exit status; log:\n{}", run.lines.join("\n"));
    let device: Vec<DeviceWindow> = run.lines.iter().filter_map(|l| parse_window(l)).collect();
    let summary = run.lines.iter().find_map(|l| parse_summary(l)).expect("summary line");
    assert!(device.len() > 500);
    let loaded = vae_train::OwnedModel::load(&model).unwrap();
    let parity = compare(&host, &run.lines, loaded.thresholds[0].threshold).unwrap_or_else(|e| panic!("{e}"));
    let (learning, flagged, worst) = (parity.learning, parity.flagged, parity.worst);
    assert_eq!(summary.learnt, Some(learning as u64), "the summary counts the windows learnt");
    if loaded.alarm.learns() {
        assert!(learning >= usize::from(loaded.alarm.learn), "the device learnt after boot: {learning}");
    }
    // 3 NaN samples: rows 100 and 101 share windows, row 2500 has its own.
    assert_eq!(summary.non_finite_values, 3);
    assert_eq!(summary.invalid, device.iter().filter(|d| d.score.is_none()).count() as u64);
    assert_eq!(summary.invalid, 4 + 4);
    // The five injected faults raise alarms (after the learning period; a held alarm
    // re-learns, so a fault is not flagged for its whole length).
    assert!(flagged >= 5, "the injected faults should be flagged: {flagged}");
    assert_eq!(summary.anomalous, device.iter().filter(|d| d.decision == "Anomalous").count() as u64);
    assert!(summary.episodes.is_some_and(|e| e >= 1), "the summary counts alarm episodes");
    eprintln!("{name}: {} windows, worst relative difference {worst:e}, {flagged} flagged", device.len());
}

fn synth(dir: &Path) {
    cli(&[
        "synth",
        "--out",
        dir.to_str().unwrap(),
        "--train-rows",
        "6000",
        "--test-rows",
        "3000",
        "--seed",
        "5",
    ]);
}

#[test]
fn device_scores_equal_host_scores_deterministic() {
    let dir = tempfile::tempdir().unwrap();
    synth(dir.path());
    run_case(dir.path(), &[], "det");
}

#[test]
fn device_scores_equal_host_scores_importance_weighted() {
    let dir = tempfile::tempdir().unwrap();
    synth(dir.path());
    run_case(dir.path(), &["--score", "iwae", "--samples", "4"], "iwae");
}

#[test]
fn corrupt_model_fails_the_firmware_build_with_a_clear_message() {
    let dir = tempfile::tempdir().unwrap();
    let bad: PathBuf = dir.path().join("bad.vaem");
    std::fs::write(&bad, b"VAEM\x01\x00garbage").unwrap();
    let err = qemu::Build {
        model: Some(bad.clone()),
        target_dir: Some(qemu::workspace_root().join("target").join("e2e")),
        ..Default::default()
    }
    .run("firmware")
    .unwrap_err()
    .to_string();
    assert!(err.contains("bad.vaem") && err.contains("model file"), "{err}");
}
