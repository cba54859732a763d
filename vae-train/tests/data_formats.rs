//! Files written by NumPy itself (`tests/data/good/`, NumPy 2.4) and small CSVs read through
//! the public API, then the whole pipeline: load, split, statistics, windows.

use std::path::{Path, PathBuf};
use vae_train::data::{load, load_file, split, windows_of, LoadOptions, RowRange, Stats};

fn good(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/good").join(name)
}

fn read(name: &str) -> (Vec<String>, Vec<f32>) {
    let r = load_file(&good(name), &LoadOptions::default()).unwrap();
    (r.channels, r.values)
}

#[test]
fn npy_written_by_numpy() {
    assert_eq!(read("f4_n.npy"), (vec!["f4_n".to_string()], vec![1.5, -2.25, 3.0]));
    assert_eq!(
        read("f8_n1.npy"),
        (vec!["f8_n1".to_string()], vec![0.1f64 as f32, 0.2f64 as f32, 0.3f64 as f32])
    );
    assert_eq!(
        read("i2_nc.npy"),
        (vec!["col0".to_string(), "col1".to_string()], vec![1., -2., 3., -4., 5., -6.])
    );
    assert_eq!(read("u1_n.npy").1, [0., 128., 255.]);
    assert_eq!(read("be_f8_nc.npy").1, [1., 2., 3., 4.]);
    assert_eq!(
        read("fortran_f4.npy"),
        (vec!["col0".into(), "col1".into(), "col2".into()], vec![1., 2., 3., 4., 5., 6.])
    );
    assert_eq!(read("v2_i8.npy").1, [7., -8., 9.]);
}

#[test]
fn npz_written_by_numpy() {
    for name in ["two_channels_stored.npz", "two_channels_deflated.npz"] {
        assert_eq!(
            read(name),
            (vec!["DE".to_string(), "FE".to_string()], vec![0.5, -1.0, 1.5, -2.0, 2.5, -3.0])
        );
        let opts = LoadOptions {
            columns: Some(vec!["FE".into()]),
            rows: Some(RowRange::parse("1:").unwrap()),
            ..Default::default()
        };
        let r = load_file(&good(name), &opts).unwrap();
        assert_eq!((r.values.as_slice(), r.first_row), (&[-2.0f32, -3.0][..], 1));
    }
}

#[test]
fn csv_with_labels_and_timestamps() {
    let opts =
        LoadOptions { label_column: Some("anomaly".into()), keep_timestamps: true, ..Default::default() };
    let r = load_file(&good("pump_a.csv"), &opts).unwrap();
    assert_eq!(r.channels, ["Pressure", "Flow"]);
    assert_eq!(r.values, [0.5, 32.0, 0.25, 31.5, 0.75, 32.5, 1.0, 33.0]);
    assert_eq!(r.labels, Some(vec![false, false, true, true]));
    assert_eq!(r.timestamps.as_ref().map(|t| t[3].as_str()), Some("2020-03-09 10:14:36"));
}

#[test]
fn pipeline_load_split_normalise_window() {
    let opts =
        LoadOptions { columns: Some(vec!["DE".into(), "FE".into()]), min_rows: 2, ..Default::default() };
    let recs = load(&[good("two_channels_stored.npz"), good("two_channels_deflated.npz")], &opts).unwrap();
    // 3 rows each: a validation window of 1 row fits, 2 rows train.
    let s = split(&recs, 0.34, 1).unwrap();
    assert_eq!((s.train[0].rows(), s.val[0].rows(), s.val[0].first_row), (2, 1, 2));
    let stats = Stats::fit(&s.train).unwrap();
    assert_eq!((stats.mean.as_slice(), stats.rows), (&[1.0f32, -1.5][..], 4));
    let mut val = s.val.clone();
    for r in &mut val {
        stats.apply(r).unwrap();
    }
    let w = windows_of(&val, 1, 1).unwrap();
    assert_eq!(w.len(), 2);
    assert_eq!(w.get(0), Some(&[3.0f32, -3.0][..]));
    assert_eq!(
        w.source(1, &val).map(|(p, row)| (p.file_name().unwrap().to_str().unwrap(), row)),
        Some(("two_channels_deflated.npz", 2))
    );
}
