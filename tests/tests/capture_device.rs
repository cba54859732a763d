//! Capture -> train -> device: a recording replayed as the emulated board's sensor is
//! captured by the `capture` firmware into a CSV holding the same f32 values bit for bit;
//! `vae-train fit` trains on that CSV as it is; the scoring firmware, run on the captured
//! data, gives the host's scores and decisions.

use std::path::Path;
use std::time::Duration;
use vae_e2e::capture::{self, Board, Options};
use vae_e2e::device::{compare, parse_summary, read_host_scores};
use vae_e2e::monitor::Monitor;
use vae_e2e::qemu;
use vae_e2e::stream::{self, End, Flow};
use vae_train::data::{load_file, LoadOptions};
use vae_train::pipeline::read_scores;

fn cli(args: &[&str]) {
    vae_e2e::vae_train(args).unwrap_or_else(|e| panic!("{e}"));
}

fn target(name: &str) -> std::path::PathBuf {
    qemu::workspace_root().join("target").join(name)
}

#[test]
fn captured_samples_train_a_model_that_scores_the_same_on_host_and_device() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let s = |p: &Path| p.to_str().unwrap().to_string();
    cli(&["synth", "--out", &s(d), "--train-rows", "6000", "--test-rows", "3000", "--seed", "11"]);
    let recording = d.join("train.csv");
    let original = load_file(&recording, &LoadOptions::default()).unwrap();

    // The recording is the sensor: the device reads it and streams what it read.
    let opts = Options {
        board: Board::Qemu { recording: recording.clone() },
        channels: original.channels.clone(),
        rate_hz: 100,
        seconds: None,
        target_dir: target("capture"),
        stop: None,
    };
    let captured = capture::run(&opts, |_| {}).unwrap_or_else(|e| panic!("{e}"));
    assert!(captured.ended, "the device sent its end line");
    assert_eq!((captured.gaps, captured.device_dropped), (0, 0), "a replay loses nothing");
    let csv = d.join("captured.csv");
    captured.write(&csv).unwrap();

    // `fit` reads the capture as it is: the channels by name, the time column left out, and
    // every value the same f32 as the recording's.
    let back = load_file(&csv, &LoadOptions::default()).unwrap();
    assert_eq!(back.channels, original.channels);
    assert_eq!(back.rows(), original.rows());
    let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<u32>>();
    assert!(bits(&back.values) == bits(&original.values), "captured values differ from the recording's");
    let header = std::fs::read_to_string(&csv).unwrap();
    assert!(header.starts_with("time,vib_x,vib_y,temperature,current\n0,"), "{}", &header[..60]);

    // A time-limited capture stops at its number of sampling instants.
    let short = capture::run(&Options { seconds: Some(2.5), ..opts.clone() }, |_| {}).unwrap();
    assert_eq!(short.samples.len(), 250);
    assert!(!short.ended);

    // Train on the capture, then score the captured data on host and device.
    let model = d.join("captured.vaem");
    cli(&[
        "fit",
        "--no-auto",
        "--data",
        &s(&csv),
        "--window",
        "32",
        "--hop",
        "8",
        "--hidden",
        "32",
        "--latent",
        "8",
        "--epochs",
        "30",
        "--smooth",
        "4",
        "--quiet",
        "--out",
        &s(&model),
    ]);
    let host_csv = d.join("host.csv");
    cli(&["score", "--model", &s(&model), "--data", &s(&d.join("test.csv")), "--out", &s(&host_csv)]);
    let host = read_host_scores(&std::fs::read_to_string(&host_csv).unwrap()).unwrap();
    let elf =
        qemu::Build { model: Some(model.clone()), target_dir: Some(target("e2e")), ..Default::default() }
            .run("firmware")
            .unwrap_or_else(|e| panic!("{e}"));
    // The device's log, read as it streams by the monitor, into the score CSV's rows.
    let test = s(&d.join("test.csv"));
    let loaded = vae_train::OwnedModel::load(&model).unwrap();
    let mut monitor = Monitor::new(&test, loaded.meta.channels.clone(), true);
    let mut lines = Vec::new();
    let end = stream::qemu(&elf, &[&test], Duration::from_secs(300), |l| {
        monitor.line(l);
        lines.push(l.to_string());
        Flow::Continue
    })
    .unwrap();
    assert_eq!(end, End::Exited(0), "{}", lines.join("\n"));
    let threshold = loaded.thresholds[0].threshold;
    let parity = compare(&host, &lines, threshold).unwrap_or_else(|e| panic!("{e}"));
    assert!(parity.windows > 300 && parity.flagged > 0, "{parity:?}");
    let summary = lines.iter().find_map(|l| parse_summary(l)).expect("summary line");
    assert_eq!((summary.windows, summary.dropped), (parity.windows as u64, Some(0)));

    // The monitor's CSV is `vae-train score`'s, cell for cell, but for the per-channel split
    // the device does not log and float noise in the scores.
    let device_csv = d.join("device.csv");
    std::fs::write(&device_csv, monitor.csv()).unwrap();
    let from_device = read_scores(&device_csv).unwrap();
    let from_host = read_scores(&host_csv).unwrap();
    assert_eq!((from_device.channels.clone(), from_device.smoothed), (from_host.channels.clone(), true));
    assert_eq!(from_device.rows.len(), from_host.rows.len());
    let near = |a: f32, b: f32| (a.is_nan() && b.is_nan()) || (a - b).abs() <= 1e-5 * b.abs().max(1.0);
    for (dv, h) in from_device.rows.iter().zip(&from_host.rows) {
        assert_eq!(
            (&dv.file, dv.window, dv.start_row, dv.flag, &dv.top_channel),
            (&h.file, h.window, h.start_row, h.flag, &h.top_channel)
        );
        assert!(
            near(dv.score, h.score) && near(dv.smoothed.unwrap(), h.smoothed.unwrap()),
            "{dv:?} vs {h:?}"
        );
        assert!(dv.channel_nll.iter().all(Option::is_none));
    }
    assert_eq!(monitor.episodes(), summary.episodes.unwrap());

    // What the device decided, evaluated offline against the labels, is what the host's
    // evaluation finds at the model's threshold.
    let opts = LoadOptions {
        columns: Some(loaded.meta.channels.clone()),
        label_column: Some("anomaly".into()),
        ..LoadOptions::default()
    };
    let recs = vec![load_file(&d.join("test.csv"), &opts).unwrap()];
    let on_device = vae_train::pipeline::evaluate_given(&loaded, &recs, &from_device, None).unwrap();
    let on_host = vae_train::pipeline::evaluate(&loaded, &recs, loaded.meta.score, None).unwrap();
    let (a, b) = (on_device.alarms.unwrap(), on_host.alarms.unwrap());
    assert_eq!(
        (a.false_alarms, a.events_detected, a.episodes),
        (b.false_alarms, b.events_detected, b.episodes)
    );
    assert!(a.events_detected > 0, "{a:?}");
    let (ra, rb) = (on_device.metrics.roc_auc.unwrap(), on_host.metrics.roc_auc.unwrap());
    assert!((ra - rb).abs() < 1e-3, "ROC-AUC device {ra}, host {rb}");
}

#[test]
fn a_capture_of_a_missing_column_fails_with_the_device_error() {
    let dir = tempfile::tempdir().unwrap();
    let rec = dir.path().join("r.csv");
    std::fs::write(&rec, "time,a\n0,1\n0.01,2\n").unwrap();
    let opts = Options {
        board: Board::Qemu { recording: rec },
        channels: vec!["a".into(), "b".into()],
        rate_hz: 100,
        seconds: None,
        target_dir: target("capture"),
        stop: None,
    };
    let e = capture::run(&opts, |_| {}).unwrap_err().to_string();
    assert!(e.contains("status 2") && e.contains("MissingColumn"), "{e}");
}
