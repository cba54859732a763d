//! Sensor data in: CSV and NumPy readers, row ranges, windows, the train/validation split and
//! the normalisation statistics.
//!
//! # Pipeline
//!
//! ```text
//! load(&paths, &LoadOptions)  -> Vec<Recording>      one per file, same channels in every file
//! split(&recs, 0.2, window)   -> Split { train, val } leading / trailing rows of each file
//! Stats::fit(&split.train)    -> Stats                mean / std of training rows only
//! stats.apply(&mut rec)                               vae_core::normalize::normalize_in_place
//! windows_of(&recs, W, hop)   -> Windows              exactly the device windower's windows
//! ```
//!
//! # Formats
//!
//! * **CSV** ([`csv`]): a header line is required; the separator (`,` `;` tab `|`) is detected
//!   from the header or forced with [`LoadOptions::sep`]. Columns are chosen by name, or, by
//!   default, every column whose first value is a number, leaving out a timestamp column
//!   (named `timestamp`, `datetime`, `date`, `time`... or holding a date) and the label column.
//!   An empty cell is a missing value and is treated like NaN (see [`NanPolicy`]).
//! * **`.npy`** ([`npy`]): versions 1.0 to 3.0, integer, float and bool dtypes of either byte
//!   order, C or Fortran order, shapes (N,) and (N, C). Channels are `col0`, `col1`, ... or the
//!   file stem when C = 1.
//! * **`.npz`** ([`npz`]): a zip (stored or deflated) of `.npy` members. Columns name the arrays
//!   (`DE`, `FE`); by default every array is a channel. An (N, C) array with C > 1 gives the
//!   channels `name[0]`, `name[1]`, ...
//!
//! The format comes from the extension (`.npy`, `.npz`), else from the magic bytes, else CSV.
//! Every parser is a pure function over bytes ([`parse_bytes`], [`csv::parse`], [`npy::parse`],
//! [`npz::parse`]) so fuzz targets can call it without the file system; none panics.
//!
//! # Rows
//!
//! Row `i` of a file is its `i`-th data row, 0-based (the header is not a row). A
//! [`RowRange`] (`--rows 100:500`, `--rows 0:0.7`) keeps part of every file; NaN/Inf rows are
//! refused or dropped ([`NanPolicy`]). [`Recording::file_row`] maps a recording's row back to the
//! file row, accounting for both, so a score can be traced to a line of the source.

pub mod csv;
mod error;
pub mod npy;
pub mod npz;
mod rows;
mod split;
mod stats;
mod window;

pub use error::{DataError, Position};
pub use rows::{RowBound, RowRange};
pub use split::{split, Split};
pub use stats::{Stats, STD_FLOOR};
pub use window::{count as window_count, windows, windows_of, WindowOrigin, Windows};

use std::path::{Path, PathBuf};

/// What to do with rows holding NaN, an infinity, an empty cell or a number beyond the f32
/// range in a selected column.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum NanPolicy {
    /// Refuse the file, naming the first such value and the count (the default: silent
    /// cleaning hides sensor faults).
    #[default]
    Refuse,
    /// Drop those rows; [`Recording::dropped_rows`] lists them. A window may then span the
    /// gap, which the device would not see: prefer clean data where possible.
    DropRows,
    /// Keep them as NaN. For scoring only: a window holding one is reported as invalid,
    /// exactly as the device reports it, instead of refusing the recording.
    Keep,
}

/// How to read the data files. `LoadOptions::default()` reads every numeric column of every
/// row, refuses NaN, and has no labels.
#[derive(Clone, Debug, PartialEq)]
pub struct LoadOptions {
    /// Feature columns by name, in channel order (for `.npz`, array names). `None`: every
    /// numeric column except the timestamp and label columns.
    pub columns: Option<Vec<String>>,
    /// CSV separator; `None` detects it from the header among `,` `;` tab `|`.
    pub sep: Option<u8>,
    /// Rows of every file to keep; `None` keeps them all.
    pub rows: Option<RowRange>,
    /// NaN/Inf handling.
    pub nan: NanPolicy,
    /// A column of 0/1 row labels (`0`, `1`, `0.0`, `1.0`), never a feature channel.
    pub label_column: Option<String>,
    /// Keep the CSV timestamp column as text (for matching NAB's timestamped label windows).
    pub keep_timestamps: bool,
    /// Fewest rows a recording may have after the row range and NaN policy: set it to the
    /// window length so a file too short for one window is refused at load. At least 1.
    pub min_rows: usize,
}

impl Default for LoadOptions {
    fn default() -> Self {
        Self {
            columns: None,
            sep: None,
            rows: None,
            nan: NanPolicy::Refuse,
            label_column: None,
            keep_timestamps: false,
            min_rows: 1,
        }
    }
}

