//! The bad-input corpus under `tests/data/bad/`: each file must give its specific
//! `DataError` variant, and the message must carry the location and the expected/found values.

use std::path::{Path, PathBuf};
use vae_train::data::{load, load_file, DataError, LoadOptions, NanPolicy, RowRange};

fn bad(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/bad").join(name)
}

fn good(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/good").join(name)
}

fn err(path: &Path, opts: &LoadOptions) -> (DataError, String) {
    match load_file(path, opts) {
        Ok(r) => panic!("{} loaded: {r:?}", path.display()),
        Err(e) => {
            let msg = e.to_string();
            (e, msg)
        }
    }
}

fn default_err(name: &str) -> (DataError, String) {
    err(&bad(name), &LoadOptions::default())
}

fn columns(names: &[&str]) -> LoadOptions {
    LoadOptions { columns: Some(names.iter().map(|s| s.to_string()).collect()), ..Default::default() }
}

#[test]
fn ragged_row() {
    let (e, msg) = default_err("ragged.csv");
    assert!(matches!(e, DataError::RaggedRow { line: 3, expected: 3, found: 2, sep: ',', .. }), "{msg}");
    assert!(
        msg.ends_with("ragged.csv, line 3: expected 3 fields separated by ',' (as in the header), found 2"),
        "{msg}"
    );
}

#[test]
fn non_numeric_cell() {
    let (e, msg) = default_err("non_numeric.csv");
    assert!(
        matches!(&e, DataError::NonNumeric { line: 3, column_number: 3, column, cell, .. } if column == "y" && cell == "abc"),
        "{msg}"
    );
    assert!(msg.ends_with("non_numeric.csv, line 3, column 3 `y`: expected a number, found `abc`"), "{msg}");
}

#[test]
fn wrong_separator() {
    // Detected, it reads fine; forced to ',' it is refused with the separator the header uses.
    let r = load_file(&bad("semicolon.csv"), &LoadOptions::default()).unwrap();
    assert_eq!(r.channels, ["Pressure", "Flow"]);
    let opts = LoadOptions { sep: Some(b','), ..Default::default() };
    let (e, msg) = err(&bad("semicolon.csv"), &opts);
    assert!(
        matches!(e, DataError::WrongSeparator { line: 1, expected: ',', found: ';', count: 2, .. }),
        "{msg}"
    );
    assert!(
        msg.contains(
            "semicolon.csv, line 1: separator ',' not found in the header, which contains ';' 2 times"
        ),
        "{msg}"
    );
}

#[test]
fn ambiguous_separator() {
    let (e, msg) = default_err("ambiguous_separator.csv");
    assert!(matches!(e, DataError::AmbiguousSeparator { line: 1, .. }), "{msg}");
    assert!(msg.contains("the header has 1 ',' and 1 ';'"), "{msg}");
}

#[test]
fn missing_column() {
    let (e, msg) = err(&bad("semicolon.csv"), &columns(&["Pressure", "Temperature"]));
    assert!(matches!(&e, DataError::MissingColumn { column, .. } if column == "Temperature"), "{msg}");
    assert!(
        msg.ends_with("semicolon.csv: no column `Temperature`; available: datetime, Pressure, Flow"),
        "{msg}"
    );
    let opts = LoadOptions { label_column: Some("anomaly".into()), ..Default::default() };
    let (e, _) = err(&bad("semicolon.csv"), &opts);
    assert!(matches!(&e, DataError::MissingColumn { column, .. } if column == "anomaly"));
}

#[test]
fn empty_file() {
    let (e, msg) = default_err("empty.csv");
    assert!(matches!(e, DataError::Empty { .. }), "{msg}");
    assert!(msg.ends_with("empty.csv: empty file, expected a header line and data rows"), "{msg}");
}

#[test]
fn header_only() {
    let (e, msg) = default_err("header_only.csv");
    assert!(matches!(e, DataError::NoDataRows { .. }), "{msg}");
    assert!(msg.ends_with("header_only.csv: no data rows after the header (only a header line)"), "{msg}");
}

#[test]
fn missing_header() {
    let (e, msg) = default_err("no_header.csv");
    assert!(matches!(e, DataError::NoHeader { line: 1, .. }), "{msg}");
    assert!(
        msg.contains(
            "no_header.csv, line 1: expected a header line with column names, found numbers `1.0,2.0`"
        ),
        "{msg}"
    );
}

