//! Which columns `vae-train fit` takes, through the real binary: label columns (by name or
//! by their 0/1 values) never become input channels unless named in `--columns`, and a
//! missing value (`n/a`, `NA`, an empty cell...) is the same NaN in the first row as in any
//! other, instead of making its column disappear.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_vae-train");

fn run(args: &[&str]) -> Output {
    Command::new(BIN).args(args).output().unwrap_or_else(|e| panic!("cannot run {BIN}: {e}"))
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// `fit` on `data` (a tiny, fast configuration) into `dir/m.vaem`.
fn fit(dir: &Path, data: &Path, extra: &[&str]) -> (Output, PathBuf) {
    let model = dir.join("m.vaem");
    let _ = std::fs::remove_file(&model);
    let mut args = vec![
        "fit",
        "--no-auto",
        "--data",
        s(data),
        "--out",
        s(&model),
        "--force",
        "--quiet",
        "--window",
        "8",
        "--hop",
        "4",
        "--epochs",
        "2",
        "--hidden",
        "8",
        "--latent",
        "2",
    ];
    args.extend_from_slice(extra);
    (run(&args), model)
}

/// The channels of a model `fit` wrote, as `vae-train inspect` counts them and as the file
/// names them.
fn channels(model: &Path) -> Vec<String> {
    let out = run(&["inspect", s(model)]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let names = vae_train::OwnedModel::load(model).unwrap().meta.channels;
    assert!(text.contains(&format!(" x {} channels", names.len())), "{text}");
    names
}

fn fit_channels(dir: &Path, data: &Path, extra: &[&str]) -> Vec<String> {
    let (out, model) = fit(dir, data, extra);
    assert!(out.status.success(), "{}", stderr(&out));
    channels(&model)
}

/// 120 rows: a timestamp, two sensors, an `anomaly` label and a 0/1 `valve` flag.
fn labelled_csv(dir: &Path) -> PathBuf {
    let mut text = String::from("timestamp,a,b,anomaly,valve\n");
    for i in 0..120 {
        let t = i as f32 * 0.1;
        text.push_str(&format!(
            "2020-01-01 00:{:02}:{:02},{},{},{},{}\n",
            i / 60,
            i % 60,
            t.sin(),
            (1.3 * t).cos(),
            u8::from((80..90).contains(&i)),
            (i / 10) % 2
        ));
    }
    let path = dir.join("labelled.csv");
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn fit_leaves_label_and_flag_columns_out() {
    let dir = tempfile::tempdir().unwrap();
    let csv = labelled_csv(dir.path());
    assert_eq!(fit_channels(dir.path(), &csv, &[]), ["a", "b"]);
    // Named, a column is always taken.
    assert_eq!(fit_channels(dir.path(), &csv, &["--columns", "a,anomaly,valve"]), ["a", "anomaly", "valve"]);
}

#[test]
fn synth_test_recording_anomaly_column_is_not_a_channel() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(&["synth", "--out", s(dir.path()), "--train-rows", "100", "--test-rows", "300"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let test = dir.path().join("test.csv");
    assert!(std::fs::read_to_string(&test)
        .unwrap()
        .starts_with("time,vib_x,vib_y,temperature,current,anomaly\n"));
    assert_eq!(fit_channels(dir.path(), &test, &[]), ["vib_x", "vib_y", "temperature", "current"]);
}

#[test]
fn skab_labels_are_not_channels() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/data/skab/data/valve1/0.csv");
    if !path.exists() {
        eprintln!("note: {} not found, skipping (the shared data sets are optional)", path.display());
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let got = fit_channels(dir.path(), &path, &["--rows", ":400"]);
    assert_eq!(
        got,
        [
            "Accelerometer1RMS",
            "Accelerometer2RMS",
            "Current",
            "Pressure",
            "Temperature",
            "Thermocouple",
            "Voltage",
            "Volume Flow RateRMS"
        ]
    );
}

#[test]
fn a_missing_value_in_the_first_row_is_the_same_nan_as_in_the_second() {
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, bad_row: usize, marker: &str| {
        let mut text = String::from("a,b,c\n");
        for i in 0..60 {
            let b = if i == bad_row { marker.to_string() } else { format!("{}", (i as f32 * 0.2).cos()) };
            text.push_str(&format!("{},{b},{}\n", (i as f32 * 0.1).sin(), i % 7));
        }
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path
    };
    for marker in ["n/a", "NA", "", "null"] {
        let first = write("first.csv", 0, marker);
        let second = write("second.csv", 1, marker);
        let shown = if marker.is_empty() { "(empty cell)".to_string() } else { marker.to_string() };
        for (path, line) in [(&first, 2), (&second, 3)] {
            let (out, model) = fit(dir.path(), path, &[]);
            assert_eq!(out.status.code(), Some(1), "{marker:?}: {}", stderr(&out));
            let err = stderr(&out);
            let want = format!(
                "1 NaN/Inf/missing value(s) in 1 row(s), the first at line {line}, column 2 `b`: `{shown}`"
            );
            assert!(err.starts_with("error: ") && err.contains(&want), "{marker:?}: {err}");
            assert!(!model.exists());
        }
        // Dropping the row keeps the three channels.
        assert_eq!(fit_channels(dir.path(), &first, &["--drop-nan"]), ["a", "b", "c"], "{marker:?}");
    }
}

#[test]
fn a_file_with_only_labels_says_why_no_column_is_left() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("labels.csv");
    let mut text = String::from("datetime;anomaly;changepoint;status\n");
    for i in 0..40 {
        text.push_str(&format!("2020-03-09 10:{:02}:{:02};{};0;ok\n", i / 60, i % 60, u8::from(i > 30)));
    }
    std::fs::write(&path, text).unwrap();
    let (out, _) = fit(dir.path(), &path, &[]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains(
            "labels.csv: no numeric feature column (every column was left out: datetime (the timestamp), \
             anomaly (a label name), changepoint (a label name), status (not numeric); name the columns \
             to use in --columns)"
        ),
        "{err}"
    );
}
