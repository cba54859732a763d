//! Threshold rules of `vae-train fit --threshold-rule`: the Cantelli bound `mean + k sd`,
//! `k = sqrt(q / (1 - q))`, keeps the false-alarm rate at most `1 - q` for any distribution
//! of scores with that mean and spread; `auto` takes the empirical quantile only when there
//! are at least `1 / (1 - q)` scores. Checked on the formula, on skewed and heavy-tailed
//! samples, against Samuelson's bound on the maximum, and end to end through `fit`.

use clap::Parser;
use std::path::Path;
use vae_core::{Outcome, Rng, WindowScore};
use vae_train::scoring::{
    calibrate, calibrate_cantelli, calibrate_with, cantelli_factor, ScoredWindow, ThresholdRule,
};
use vae_train::{Error, OwnedModel};

fn window(smoothed: Option<f32>) -> ScoredWindow {
    let outcome = match smoothed {
        Some(v) if v.is_finite() => {
            Outcome::Scored(WindowScore { score: v, bound: -v, recon: -v, kl: 0.0, top_channel: 0 })
        }
        Some(_) => Outcome::Overflow,
        None => Outcome::NonFinite { count: 1, first: 0 },
    };
    ScoredWindow { recording: 0, index: 0, start: 0, outcome, channel_nll: Vec::new(), smoothed }
}

fn windows(scores: &[f32]) -> Vec<ScoredWindow> {
    scores.iter().map(|&s| window(Some(s))).collect()
}

fn mean_sd(v: &[f32]) -> (f64, f64) {
    let n = v.len() as f64;
    let m = v.iter().map(|&x| f64::from(x)).sum::<f64>() / n;
    let var = v.iter().map(|&x| (f64::from(x) - m).powi(2)).sum::<f64>() / (n - 1.0);
    (m, var.sqrt())
}

#[test]
fn cantelli_is_the_mean_plus_k_standard_deviations() {
    // 0.995 and 0.99 as f32 are a few 1e-9 off.
    assert!((cantelli_factor(0.995) - 199f64.sqrt()).abs() < 1e-4);
    assert!((cantelli_factor(0.99) - 99f64.sqrt()).abs() < 1e-4);
    assert_eq!(cantelli_factor(0.0), 0.0);
    let s = [1.0f32, 2.0, 4.0, 9.0];
    let (m, sd) = mean_sd(&s);
    let t = calibrate_cantelli(&windows(&s), 0.995).unwrap().value();
    assert!((f64::from(t) - (m + 199f64.sqrt() * sd)).abs() < 1e-4, "{t}");
    // Windows not scored and overflowed windows do not enter the moments.
    let mut w = windows(&s);
    w.push(window(None));
    w.push(window(Some(f32::INFINITY)));
    assert_eq!(calibrate_cantelli(&w, 0.995).unwrap().value(), t);
    // One score: no spread, the threshold is the score.
    assert_eq!(calibrate_cantelli(&windows(&[3.5]), 0.995).unwrap().value(), 3.5);
    // q = 0: the mean.
    assert!((f64::from(calibrate_cantelli(&windows(&s), 0.0).unwrap().value()) - m).abs() < 1e-5);
}

#[test]
fn cantelli_refuses_what_has_no_bound() {
    let w = windows(&[1.0, 2.0]);
    for q in [1.0f32, 1.5, -0.1, f32::NAN] {
        assert!(
            matches!(calibrate_cantelli(&w, q), Err(Error::Core(vae_core::Error::InvalidQuantile { .. }))),
            "{q}"
        );
    }
    assert!(matches!(
        calibrate_cantelli(&[window(None), window(Some(f32::INFINITY))], 0.9),
        Err(Error::Core(vae_core::Error::NoScores))
    ));
    // Scores so spread that mean + k sd is not an f32: refused, not stored as infinity.
    assert!(calibrate_cantelli(&windows(&[-3e38, 3e38]), 0.995).is_err());
}

