//! The data layer's error type. Every variant names the file and, where it applies, the line
//! (1-based, as an editor shows it), the column (name and 1-based number) and what was
//! expected against what was found, so the CLI can print one line the user can act on.

use std::fmt;
use std::path::PathBuf;

/// Where a value sits in its file: a CSV line, or a row index of a NumPy array.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Position {
    /// 1-based line of a text file; `None` for NumPy arrays.
    pub line: Option<usize>,
    /// 0-based data row in the file (the header is not a row).
    pub row: usize,
    /// Column (channel) name.
    pub column: String,
    /// 1-based column number in the file (the field of a CSV line, the column of an array).
    pub column_number: usize,
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "line {line}, column {} `{}`", self.column_number, self.column),
            None => write!(f, "row {} (0-based), column {} `{}`", self.row, self.column_number, self.column),
        }
    }
}

/// A data error with its location.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DataError {
    /// The path does not exist.
    #[error("{path}: no such file")]
    NotFound {
        /// The path.
        path: PathBuf,
    },
    /// The path is a directory, not a data file.
    #[error("{path}: is a directory, expected a CSV, .npy or .npz file")]
    IsDirectory {
        /// The path.
        path: PathBuf,
    },
    /// The file could not be read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The file is larger than the readers take (or never ends, like `/dev/zero`).
    #[error("{path}: more than {} GiB, the largest data file read", limit >> 30)]
    TooLarge {
        /// The file.
        path: PathBuf,
        /// The limit in bytes.
        limit: u64,
    },
    /// The file holds nothing (no bytes, or only blank lines).
    #[error("{path}: empty file, expected a header line and data rows")]
    Empty {
        /// The file.
        path: PathBuf,
    },
    /// A header (or array header) but not a single data row.
    #[error("{path}: no data rows after the header ({what})")]
    NoDataRows {
        /// The file.
        path: PathBuf,
        /// What was found instead (e.g. `header only, 1 line`, `shape (0, 3)`).
        what: String,
    },
    /// A CSV whose first line is all numbers: the header line is missing.
    #[error("{path}, line {line}: expected a header line with column names, found numbers `{found}`")]
    NoHeader {
        /// The file.
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// The line, shortened.
        found: String,
    },
    /// A line of a text file is not valid UTF-8.
    #[error("{path}, line {line}: not valid UTF-8 text")]
    InvalidUtf8 {
        /// The file.
        path: PathBuf,
        /// 1-based line.
        line: usize,
    },
    /// A quoted CSV field is not closed on its line.
    #[error("{path}, line {line}: unterminated quoted field in column {column_number}")]
    UnterminatedQuote {
        /// The file.
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// 1-based field number.
        column_number: usize,
    },
    /// The header contains several candidate separators equally often.
    #[error("{path}, line {line}: cannot tell the separator, the header has {found}; pass the separator explicitly")]
    AmbiguousSeparator {
        /// The file.
        path: PathBuf,
        /// 1-based line of the header.
        line: usize,
        /// The candidates and their counts, e.g. `2 ',' and 2 ';'`.
        found: String,
    },
    /// The forced separator does not occur in the header but another candidate does.
    #[error("{path}, line {line}: separator {expected:?} not found in the header, which contains {found:?} {count} times (wrong separator?)")]
    WrongSeparator {
        /// The file.
        path: PathBuf,
        /// 1-based line of the header.
        line: usize,
        /// The separator asked for.
        expected: char,
        /// The separator the header seems to use.
        found: char,
        /// How often `found` occurs in the header.
        count: usize,
    },
    /// A line with another number of fields than the header.
    #[error("{path}, line {line}: expected {expected} fields separated by {sep:?} (as in the header), found {found}")]
    RaggedRow {
        /// The file.
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// Fields in the header.
        expected: usize,
        /// Fields on this line.
        found: usize,
        /// The separator in use.
        sep: char,
    },
    /// A cell of a feature column that is not a number.
    #[error("{path}, line {line}, column {column_number} `{column}`: expected a number, found `{cell}`")]
    NonNumeric {
        /// The file.
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// Column name.
        column: String,
        /// 1-based column number.
        column_number: usize,
        /// The cell's text.
        cell: String,
    },
    /// A label cell that is not 0 or 1.
    #[error("{path}, {at}: label must be 0 or 1 (0.0 and 1.0 accepted), found `{cell}`")]
    BadLabel {
        /// The file.
        path: PathBuf,
        /// Where.
        at: Position,
        /// The cell's text (or value).
        cell: String,
    },
    /// A column (or `.npy` channel) asked for by name is not in the file.
    #[error("{path}: no column `{column}`; available: {available}")]
    MissingColumn {
        /// The file.
        path: PathBuf,
        /// The name asked for.
        column: String,
        /// The columns the file has, comma separated.
        available: String,
    },
    /// Two header fields with the same name, so a selection by name would be ambiguous.
    #[error("{path}, line {line}: column name `{column}` appears twice (columns {first} and {second})")]
    DuplicateColumn {
        /// The file.
        path: PathBuf,
        /// 1-based line of the header.
        line: usize,
        /// The name.
        column: String,
        /// 1-based number of its first occurrence.
        first: usize,
        /// 1-based number of its second occurrence.
        second: usize,
    },
    /// A column named twice in the selection, or the label column also chosen as a feature.
    #[error("{path}: column `{column}` {why}")]
    BadSelection {
        /// The file.
        path: PathBuf,
        /// The column.
        column: String,
        /// Why the selection is refused.
        why: &'static str,
    },
    /// No column was selected (the automatic selection left every column out, or an empty
    /// list).
    #[error("{path}: no numeric feature column ({why}); columns: {available}")]
    NoColumns {
        /// The file.
        path: PathBuf,
        /// Why: the columns left out and their reasons, or what was asked.
        why: String,
        /// The columns the file has, comma separated.
        available: String,
    },
    /// NaN or infinite values (or empty cells, or numbers beyond the f32 range) in the data.
    #[error("{path}: {count} NaN/Inf/missing value(s) in {rows} row(s), the first at {first}: `{found}`; drop such rows explicitly (NanPolicy::DropRows, --drop-nan) or clean the file")]
    NonFinite {
        /// The file.
        path: PathBuf,
        /// Non-finite values in the selected rows and columns.
        count: usize,
        /// Rows holding at least one.
        rows: usize,
        /// The first one.
        first: Position,
        /// Its text (CSV) or value (NumPy).
        found: String,
    },
    /// Fewer rows than the caller needs (one window), after the row range and NaN policy.
    #[error("{path}: needed at least {needed} rows (one window), found {found}{context}")]
    TooFewRows {
        /// The file.
        path: PathBuf,
        /// Rows needed.
        needed: usize,
        /// Rows available.
        found: usize,
        /// How `found` came about (row range, dropped rows), empty if it is the whole file.
        context: String,
    },
    /// A `--rows` text that is not `A:B` with indices or fractions.
    #[error("row range `{text}`: {why}; expected A:B with row indices (100:500, :500, 100:) or fractions (0:0.7, 0.7:1)")]
    BadRowRange {
        /// The text given.
        text: String,
        /// What is wrong.
        why: String,
    },
    /// A row range that does not fit a file.
    #[error("{path}: row range `{range}`: {why} (the file has {rows} rows)")]
    RowRangeOutOfBounds {
        /// The file.
        path: PathBuf,
        /// The range as given.
        range: String,
        /// Rows in the file.
        rows: usize,
        /// What is wrong.
        why: String,
    },
    /// A `.npy` file that does not start with the NumPy magic string.
    #[error("{path}: not a .npy file (expected the magic \\x93NUMPY, found {found:?})")]
    NpyMagic {
        /// The file (or `archive:member`).
        path: PathBuf,
        /// The first bytes, escaped.
        found: String,
    },
    /// A `.npy` header that cannot be parsed or lacks a key.
    #[error("{path}: bad .npy header: {why}")]
    NpyHeader {
        /// The file (or `archive:member`).
        path: PathBuf,
        /// What is wrong.
        why: String,
    },
    /// A `.npy` format version other than 1.0, 2.0 or 3.0.
    #[error("{path}: unsupported .npy format version {major}.{minor} (supported: 1.0, 2.0, 3.0)")]
    NpyVersion {
        /// The file (or `archive:member`).
        path: PathBuf,
        /// Major version.
        major: u8,
        /// Minor version.
        minor: u8,
    },
    /// A dtype the reader does not convert.
    #[error("{path}: unsupported dtype {dtype}; supported: floats f4/f8, integers i1/i2/i4/i8/u1/u2/u4/u8, bool, little or big endian")]
    UnsupportedDtype {
        /// The file (or `archive:member`).
        path: PathBuf,
        /// The descr as written in the header.
        dtype: String,
    },
    /// An array shape other than (N,), (N, C).
    #[error("{path}: unsupported array shape {shape}; expected (N,) or (N, C)")]
    UnsupportedShape {
        /// The file (or `archive:member`).
        path: PathBuf,
        /// The shape as a tuple.
        shape: String,
    },
    /// A `.npy` whose data is shorter than its header announces.
    #[error("{path}: truncated .npy data: shape {shape} of {dtype} needs {expected} bytes, found {found}")]
    Truncated {
        /// The file (or `archive:member`).
        path: PathBuf,
        /// The shape.
        shape: String,
        /// The dtype.
        dtype: String,
        /// Bytes needed.
        expected: u64,
        /// Bytes present.
        found: u64,
    },
    /// A `.npy` with bytes after the data its header announces.
    #[error(
        "{path}: .npy data has {found} bytes but shape {shape} of {dtype} needs {expected} (trailing bytes)"
    )]
    TrailingBytes {
        /// The file (or `archive:member`).
        path: PathBuf,
        /// The shape.
        shape: String,
        /// The dtype.
        dtype: String,
        /// Bytes needed.
        expected: u64,
        /// Bytes present.
        found: u64,
    },
    /// A `.npz` that is not a readable zip archive.
    #[error("{path}: not a readable .npz (zip) archive: {why}")]
    Zip {
        /// The archive.
        path: PathBuf,
        /// The zip reader's message.
        why: String,
    },
    /// A `.npz` without the requested array.
    #[error("{path}: no array `{key}` in the archive; arrays present: {available}")]
    NpzMissingKey {
        /// The archive.
        path: PathBuf,
        /// The array asked for.
        key: String,
        /// The arrays present, comma separated.
        available: String,
    },
    /// Arrays of one `.npz` with different numbers of rows.
    #[error("{path}: array `{key}` has {found} rows but `{first_key}` has {expected}; channels must have equal lengths")]
    NpzLengthMismatch {
        /// The archive.
        path: PathBuf,
        /// The array that differs.
        key: String,
        /// Its rows.
        found: usize,
        /// The first array.
        first_key: String,
        /// The first array's rows.
        expected: usize,
    },
    /// Files that do not yield the same channels in the same order.
    #[error("{path} has channels [{channels}] but {first_path} has [{first_channels}]; every file must have the same channels in the same order{note}")]
    InconsistentChannels {
        /// The first file.
        first_path: PathBuf,
        /// Its channels, comma separated.
        first_channels: String,
        /// The file that differs.
        path: PathBuf,
        /// Its channels, comma separated.
        channels: String,
        /// Why, when the automatic column selection left out of one file a column it took
        /// in the other (`; the automatic column selection left out of ...`); else empty.
        note: Box<str>,
    },
    /// A bad argument to windowing, splitting or statistics (zero window, fraction out of range).
    #[error("{0}")]
    Invalid(String),
}

/// `a, b, c` for messages; `(none)` when empty.
pub(crate) fn join(names: &[String]) -> String {
    if names.is_empty() {
        "(none)".to_string()
    } else {
        names.join(", ")
    }
}

/// A cell or header snippet, shortened so one bad line cannot flood the terminal.
pub(crate) fn snippet(text: &str) -> String {
    const MAX: usize = 60;
    match text.char_indices().nth(MAX) {
        Some((i, _)) => format!("{}...", &text[..i]),
        None => text.to_string(),
    }
}
