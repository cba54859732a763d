//! Bad input through the real `vae-train` binary: every file of the bad-input corpus, a
//! missing path, a directory and damaged model files give one specific `error: ...` line on
//! stderr (naming the file, and the line and column where there is one), a non-zero exit,
//! no panic and no backtrace (even with `RUST_BACKTRACE=1`), and no output file.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_vae-train");

fn bad(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/bad").join(name)
}

fn run(args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .env("RUST_BACKTRACE", "1")
        .output()
        .unwrap_or_else(|e| panic!("cannot run {BIN}: {e}"))
}

/// The run failed with exit status 1 and exactly one stderr line, `error: ...`, holding every
/// piece of `expected` (or, status 2, clap's usage error: `error: ...` first, the pieces
/// anywhere in its message); returns the first line.
fn fails_with(out: &Output, code: i32, expected: &[&str]) -> String {
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    for forbidden in ["panicked", "RUST_BACKTRACE", "stack backtrace", "note: run with"] {
        assert!(!stderr.contains(forbidden) && !stdout.contains(forbidden), "{forbidden}:\n{stderr}");
    }
    assert_eq!(out.status.code(), Some(code), "exit status; stderr:\n{stderr}");
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    assert!(!lines.is_empty(), "no message on stderr");
    let first = lines[0];
    assert!(first.starts_with("error: "), "first stderr line is not an error: {stderr}");
    if code == 1 {
        assert_eq!(lines.len(), 1, "more than one line on stderr:\n{stderr}");
        assert!(stdout.is_empty(), "stdout: {stdout}");
    }
    let searched = if code == 1 { first } else { stderr.as_str() };
    for piece in expected {
        assert!(searched.contains(piece), "`{piece}` missing from: {searched}");
    }
    first.to_string()
}

/// `vae-train fit` on one bad data file: fails as expected, writes no model, leaves no
/// temporary file.
fn fit_fails(data: &Path, extra: &[&str], expected: &[&str]) {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("m.vaem");
    let mut args = vec!["fit", "--data", data.to_str().unwrap(), "--out", out.to_str().unwrap(), "--quiet"];
    args.extend_from_slice(extra);
    let line = fails_with(&run(&args), 1, expected);
    let name = data.file_name().unwrap().to_str().unwrap();
    assert!(line.contains(name), "the message does not name {name}: {line}");
    let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert!(left.is_empty(), "a failed fit left files behind: {left:?}");
}

#[test]
fn ragged_rows() {
    fit_fails(&bad("ragged.csv"), &[], &["line 3:", "expected 3 fields separated by ','", "found 2"]);
}

#[test]
fn non_numeric_cell() {
    fit_fails(&bad("non_numeric.csv"), &[], &["line 3, column 3 `y`", "expected a number, found `abc`"]);
}

#[test]
fn wrong_separator() {
    fit_fails(
        &bad("semicolon.csv"),
        &["--sep", ","],
        &["line 1:", "separator ',' not found in the header, which contains ';' 2 times"],
    );
    fit_fails(&bad("ambiguous_separator.csv"), &[], &["line 1:", "cannot tell the separator"]);
}

#[test]
fn missing_column() {
    fit_fails(
        &bad("semicolon.csv"),
        &["--columns", "Pressure,Temperature"],
        &["no column `Temperature`; available: datetime, Pressure, Flow"],
    );
}

#[test]
fn empty_file_and_header_only() {
    fit_fails(&bad("empty.csv"), &[], &["empty file, expected a header line and data rows"]);
    fit_fails(&bad("header_only.csv"), &[], &["no data rows after the header"]);
    fit_fails(&bad("no_header.csv"), &[], &["line 1:", "expected a header line with column names"]);
}

#[test]
fn huge_values_nan_and_inf() {
    fit_fails(&bad("huge_value.csv"), &[], &["the first at line 3, column 2 `b`: `1e40`"]);
    fit_fails(
        &bad("nan_inf.csv"),
        &[],
        &["2 NaN/Inf/missing value(s) in 2 row(s)", "line 2, column 2 `b`: `NaN`"],
    );
}

#[test]
fn other_malformed_text() {
    fit_fails(&bad("unterminated_quote.csv"), &[], &["line 2:", "unterminated quoted field in column 2"]);
    fit_fails(&bad("invalid_utf8.csv"), &[], &["line 3:", "not valid UTF-8"]);
    fit_fails(&bad("duplicate_column.csv"), &[], &["column name `a` appears twice"]);
    fit_fails(&bad("short.csv"), &["--window", "16"], &["needed at least 16 rows (one window), found 2"]);
    fit_fails(&bad("short.csv"), &["--rows", "1:5"], &["row range `1:5`", "the file has 2 rows"]);
}

#[test]
fn truncated_npy_and_unsupported_dtype() {
    fit_fails(&bad("truncated.npy"), &[], &["truncated .npy data", "needs 800 bytes, found 83"]);
    fit_fails(&bad("complex.npy"), &[], &["<c16"]);
}

#[test]
fn npz_without_the_key() {
    fit_fails(
        &bad("no_de_key.npz"),
        &["--columns", "DE"],
        &["no array `DE` in the archive; arrays present: FE, RPM"],
    );
}

