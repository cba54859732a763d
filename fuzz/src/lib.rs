//! The properties the fuzz targets check, one function per target. Each takes arbitrary
//! bytes and returns normally whatever they are; it panics (a crash for libFuzzer, a failure
//! for the replay test) only when a reader panics or breaks one of its documented promises.
//!
//! This file is shared: the fuzz targets in `fuzz_targets/` call it on nightly, and the
//! stable replay test `vae-train/tests/reliability_fuzz_corpus.rs` includes it (`#[path]`)
//! and runs every committed corpus file and crash reproducer through the same functions, so
//! the normal test command covers them. It may only use `std`, `vae_core` and
//! `vae_train::data`.

use std::path::Path;
use vae_core::model_file::{self, ModelDesc, ModelFile};
use vae_core::{Outcome, Rng, ScoreConfig};
use vae_train::data::{self, csv, npy, npz, DataError, LoadOptions, NanPolicy, Recording, RowRange};

/// Most multiply-accumulates (times K) a fuzzed model is scored with: larger parsed models
/// are still checked, only not scored, so one input never takes seconds.
const MAX_SCORE_MACS: usize = 1 << 18;

/// `data` copied to a 4-byte aligned address, shifted by `shift` bytes (the reader needs an
/// aligned parameter block; a shift of 1 checks the misaligned path). Safe code only.
fn placed(data: &[u8], shift: usize) -> (Vec<u8>, usize) {
    let mut buf = vec![0u8; data.len() + 3 + shift];
    let start = buf.as_ptr().align_offset(4).min(3) + shift;
    buf[start..start + data.len()].copy_from_slice(data);
    (buf, start)
}

/// Model-file reader (`vae_core::ModelFile::parse`): never panics; refuses with an error that
/// formats; the same verdict at any alignment (except `Misaligned`); what it accepts is
/// self-consistent, re-encodes to the same bytes through the writer, builds a run-time model,
/// and scores windows (finite, extreme, NaN) through its front end without panicking, with a
/// finite score, an overflow or an invalid-input outcome as documented.
///
/// Every input is also checked with its length field and CRC-32 repaired, so that mutations
/// reach the field and parameter checks behind the checksum instead of stopping at it.
pub fn model_file(data: &[u8]) {
    check_model_bytes(data);
    if data.len() >= model_file::FIXED_HEADER_LEN + 4 {
        let mut fixed = data.to_vec();
        let len = fixed.len();
        fixed[8..12].copy_from_slice(&(len as u32).to_le_bytes());
        let crc = model_file::crc32(&fixed[..len - 4]);
        fixed[len - 4..].copy_from_slice(&crc.to_le_bytes());
        check_model_bytes(&fixed);
    }
}

fn check_model_bytes(data: &[u8]) {
    let (buf, start) = placed(data, 0);
    let bytes = &buf[start..start + data.len()];
    let aligned = ModelFile::parse(bytes);
    let (buf1, start1) = placed(data, 1);
    let unaligned = ModelFile::parse(&buf1[start1..start1 + data.len()]);
    match (&aligned, &unaligned) {
        (Ok(_), Err(vae_core::Error::Misaligned { .. })) | (Ok(_), Ok(_)) => {}
        // Compared as text: an error may hold a NaN, which is not equal to itself.
        (Err(a), Err(b)) => {
            assert_eq!(format!("{a:?}"), format!("{b:?}"), "the verdict depends on the alignment")
        }
        (a, b) => panic!("aligned {:?}, unaligned {:?}", a.as_ref().err(), b.as_ref().err()),
    }
    match aligned {
        Err(e) => assert!(!e.to_string().is_empty()),
        Ok(f) => check_model(&f, bytes),
    }
}