#[test]
fn at_most_one_minus_q_of_any_sample_exceeds_its_own_cantelli_bound() {
    // Cantelli holds for every distribution, so also for a sample's own empirical
    // distribution: skewed, heavy-tailed, bimodal and constant-with-outliers samples.
    let mut rng = Rng::new(7);
    let mut samples: Vec<(&str, Vec<f32>)> = Vec::new();
    let n = 20_000;
    samples.push(("exponential", (0..n).map(|_| -(1.0 - rng.next_f32()).max(1e-12).ln()).collect()));
    samples.push(("pareto 1.5", (0..n).map(|_| (1.0 - rng.next_f32()).max(1e-6).powf(-1.0 / 1.5)).collect()));
    samples.push(("chi-square 1", (0..n).map(|_| rng.normal().powi(2)).collect()));
    samples.push((
        "bimodal",
        (0..n).map(|i| if i % 50 == 0 { 40.0 + rng.normal() } else { rng.normal() }).collect(),
    ));
    samples.push(("spikes", (0..n).map(|i| if i % 300 == 0 { 1000.0 } else { 0.0 }).collect()));
    for q in [0.9f32, 0.99, 0.995] {
        for (name, s) in &samples {
            let t = calibrate_cantelli(&windows(s), q).unwrap().value();
            let above = s.iter().filter(|&&v| v > t).count() as f64 / s.len() as f64;
            assert!(above <= 1.0 - f64::from(q) + 1e-9, "{name} q={q}: {above} above {t}");
        }
    }
}

#[test]
fn below_two_hundred_scores_cantelli_lies_above_every_score() {
    // Samuelson: max - mean <= sd (n - 1) / sqrt(n) < 14.1 sd for n <= 200, so the bound at
    // 0.995 is above the largest calibration score (and the empirical quantile).
    let mut rng = Rng::new(11);
    for n in [2usize, 13, 86, 150, 200] {
        for trial in 0..20 {
            let s: Vec<f32> = (0..n)
                .map(|i| if i == trial % n { 50.0 * rng.next_f32() } else { rng.normal().exp() })
                .collect();
            let w = windows(&s);
            let c = calibrate_cantelli(&w, 0.995).unwrap().value();
            let max = s.iter().copied().fold(f32::MIN, f32::max);
            assert!(c >= max, "n={n}: {c} < max {max}");
            assert!(c >= calibrate(&w, 0.995).unwrap().value());
        }
    }
}

#[test]
fn auto_takes_the_quantile_only_with_enough_scores() {
    use ThresholdRule::*;
    assert_eq!(Auto.resolve(200, 0.995), Quantile);
    assert_eq!(Auto.resolve(199, 0.995), Cantelli);
    assert_eq!(Auto.resolve(100, 0.99), Quantile);
    assert_eq!(Auto.resolve(99, 0.99), Cantelli);
    assert_eq!(Auto.resolve(0, 0.0), Cantelli);
    assert_eq!(Quantile.resolve(3, 0.995), Quantile);
    assert_eq!(Cantelli.resolve(10_000, 0.995), Cantelli);
    for r in [Quantile, Cantelli, Auto] {
        assert_eq!(ThresholdRule::from_name(r.name()), Some(r));
    }
    assert_eq!(ThresholdRule::from_name("chebyshev"), None);
    let few = windows(&(0..50).map(|i| i as f32).collect::<Vec<_>>());
    let many = windows(&(0..400).map(|i| i as f32).collect::<Vec<_>>());
    let (t, used) = calibrate_with(&few, 0.995, Auto).unwrap();
    assert_eq!((t, used), (calibrate_cantelli(&few, 0.995).unwrap(), Cantelli));
    let (t, used) = calibrate_with(&many, 0.995, Auto).unwrap();
    assert_eq!((t, used), (calibrate(&many, 0.995).unwrap(), Quantile));
    // Unscored windows do not count towards "enough".
    let mut padded = few.clone();
    padded.extend((0..300).map(|_| window(None)));
    assert_eq!(calibrate_with(&padded, 0.995, Auto).unwrap().1, Cantelli);
}

