//! The alarm figures of `vae-train eval` end to end on the simulated machine: the model's
//! false alarms and events agree with its window decisions, the no-training reference's
//! threshold is the model's quantile of its smoothed scores on the training windows
//! (recomputed here from the files), and the JSON, text and report carry both.

use clap::Parser;
use std::path::Path;
use vae_core::Decision;
use vae_train::data::{self, LoadOptions};
use vae_train::eval::{self, LabelSource};

fn run(args: &[&str]) -> Result<(), vae_train::Error> {
    let mut full = vec!["vae-train"];
    full.extend_from_slice(args);
    let cli = vae_train::cli::Cli::try_parse_from(&full).unwrap_or_else(|e| panic!("{e}"));
    vae_train::cli::run(cli)
}

fn s(p: &Path) -> String {
    p.to_str().unwrap().to_string()
}

/// Synthetic recordings and a model with smoothing 4 trained on them (60 epochs: enough to
/// catch some of the faults, so that the delays are measured). The static threshold
/// (`--learn 0`): these tests check the figures against a threshold computed here; the
/// learning rule's decisions are checked by `vae_core::alarm`'s tests and the QEMU parity
/// tests.
fn setup(d: &Path) -> std::path::PathBuf {
    run(&["synth", "--out", &s(d), "--train-rows", "4000", "--test-rows", "2400", "--seed", "3"]).unwrap();
    let model = d.join("m.vaem");
    run(&[
        "fit",
        "--no-auto",
        "--data",
        &s(&d.join("train.csv")),
        "--window",
        "16",
        "--hop",
        "4",
        "--smooth",
        "4",
        "--epochs",
        "60",
        "--learn",
        "0",
        "--quiet",
        "--out",
        &s(&model),
    ])
    .unwrap();
    model
}

/// The empirical quantile `q` (linear interpolation, NumPy's default).
fn quantile(mut v: Vec<f64>, q: f64) -> f64 {
    v.sort_by(f64::total_cmp);
    let pos = q * (v.len() - 1) as f64;
    let lo = pos.floor() as usize;
    let hi = (lo + 1).min(v.len() - 1);
    v[lo] + (v[hi] - v[lo]) * (pos - lo as f64)
}

/// The no-training score (mean square of the window normalised with the model's statistics)
/// of every window of `file`, smoothed over `smooth` windows.
fn reference_scores(m: &vae_train::OwnedModel, file: &Path, smooth: usize) -> Vec<f64> {
    let opts = LoadOptions { columns: Some(m.meta.channels.clone()), ..Default::default() };
    let r = &data::load(&[file.to_path_buf()], &opts).unwrap()[0];
    let (w, hop, c) = (m.meta.window, m.meta.hop, m.meta.channels.len());
    let raw: Vec<f64> = (0..=(r.rows() - w) / hop)
        .map(|k| {
            let x = &r.values[k * hop * c..(k * hop + w) * c];
            let sq: f64 = x
                .iter()
                .enumerate()
                .map(|(i, &v)| {
                    let z = (f64::from(v) - f64::from(m.meta.norm_mean[i % c]))
                        / f64::from(m.meta.norm_std[i % c]);
                    z * z
                })
                .sum();
            sq / x.len() as f64
        })
        .collect();
    (0..raw.len())
        .map(|k| raw[k.saturating_sub(smooth - 1)..=k].iter().sum::<f64>() / (k.min(smooth - 1) + 1) as f64)
        .collect()
}