fn check_model(f: &ModelFile<'_>, bytes: &[u8]) {
    let h = f.header();
    assert_eq!(h.file_len(), bytes.len());
    assert_eq!(f.params().len(), h.param_count());
    assert_eq!(h.input_len, h.transform.input_len(h.window, h.channels));
    assert!(h.transform.check(h.window, h.channels).is_ok());
    assert!(h.latent_len >= 1 && h.hop >= 1);
    assert_eq!(h.channel_names().count(), h.channels);
    assert_eq!(h.layers().len(), h.encoder_depth() + h.decoder_depth() + 3);
    assert!(h.thresholds().len() <= model_file::MAX_THRESHOLDS);
    for c in h.thresholds() {
        assert!((0.0..=1.0).contains(&c.quantile) && c.threshold.is_finite());
    }
    assert_eq!((f.norm_mean().len(), f.norm_std().len()), (h.channels, h.channels));
    assert!(f.norm_mean().iter().all(|m| m.is_finite()));
    assert!(f.norm_std().iter().all(|s| s.is_finite() && *s > 0.0));
    assert!(vae_core::normalize::check(f.norm_mean(), f.norm_std()).is_ok());
    // Every weight, as the kernels compute with it (f16 and int8 dequantised), and every
    // bias is finite.
    let owned: Vec<(Vec<f32>, Vec<f32>)> = (0..h.layers().len())
        .map(|i| {
            let (w, b) = f.layer_params(i);
            let inputs = h.layers()[i].inputs;
            let w: Vec<f32> = (0..w.len()).map(|k| w.weight(k, inputs)).collect();
            assert!(w.iter().chain(b).all(|v| v.is_finite()), "layer {i}: a non-finite weight passed");
            (w, b.to_vec())
        })
        .collect();
    let refs: Vec<vae_core::DenseRef<'_>> = owned
        .iter()
        .zip(h.layers())
        .map(|((w, b), l)| vae_core::DenseRef::new(w, b, l.inputs, l.activation).expect("a parsed layer"))
        .collect();
    let (e, d) = (h.encoder_depth(), h.decoder_depth());
    let layers = vae_core::DynLayers {
        encoder: &refs[..e],
        mu: refs[e],
        log_var: refs[e + 1],
        decoder: &refs[e + 2..e + 2 + d],
        mean: refs[e + 2 + d],
    };

    // The writer reproduces the file byte for byte (the format is canonical) from the
    // weights as the kernels see them, when every layer shares one encoding.
    let names: Vec<&str> = h.channel_names().collect();
    let desc = ModelDesc {
        name: h.name,
        seed: h.seed,
        window: h.window,
        hop: h.hop,
        channel_names: &names,
        norm_mean: f.norm_mean(),
        norm_std: f.norm_std(),
        score: h.score,
        transform: h.transform,
        thresholds: h.thresholds(),
        alarm: h.alarm,
        layers,
        log_var: f.decoder_log_var(),
        weights: h.weights().unwrap_or_default(),
    };
    if let Some(enc) = h.weights() {
        let mut out = vec![0u8; model_file::encoded_len(&desc)];
        let n = model_file::write(&desc, &mut out).expect("a parsed file can be written back");
        assert_eq!(n, bytes.len());
        // Files of f32 weights are written as format 2, whatever version they were read as.
        let version = if enc == vae_core::weights::Encoding::F32 { 4..6 } else { 0..0 };
        let (mut a, mut b) = (out.clone(), bytes.to_vec());
        for v in [&mut a, &mut b] {
            v[version.clone()].fill(0);
            let l = v.len();
            v[l - 4..].fill(0);
        }
        assert!(a == b, "the writer does not reproduce the file");
    }

    // Scoring: whatever finite weights passed validation, a window gives a finite score, an
    // overflow, or (non-finite input) an invalid outcome; never a panic or a NaN score.
    let macs = h.macs().saturating_mul(usize::from(h.score.samples()));
    if macs > MAX_SCORE_MACS {
        return;
    }
    let mut precision = vec![0.0f32; h.input_len];
    let vae = vae_core::DynVae::new(layers, f.decoder_log_var(), &mut precision)
        .expect("a parsed file builds a model");
    let (c, w) = (h.channels, h.window);
    let raw_len = w * c;
    let mut input = vec![0.0f32; h.input_len];
    let mut scratch = vec![0.0f32; w];
    let mut work = vec![0.0f32; vae.work_len(c)];
    let mut nll = vec![0.0f32; c];
    let from_bytes: Vec<f32> = (0..raw_len).map(|i| f32::from(bytes[i % bytes.len()]) / 64.0 - 2.0).collect();
    let windows: [(Vec<f32>, bool); 6] = [
        (vec![0.0; raw_len], true),
        (from_bytes, true),
        (vec![1e30; raw_len], true),
        ((0..raw_len).map(|i| if i % 2 == 0 { f32::MAX } else { -f32::MAX }).collect(), true),
        ((0..raw_len).map(|i| if i % 3 == 0 { 1e-38 } else { -1e-30 }).collect(), true),
        ((0..raw_len).map(|i| if i == raw_len / 2 { f32::NAN } else { 0.5 }).collect(), false),
    ];
    for config in [h.score, ScoreConfig::DETERMINISTIC] {
        for (window, finite) in &windows {
            // The model's front end, then the network, as the device runs them.
            let front =
                h.transform.apply(window, c, &mut input, &mut scratch).expect("buffers fit the model");
            let outcome = match front {
                Some(early) => early,
                None => vae
                    .score(&input, config, &mut Rng::new(h.seed), &mut work, &mut nll)
                    .expect("buffers are sized for the model"),
            };
            match outcome {
                Outcome::Scored(s) => {
                    assert!(*finite, "a window with NaN was scored");
                    assert!(s.score.is_finite() && s.bound.is_finite(), "{s:?}");
                    assert!(s.top_channel < c);
                }
                Outcome::Overflow => assert!(*finite, "a window with NaN overflowed"),
                Outcome::NonFinite { count, .. } => {
                    assert!(!*finite, "a finite window was refused");
                    assert_eq!(count, 1);
                }
            }
        }
    }
}

