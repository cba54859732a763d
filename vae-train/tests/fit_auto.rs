//! `fit`'s search (`--auto`, the default) through the real binary and the pipeline: it
//! trains every front end the user left open, prints them with their criterion and device cost, keeps the parts the
//! user set, and writes the chosen configuration into the model file (`inspect` shows it);
//! and `fit` says when the input or the choices are poor (a drifting channel, more
//! parameters than data, `--wandering auto` with a front end without a level row).

use std::path::Path;
use std::process::{Command, Output};
use vae_core::transform::Features;
use vae_train::data::Recording;
use vae_train::pipeline::{self, AutoParts, FitPlan};
use vae_train::OwnedModel;

const BIN: &str = env!("CARGO_BIN_EXE_vae-train");

fn run(args: &[&str]) -> Output {
    Command::new(BIN).args(args).output().unwrap_or_else(|e| panic!("cannot run {BIN}: {e}"))
}

fn ok(out: &Output) -> (String, String) {
    let (o, e) = (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    );
    assert!(out.status.success(), "stdout:\n{o}\nstderr:\n{e}");
    (o, e)
}

fn synth(dir: &Path) -> String {
    let d = dir.to_str().unwrap();
    ok(&run(&["synth", "--out", d, "--train-rows", "3000", "--test-rows", "600", "--force"]));
    dir.join("train.csv").to_str().unwrap().to_string()
}

#[test]
fn auto_tries_every_front_end_prints_them_and_records_the_choice() {
    let dir = tempfile::tempdir().unwrap();
    let train = synth(dir.path());
    let out = dir.path().join("auto.vaem");
    let (stdout, _) = ok(&run(&[
        "fit",
        "--auto",
        "--data",
        &train,
        "--epochs",
        "8",
        "--out",
        out.to_str().unwrap(),
        "--quiet",
    ]));
    // One line per front end, one marked as chosen, and the search's cost.
    for f in Features::ALL {
        assert!(
            stdout.lines().any(|l| l.trim_start_matches("->").trim_start().starts_with(f.name())),
            "{f:?}:\n{stdout}"
        );
    }
    let chosen: Vec<&str> = stdout.lines().filter(|l| l.starts_with("->")).collect();
    assert_eq!(chosen.len(), 1, "{stdout}");
    assert!(
        stdout.contains("criterion")
            && stdout.contains("MACs/window")
            && stdout.contains("times one candidate"),
        "{stdout}"
    );
    // The file holds the chosen configuration.
    let model = OwnedModel::load(&out).unwrap();
    let line = chosen[0];
    assert!(
        line.contains(&format!(" {} ", model.meta.transform.name()))
            || line.contains(&format!("{} ", model.meta.transform.name())),
        "{line}"
    );
    assert!(line.contains(&format!("W={}", model.meta.window)), "{line}");
    assert!(line.contains(&format!("smooth={}", model.meta.transform.smoothing)), "{line}");
    assert_eq!(model.meta.hop, (model.meta.window / 8).max(1));
    let (inspect, _) = ok(&run(&["inspect", out.to_str().unwrap()]));
    assert!(inspect.contains(model.meta.transform.name()), "{inspect}");
}

#[test]
fn parts_the_user_sets_are_kept() {
    let dir = tempfile::tempdir().unwrap();
    let train = synth(dir.path());
    let out = dir.path().join("fixed.vaem");
    let (stdout, _) = ok(&run(&[
        "fit",
        "--auto",
        "--data",
        &train,
        "--transform",
        "stats",
        "--window",
        "16",
        "--hop",
        "4",
        "--hidden",
        "12",
        "--epochs",
        "5",
        "--out",
        out.to_str().unwrap(),
        "--quiet",
    ]));
    let candidates = stdout.lines().filter(|l| l.contains("MACs/window")).count();
    assert_eq!(candidates, 1, "{stdout}");
    let m = OwnedModel::load(&out).unwrap();
    assert_eq!((m.meta.transform.features, m.meta.window, m.meta.hop), (Features::Stats, 16, 4));
    assert_eq!(m.net.layers().next().map(|l| l.outputs), Some(12));
    // Only the smoothing was open.
    assert!([1, 2, 4, 8].contains(&m.meta.transform.smoothing));
}