/// One recording: a file (or a row range of it), row-major `rows x channels`.
#[derive(Clone, Debug, PartialEq)]
pub struct Recording {
    /// Where it came from.
    pub path: PathBuf,
    /// Channel names, in column order.
    pub channels: Vec<String>,
    /// Row-major samples, `rows * channels.len()` values.
    pub values: Vec<f32>,
    /// Index in the file of the recording's first row (after `--rows`; see
    /// [`Recording::file_row`] when rows were dropped).
    pub first_row: usize,
    /// Per-row anomaly labels, when a label column was read.
    pub labels: Option<Vec<bool>>,
    /// Per-row timestamps as written in the file, when asked for and present.
    pub timestamps: Option<Vec<String>>,
    /// File rows inside this recording's span that are missing from it (NaN/Inf rows dropped
    /// under [`NanPolicy::DropRows`]), sorted ascending.
    pub dropped_rows: Vec<usize>,
}

impl Recording {
    /// A recording of `values` (row-major, `channels.len()` per row) starting at file row 0,
    /// without labels, timestamps or dropped rows.
    pub fn new(path: impl Into<PathBuf>, channels: Vec<String>, values: Vec<f32>) -> Self {
        Self {
            path: path.into(),
            channels,
            values,
            first_row: 0,
            labels: None,
            timestamps: None,
            dropped_rows: Vec::new(),
        }
    }

    /// Number of rows (samples in time).
    pub fn rows(&self) -> usize {
        self.values.len() / self.channels.len().max(1)
    }

    /// One row (all channels of one instant); `None` past the end.
    pub fn row(&self, row: usize) -> Option<&[f32]> {
        let c = self.channels.len();
        self.values.get(row.checked_mul(c)?..row.checked_add(1)?.checked_mul(c)?)
    }

    /// The file row (0-based data row of the source file) of this recording's row `row`:
    /// `first_row + row`, plus the dropped rows at or before it.
    pub fn file_row(&self, row: usize) -> usize {
        let mut r = self.first_row.saturating_add(row);
        for &d in &self.dropped_rows {
            if d <= r {
                r = r.saturating_add(1);
            } else {
                break;
            }
        }
        r
    }

    /// Rows `range` as a recording of their own, keeping labels, timestamps and the mapping
    /// to file rows. The range is clamped to the recording.
    pub fn slice(&self, range: std::ops::Range<usize>) -> Recording {
        let n = self.rows();
        let end = range.end.min(n);
        let start = range.start.min(end);
        let c = self.channels.len();
        let first_row = self.file_row(start);
        let dropped_rows = if end > start {
            let last = self.file_row(end - 1);
            self.dropped_rows.iter().copied().filter(|&d| d > first_row && d < last).collect()
        } else {
            Vec::new()
        };
        Recording {
            path: self.path.clone(),
            channels: self.channels.clone(),
            values: self.values.get(start * c..end * c).map(<[f32]>::to_vec).unwrap_or_default(),
            first_row,
            labels: self.labels.as_ref().and_then(|l| l.get(start..end)).map(<[bool]>::to_vec),
            timestamps: self.timestamps.as_ref().and_then(|t| t.get(start..end)).map(<[String]>::to_vec),
            dropped_rows,
        }
    }
}

/// The feature indices named by `cols`, in that order: `find` maps a name to its index (and
/// names the file's columns when it is missing); a name that is the label column or is
/// given twice is refused. Shared by CSV headers, `.npy` columns and `.npz` arrays.
pub(crate) fn pick_columns(
    cols: &[String],
    label: Option<usize>,
    path: &Path,
    find: impl Fn(&str) -> Result<usize, DataError>,
) -> Result<Vec<usize>, DataError> {
    let mut out: Vec<usize> = Vec::with_capacity(cols.len());
    for name in cols {
        let i = find(name)?;
        let why = if Some(i) == label {
            "is the label column, which cannot also be a feature"
        } else if out.contains(&i) {
            "is selected twice"
        } else {
            out.push(i);
            continue;
        };
        return Err(DataError::BadSelection { path: path.to_path_buf(), column: name.clone(), why });
    }
    Ok(out)
}

/// Reads several files, checking that every one yields the same channels in the same order.
pub fn load(paths: &[PathBuf], opts: &LoadOptions) -> Result<Vec<Recording>, DataError> {
    if paths.is_empty() {
        return Err(DataError::Invalid("no data file given".to_string()));
    }
    let mut out: Vec<Recording> = Vec::with_capacity(paths.len());
    for path in paths {
        let rec = load_file(path, opts)?;
        if let Some(first) = out.first() {
            if first.channels != rec.channels {
                return Err(DataError::InconsistentChannels {
                    first_path: first.path.clone(),
                    first_channels: error::join(&first.channels),
                    path: rec.path.clone(),
                    channels: error::join(&rec.channels),
                });
            }
        }
        out.push(rec);
    }
    Ok(out)
}