#[test]
fn duplicate_column() {
    let (e, msg) = default_err("duplicate_column.csv");
    assert!(matches!(e, DataError::DuplicateColumn { line: 1, first: 1, second: 3, .. }), "{msg}");
    assert!(msg.contains("column name `a` appears twice (columns 1 and 3)"), "{msg}");
}

#[test]
fn unterminated_quote_and_bad_utf8() {
    let (e, msg) = default_err("unterminated_quote.csv");
    assert!(matches!(e, DataError::UnterminatedQuote { line: 2, column_number: 2, .. }), "{msg}");
    let (e, msg) = default_err("invalid_utf8.csv");
    assert!(matches!(e, DataError::InvalidUtf8 { line: 3, .. }), "{msg}");
    assert!(msg.ends_with("invalid_utf8.csv, line 3: not valid UTF-8 text"), "{msg}");
}

#[test]
fn huge_value_is_non_finite() {
    let (e, msg) = default_err("huge_value.csv");
    assert!(matches!(&e, DataError::NonFinite { count: 1, rows: 1, found, .. } if found == "1e40"), "{msg}");
    assert!(msg.contains("huge_value.csv: 1 NaN/Inf/missing value(s) in 1 row(s), the first at line 3, column 2 `b`: `1e40`"), "{msg}");
    let opts = LoadOptions { nan: NanPolicy::DropRows, ..Default::default() };
    let r = load_file(&bad("huge_value.csv"), &opts).unwrap();
    assert_eq!((r.values.as_slice(), r.dropped_rows.as_slice()), (&[1.0f32, 2.0, 5.0, 6.0][..], &[1][..]));
}

#[test]
fn nan_and_inf() {
    let (e, msg) = default_err("nan_inf.csv");
    match &e {
        DataError::NonFinite { count, rows, first, found, .. } => {
            assert_eq!((*count, *rows, found.as_str()), (2, 2, "NaN"));
            assert_eq!(
                (first.line, first.row, first.column.as_str(), first.column_number),
                (Some(2), 0, "b", 2)
            );
        }
        other => panic!("{other}"),
    }
    assert!(
        msg.contains("2 NaN/Inf/missing value(s) in 2 row(s), the first at line 2, column 2 `b`: `NaN`"),
        "{msg}"
    );
    let opts = LoadOptions { nan: NanPolicy::DropRows, ..Default::default() };
    let r = load_file(&bad("nan_inf.csv"), &opts).unwrap();
    assert_eq!(r.values, [2.0, 3.0, 5.0, 6.0]);
    assert_eq!(r.dropped_rows, [0, 2]);
    assert_eq!((r.file_row(0), r.file_row(1)), (1, 3));
}

#[test]
fn bad_label() {
    let opts = LoadOptions { label_column: Some("anomaly".into()), ..Default::default() };
    let (e, msg) = err(&bad("bad_label.csv"), &opts);
    assert!(
        matches!(&e, DataError::BadLabel { at, cell, .. } if at.line == Some(3) && at.column_number == 2 && cell == "yes"),
        "{msg}"
    );
    assert!(msg.ends_with("bad_label.csv, line 3, column 2 `anomaly`: label must be 0 or 1 (0.0 and 1.0 accepted), found `yes`"), "{msg}");
}

#[test]
fn fewer_rows_than_one_window() {
    let opts = LoadOptions { min_rows: 16, ..Default::default() };
    let (e, msg) = err(&bad("short.csv"), &opts);
    assert!(matches!(e, DataError::TooFewRows { needed: 16, found: 2, .. }), "{msg}");
    assert!(msg.ends_with("short.csv: needed at least 16 rows (one window), found 2"), "{msg}");
}

#[test]
fn row_range_beyond_the_file() {
    let opts = LoadOptions { rows: Some(RowRange::parse("1:5").unwrap()), ..Default::default() };
    let (e, msg) = err(&bad("short.csv"), &opts);
    assert!(matches!(e, DataError::RowRangeOutOfBounds { rows: 2, .. }), "{msg}");
    assert!(
        msg.ends_with("short.csv: row range `1:5`: end 5 is beyond the last row (the file has 2 rows)"),
        "{msg}"
    );
    let opts = LoadOptions { rows: Some(RowRange::parse("-1:").unwrap()), ..Default::default() };
    let (_, msg) = err(&bad("short.csv"), &opts);
    assert!(msg.contains("start -1 is negative (the file has 2 rows)"), "{msg}");
}

