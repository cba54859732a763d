//! `vae-train eval --scores FILE`: evaluating decisions read from a score CSV (what the
//! device logged, turned into `vae-train score`'s CSV) gives the same metrics and alarm
//! figures as evaluating the model itself when the file is the host's own scores; a flipped
//! flag changes the figures; a window without a row is refused, naming it.

use clap::Parser;
use std::path::{Path, PathBuf};
use vae_train::pipeline::{self, Flag, ScoreRow};

const BIN: &str = env!("CARGO_BIN_EXE_vae-train");

fn run(args: &[&str]) -> Result<(), vae_train::Error> {
    let mut full = vec!["vae-train"];
    full.extend_from_slice(args);
    let cli = vae_train::cli::Cli::try_parse_from(&full).unwrap_or_else(|e| panic!("{e}"));
    vae_train::cli::run(cli)
}

fn s(p: &Path) -> String {
    p.to_str().unwrap().to_string()
}

/// A simulated machine, a small model smoothing 3 windows (with the default learning
/// rule, so the file holds `learning` flags) and its scores of test.csv as `score --out`
/// writes them. Returns (model, scores).
fn setup(d: &Path) -> (PathBuf, PathBuf) {
    run(&["synth", "--out", &s(d), "--train-rows", "3000", "--test-rows", "2000", "--seed", "5"]).unwrap();
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
        "3",
        "--hidden",
        "16",
        "--latent",
        "4",
        "--epochs",
        "12",
        "--quiet",
        "--out",
        &s(&model),
    ])
    .unwrap();
    let scores = d.join("s.csv");
    run(&["score", "--model", &s(&model), "--data", &s(&d.join("test.csv")), "--out", &s(&scores)]).unwrap();
    (model, scores)
}