#[test]
fn non_existent_path_and_directory() {
    fit_fails(&bad("does_not_exist.csv"), &[], &["does_not_exist.csv: no such file"]);
    let dir = bad("");
    let dir = dir.to_str().unwrap().trim_end_matches('/');
    fit_fails(Path::new(dir), &[], &["is a directory, expected a CSV, .npy or .npz file"]);
}

#[test]
fn bad_data_for_score_is_refused_too() {
    // `score` reads data with the same readers (NaN kept); structural errors still refuse.
    let dir = tempfile::tempdir().unwrap();
    let model = write_tiny_model(dir.path());
    let m = model.to_str().unwrap();
    let ragged = dir.path().join("ragged.csv");
    std::fs::write(&ragged, "x,y\n1,2\n3\n4,5\n").unwrap();
    fails_with(
        &run(&["score", "--model", m, "--data", ragged.to_str().unwrap()]),
        1,
        &["ragged.csv, line 3:"],
    );
    let other = bad("semicolon.csv");
    fails_with(&run(&["score", "--model", m, "--data", other.to_str().unwrap()]), 1, &["no column `x`"]);
    let out =
        run(&["score", "--model", model.to_str().unwrap(), "--data", bad("missing.npy").to_str().unwrap()]);
    fails_with(&out, 1, &["missing.npy: no such file"]);
}

/// A valid, calibrated model file on channels `x`, `y` (window 2), written by the library.
fn write_tiny_model(dir: &Path) -> PathBuf {
    use vae_core::model_file::{Calibration, Transform};
    use vae_core::{Activation, ScoreConfig};
    use vae_train::model::{Layer, ModelMeta, Network, OwnedModel};
    let l = |i, o, a| {
        let mut l = Layer::zeros(i, o, a);
        l.weight.iter_mut().enumerate().for_each(|(k, w)| *w = (k % 5) as f32 * 0.1 - 0.2);
        l
    };
    let m = OwnedModel {
        meta: ModelMeta {
            weights: vae_core::weights::Encoding::F32,
            name: "tiny".into(),
            seed: 1,
            window: 2,
            hop: 1,
            channels: vec!["x".into(), "y".into()],
            norm_mean: vec![0.0, 0.0],
            norm_std: vec![1.0, 1.0],
            score: ScoreConfig::DETERMINISTIC,
            transform: Transform::Raw,
        },
        net: Network {
            encoder: vec![l(4, 3, Activation::Tanh)],
            mu: l(3, 2, Activation::Identity),
            log_var: l(3, 2, Activation::Identity),
            decoder: vec![l(2, 3, Activation::Tanh)],
            mean: l(3, 4, Activation::Identity),
            decoder_log_var: vec![0.0; 4],
        },
        thresholds: vec![Calibration { quantile: 0.99, threshold: 5.0 }],
        alarm: vae_core::AlarmRule::STATIC,
    };
    let path = dir.join("tiny.vaem");
    m.save(&path).unwrap();
    path
}

#[test]
fn damaged_model_files() {
    let dir = tempfile::tempdir().unwrap();
    let model = write_tiny_model(dir.path());
    let good = std::fs::read(&model).unwrap();
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("flipped.vaem", flip(&good, 50), "model file is corrupt: CRC-32 stored"),
        ("truncated.vaem", good[..good.len() - 7].to_vec(), "model file length mismatch"),
        ("short.vaem", good[..20].to_vec(), "model file truncated: needs at least"),
        (
            "magic.vaem",
            b"PK\x03\x04 this is not a model file at all, just text long enough to hold a header".to_vec(),
            "not a model file",
        ),
        ("version.vaem", patch_version(&good), "format version 9 is not supported"),
    ];
    for (name, bytes, expected) in &cases {
        let path = dir.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        let p = path.to_str().unwrap();
        fails_with(&run(&["inspect", p]), 1, &[name, expected]);
        let csv = dir.path().join("d.csv");
        std::fs::write(&csv, "x,y\n1,2\n3,4\n5,6\n").unwrap();
        fails_with(&run(&["score", "--model", p, "--data", csv.to_str().unwrap()]), 1, &[name, expected]);
    }
    fails_with(&run(&["inspect", dir.path().join("none.vaem").to_str().unwrap()]), 1, &["none.vaem"]);
    fails_with(&run(&["inspect", dir.path().to_str().unwrap()]), 1, &[dir.path().to_str().unwrap()]);
}

fn flip(bytes: &[u8], at: usize) -> Vec<u8> {
    let mut b = bytes.to_vec();
    b[at] ^= 0x04;
    b
}

fn patch_version(bytes: &[u8]) -> Vec<u8> {
    let mut b = bytes.to_vec();
    b[4] = 9;
    b
}

#[test]
fn usage_errors_are_clean_too() {
    let data = bad("semicolon.csv");
    let d = data.to_str().unwrap();
    fails_with(
        &run(&["fit", "--data", d, "--out", "/nonexistent/x.vaem", "--rows", "a:b"]),
        2,
        &["row range `a:b`"],
    );
    fails_with(
        &run(&["fit", "--data", d, "--out", "/nonexistent/x.vaem", "--score", "best"]),
        2,
        &["unknown score `best`"],
    );
    // clap's own usage errors: exit 2, `error: ...` first, no panic.
    fails_with(&run(&["fit", "--data", d]), 2, &["--out"]);
    fails_with(&run(&["fit", "--data", d, "--out", "x", "--window", "-3"]), 2, &["-3"]);
}
