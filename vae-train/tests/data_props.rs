//! Property tests of the data layer: CSV round trip, windows against plain slicing, and a
//! split that never shares a row between training and validation.

use proptest::prelude::*;
use std::collections::BTreeSet;
use std::path::Path;
use vae_train::data::{
    csv, npy, parse_bytes, split, window_count, windows_of, LoadOptions, Recording, RowRange,
};

fn finite() -> impl Strategy<Value = f32> {
    use proptest::num::f32::{NEGATIVE, NORMAL, POSITIVE, SUBNORMAL, ZERO};
    POSITIVE | NEGATIVE | NORMAL | SUBNORMAL | ZERO
}

/// Finite values, often exactly 0 or 1 so that columns of only 0/1 values (which the
/// automatic selection leaves out) come up.
fn value() -> impl Strategy<Value = f32> {
    prop_oneof![3 => finite(), 1 => Just(0.0f32), 1 => Just(1.0f32)]
}

fn table() -> impl Strategy<Value = (usize, Vec<f32>)> {
    (1usize..5, 1usize..40).prop_flat_map(|(c, rows)| (Just(c), prop::collection::vec(value(), c * rows)))
}

fn recording(path: &str, c: usize, rows: usize, first_row: usize, dropped: &[usize]) -> Recording {
    let mut r = Recording::new(
        path,
        (0..c).map(|i| format!("c{i}")).collect(),
        (0..rows * c).map(|v| v as f32).collect(),
    );
    r.first_row = first_row;
    r.dropped_rows = dropped.iter().map(|d| first_row + d).collect();
    r
}