/// Reads one file: the thin file-system wrapper around [`parse_bytes`].
pub fn load_file(path: &Path, opts: &LoadOptions) -> Result<Recording, DataError> {
    let meta = std::fs::metadata(path).map_err(|source| match source.kind() {
        std::io::ErrorKind::NotFound => DataError::NotFound { path: path.to_path_buf() },
        _ => DataError::Io { path: path.to_path_buf(), source },
    })?;
    if meta.is_dir() {
        return Err(DataError::IsDirectory { path: path.to_path_buf() });
    }
    let bytes = std::fs::read(path).map_err(|source| DataError::Io { path: path.to_path_buf(), source })?;
    parse_bytes(&bytes, path, opts)
}

/// Parses a file's bytes; `path` picks the format (extension `.npy`, `.npz`, else the magic
/// bytes, else CSV) and names the file in errors. Never panics, whatever the bytes.
pub fn parse_bytes(bytes: &[u8], path: &Path, opts: &LoadOptions) -> Result<Recording, DataError> {
    let ext = path.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase);
    match ext.as_deref() {
        Some("npy") => npy::parse(bytes, opts, path),
        Some("npz") => npz::parse(bytes, opts, path),
        _ if bytes.starts_with(npy::MAGIC) => npy::parse(bytes, opts, path),
        _ if bytes.starts_with(b"PK\x03\x04") || bytes.starts_with(b"PK\x05\x06") => {
            npz::parse(bytes, opts, path)
        }
        _ => csv::parse(bytes, opts, path),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(rows: usize, dropped: Vec<usize>, first_row: usize) -> Recording {
        let mut r = Recording::new("x.csv", vec!["a".into()], (0..rows).map(|v| v as f32).collect());
        r.first_row = first_row;
        r.dropped_rows = dropped;
        r.labels = Some((0..rows).map(|v| v % 2 == 1).collect());
        r
    }

    #[test]
    fn file_row_skips_dropped_rows() {
        // File rows 10..20, rows 12 and 13 dropped: kept 10, 11, 14, 15, ...
        let r = rec(8, vec![12, 13], 10);
        let got: Vec<usize> = (0..8).map(|i| r.file_row(i)).collect();
        assert_eq!(got, [10, 11, 14, 15, 16, 17, 18, 19]);
        // The first row itself dropped.
        let r = rec(3, vec![5], 5);
        assert_eq!((0..3).map(|i| r.file_row(i)).collect::<Vec<_>>(), [6, 7, 8]);
    }

    #[test]
    fn slice_keeps_the_file_mapping() {
        let r = rec(8, vec![12, 13, 17], 10);
        let full: Vec<usize> = (0..8).map(|i| r.file_row(i)).collect();
        for a in 0..=8 {
            for b in a..=8 {
                let s = r.slice(a..b);
                assert_eq!(s.rows(), b - a);
                let got: Vec<usize> = (0..s.rows()).map(|i| s.file_row(i)).collect();
                assert_eq!(got, full[a..b]);
                assert_eq!(s.values, r.values[a..b]);
                assert_eq!(s.labels.as_deref(), r.labels.as_ref().map(|l| &l[a..b]));
            }
        }
        assert_eq!(r.slice(5..100).rows(), 3);
        assert_eq!(r.row(7), Some(&[7.0f32][..]));
        assert_eq!(r.row(8), None);
    }

    #[test]
    fn dispatch_by_extension_and_magic() {
        let opts = LoadOptions::default();
        let rec = parse_bytes(b"a,b\n1,2\n", Path::new("x.txt"), &opts).unwrap();
        assert_eq!(rec.channels, ["a", "b"]);
        assert!(matches!(
            parse_bytes(b"a,b\n1,2\n", Path::new("x.npy"), &opts),
            Err(DataError::NpyMagic { .. })
        ));
        assert!(matches!(parse_bytes(b"a,b\n1,2\n", Path::new("x.NPZ"), &opts), Err(DataError::Zip { .. })));
        let npy =
            npy::tests::npy_bytes("<f4", "(2,)", &[1.0f32.to_le_bytes(), 2.0f32.to_le_bytes()].concat());
        let rec = parse_bytes(&npy, Path::new("dir/sig.bin"), &opts).unwrap();
        assert_eq!(
            (rec.channels.as_slice(), rec.values.as_slice()),
            (&["sig".to_string()][..], &[1.0f32, 2.0][..])
        );
    }
}
