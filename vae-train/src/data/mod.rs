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
//!   from the header or forced with [`LoadOptions::sep`]. Columns are chosen by name
//!   ([`LoadOptions::columns`]: a column named there is always taken), or, by default, by the
//!   automatic selection described below. A cell holding one of [`csv::MISSING_VALUES`]
//!   (empty, `nan`, `n/a`, `NA`, `null`, `none`, `-`, `?`, in any case) is a missing value,
//!   NaN, wherever it is: the first row or the thousandth, the same rule. Missing values are
//!   then handled by the [`NanPolicy`]: refused with the file, line and column (the default,
//!   `fit`), dropped with their rows (`--drop-nan`), or kept as invalid windows (`score`,
//!   `eval`).
//! * **`.npy`** ([`npy`]): versions 1.0 to 3.0, integer, float and bool dtypes of either byte
//!   order, C or Fortran order, shapes (N,) and (N, C). Channels are `col0`, `col1`, ... or the
//!   file stem when C = 1.
//! * **`.npz`** ([`npz`]): a zip (stored or deflated) of `.npy` members. Columns name the arrays
//!   (`DE`, `FE`); by default every array is a channel but the label array and those named
//!   like a label. An (N, C) array with C > 1 gives the channels `name[0]`, `name[1]`, ...
//!
//! # Automatic column selection
//!
//! Without [`LoadOptions::columns`], the CSV reader takes every column as an input channel
//! except, in this order of precedence (the reason recorded in [`Recording::skipped`] as a
//! [`SkipReason`]):
//!
//! 1. the label column ([`LoadOptions::label_column`]);
//! 2. the timestamp column: named like one ([`csv::TIMESTAMP_NAMES`]), or else the first
//!    column whose first non-missing value is a date or time (`2020-03-09 10:14:33`);
//! 3. a column without a header name (a pandas index);
//! 4. a column named like a label ([`LABEL_NAMES`], case-insensitive: `anomaly`,
//!    `changepoint`, `label`, `target`...), so labels never leak into the model;
//! 5. a column whose first non-missing value is not a number (text);
//! 6. a column holding only 0/1 values: at least two non-missing values, every one `0` or `1`
//!    (`0.0`, `1.0`), in the rows read (after [`LoadOptions::rows`]): a flag or a label under
//!    another name.
//!
//! Whether a column is numeric is decided from its first *non-missing* value in the rows read,
//! so a missing value in the first row does not make a sensor disappear; a column holding only
//! missing values is numeric (the NaN policy then reports it). The columns taken keep their
//! file order. A `.npz` archive applies rules 1 and 4 to its array names; a `.npy` file's
//! columns have no names and are all taken (but the label column).
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
//! file row, accounting for both, and [`Recording::line`] gives a CSV row's line in the file
//! (1-based, the header and blank lines counted), so a score or an error can be traced to a
//! line of the source.

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

/// How to read the data files. `LoadOptions::default()` reads the automatically selected
/// columns (see the [module documentation](self)) of every row, refuses NaN, and has no
/// labels.
#[derive(Clone, Debug, PartialEq)]
pub struct LoadOptions {
    /// Feature columns by name, in channel order (for `.npz`, array names); a column named
    /// here is always taken. `None`: the automatic selection (see the [module
    /// documentation](self)), which leaves out timestamps, labels, text and 0/1 columns.
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
    /// The 1-based line in the file of every row (as an editor shows it, the header counted),
    /// for text files; `None` for NumPy arrays and recordings built in memory.
    pub lines: Option<Vec<usize>>,
    /// The column the [`timestamps`](Recording::timestamps) come from.
    pub timestamp_column: Option<FileColumn>,
    /// The columns of the file that the automatic selection did not take as channels, in
    /// file order, each with its reason. Empty when [`LoadOptions::columns`] named the
    /// columns (every column not named is then left out by choice). With
    /// [`Recording::channels`] it says which columns were taken and which were not, and why:
    /// see [`Recording::column_note`].
    pub skipped: Vec<SkippedColumn>,
}

/// A column of a file: its header name and 1-based number.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileColumn {
    /// Header name.
    pub name: String,
    /// 1-based column number (field of a CSV line, array of a `.npz` archive).
    pub number: usize,
}

/// A column of a file that the automatic selection did not take as an input channel.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SkippedColumn {
    /// Header name (empty for a column without one).
    pub name: String,
    /// 1-based column number (field of a CSV line, array of a `.npz` archive).
    pub number: usize,
    /// Why it was left out.
    pub reason: SkipReason,
}

/// Why the automatic selection left a column out. Its `Display` is a short phrase for a
/// note: `anomaly (a label name)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SkipReason {
    /// The column read as row labels ([`LoadOptions::label_column`]).
    LabelColumn,
    /// The timestamp column (named like one, or holding dates).
    Timestamp,
    /// No header name (a pandas index column).
    Unnamed,
    /// Named like a label ([`LABEL_NAMES`]).
    LabelName,
    /// Its first non-missing value in the rows read is not a number.
    NonNumeric,
    /// Only 0/1 values (at least two) in the rows read: a flag or a label.
    Binary,
}

