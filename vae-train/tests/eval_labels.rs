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