/// `vae-train eval --json` on test.csv (with the training recording, so both references
/// and their alarm figures are there), with `extra` arguments; the JSON, or stderr on
/// failure.
fn eval_json(d: &Path, model: &Path, extra: &[&str]) -> Result<serde_json::Value, String> {
    let out = std::process::Command::new(BIN)
        .args(["eval", "--model", &s(model), "--data", &s(&d.join("test.csv")), "--labels", "anomaly"])
        .args(["--train", &s(&d.join("train.csv")), "--json"])
        .args(extra)
        .output()
        .unwrap();
    if out.status.success() {
        Ok(serde_json::from_slice(&out.stdout).expect("stdout is one JSON object"))
    } else {
        assert_eq!(out.status.code(), Some(1));
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

/// The JSON object without its notes.
fn without_notes(mut j: serde_json::Value) -> (serde_json::Value, Vec<String>) {
    let notes = j.as_object_mut().unwrap().remove("notes").unwrap();
    let notes = notes.as_array().unwrap().iter().map(|n| n.as_str().unwrap().to_string()).collect();
    (j, notes)
}

/// Writes `rows` as a score file beside the original.
fn write_scores(file: &pipeline::ScoresFile, rows: Vec<ScoreRow>, to: &Path) {
    let f = pipeline::ScoresFile { rows, ..file.clone() };
    std::fs::write(to, f.to_csv()).unwrap();
}

#[test]
fn the_host_scores_read_back_give_the_models_own_evaluation() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (model, scores) = setup(d);
    let file = pipeline::read_scores(&scores).unwrap();
    assert!(file.smoothed, "the model smooths: the file has smoothed_score");
    let flags = |f: Flag| file.rows.iter().filter(|r| r.flag == f).count();
    assert!(flags(Flag::Learning) > 0 && flags(Flag::No) > 0 && flags(Flag::Yes) > 0, "{file:?}");

    let (own, own_notes) = without_notes(eval_json(d, &model, &[]).unwrap());
    let (given, notes) = without_notes(eval_json(d, &model, &["--scores", &s(&scores)]).unwrap());
    assert!(own["alarms"]["false_alarms"].is_u64() && own["f1"].is_f64(), "{own}");
    assert_eq!(given, own);
    let read = format!("scores and decisions read from {}", scores.display());
    assert!(notes.iter().any(|n| n.starts_with(&read)), "{notes:?}");
    assert!(!own_notes.iter().any(|n| n.contains("read from")), "{own_notes:?}");

    // Another directory, same file name: matched by name; rows of another file are noted.
    let mut rows: Vec<ScoreRow> =
        file.rows.iter().map(|r| ScoreRow { file: "elsewhere/test.csv".into(), ..r.clone() }).collect();
    rows.push(ScoreRow { file: "other.csv".into(), ..file.rows[0].clone() });
    let moved = d.join("moved.csv");
    write_scores(&file, rows, &moved);
    let (j, notes) = without_notes(eval_json(d, &model, &["--scores", &s(&moved)]).unwrap());
    assert_eq!(j, own);
    assert!(notes.iter().any(|n| n.starts_with("1 row(s) of") && n.contains("match no window")), "{notes:?}");

    // Without the smoothed column, the window's own score ranks: other metrics, and a note.
    let unsmoothed = d.join("unsmoothed.csv");
    let f = pipeline::ScoresFile { smoothed: false, ..file.clone() };
    std::fs::write(&unsmoothed, f.to_csv()).unwrap();
    let (j, notes) = without_notes(eval_json(d, &model, &["--scores", &s(&unsmoothed)]).unwrap());
    assert_ne!(j["roc_auc"], own["roc_auc"]);
    assert_eq!(j["alarms"], own["alarms"], "the decisions are the flags");
    assert!(notes.iter().any(|n| n.contains("has no smoothed_score column")), "{notes:?}");

    // Empty flags (a model without threshold): no F1 nor alarm figures at the threshold.
    let undecided = d.join("undecided.csv");
    let rows = file
        .rows
        .iter()
        .map(|r| ScoreRow {
            flag: if r.flag == Flag::Invalid { Flag::Invalid } else { Flag::Unknown },
            ..r.clone()
        })
        .collect();
    write_scores(&file, rows, &undecided);
    let (j, notes) = without_notes(eval_json(d, &model, &["--scores", &s(&undecided)]).unwrap());
    assert!(j["f1"].is_null() && j["alarms"].is_null(), "{j}");
    assert_eq!(j["roc_auc"], own["roc_auc"]);
    assert!(notes.iter().any(|n| n.contains("holds no decision")), "{notes:?}");
}

#[test]
fn a_flipped_flag_changes_the_figures_and_a_missing_window_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (model, scores) = setup(d);
    let file = pipeline::read_scores(&scores).unwrap();
    let (own, _) = without_notes(eval_json(d, &model, &["--scores", &s(&scores)]).unwrap());

    // Row labels of test.csv: flip the first `no` of a window with no anomalous row.
    let text = std::fs::read_to_string(d.join("test.csv")).unwrap();
    let labels: Vec<bool> = text.lines().skip(1).map(|l| l.ends_with(",1")).collect();
    let normal = |r: &ScoreRow| !labels[r.start_row as usize..r.start_row as usize + 16].contains(&true);
    let i = file.rows.iter().position(|r| r.flag == Flag::No && normal(r)).expect("a normal window");
    let mut rows = file.rows.clone();
    rows[i].flag = Flag::Yes;
    let flipped = d.join("flipped.csv");
    write_scores(&file, rows, &flipped);
    let (j, _) = without_notes(eval_json(d, &model, &["--scores", &s(&flipped)]).unwrap());
    let count = |j: &serde_json::Value, k: &str| j["alarms"][k].as_u64().unwrap();
    assert_eq!(count(&j, "false_alarms"), count(&own, "false_alarms") + 1, "{j}");
    assert_eq!(count(&j, "normal_windows"), count(&own, "normal_windows"));
    assert_ne!(j["alarms"], own["alarms"]);
    assert_eq!(j["roc_auc"], own["roc_auc"], "the scores are unchanged");

    // A window without a row: the error names the score file, the recording and start_row.
    let gone = file.rows[7].start_row;
    let mut rows = file.rows.clone();
    rows.remove(7);
    let missing = d.join("missing.csv");
    write_scores(&file, rows, &missing);
    let e = eval_json(d, &model, &["--scores", &s(&missing)]).unwrap_err();
    let want = format!(
        "{} has no row for window at start_row {gone} of {}",
        missing.display(),
        d.join("test.csv").display()
    );
    assert!(e.contains(&want), "{e}");

    // Two rows for one window, scored rows with and without a decision, other channels:
    // refused, naming the line.
    let mut rows = file.rows.clone();
    rows.push(rows[3].clone());
    let twice = d.join("twice.csv");
    write_scores(&file, rows, &twice);
    let e = eval_json(d, &model, &["--scores", &s(&twice)]).unwrap_err();
    let n = file.rows.len() + 2;
    assert!(
        e.contains(&format!("line {n}: a second row for")) && e.contains("(the first is on line 5)"),
        "{e}"
    );

    let mut rows = file.rows.clone();
    let k = rows.iter().rposition(|r| r.flag == Flag::No).unwrap();
    rows[k].flag = Flag::Unknown;
    let mixed = d.join("mixed.csv");
    write_scores(&file, rows, &mixed);
    let e = eval_json(d, &model, &["--scores", &s(&mixed)]).unwrap_err();
    assert!(e.contains(&format!("line {}, column 5 `anomalous`: expected a decision", k + 2)), "{e}");

    let other = d.join("other.csv");
    let f = pipeline::ScoresFile {
        channels: (0..file.channels.len()).map(|c| format!("x{c}")).collect(),
        ..file.clone()
    };
    std::fs::write(&other, f.to_csv()).unwrap();
    let e = eval_json(d, &model, &["--scores", &s(&other)]).unwrap_err();
    assert!(e.contains("per-channel columns for x0, x1") && e.contains("another model"), "{e}");

    // --scores takes the score as it is: --kind and --samples do not apply.
    let e = std::process::Command::new(BIN)
        .args(["eval", "--model", &s(&model), "--data", &s(&d.join("test.csv")), "--labels", "anomaly"])
        .args(["--scores", &s(&scores), "--kind", "elbo"])
        .output()
        .unwrap();
    assert_eq!(e.status.code(), Some(2), "{}", String::from_utf8_lossy(&e.stderr));
}