#[test]
fn the_search_is_the_default_and_no_auto_keeps_the_plain_defaults() {
    let dir = tempfile::tempdir().unwrap();
    let train = synth(dir.path());
    let out = dir.path().join("plain.vaem");
    let (stdout, _) = ok(&run(&[
        "fit",
        "--no-auto",
        "--data",
        &train,
        "--epochs",
        "3",
        "--out",
        out.to_str().unwrap(),
        "--quiet",
    ]));
    assert!(!stdout.contains("criterion"), "{stdout}");
    let m = OwnedModel::load(&out).unwrap();
    assert_eq!(
        (m.meta.transform.features, m.meta.window, m.meta.hop, m.meta.transform.smoothing),
        (Features::Raw, 32, 4, 1)
    );
    // Without either flag, `fit` searches; the last of --auto / --no-auto wins.
    let (stdout, _) = ok(&run(&[
        "fit",
        "--data",
        &train,
        "--transform",
        "raw",
        "--window",
        "32",
        "--hop",
        "4",
        "--hidden",
        "32",
        "--epochs",
        "3",
        "--out",
        out.to_str().unwrap(),
        "--force",
        "--quiet",
    ]));
    assert_eq!(
        stdout.lines().filter(|l| l.contains("MACs/window")).count(),
        1,
        "only the smoothing was open:\n{stdout}"
    );
    let (stdout, _) = ok(&run(&[
        "fit",
        "--no-auto",
        "--auto",
        "--data",
        &train,
        "--transform",
        "raw",
        "--epochs",
        "3",
        "--out",
        out.to_str().unwrap(),
        "--force",
        "--quiet",
    ]));
    assert!(stdout.contains("criterion"), "{stdout}");
    // A search cannot be resumed.
    let out2 = dir.path().join("r.vaem");
    let r = run(&["fit", "--data", &train, "--resume", "--out", out2.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&r.stderr);
    assert!(!r.status.success() && stderr.contains("--no-auto"), "{stderr}");
}

#[test]
fn wandering_auto_without_a_level_row_is_refused_like_a_name() {
    let dir = tempfile::tempdir().unwrap();
    let train = synth(dir.path());
    let w = dir.path().join("w.vaem");
    let out =
        run(&["fit", "--no-auto", "--data", &train, "--wandering", "auto", "--out", w.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("--wandering auto needs a transform with a level row") && stderr.contains("`raw`"),
        "{stderr}"
    );
    assert!(!w.exists());
    // With the search, the same refusal for a fixed front end without a level row.
    let out = run(&[
        "fit",
        "--data",
        &train,
        "--transform",
        "diff",
        "--wandering",
        "auto",
        "--out",
        w.to_str().unwrap(),
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && !w.exists());
    assert!(stderr.contains("needs a transform with a level row") && stderr.contains("`diff`"), "{stderr}");
}

/// A two-channel recording: `b`'s last `drift_rows` rows climb far beyond its earlier range.
fn drifting(rows: usize, drift_rows: usize) -> Recording {
    let mut v = Vec::new();
    for i in 0..rows {
        let t = i as f32 * 0.3;
        let climb = if i + drift_rows >= rows {
            10.0 * (i + drift_rows - rows) as f32 / drift_rows as f32
        } else {
            0.0
        };
        v.extend([t.sin(), (0.7 * t).cos() + climb]);
    }
    Recording::new("drift.csv", vec!["a".into(), "b".into()], v)
}

fn notes_of(recording: &Recording, plan: &FitPlan) -> Vec<String> {
    let mut notes = Vec::new();
    pipeline::fit(std::slice::from_ref(recording), plan, None, &mut |l| notes.push(l.to_string())).unwrap();
    notes
}

#[test]
fn a_channel_that_leaves_its_training_range_and_too_small_data_are_said() {
    let plan = FitPlan { epochs: 2, window: 8, hop: 2, hidden: vec![8], latent: 2, ..FitPlan::default() };
    let notes = notes_of(&drifting(2000, 300), &plan);
    let drift: Vec<&String> = notes.iter().filter(|n| n.contains("far beyond its training range")).collect();
    assert_eq!(drift.len(), 1, "{notes:#?}");
    assert!(drift[0].contains("channel `b`") && drift[0].starts_with("warning:"), "{}", drift[0]);
    // A steady recording gets neither warning.
    let notes = notes_of(&drifting(2000, 0), &plan);
    assert!(notes.iter().all(|n| !n.starts_with("warning:")), "{notes:#?}");
    // 200 rows of 2 channels (320 training values) for a 64-wide model of 32-sample windows.
    let big = FitPlan { epochs: 1, window: 32, hop: 4, hidden: vec![64], latent: 8, ..FitPlan::default() };
    let notes = notes_of(&drifting(200, 0), &big);
    assert!(
        notes.iter().any(|n| n.starts_with("warning:") && n.contains("parameters") && n.contains("by heart")),
        "{notes:#?}"
    );
}

#[test]
fn the_search_through_the_pipeline_reports_each_candidate() {
    let plan = FitPlan { epochs: 3, hidden: vec![8], latent: 2, ..FitPlan::default() };
    let parts = AutoParts { width: false, ..AutoParts::ALL };
    let (fitted, search) = pipeline::fit_auto(&[drifting(1500, 0)], &plan, parts, None, &mut |_| {}).unwrap();
    assert_eq!(search.candidates.len(), Features::ALL.len());
    assert_eq!(search.tried.len(), search.candidates.len());
    let c = &search.candidates[search.chosen];
    assert_eq!(fitted.model.meta.transform.features, c.features);
    assert_eq!(fitted.model.meta.transform.smoothing, c.smoothing);
    for c in &search.candidates {
        assert!((0.0..=1.0).contains(&c.criterion) && c.macs > 0 && c.hidden == vec![8], "{c:?}");
    }
    // Within the tie margin of the best, nothing is cheaper than the choice.
    let best = search.candidates.iter().map(|c| c.criterion).fold(f64::MIN, f64::max);
    assert!(c.criterion >= best - pipeline::auto::TIE);
    assert!(search
        .candidates
        .iter()
        .filter(|o| o.criterion >= best - pipeline::auto::TIE)
        .all(|o| o.macs >= c.macs));
    assert!(search.cost_in_fits() >= 1.0);
}

#[test]
fn the_search_says_what_a_single_fit_says_about_the_rows_once() {
    let plan = FitPlan { epochs: 2, hidden: vec![8], latent: 2, ..FitPlan::default() };
    let parts = AutoParts { width: false, ..AutoParts::ALL };
    let mut notes = Vec::new();
    pipeline::fit_auto(&[drifting(1500, 300)], &plan, parts, None, &mut |l| notes.push(l.to_string()))
        .unwrap();
    let drift = notes.iter().filter(|n| n.contains("far beyond its training range")).count();
    assert_eq!(drift, 1, "{notes:#?}");
    // Each candidate's own notes reach the caller too.
    let trained = notes.iter().filter(|n| n.starts_with("training on ")).count();
    assert_eq!(trained, Features::ALL.len(), "{notes:#?}");
}