#[test]
fn truncated_npy() {
    let (e, msg) = default_err("truncated.npy");
    assert!(matches!(e, DataError::Truncated { expected: 800, found: 83, .. }), "{msg}");
    assert!(
        msg.ends_with("truncated.npy: truncated .npy data: shape (100, 1) of <f8 needs 800 bytes, found 83"),
        "{msg}"
    );
}

#[test]
fn unsupported_dtype() {
    let (e, msg) = default_err("complex.npy");
    assert!(matches!(&e, DataError::UnsupportedDtype { dtype, .. } if dtype == "<c16"), "{msg}");
}

#[test]
fn npz_without_the_key() {
    let (e, msg) = err(&bad("no_de_key.npz"), &columns(&["DE"]));
    assert!(
        matches!(&e, DataError::NpzMissingKey { key, available, .. } if key == "DE" && available == "FE, RPM"),
        "{msg}"
    );
    assert!(msg.ends_with("no_de_key.npz: no array `DE` in the archive; arrays present: FE, RPM"), "{msg}");
    // Every array by default: FE has 2 rows, RPM 1.
    let (e, msg) = err(&bad("no_de_key.npz"), &LoadOptions::default());
    assert!(matches!(e, DataError::NpzLengthMismatch { found: 1, expected: 2, .. }), "{msg}");
}

#[test]
fn non_existent_path() {
    let (e, msg) = default_err("does_not_exist.csv");
    assert!(matches!(e, DataError::NotFound { .. }), "{msg}");
    assert!(msg.ends_with("does_not_exist.csv: no such file"), "{msg}");
}

#[test]
fn directory_instead_of_a_file() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/bad");
    let (e, msg) = err(&dir, &LoadOptions::default());
    assert!(matches!(e, DataError::IsDirectory { .. }), "{msg}");
    assert!(msg.ends_with("bad: is a directory, expected a CSV, .npy or .npz file"), "{msg}");
}

#[test]
fn inconsistent_channels_across_files() {
    let opts = LoadOptions { label_column: Some("anomaly".into()), ..Default::default() };
    let e = load(&[good("pump_a.csv"), good("pump_b.csv")], &opts).unwrap_err();
    let msg = e.to_string();
    assert!(matches!(e, DataError::InconsistentChannels { .. }), "{msg}");
    assert!(msg.contains("pump_b.csv has channels [Flow, Pressure] but "), "{msg}");
    assert!(msg.contains("pump_a.csv has [Pressure, Flow]"), "{msg}");
    // Naming the columns puts them in the same order.
    let opts = LoadOptions { columns: Some(vec!["Pressure".into(), "Flow".into()]), ..opts };
    let recs = load(&[good("pump_a.csv"), good("pump_b.csv")], &opts).unwrap();
    assert_eq!(recs[1].values, [0.5, 30.0]);
}

#[test]
fn missing_value_in_the_first_row() {
    // `n/a` in the first row does not make its column disappear: it is a missing value (NaN),
    // refused with its line and column as in any other row.
    let (e, msg) = default_err("na_first_row.csv");
    assert!(
        matches!(&e, DataError::NonFinite { count: 1, rows: 1, first, found, .. }
            if first.line == Some(2) && first.column == "b" && first.column_number == 3 && found == "n/a"),
        "{msg}"
    );
    assert!(msg.contains("na_first_row.csv: 1 NaN/Inf/missing value(s) in 1 row(s), the first at line 2, column 3 `b`: `n/a`"), "{msg}");
    let opts = LoadOptions { nan: NanPolicy::DropRows, ..Default::default() };
    let r = load_file(&bad("na_first_row.csv"), &opts).unwrap();
    assert_eq!(
        (r.channels.as_slice(), r.dropped_rows.as_slice()),
        (&["a".to_string(), "b".to_string()][..], &[0][..])
    );
    assert_eq!(r.lines, Some(vec![3, 4, 5]));
}