impl SkipReason {
    /// Whether naming the column in [`LoadOptions::columns`] would make it a channel that
    /// the automatic selection dropped on a guess (label name, 0/1 values, text), as opposed
    /// to a column that cannot be one (the label column, the timestamp, an unnamed index).
    pub fn is_guess(self) -> bool {
        matches!(self, SkipReason::LabelName | SkipReason::NonNumeric | SkipReason::Binary)
    }
}

impl std::fmt::Display for SkipReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            SkipReason::LabelColumn => "the label column",
            SkipReason::Timestamp => "the timestamp",
            SkipReason::Unnamed => "no header name",
            SkipReason::LabelName => "a label name",
            SkipReason::NonNumeric => "not numeric",
            SkipReason::Binary => "only 0/1 values",
        })
    }
}

impl std::fmt::Display for SkippedColumn {
    /// `anomaly (a label name)`; a column without a name is `column 1 (no header name)`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.name.is_empty() {
            write!(f, "column {} ({})", self.number, self.reason)
        } else {
            write!(f, "{} ({})", self.name, self.reason)
        }
    }
}

/// Header names (compared case-insensitively, trimmed) of label columns: the automatic
/// column selection never takes such a column as an input channel, whatever it holds. Name
/// it in [`LoadOptions::columns`] to use it anyway. `y` is deliberately not in the list: it
/// is the middle axis of every 3-axis sensor (`x,y,z`); a `y` label column holds 0/1 values,
/// which the 0/1 rule leaves out.
pub const LABEL_NAMES: [&str; 12] = [
    "anomaly",
    "anomalies",
    "is_anomaly",
    "label",
    "labels",
    "changepoint",
    "change_point",
    "fault",
    "faulty",
    "outlier",
    "target",
    "class",
];

/// Whether `name` is one of [`LABEL_NAMES`] (case-insensitive, trimmed).
pub fn is_label_name(name: &str) -> bool {
    let name = name.trim();
    LABEL_NAMES.iter().any(|l| name.eq_ignore_ascii_case(l))
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
            lines: None,
            timestamp_column: None,
            skipped: Vec::new(),
        }
    }

    /// The 1-based line in the file of row `row`, for text files.
    pub fn line(&self, row: usize) -> Option<usize> {
        self.lines.as_ref()?.get(row).copied()
    }

    /// A one-line note on the column selection when the automatic selection left columns
    /// out, for the CLI to print: `columns: taken a, b; left out datetime (the timestamp),
    /// anomaly (a label name), flag (only 0/1 values): name them in --columns to use them`.
    /// `None` when nothing was left out (or the columns were named).
    pub fn column_note(&self) -> Option<String> {
        if self.skipped.is_empty() {
            return None;
        }
        let left: Vec<String> = self.skipped.iter().map(ToString::to_string).collect();
        let hint = if self.skipped.iter().any(|s| s.reason.is_guess()) {
            ": name them in --columns to use them"
        } else {
            ""
        };
        Some(format!("columns: taken {}; left out {}{hint}", error::join(&self.channels), left.join(", ")))
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
            lines: self.lines.as_ref().and_then(|l| l.get(start..end)).map(<[usize]>::to_vec),
            timestamp_column: self.timestamp_column.clone(),
            skipped: self.skipped.clone(),
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
                    note: skipped_note(first, &rec).into(),
                });
            }
        }
        out.push(rec);
    }
    Ok(out)
}

/// Why two files of one load have different channels, when the automatic selection left
/// columns out of one that it took in the other: `; the automatic selection left out of
/// b.csv: flag (only 0/1 values); name the columns in --columns`. Empty otherwise.
fn skipped_note(first: &Recording, rec: &Recording) -> String {
    let differs = |a: &Recording, b: &Recording| -> Vec<String> {
        a.skipped
            .iter()
            .filter(|s| s.reason.is_guess() && b.channels.contains(&s.name))
            .map(ToString::to_string)
            .collect()
    };
    let mut parts = Vec::new();
    for (a, b) in [(first, rec), (rec, first)] {
        let d = differs(a, b);
        if !d.is_empty() {
            parts.push(format!("{}: {}", a.path.display(), d.join(", ")));
        }
    }
    if parts.is_empty() {
        String::new()
    } else {
        format!(
            "; the automatic column selection left out of {}; name the columns in --columns",
            parts.join(", and of ")
        )
    }
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
    let io = |source| DataError::Io { path: path.to_path_buf(), source };
    let file = std::fs::File::open(path).map_err(io)?;
    // Bounded: `/dev/zero` or an endless pipe is refused at the limit, not read until the
    // memory runs out.
    let mut bytes = Vec::new();
    std::io::Read::read_to_end(&mut std::io::Read::take(file, MAX_FILE_BYTES + 1), &mut bytes).map_err(io)?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(DataError::TooLarge { path: path.to_path_buf(), limit: MAX_FILE_BYTES });
    }
    parse_bytes(&bytes, path, opts)
}

/// Largest data file read (1 GiB: tens of millions of rows, more than `fit` holds as
/// windows in memory).
pub const MAX_FILE_BYTES: u64 = 1 << 30;

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