proptest! {
    #[test]
    fn csv_round_trips_f32_exactly((c, values) in table(), sep in prop::sample::select(vec![b',', b';', b'\t', b'|']), crlf: bool) {
        let sep_s = char::from(sep).to_string();
        let eol = if crlf { "\r\n" } else { "\n" };
        let mut text = (0..c).map(|i| format!("ch{i}")).collect::<Vec<_>>().join(&sep_s) + eol;
        for row in values.chunks(c) {
            text += &(row.iter().map(|v| format!("{v}")).collect::<Vec<_>>().join(&sep_s) + eol);
        }
        let names: Vec<String> = (0..c).map(|i| format!("ch{i}")).collect();
        let opts = LoadOptions { columns: Some(names.clone()), ..Default::default() };
        let r = parse_bytes(text.as_bytes(), Path::new("p.csv"), &opts).unwrap();
        prop_assert_eq!(r.channels.len(), c);
        let got: Vec<u32> = r.values.iter().map(|v| v.to_bits()).collect();
        let want: Vec<u32> = values.iter().map(|v| v.to_bits()).collect();
        prop_assert_eq!(got, want);
        // The automatic selection takes every column but those of only 0/1 values (two or
        // more rows), with the same values.
        let rows = values.len() / c;
        let binary = |k: usize| rows >= 2 && values.iter().skip(k).step_by(c).all(|&v| v == 0.0 || v == 1.0);
        let taken: Vec<usize> = (0..c).filter(|&k| !binary(k)).collect();
        match parse_bytes(text.as_bytes(), Path::new("p.csv"), &LoadOptions::default()) {
            Ok(auto) => {
                prop_assert_eq!(&auto.channels, &taken.iter().map(|&k| names[k].clone()).collect::<Vec<_>>());
                let want: Vec<u32> = values.chunks(c).flat_map(|row| taken.iter().map(|&k| row[k].to_bits())).collect();
                prop_assert_eq!(auto.values.iter().map(|v| v.to_bits()).collect::<Vec<_>>(), want);
                prop_assert_eq!(auto.skipped.len(), c - taken.len());
            }
            Err(e) => prop_assert!(taken.is_empty(), "{}", e),
        }
    }

    #[test]
    fn csv_row_range_selects_those_rows((c, values) in table(), a in 0usize..50, b in 0usize..50) {
        let rows = values.len() / c;
        let (a, b) = (a.min(rows), b.min(rows));
        let (a, b) = (a.min(b), a.max(b));
        let mut text = (0..c).map(|i| format!("ch{i}")).collect::<Vec<_>>().join(",") + "\n";
        for row in values.chunks(c) {
            text += &(row.iter().map(|v| format!("{v}")).collect::<Vec<_>>().join(",") + "\n");
        }
        let columns = Some((0..c).map(|i| format!("ch{i}")).collect());
        let opts = LoadOptions { columns, rows: Some(RowRange::parse(&format!("{a}:{b}")).unwrap()), min_rows: 0, ..Default::default() };
        match csv::parse(text.as_bytes(), &opts, Path::new("p.csv")) {
            Ok(r) => {
                prop_assert_eq!(r.first_row, a);
                prop_assert_eq!(&r.values[..], &values[a * c..b * c]);
            }
            // An empty range leaves fewer rows than the minimum of one.
            Err(e) => prop_assert!(a == b, "{}", e),
        }
    }

    #[test]
    fn windows_match_slicing(c in 1usize..4, lens in prop::collection::vec(0usize..60, 1..4), window in 1usize..20, hop in 1usize..25) {
        let recs: Vec<Recording> = lens.iter().enumerate().map(|(i, &n)| {
            let mut r = recording(&format!("r{i}.csv"), c, n, 0, &[]);
            r.values.iter_mut().for_each(|v| *v += 1000.0 * i as f32);
            r
        }).collect();
        let w = windows_of(&recs, window, hop).unwrap();
        prop_assert_eq!(w.width, window * c);
        prop_assert_eq!(w.len(), lens.iter().map(|&n| window_count(n, window, hop)).sum::<usize>());
        let mut k = 0;
        for (i, r) in recs.iter().enumerate() {
            let mut start = 0;
            while start + window <= r.rows() {
                prop_assert_eq!(w.origin[k].recording, i);
                prop_assert_eq!(w.origin[k].start, start);
                prop_assert_eq!(w.get(k).unwrap(), &r.values[start * c..(start + window) * c]);
                start += hop;
                k += 1;
            }
        }
        prop_assert_eq!(k, w.len());
    }

    #[test]
    fn split_never_shares_rows(
        lens in prop::collection::vec(0usize..200, 1..4),
        dropped in prop::collection::btree_set(0usize..200, 0..10),
        frac in 0.0f64..0.9,
        window in 1usize..30,
    ) {
        let recs: Vec<Recording> = lens.iter().enumerate().map(|(i, &n)| {
            let d: Vec<usize> = dropped.iter().copied().filter(|&d| d < n).collect();
            recording(&format!("r{i}.csv"), 2, n, 7 * i, &d)
        }).collect();
        let s = split(&recs, frac, window).unwrap();
        for rec in &recs {
            let rows = |set: &[Recording]| -> BTreeSet<usize> {
                set.iter().filter(|r| r.path == rec.path).flat_map(|r| (0..r.rows()).map(|i| r.file_row(i))).collect()
            };
            let (train, val) = (rows(&s.train), rows(&s.val));
            let all: BTreeSet<usize> = (0..rec.rows()).map(|i| rec.file_row(i)).collect();
            prop_assert!(train.is_disjoint(&val));
            prop_assert_eq!(train.union(&val).copied().collect::<BTreeSet<_>>(), all);
            // Validation is the trailing part: every validation row follows every training row.
            if let (Some(t), Some(v)) = (train.last(), val.first()) {
                prop_assert!(t < v);
            }
            // Windows of each part stay inside it.
            for part in [&s.train, &s.val] {
                let w = windows_of(part, window, 1).unwrap();
                for k in 0..w.len() {
                    let o = w.origin[k];
                    let r = &part[o.recording];
                    prop_assert!(o.start + window <= r.rows());
                }
            }
        }
    }

    #[test]
    fn parsers_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..300)) {
        let opts = LoadOptions::default();
        let _ = csv::parse(&bytes, &opts, Path::new("f.csv"));
        let _ = npy::parse(&bytes, &opts, Path::new("f.npy"));
        let mut with_magic = npy::MAGIC.to_vec();
        with_magic.extend(&bytes);
        let _ = npy::parse(&with_magic, &opts, Path::new("f.npy"));
        let _ = parse_bytes(&bytes, Path::new("f.npz"), &opts);
    }

    #[test]
    fn csv_parser_never_panics_on_csv_like_text(text in "[a-c0-9.,;|\t\"\r\n eE+-]{0,200}", sep in prop::option::of(prop::sample::select(vec![b',', b';', b' ']))) {
        for nan in [vae_train::data::NanPolicy::Refuse, vae_train::data::NanPolicy::DropRows] {
            let opts = LoadOptions { sep, nan, label_column: Some("a".into()), keep_timestamps: true, ..Default::default() };
            let _ = csv::parse(text.as_bytes(), &opts, Path::new("f.csv"));
            let _ = csv::parse(text.as_bytes(), &LoadOptions { sep, nan, ..Default::default() }, Path::new("f.csv"));
        }
    }

    #[test]
    fn damaged_npz_never_panics(stored: bool, flips in prop::collection::vec((any::<prop::sample::Index>(), 1u8..=255), 1..6), cut in any::<prop::sample::Index>()) {
        let name = if stored { "two_channels_stored.npz" } else { "two_channels_deflated.npz" };
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/good").join(name);
        let mut bytes = std::fs::read(&path).unwrap();
        for (at, x) in &flips {
            let i = at.index(bytes.len());
            bytes[i] ^= x;
        }
        let _ = parse_bytes(&bytes, &path, &LoadOptions::default());
        let n = cut.index(bytes.len());
        let _ = parse_bytes(&bytes[..n], &path, &LoadOptions::default());
    }

    #[test]
    fn damaged_npy_never_panics(flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..6)) {
        for name in ["fortran_f4.npy", "be_f8_nc.npy", "v2_i8.npy"] {
            let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/good").join(name);
            let mut bytes = std::fs::read(&path).unwrap();
            for (at, x) in &flips {
                let i = at.index(bytes.len());
                bytes[i] = *x;
            }
            let _ = parse_bytes(&bytes, &path, &LoadOptions::default());
        }
    }
}