fn run(args: &[&str]) -> Result<(), Error> {
    let mut full = vec!["vae-train"];
    full.extend_from_slice(args);
    let cli = vae_train::cli::Cli::try_parse_from(&full).unwrap_or_else(|e| panic!("{e}"));
    vae_train::cli::run(cli)
}

fn fit(dir: &Path, data: &str, name: &str, epochs: &str, extra: &[&str]) -> Result<OwnedModel, Error> {
    let out = dir.join(name);
    let out_s = out.to_str().unwrap();
    let mut args = vec![
        "fit",
        "--no-auto",
        "--data",
        data,
        "--window",
        "16",
        "--hop",
        "4",
        "--hidden",
        "8",
        "--latent",
        "2",
        "--epochs",
        epochs,
        "--seed",
        "3",
        "--quiet",
        "--out",
        out_s,
    ];
    args.extend_from_slice(extra);
    run(&args)?;
    OwnedModel::load(&out)
}

#[test]
fn fit_stores_the_rule_s_threshold() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let s = d.to_str().unwrap();
    run(&["synth", "--out", s, "--train-rows", "1200", "--test-rows", "60", "--seed", "2"]).unwrap();
    let data = d.join("train.csv");
    let data = data.to_str().unwrap();
    // 1200 rows, 240 of validation: 57 validation windows, fewer than 200.
    let q = fit(d, data, "q.vaem", "3", &[]).unwrap();
    let c = fit(d, data, "c.vaem", "3", &["--threshold-rule", "cantelli"]).unwrap();
    let a = fit(d, data, "a.vaem", "3", &["--threshold-rule", "auto"]).unwrap();
    // Same seed, same network: only the thresholds differ.
    assert_eq!(q.net, c.net);
    let (tq, tc) = (q.thresholds[0].threshold, c.thresholds[0].threshold);
    assert_eq!((q.thresholds[0].quantile, c.thresholds[0].quantile), (0.995, 0.995));
    assert!(tc > tq, "Cantelli {tc} should lie above the quantile {tq} of 57 windows");
    // auto: 57 windows are too few for 0.995, 0.99 and 0.999 alike.
    assert_eq!(a.thresholds, c.thresholds);
    // Each stored level gets its own bound: a larger q, a larger k.
    let t: Vec<f32> = c.thresholds.iter().map(|c| c.threshold).collect();
    assert_eq!(c.thresholds.iter().map(|c| c.quantile).collect::<Vec<_>>(), [0.995, 0.99, 0.999]);
    assert!(t[1] < t[0] && t[0] < t[2], "{t:?}");
    // With 497 validation windows auto takes the quantile at 0.995 and 0.99, but 0.999
    // needs 1000 windows and has fewer.
    run(&["synth", "--out", s, "--train-rows", "10000", "--test-rows", "60", "--seed", "2", "--force"])
        .unwrap();
    let q = fit(d, data, "q2.vaem", "1", &[]).unwrap();
    let a = fit(d, data, "a2.vaem", "1", &["--threshold-rule", "auto"]).unwrap();
    assert_eq!(a.thresholds[..2], q.thresholds[..2]);
    assert!(a.thresholds[2].threshold > q.thresholds[2].threshold);
    // Refused: an unknown rule, and a bound for q = 1.
    let e = fit(d, data, "x.vaem", "1", &["--threshold-rule", "chebyshev"]).unwrap_err();
    assert!(e.to_string().contains("unknown --threshold-rule `chebyshev`"), "{e}");
    let e = fit(d, data, "x.vaem", "1", &["--threshold-rule", "auto", "--quantile", "1"]).unwrap_err();
    assert!(matches!(e, Error::Usage(_)), "{e}");
    assert!(!d.join("x.vaem").exists());
}