#[test]
fn alarm_figures_agree_with_decisions_and_the_reference_rule() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let model = setup(d);
    let m = vae_train::OwnedModel::load(&model).unwrap();
    let opts = LoadOptions { columns: Some(m.meta.channels.clone()), ..Default::default() };
    let recs = LabelSource::Column { files: vec![d.join("test.csv")], column: "anomaly".into() }
        .load(&opts)
        .unwrap();
    let train = data::load(&[d.join("train.csv")], &opts).unwrap();
    let e = eval::evaluate(&m, &recs, m.meta.score, Some(&train)).unwrap();
    assert_eq!(e.requested_false_alarm_rate, Some(0.005));

    // The model: counted from its own decisions.
    let a = e.alarms.expect("the model has a threshold");
    let normal: Vec<&eval::EvalWindow> =
        e.windows.iter().filter(|w| !w.label && w.decision != Decision::Invalid).collect();
    assert_eq!(a.normal_windows, normal.len());
    assert_eq!(a.false_alarms, normal.iter().filter(|w| w.decision == Decision::Anomalous).count());
    assert_eq!(a.false_alarm_rate, Some(a.false_alarms as f64 / a.normal_windows as f64));
    let runs = |flags: &[bool]| flags.windows(2).filter(|p| p[1] && !p[0]).count() + usize::from(flags[0]);
    let labels: Vec<bool> = e.windows.iter().map(|w| w.label).collect();
    assert_eq!(a.events, runs(&labels), "one event per run of anomalous windows");
    let faults = std::fs::read_to_string(d.join("faults.csv")).unwrap().lines().count() - 1;
    assert!(a.events >= 1 && a.events <= faults, "{} events, {faults} faults", a.events);
    assert!(a.events_detected <= a.events);
    assert_eq!(a.threshold, e.threshold.unwrap());
    if a.events_detected > 0 {
        assert!(a.max_delay_rows.unwrap() as f64 >= a.median_delay_rows.unwrap());
    }
    assert_eq!(
        (a.normal_days, a.median_delay_seconds),
        (None, None),
        "synth's time column is in seconds, not a date"
    );

    // The reference: its threshold is the model's quantile of its smoothed training scores.
    let r = e.no_training_alarms.expect("--train given");
    let q = f64::from(m.thresholds[0].quantile);
    let t = quantile(reference_scores(&m, &d.join("train.csv"), 4), q);
    assert!((f64::from(r.threshold) - t).abs() <= 1e-4 * t.abs().max(1.0), "{} vs {t}", r.threshold);
    let test = reference_scores(&m, &d.join("test.csv"), 4);
    assert_eq!(test.len(), e.windows.len());
    // Normal windows above the threshold, and those too close to it to tell in f32.
    let (th, tol) = (f64::from(r.threshold), 1e-4 * f64::from(r.threshold).abs().max(1.0));
    let normal_scores: Vec<f64> =
        e.windows.iter().zip(&test).filter(|(w, _)| !w.label).map(|(_, &v)| v).collect();
    let above = normal_scores.iter().filter(|&&v| v > th + tol).count();
    let close = normal_scores.iter().filter(|&&v| (v - th).abs() <= tol).count();
    assert_eq!(r.normal_windows, a.normal_windows);
    assert!(
        r.false_alarms >= above && r.false_alarms <= above + close,
        "{} vs {above} (+{close})",
        r.false_alarms
    );
    assert_eq!(r.events, a.events);

    // The JSON summary holds both, and the text the line with the rate asked for.
    let j = serde_json::to_value(e.summary()).unwrap();
    assert_eq!(j["requested_false_alarm_rate"].as_f64(), Some(0.005));
    assert_eq!(j["alarms"]["false_alarms"].as_u64(), Some(a.false_alarms as u64));
    assert!(j["alarms"]["episodes_per_day"].is_null());
    assert_eq!(j["baselines"]["no_training_alarms"]["false_alarms"].as_u64(), Some(r.false_alarms as u64));
    let text = eval::text_summary(&e);
    assert!(text.contains("at the model's threshold: false alarms "), "{text}");
    assert!(
        text.contains("(requested 0.50%)") && text.contains("no-training reference at its threshold"),
        "{text}"
    );
}

#[test]
fn dates_give_days_and_seconds_and_no_train_leaves_the_reference_out() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let model = setup(d);
    // The test recording with its time column as dates, one row a second.
    let text = std::fs::read_to_string(d.join("test.csv")).unwrap();
    let mut dated = String::new();
    for (i, line) in text.lines().enumerate() {
        let rest = line.split_once(',').unwrap().1;
        if i == 0 {
            dated.push_str(&format!("time,{rest}\n"));
        } else {
            let s = i - 1;
            dated.push_str(&format!("2020-01-01 {:02}:{:02}:{:02},{rest}\n", s / 3600, s / 60 % 60, s % 60));
        }
    }
    let file = d.join("dated.csv");
    std::fs::write(&file, dated).unwrap();
    let exe = env!("CARGO_BIN_EXE_vae-train");
    let out = std::process::Command::new(exe)
        .args(["eval", "--model", &s(&model), "--data", &s(&file), "--labels", "anomaly", "--json"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let j: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let a = &j["alarms"];
    let normal = a["normal_windows"].as_u64().unwrap() as f64;
    // Each normal window moves the stream on by the hop, 4 rows of 1 s.
    assert!((a["normal_days"].as_f64().unwrap() - normal * 4.0 / 86_400.0).abs() < 1e-12, "{a}");
    let episodes = a["episodes"].as_f64().unwrap();
    if episodes > 0.0 {
        assert!(
            (a["episodes_per_day"].as_f64().unwrap() - episodes * 86_400.0 / (normal * 4.0)).abs() < 1e-6
        );
    }
    if a["events_detected"].as_u64().unwrap() > 0 {
        // One row a second: seconds and rows agree.
        assert_eq!(a["median_delay_seconds"].as_f64(), a["median_delay_rows"].as_f64(), "{a}");
        assert_eq!(a["max_delay_seconds"].as_f64(), a["max_delay_rows"].as_f64(), "{a}");
    }
    assert!(j["baselines"]["no_training_alarms"].is_null());
    assert!(j["notes"].to_string().contains("need the model's training recordings (--train)"), "{j}");

    // The report's section.
    let report = d.join("report");
    let out = std::process::Command::new(exe)
        .args(["eval", "--model", &s(&model), "--data", &s(&file), "--labels", "anomaly"])
        .args(["--train", &s(&d.join("train.csv")), "--report", &s(&report)])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("per day") && stdout.contains("no-training reference at its threshold"),
        "{stdout}"
    );
    let md = std::fs::read_to_string(report.join("report.md")).unwrap();
    assert!(md.contains("## Alarms at the threshold") && md.contains("| no-training score |"), "{md}");
}
