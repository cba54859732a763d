//! Reads the real data sets of `../shared/data` (SKAB, NAB, CWRU) when they are present; each
//! test prints a note and passes when they are not (they are not part of the repository).

use std::path::{Path, PathBuf};
use vae_train::data::{load, load_file, split, windows_of, LoadOptions, RowRange, SkipReason, Stats};

fn shared(rel: &str) -> Option<PathBuf> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/data").join(rel);
    if path.exists() {
        Some(path)
    } else {
        eprintln!("note: {} not found, skipping (the shared data sets are optional)", path.display());
        None
    }
}

const SKAB_SENSORS: [&str; 8] = [
    "Accelerometer1RMS",
    "Accelerometer2RMS",
    "Current",
    "Pressure",
    "Temperature",
    "Thermocouple",
    "Voltage",
    "Volume Flow RateRMS",
];

#[test]
fn skab_valve1_with_labels() {
    let Some(path) = shared("skab/data/valve1/0.csv") else { return };
    let opts = LoadOptions {
        columns: Some(SKAB_SENSORS.iter().map(|s| s.to_string()).collect()),
        label_column: Some("anomaly".into()),
        keep_timestamps: true,
        ..Default::default()
    };
    let r = load_file(&path, &opts).unwrap();
    assert_eq!(r.channels, SKAB_SENSORS);
    assert_eq!(r.rows(), 1147);
    assert_eq!(
        r.row(0),
        Some(&[0.0265878f32, 0.0401113, 1.3302, 0.054711, 79.3366, 26.0199, 233.062, 32.0][..])
    );
    let labels = r.labels.as_ref().unwrap();
    assert_eq!(labels.iter().filter(|&&l| l).count(), 401);
    assert_eq!(r.timestamps.as_ref().unwrap()[0], "2020-03-09 10:14:33");

    // Automatic selection: the 8 sensors, not datetime, the label column nor changepoint
    // (another label).
    let auto = LoadOptions { label_column: Some("anomaly".into()), ..Default::default() };
    let r = load_file(&path, &auto).unwrap();
    assert_eq!(r.channels, SKAB_SENSORS);
    let left: Vec<(&str, SkipReason)> = r.skipped.iter().map(|s| (s.name.as_str(), s.reason)).collect();
    assert_eq!(
        left,
        [
            ("datetime", SkipReason::Timestamp),
            ("anomaly", SkipReason::LabelColumn),
            ("changepoint", SkipReason::LabelName)
        ]
    );
    // Without a label column, as `fit --data valve1/0.csv --rows :400` reads it: the labels
    // (all 0 in those rows) are not input channels either.
    let train = LoadOptions { rows: Some(RowRange::parse(":400").unwrap()), ..Default::default() };
    let r = load_file(&path, &train).unwrap();
    assert_eq!(r.channels, SKAB_SENSORS);
    assert_eq!(
        r.column_note().unwrap(),
        format!(
            "columns: taken {}; left out datetime (the timestamp), anomaly (a label name), \
             changepoint (a label name): name them in --columns to use them",
            SKAB_SENSORS.join(", ")
        )
    );

    // The benchmark's protocol: the first 400 rows of each file train.
    let opts = LoadOptions { rows: Some(RowRange::parse(":400").unwrap()), min_rows: 32, ..opts };
    let recs = load(&[path.clone(), path.with_file_name("1.csv")], &opts).unwrap();
    assert!(recs.iter().all(|r| r.rows() == 400));
    let s = split(&recs, 0.2, 32).unwrap();
    let stats = Stats::fit(&s.train).unwrap();
    assert_eq!(stats.rows, 2 * 320);
    let w = windows_of(&s.val, 32, 8).unwrap();
    assert_eq!(w.len(), 2 * ((80 - 32) / 8 + 1));
}

#[test]
fn nab_machine_temperature() {
    let Some(path) = shared("nab/data/realKnownCause/machine_temperature_system_failure.csv") else { return };
    let opts =
        LoadOptions { columns: Some(vec!["value".into()]), keep_timestamps: true, ..Default::default() };
    let r = load_file(&path, &opts).unwrap();
    assert_eq!(r.channels, ["value"]);
    assert_eq!(r.rows(), 22_695);
    assert_eq!(r.values[0], 73.967_32_f32);
    let ts = r.timestamps.as_ref().unwrap();
    assert_eq!((ts[0].as_str(), ts[22_694].as_str()), ("2013-12-02 21:15:00", "2014-02-19 15:25:00"));
    // The default selection finds the same single channel.
    assert_eq!(load_file(&path, &LoadOptions::default()).unwrap().channels, ["value"]);
}

#[test]
fn cwru_normal_and_fault() {
    let Some(normal) = shared("cwru/1797_Normal.npz") else { return };
    let de = LoadOptions { columns: Some(vec!["DE".into()]), ..Default::default() };
    let r = load_file(&normal, &de).unwrap();
    assert_eq!((r.channels.as_slice(), r.rows()), (&["DE".to_string()][..], 243_938));
    assert_eq!(r.values[0], 0.053_196_922_f32);
    assert_eq!(r.values[243_937], 0.046_938_46_f32);
    let both = LoadOptions { columns: Some(vec!["DE".into(), "FE".into()]), ..Default::default() };
    let r = load_file(&normal, &both).unwrap();
    assert_eq!((r.channels.len(), r.values[1]), (2, 0.145_667_27_f32));
    // Train on the first 70% of the normal file.
    let train = LoadOptions { rows: Some(RowRange::parse("0:0.7").unwrap()), ..de.clone() };
    assert_eq!(load_file(&normal, &train).unwrap().rows(), 170_756);
    let test = LoadOptions { rows: Some(RowRange::parse("0.7:1").unwrap()), ..de.clone() };
    let r = load_file(&normal, &test).unwrap();
    assert_eq!((r.first_row, r.rows()), (170_756, 243_938 - 170_756));
    let Some(fault) = shared("cwru/1797_B_7_DE48.npz") else { return };
    let recs = load(&[normal, fault], &de).unwrap();
    assert_eq!(recs[1].rows(), 244_739);
}
