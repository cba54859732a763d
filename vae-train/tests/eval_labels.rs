//! Labels for `vae-train eval`: each way of giving them labels the right rows, and each bad
//! input is refused with a typed error naming the file, the place, and what was expected
//! against what was found.

use clap::Parser;
use std::path::{Path, PathBuf};
use vae_train::data::{DataError, LoadOptions};
use vae_train::eval::{EvalError, LabelSource};
use vae_train::Error;

fn run(args: &[&str]) -> Result<(), Error> {
    let mut full = vec!["vae-train"];
    full.extend_from_slice(args);
    let cli = vae_train::cli::Cli::try_parse_from(&full).unwrap_or_else(|e| panic!("{e}"));
    vae_train::cli::run(cli)
}

/// A small labelled recording, a model for it, and the directory.
struct Setup {
    dir: tempfile::TempDir,
    model: PathBuf,
    csv: PathBuf,
}

fn setup() -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("rec.csv");
    let mut text = String::from("timestamp,a,b,anomaly\n");
    for i in 0..400 {
        let t = i as f32 * 0.1;
        let anomalous = (300..320).contains(&i);
        let b = if anomalous { 5.0 } else { (t * 1.3).cos() };
        text.push_str(&format!(
            "2020-01-01 {:02}:{:02}:{:02},{},{},{}\n",
            i / 3600,
            (i / 60) % 60,
            i % 60,
            t.sin(),
            b,
            u8::from(anomalous)
        ));
    }
    std::fs::write(&csv, text).unwrap();
    let model = dir.path().join("m.vaem");
    let s = |p: &Path| p.to_str().unwrap().to_string();
    run(&[
        "fit",
        "--no-auto",
        "--data",
        &s(&csv),
        "--columns",
        "a,b",
        "--rows",
        ":250",
        "--window",
        "8",
        "--hop",
        "2",
        "--epochs",
        "3",
        "--quiet",
        "--out",
        &s(&model),
    ])
    .unwrap();
    Setup { dir, model, csv }
}

fn s(p: &Path) -> String {
    p.to_str().unwrap().to_string()
}

#[test]
fn the_three_label_sources_label_rows() {
    let st = setup();
    let opts = LoadOptions { columns: Some(vec!["a".into(), "b".into()]), ..Default::default() };
    let by_column =
        LabelSource::Column { files: vec![st.csv.clone()], column: "anomaly".into() }.load(&opts).unwrap();
    let labels = by_column[0].labels.clone().unwrap();
    assert_eq!(labels.iter().filter(|&&l| l).count(), 20);
    assert!(labels[300] && labels[319] && !labels[299] && !labels[320]);

    // The same stretch as a time window (inclusive ends), keyed by a path suffix.
    let json = st.dir.path().join("w.json");
    std::fs::write(
        &json,
        r#"{"x/rec.csv": [], "rec.csv": [["2020-01-01 00:05:00", "2020-01-01 00:05:19.000000"]]}"#,
    )
    .unwrap();
    let by_time =
        LabelSource::Windows { files: vec![st.csv.clone()], json: json.clone() }.load(&opts).unwrap();
    assert_eq!(by_time[0].labels, Some(labels));

    let whole = LabelSource::Files { normal: vec![st.csv.clone()], anomalous: vec![st.csv.clone()] }
        .load(&opts)
        .unwrap();
    assert_eq!(whole[0].labels.as_ref().unwrap().iter().filter(|&&l| l).count(), 0);
    assert!(whole[1].labels.as_ref().unwrap().iter().all(|&l| l));
}

#[test]
fn missing_label_column_names_the_file_and_the_columns() {
    let st = setup();
    let e = run(&["eval", "--model", &s(&st.model), "--data", &s(&st.csv), "--labels", "label"]).unwrap_err();
    assert!(matches!(&e, Error::Data(DataError::MissingColumn { column, .. }) if column == "label"), "{e:?}");
    let text = e.to_string();
    assert!(
        text.contains("rec.csv") && text.contains("no column `label`") && text.contains("anomaly"),
        "{text}"
    );
}