#[test]
fn only_label_columns() {
    let (e, msg) = default_err("labels_only.csv");
    assert!(matches!(e, DataError::NoColumns { .. }), "{msg}");
    assert!(
        msg.ends_with(
            "labels_only.csv: no numeric feature column (every column was left out: datetime (the timestamp), \
             anomaly (a label name), changepoint (a label name), flag (only 0/1 values); name the columns \
             to use in --columns); columns: datetime, anomaly, changepoint, flag"
        ),
        "{msg}"
    );
    let r = load_file(&bad("labels_only.csv"), &columns(&["flag", "anomaly"])).unwrap();
    assert_eq!(r.values, [1.0, 0.0, 0.0, 1.0, 1.0, 1.0]);
}

#[test]
fn inconsistent_channels_say_which_column_was_left_out() {
    // `flag` holds only 0/1 in one file and not in the other: the automatic selection takes
    // it in one only, and the error says so.
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a.csv");
    let b = dir.path().join("b.csv");
    std::fs::write(&a, "x,flag\n1.5,0\n2.5,1\n").unwrap();
    std::fs::write(&b, "x,flag\n1.5,0\n2.5,2\n").unwrap();
    let e = load(&[a.clone(), b.clone()], &LoadOptions::default()).unwrap_err();
    let msg = e.to_string();
    assert!(matches!(e, DataError::InconsistentChannels { .. }), "{msg}");
    assert!(
        msg.ends_with(&format!(
            "every file must have the same channels in the same order; the automatic column selection \
             left out of {}: flag (only 0/1 values); name the columns in --columns",
            a.display()
        )),
        "{msg}"
    );
    assert_eq!(load(&[a, b], &columns(&["x", "flag"])).unwrap().len(), 2);
}

#[test]
fn binary_errors_from_generated_files() {
    // Deflated and stored archives with a damaged member, written into a temp dir.
    let dir = tempfile::tempdir().unwrap();
    let npy = std::fs::read(bad("truncated.npy")).unwrap();
    for method in [zip::CompressionMethod::Stored, zip::CompressionMethod::Deflated] {
        let path = dir.path().join(format!("{method:?}.npz"));
        let mut w = zip::ZipWriter::new(std::fs::File::create(&path).unwrap());
        let o = zip::write::SimpleFileOptions::default().compression_method(method);
        w.start_file("DE.npy", o).unwrap();
        std::io::Write::write_all(&mut w, &npy).unwrap();
        w.finish().unwrap();
        let (e, msg) = err(&path, &columns(&["DE"]));
        assert!(matches!(e, DataError::Truncated { expected: 800, found: 83, .. }), "{msg}");
        assert!(msg.contains(".npz:DE.npy: truncated"), "{msg}");
    }
    let path = dir.path().join("text.npz");
    std::fs::write(&path, "a,b\n1,2\n").unwrap();
    assert!(matches!(err(&path, &LoadOptions::default()).0, DataError::Zip { .. }));
    let path = dir.path().join("text.npy");
    std::fs::write(&path, "a,b\n1,2\n").unwrap();
    let (e, msg) = err(&path, &LoadOptions::default());
    assert!(matches!(e, DataError::NpyMagic { .. }), "{msg}");
}

#[test]
fn every_corpus_file_fails_cleanly() {
    // Whatever the options, no file of the corpus panics, and every error names its file.
    let mut entries: Vec<PathBuf> = std::fs::read_dir(bad("")).unwrap().map(|e| e.unwrap().path()).collect();
    entries.sort();
    let mut failures = 0;
    for path in entries.iter().filter(|p| p.extension().is_some_and(|e| e != "md")) {
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        for opts in [
            LoadOptions::default(),
            LoadOptions { nan: NanPolicy::DropRows, min_rows: 3, ..Default::default() },
            LoadOptions {
                sep: Some(b'\t'),
                rows: Some(RowRange::parse("0:0.5").unwrap()),
                ..Default::default()
            },
        ] {
            if let Err(e) = load_file(path, &opts) {
                failures += 1;
                let msg = e.to_string();
                assert!(msg.contains(&name), "{name}: the message does not name the file: {msg}");
            }
        }
    }
    assert!(failures >= 3 * 15, "{failures}");
}