/// The option sets every data input is read with: the defaults, and variants that exercise
/// the separator, row-range, NaN, label, timestamp and minimum-rows paths.
fn variants(label: &str, sep: Option<u8>) -> Vec<LoadOptions> {
    let range = |s: &str| RowRange::parse(s).ok();
    vec![
        LoadOptions::default(),
        LoadOptions { nan: NanPolicy::DropRows, rows: range("0:0.5"), min_rows: 2, ..Default::default() },
        LoadOptions {
            nan: NanPolicy::Keep,
            label_column: Some(label.to_string()),
            keep_timestamps: true,
            sep,
            ..Default::default()
        },
        LoadOptions {
            sep: Some(b','),
            rows: range("1:"),
            nan: NanPolicy::Keep,
            min_rows: 3,
            ..Default::default()
        },
    ]
}

/// What every reader promises for one result: an error names the file; a recording is
/// rectangular, long enough, obeys the NaN policy, and maps its rows to increasing file rows.
fn check_result(r: &Result<Recording, DataError>, opts: &LoadOptions, path: &Path) {
    let rec = match r {
        Err(e) => {
            let msg = e.to_string();
            assert!(msg.contains(&path.display().to_string()), "error without the file name: {msg}");
            return;
        }
        Ok(rec) => rec,
    };
    let c = rec.channels.len();
    assert!(c >= 1, "a recording without channels");
    assert_eq!(rec.values.len() % c, 0, "ragged values");
    let rows = rec.rows();
    assert!(rows >= opts.min_rows.max(1), "{rows} rows, min_rows {}", opts.min_rows);
    if let Some(l) = &rec.labels {
        assert_eq!(l.len(), rows);
    }
    assert_eq!(rec.labels.is_some(), opts.label_column.is_some());
    if let Some(t) = &rec.timestamps {
        assert_eq!(t.len(), rows);
    }
    assert!(rec.dropped_rows.windows(2).all(|w| w[0] < w[1]), "dropped rows not increasing");
    if opts.nan != NanPolicy::DropRows {
        assert!(rec.dropped_rows.is_empty());
    }
    if opts.nan != NanPolicy::Keep {
        assert!(rec.values.iter().all(|v| v.is_finite()), "a non-finite value passed {:?}", opts.nan);
    }
    let file_rows: Vec<usize> = (0..rows).map(|i| rec.file_row(i)).collect();
    assert!(file_rows.windows(2).all(|w| w[0] < w[1]), "file rows not increasing");
    assert!(file_rows.iter().all(|r| !rec.dropped_rows.contains(r)), "a dropped row was kept");
}

/// Reading again with the channels of a first read, reversed, gives the same columns.
fn check_reversed(
    first: &Recording,
    opts: &LoadOptions,
    parse: &dyn Fn(&LoadOptions) -> Result<Recording, DataError>,
) {
    let mut names = first.channels.clone();
    names.reverse();
    let opts = LoadOptions { columns: Some(names.clone()), ..opts.clone() };
    let again = parse(&opts).expect("the channels of a successful read can be selected");
    assert_eq!(again.channels, names);
    let c = names.len();
    for (row, (a, b)) in first.values.chunks_exact(c).zip(again.values.chunks_exact(c)).enumerate() {
        for k in 0..c {
            let (x, y) = (a[k], b[c - 1 - k]);
            assert!(x.to_bits() == y.to_bits() || (x.is_nan() && y.is_nan()), "row {row} channel {k}");
        }
    }
}

fn data_target(
    data: &[u8],
    path: &Path,
    label: &str,
    parse: fn(&[u8], &LoadOptions, &Path) -> Result<Recording, DataError>,
) {
    for opts in variants(label, Some(b';')) {
        let r = parse(data, &opts, path);
        check_result(&r, &opts, path);
        if let Ok(rec) = &r {
            if opts.label_column.is_none() {
                check_reversed(rec, &opts, &|o| parse(data, o, path));
            }
        }
    }
}

/// CSV reader (`vae_train::data::csv::parse`), and the format dispatcher on the same bytes
/// (`data::parse_bytes`, which may route them to the NumPy readers by their magic bytes).
pub fn csv(data: &[u8]) {
    data_target(data, Path::new("fuzz.csv"), "label", csv::parse);
    let path = Path::new("fuzz.dat");
    let opts = LoadOptions::default();
    check_result(&data::parse_bytes(data, path, &opts), &opts, path);
}

/// `.npy` reader (`vae_train::data::npy::parse` and `read_array`): every cell of an accepted
/// array can be read.
pub fn npy(data: &[u8]) {
    data_target(data, Path::new("fuzz.npy"), "col0", npy::parse);
    if let Ok(a) = npy::read_array(data, Path::new("fuzz.npy")) {
        assert!(a.rows >= 1 && a.cols >= 1);
        for (r, c) in [(0, 0), (a.rows - 1, a.cols - 1), (a.rows / 2, a.cols / 2)] {
            assert!(a.get(r, c).is_some() && a.get_f64(r, c).is_some(), "cell ({r}, {c})");
        }
        assert!(a.get(a.rows, 0).is_none() && a.get(0, a.cols).is_none());
    }
}

/// `.npz` reader (`vae_train::data::npz::parse`): a zip archive of `.npy` members.
pub fn npz(data: &[u8]) {
    data_target(data, Path::new("fuzz.npz"), "label", npz::parse);
}