#[test]
fn bad_label_json_is_located() {
    let st = setup();
    let json = st.dir.path().join("bad.json");
    std::fs::write(&json, "{\n  \"rec.csv\": [[\"2020-01-01 00:00:00\", ]]\n}\n").unwrap();
    let e = run(&["eval", "--model", &s(&st.model), "--data", &s(&st.csv), "--label-windows", &s(&json)])
        .unwrap_err();
    match &e {
        Error::Eval(EvalError::LabelJson { path, line, column, .. }) => {
            assert_eq!((path.as_path(), *line), (json.as_path(), 2));
            assert!(*column > 20, "{column}");
        }
        other => panic!("{other:?}"),
    }
    assert!(e.to_string().starts_with(&format!("{}, line 2, column", json.display())), "{e}");

    // Valid JSON of the wrong shape: the key and window are named.
    std::fs::write(&json, r#"{"rec.csv": [["2020-01-01 00:00:00"]]}"#).unwrap();
    let e = run(&["eval", "--model", &s(&st.model), "--data", &s(&st.csv), "--label-windows", &s(&json)])
        .unwrap_err()
        .to_string();
    assert!(e.contains("key \"rec.csv\", window 1: expected a [start, end] pair of timestamps"), "{e}");

    // A timestamp that does not parse.
    std::fs::write(&json, r#"{"rec.csv": [["2020-01-01 00:00:00", "yesterday"]]}"#).unwrap();
    let e = run(&["eval", "--model", &s(&st.model), "--data", &s(&st.csv), "--label-windows", &s(&json)])
        .unwrap_err();
    assert!(
        matches!(&e, Error::Eval(EvalError::BadTimestamp { found, .. }) if found == "yesterday"),
        "{e:?}"
    );
}

#[test]
fn label_json_that_names_no_input_file() {
    let st = setup();
    let json = st.dir.path().join("other.json");
    std::fs::write(&json, r#"{"realKnownCause/nyc_taxi.csv": [], "a/b.csv": []}"#).unwrap();
    let e = run(&["eval", "--model", &s(&st.model), "--data", &s(&st.csv), "--label-windows", &s(&json)])
        .unwrap_err();
    match &e {
        Error::Eval(EvalError::NoLabelsFor { json: j, file, keys }) => {
            assert_eq!((j.as_path(), file.as_path()), (json.as_path(), st.csv.as_path()));
            assert!(keys.contains("realKnownCause/nyc_taxi.csv"), "{keys}");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn label_windows_need_timestamps() {
    let st = setup();
    let csv = st.dir.path().join("plain.csv");
    std::fs::write(&csv, (0..20).map(|i| format!("{i},{i}\n")).fold("a,b\n".to_string(), |a, l| a + &l))
        .unwrap();
    let json = st.dir.path().join("w.json");
    std::fs::write(&json, r#"{"plain.csv": []}"#).unwrap();
    let e = run(&["eval", "--model", &s(&st.model), "--data", &s(&csv), "--label-windows", &s(&json)])
        .unwrap_err();
    assert!(matches!(&e, Error::Eval(EvalError::NoTimestamps { path }) if path == &csv), "{e:?}");
}

#[test]
fn empty_file_lists_and_missing_labels() {
    let st = setup();
    let m = s(&st.model);
    let e = run(&["eval", "--model", &m, "--normal", &s(&st.csv)]).unwrap_err();
    assert!(matches!(e, Error::Eval(EvalError::EmptyFiles { which: "anomalous" })), "{e:?}");
    assert!(e.to_string().contains("no anomalous recording given"), "{e}");
    let e = run(&["eval", "--model", &m, "--anomalous", &s(&st.csv)]).unwrap_err();
    assert!(matches!(e, Error::Eval(EvalError::EmptyFiles { which: "normal" })), "{e:?}");
    let e = run(&["eval", "--model", &m]).unwrap_err().to_string();
    assert!(e.contains("no labelled data"), "{e}");
    let e = run(&["eval", "--model", &m, "--data", &s(&st.csv)]).unwrap_err().to_string();
    assert!(e.contains("--labels COLUMN or --label-windows JSON"), "{e}");
    // The library call refuses empty lists the same way.
    let e = LabelSource::Files { normal: vec![], anomalous: vec![st.csv.clone()] }
        .load(&LoadOptions::default())
        .unwrap_err();
    assert!(matches!(e, Error::Eval(EvalError::EmptyFiles { which: "normal" })));
    // Two ways at once is a usage error of the command line itself.
    let cli = vae_train::cli::Cli::try_parse_from([
        "vae-train",
        "eval",
        "--model",
        "m",
        "--data",
        "d.csv",
        "--labels",
        "y",
        "--label-windows",
        "w.json",
    ]);
    assert!(cli.is_err());
}

/// `eval --label-windows json` on `csv` (the setup's model), with `extra` arguments.
fn eval_windows(st: &Setup, csv: &Path, json: &Path, extra: &[&str]) -> Result<(), Error> {
    let (m, c, j) = (s(&st.model), s(csv), s(json));
    let mut args = vec!["eval", "--model", &m, "--data", &c, "--label-windows", &j];
    args.extend_from_slice(extra);
    run(&args)
}

#[test]
fn a_window_outside_the_data_is_refused() {
    let st = setup();
    let json = st.dir.path().join("w.json");
    // The data run from 00:00:00 to 00:06:39 on 2020-01-01; a window a year later labels
    // nothing (a wrong key, date or time zone): refused, naming the key and the window.
    std::fs::write(
        &json,
        r#"{"rec.csv": [["2020-01-01 00:05:00", "2020-01-01 00:05:19"], ["2021-01-01 00:05:00", "2021-01-01 00:05:19"]]}"#,
    )
    .unwrap();
    let e = eval_windows(&st, &st.csv, &json, &[]).unwrap_err();
    match &e {
        Error::Eval(EvalError::WindowLabelsNoRow { json: j, key, window, file, .. }) => {
            assert_eq!(
                (j.as_path(), key.as_str(), *window, file.as_path()),
                (json.as_path(), "rec.csv", 2, st.csv.as_path())
            );
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        e.to_string(),
        format!(
            "{}: key \"rec.csv\", window 2 labels no row of {}: [2021-01-01 00:05:00, 2021-01-01 00:05:19] \
             starts after the last row's time, 2020-01-01 00:06:39 (wrong key, dates or time zone?)",
            json.display(),
            st.csv.display()
        )
    );
    // Entries for files not evaluated are ignored, whatever their windows.
    std::fs::write(
        &json,
        r#"{"rec.csv": [["2020-01-01 00:05:00", "2020-01-01 00:05:19"]], "other.csv": [["1999-01-01", "1999-01-02"]]}"#,
    )
    .unwrap();
    eval_windows(&st, &st.csv, &json, &[]).unwrap();
    // With --rows, a window outside the rows evaluated is outside the part evaluated.
    std::fs::write(
        &json,
        r#"{"rec.csv": [["2020-01-01 00:00:10", "2020-01-01 00:00:20"], ["2020-01-01 00:05:00", "2020-01-01 00:05:19"]]}"#,
    )
    .unwrap();
    eval_windows(&st, &st.csv, &json, &["--rows", "200:"]).unwrap();
    let e = eval_windows(&st, &st.csv, &json, &[]);
    assert!(matches!(e, Ok(())), "both windows label rows of the whole file: {e:?}");
}

#[test]
fn a_key_given_twice_is_refused_and_a_bom_accepted() {
    let st = setup();
    let json = st.dir.path().join("w.json");
    std::fs::write(
        &json,
        "{\n  \"rec.csv\": [[\"2020-01-01 00:05:00\", \"2020-01-01 00:05:19\"]],\n  \"rec.csv\": []\n}\n",
    )
    .unwrap();
    let e = eval_windows(&st, &st.csv, &json, &[]).unwrap_err();
    assert!(
        matches!(&e, Error::Eval(EvalError::DuplicateKey { key, line: 3, .. }) if key == "rec.csv"),
        "{e:?}"
    );
    let msg = e.to_string();
    assert!(msg.starts_with(&format!("{}, line 3, column ", json.display())), "{msg}");
    assert!(msg.contains("key \"rec.csv\" appears twice in the label windows"), "{msg}");

    // A UTF-8 BOM, as some editors write, is accepted as it is in CSV.
    let mut bytes = b"\xEF\xBB\xBF".to_vec();
    bytes.extend_from_slice(br#"{"rec.csv": [["2020-01-01 00:05:00", "2020-01-01 00:05:19"]]}"#);
    std::fs::write(&json, bytes).unwrap();
    let opts = LoadOptions { columns: Some(vec!["a".into(), "b".into()]), ..Default::default() };
    let recs = LabelSource::Windows { files: vec![st.csv.clone()], json: json.clone() }.load(&opts).unwrap();
    assert_eq!(recs[0].labels.as_ref().unwrap().iter().filter(|&&l| l).count(), 20);
}

#[test]
fn timestamps_are_located_by_line_and_column() {
    let st = setup();
    let text = std::fs::read_to_string(&st.csv).unwrap();
    let json = st.dir.path().join("w.json");
    std::fs::write(&json, r#"{"rec.csv": [["2020-01-01 00:05:00", "2020-01-01 00:05:19"]]}"#).unwrap();
    // A bad timestamp on data row 99 is on line 101 (the header is line 1), column 1.
    let bad = st.dir.path().join("x").join("rec.csv");
    std::fs::create_dir_all(bad.parent().unwrap()).unwrap();
    let lines: Vec<String> = text
        .lines()
        .enumerate()
        .map(|(i, l)| {
            if i == 100 {
                l.replacen("2020-01-01 00:01:39", "2020-01-01 0:01:39x", 1)
            } else {
                l.to_string()
            }
        })
        .collect();
    std::fs::write(&bad, lines.join("\n") + "\n").unwrap();
    let e = eval_windows(&st, &bad, &json, &[]).unwrap_err().to_string();
    assert_eq!(
        e,
        format!(
            "{}, line 101, column 1 `timestamp`: expected a timestamp `YYYY-MM-DD HH:MM:SS[.ffffff]`, found `2020-01-01 0:01:39x`",
            bad.display()
        )
    );
    assert!(!e.contains("0-based"), "{e}");

    // Time going back across a window (rows 300 and 310 swapped): refused with the line.
    let mut rows: Vec<String> = text.lines().map(str::to_string).collect();
    rows.swap(301, 311);
    std::fs::write(&bad, rows.join("\n") + "\n").unwrap();
    let e = eval_windows(&st, &bad, &json, &[]).unwrap_err();
    assert!(matches!(&e, Error::Eval(EvalError::TimestampsOutOfOrder { .. })), "{e:?}");
    let msg = e.to_string();
    assert!(
        msg.starts_with(&format!(
            "{}, line 303, column 1 `timestamp`: time goes back from `2020-01-01 00:05:10` (line 302) to `2020-01-01 00:05:01`",
            bad.display()
        )),
        "{msg}"
    );
    assert!(
        msg.contains("across window 1 [2020-01-01 00:05:00, 2020-01-01 00:05:19] of key \"rec.csv\""),
        "{msg}"
    );
}

#[test]
fn undefined_metrics_are_null_in_the_json() {
    // No label window for the file: no anomalous window, so F1, recall and best F1 are
    // undefined: `null` in the JSON, `n/a` and a note in the text.
    let st = setup();
    let json = st.dir.path().join("w.json");
    std::fs::write(&json, r#"{"rec.csv": []}"#).unwrap();
    let exe = env!("CARGO_BIN_EXE_vae-train");
    let args = ["eval", "--model", &s(&st.model), "--data", &s(&st.csv), "--label-windows", &s(&json)];
    let out = std::process::Command::new(exe).args(args).arg("--json").output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let j: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(j["anomalous_windows"].as_u64(), Some(0), "{j}");
    for key in ["f1", "recall", "best_f1", "roc_auc", "pr_auc"] {
        assert!(j.get(key).is_some_and(|v| v.is_null()), "{key} should be null: {j}");
    }
    assert!(j["threshold"].as_f64().is_some(), "{j}");
    let notes = j["notes"].to_string();
    assert!(notes.contains("F1 and recall are undefined"), "{notes}");
    let out = std::process::Command::new(exe).args(args).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("note: no anomalous window: ROC-AUC, PR-AUC, best F1, F1 and recall are undefined"),
        "{text}"
    );
    let model_row = text.lines().find(|l| l.starts_with("model ")).unwrap();
    assert_eq!(model_row.split_whitespace().nth(4), Some("n/a"), "{text}");
}
