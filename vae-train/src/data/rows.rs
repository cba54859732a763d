//! Row ranges (`--rows 100:500`, `--rows 0:0.7`) and the row filters every reader applies
//! afterwards: the NaN policy and the minimum row count.

use super::error::{DataError, Position};
use super::{FileColumn, LoadOptions, NanPolicy, Recording, SkippedColumn};
use std::fmt;
use std::ops::Range;
use std::path::PathBuf;

/// One end of a [`RowRange`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RowBound {
    /// A row index (0-based data row; an end is exclusive). Negative values parse, so the
    /// error can name the file and its row count, and are refused by [`RowRange::resolve`].
    Index(i64),
    /// A fraction of the file's row count, kept as the exact decimal
    /// `numerator / 10^decimals` so `0.29 * 100` is 29 rows, not 28 as f64 arithmetic gives.
    Fraction {
        /// Written with a leading minus (refused when resolved).
        negative: bool,
        /// The digits without the point.
        numerator: u64,
        /// Digits after the point (at most 18).
        decimals: u32,
    },
}

impl fmt::Display for RowBound {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            RowBound::Index(i) => write!(f, "{i}"),
            RowBound::Fraction { negative, numerator, decimals } => {
                let scale = 10u64.pow(decimals);
                let sign = if negative { "-" } else { "" };
                if decimals == 0 {
                    write!(f, "{sign}{numerator}.0")
                } else {
                    let width = decimals as usize;
                    write!(f, "{sign}{}.{:0width$}", numerator / scale, numerator % scale)
                }
            }
        }
    }
}

/// A half-open range of data rows, `A:B`, applied to every file. A bound containing `.` is a
/// fraction of the file's row count (rounded down), otherwise a row index; either may be
/// left out (`:500`, `100:`). Next to a fraction, a bare `0` or `1` is a fraction too, so
/// `0.7:1` runs to the end of the file and `0:0.7` from its start. Nothing is clamped: a
/// bound beyond the file is an error.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RowRange {
    /// First row kept; `None` is row 0.
    pub start: Option<RowBound>,
    /// Row after the last one kept; `None` is the row count.
    pub end: Option<RowBound>,
}

impl fmt::Display for RowRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(s) = &self.start {
            write!(f, "{s}")?;
        }
        f.write_str(":")?;
        if let Some(e) = &self.end {
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl std::str::FromStr for RowRange {
    type Err = DataError;
    fn from_str(s: &str) -> Result<Self, DataError> {
        Self::parse(s)
    }
}

/// Most digits after the point of a fraction, so `10^decimals` fits a `u64`.
const MAX_DECIMALS: u32 = 18;

impl RowRange {
    /// Parses `A:B`, `A:`, `:B` or `:` (indices like `100`, fractions like `0.7`).
    pub fn parse(text: &str) -> Result<RowRange, DataError> {
        let bad = |why: String| DataError::BadRowRange { text: text.to_string(), why };
        let (a, b) = text.split_once(':').ok_or_else(|| bad("no `:`".to_string()))?;
        if b.contains(':') {
            return Err(bad("more than one `:`".to_string()));
        }
        let mut start = parse_bound(a.trim()).map_err(bad)?;
        let mut end = parse_bound(b.trim()).map_err(bad)?;
        // `0.7:1` and `0:0.7` mean fractions at both ends: next to a fraction, a bare 0 or 1
        // is the start or end of the file, not row 0 or row 1.
        let is_fraction = |b: &Option<RowBound>| matches!(b, Some(RowBound::Fraction { .. }));
        let as_fraction = |b: &mut Option<RowBound>| {
            if let Some(RowBound::Index(i @ (0 | 1))) = *b {
                *b = Some(RowBound::Fraction { negative: false, numerator: i as u64, decimals: 0 });
            }
        };
        if is_fraction(&start) {
            as_fraction(&mut end);
        } else if is_fraction(&end) {
            as_fraction(&mut start);
        }
        Ok(RowRange { start, end })
    }

    /// The rows `start..end` this range selects in a file of `rows` rows; errors name the
    /// file and its row count.
    pub fn resolve(&self, rows: usize, path: &std::path::Path) -> Result<Range<usize>, DataError> {
        let err = |why: String| DataError::RowRangeOutOfBounds {
            path: path.to_path_buf(),
            range: self.to_string(),
            rows,
            why,
        };
        let start = match self.start {
            None => 0,
            Some(b) => bound_value(b, rows).map_err(|why| err(format!("start {why}")))?,
        };
        let end = match self.end {
            None => rows,
            Some(b) => bound_value(b, rows).map_err(|why| err(format!("end {why}")))?,
        };
        if start > end {
            return Err(err(format!("start row {start} is after end row {end}")));
        }
        Ok(start..end)
    }
}

fn parse_bound(s: &str) -> Result<Option<RowBound>, String> {
    if s.is_empty() {
        return Ok(None);
    }
    if !s.contains('.') {
        return s
            .parse::<i64>()
            .map(|i| Some(RowBound::Index(i)))
            .map_err(|_| format!("`{s}` is not a row index"));
    }
    let (negative, digits) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let not_fraction = || format!("`{s}` is not a fraction");
    let (int, frac) = digits.split_once('.').ok_or_else(not_fraction)?;
    let all_digits = |t: &str| t.bytes().all(|b| b.is_ascii_digit());
    if (int.is_empty() && frac.is_empty()) || !all_digits(int) || !all_digits(frac) {
        return Err(not_fraction());
    }
    let frac = frac.trim_end_matches('0');
    let decimals = u32::try_from(frac.len()).unwrap_or(u32::MAX);
    if decimals > MAX_DECIMALS {
        return Err(format!("`{s}` has more than {MAX_DECIMALS} decimals"));
    }
    let int = int.trim_start_matches('0');
    let numerator = format!("{int}{frac}");
    let numerator = if numerator.is_empty() {
        0
    } else {
        numerator.parse::<u64>().map_err(|_| format!("`{s}` is too large"))?
    };
    Ok(Some(RowBound::Fraction { negative, numerator, decimals }))
}

fn bound_value(b: RowBound, rows: usize) -> Result<usize, String> {
    match b {
        RowBound::Index(i) => {
            let v = usize::try_from(i).map_err(|_| format!("{i} is negative"))?;
            if v > rows {
                return Err(format!("{v} is beyond the last row"));
            }
            Ok(v)
        }
        RowBound::Fraction { negative, numerator, decimals } => {
            let scale = 10u128.pow(decimals);
            if negative && numerator > 0 {
                return Err(format!("{b} is negative"));
            }
            if u128::from(numerator) > scale {
                return Err(format!("fraction {b} is above 1"));
            }
            // rows < 2^64 and numerator <= 10^18 < 2^60: the product fits a u128.
            let v = (rows as u128) * u128::from(numerator) / scale;
            usize::try_from(v).map_err(|_| format!("fraction {b} overflows"))
        }
    }
}

/// A reader's output for the rows of the range, before the NaN policy.
pub(crate) struct Table {
    pub path: PathBuf,
    pub channels: Vec<String>,
    /// Row-major, `rows * channels.len()`.
    pub values: Vec<f32>,
    pub labels: Option<Vec<bool>>,
    pub timestamps: Option<Vec<String>>,
    /// The column of `timestamps`.
    pub timestamp_column: Option<FileColumn>,
    /// 1-based line of every row (text files).
    pub lines: Option<Vec<usize>>,
    /// Columns the automatic selection left out.
    pub skipped: Vec<SkippedColumn>,
    /// File row of the first row (the range's start).
    pub first_row: usize,
    /// Rows in the file, before the range.
    pub file_rows: usize,
}

/// Applies the NaN policy and the minimum row count. `locate(row, channel)` gives the
/// position and text of a value for the error message (`row` counts from the table's start).
pub(crate) fn finish(
    t: Table,
    opts: &LoadOptions,
    locate: &dyn Fn(usize, usize) -> (Position, String),
) -> Result<Recording, DataError> {
    let c = t.channels.len().max(1);
    let n = t.values.len() / c;
    let mut bad_values = 0usize;
    let mut bad_rows: Vec<usize> = Vec::new();
    let mut first: Option<(usize, usize)> = None;
    for (r, row) in t.values.chunks_exact(c).enumerate() {
        let mut row_bad = false;
        for (ch, v) in row.iter().enumerate() {
            if !v.is_finite() {
                bad_values += 1;
                row_bad = true;
                first.get_or_insert((r, ch));
            }
        }
        if row_bad {
            bad_rows.push(r);
        }
    }
    let mut rec = Recording {
        path: t.path,
        channels: t.channels,
        values: t.values,
        first_row: t.first_row,
        labels: t.labels,
        timestamps: t.timestamps,
        dropped_rows: Vec::new(),
        lines: t.lines,
        timestamp_column: t.timestamp_column,
        skipped: t.skipped,
    };
    if let Some((r, ch)) = first {
        match opts.nan {
            NanPolicy::Refuse => {
                let (first, found) = locate(r, ch);
                return Err(DataError::NonFinite {
                    path: rec.path,
                    count: bad_values,
                    rows: bad_rows.len(),
                    first,
                    found,
                });
            }
            NanPolicy::DropRows => drop_rows(&mut rec, &bad_rows, c),
            NanPolicy::Keep => {}
        }
    }
    let needed = opts.min_rows.max(1);
    let found = rec.rows();
    if found < needed {
        let mut context = String::new();
        if n != t.file_rows {
            context.push_str(&format!(
                " in rows {}..{} of the file's {}",
                t.first_row,
                t.first_row + n,
                t.file_rows
            ));
        }
        if !rec.dropped_rows.is_empty() {
            context.push_str(&format!(" after dropping {} row(s) with NaN/Inf", rec.dropped_rows.len()));
        }
        return Err(DataError::TooFewRows { path: rec.path, needed, found, context });
    }
    Ok(rec)
}

/// Removes rows `bad` (sorted table rows) and records them as dropped file rows.
fn drop_rows(rec: &mut Recording, bad: &[usize], c: usize) {
    let first_row = rec.first_row;
    let mut keep = vec![true; rec.values.len() / c];
    for &r in bad {
        if let Some(k) = keep.get_mut(r) {
            *k = false;
        }
    }
    let mut i = 0;
    rec.values.retain(|_| {
        let k = keep.get(i / c).copied().unwrap_or(true);
        i += 1;
        k
    });
    if let Some(labels) = &mut rec.labels {
        let mut i = 0;
        labels.retain(|_| {
            i += 1;
            keep.get(i - 1).copied().unwrap_or(true)
        });
    }
    if let Some(ts) = &mut rec.timestamps {
        let mut i = 0;
        ts.retain(|_| {
            i += 1;
            keep.get(i - 1).copied().unwrap_or(true)
        });
    }
    if let Some(lines) = &mut rec.lines {
        let mut i = 0;
        lines.retain(|_| {
            i += 1;
            keep.get(i - 1).copied().unwrap_or(true)
        });
    }
    rec.dropped_rows = bad.iter().map(|&r| first_row + r).collect();
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn resolve(text: &str, rows: usize) -> Result<Range<usize>, DataError> {
        RowRange::parse(text)?.resolve(rows, Path::new("f.csv"))
    }

    #[test]
    fn indices_and_fractions() {
        assert_eq!(resolve("100:500", 1000).unwrap(), 100..500);
        assert_eq!(resolve(":500", 1000).unwrap(), 0..500);
        assert_eq!(resolve("100:", 1000).unwrap(), 100..1000);
        assert_eq!(resolve(":", 7).unwrap(), 0..7);
        assert_eq!(resolve(" 0 : 0.7 ", 10).unwrap(), 0..7);
        assert_eq!(resolve("0.7:1", 10).unwrap(), 7..10);
        assert_eq!(resolve("0.7:1.0", 11).unwrap(), 7..11);
        assert_eq!(resolve("0:.5", 11).unwrap(), 0..5);
        assert_eq!(resolve("1.:", 11).unwrap(), 11..11);
        // Exact decimal arithmetic: 0.29 * 100 is 29 (f64 gives 28.999...).
        assert_eq!(resolve(":0.29", 100).unwrap(), 0..29);
        assert_eq!(resolve("0.1:0.3", 243_938).unwrap(), 24_393..73_181);
        assert_eq!(resolve("1000:1000", 1000).unwrap(), 1000..1000);
        // Next to a fraction, 0 and 1 are fractions; elsewhere they are rows.
        assert_eq!(resolve("0.5:1", 10).unwrap(), 5..10);
        assert_eq!(
            resolve("1:0.5", 10).unwrap_err().to_string(),
            "f.csv: row range `1.0:0.5`: start row 10 is after end row 5 (the file has 10 rows)"
        );
        assert_eq!(resolve("1:5", 10).unwrap(), 1..5);
        assert_eq!(resolve("0.25:", 10).unwrap(), 2..10);
    }

    #[test]
    fn out_of_bounds_names_the_file_and_row_count() {
        let msg = resolve("0:1001", 1000).unwrap_err().to_string();
        assert_eq!(
            msg,
            "f.csv: row range `0:1001`: end 1001 is beyond the last row (the file has 1000 rows)"
        );
        let msg = resolve("500:100", 1000).unwrap_err().to_string();
        assert!(msg.contains("start row 500 is after end row 100") && msg.contains("1000 rows"), "{msg}");
        let msg = resolve("-5:", 1000).unwrap_err().to_string();
        assert!(msg.contains("start -5 is negative") && msg.contains("f.csv"), "{msg}");
        let msg = resolve("0:1.5", 10).unwrap_err().to_string();
        assert!(msg.contains("end fraction 1.5 is above 1"), "{msg}");
        assert!(resolve("-0.5:", 10).unwrap_err().to_string().contains("-0.5 is negative"));
        assert!(resolve("0.8:0.2", 10).unwrap_err().to_string().contains("start row 8 is after end row 2"));
    }

    #[test]
    fn parse_errors() {
        for bad in ["", "100", "1:2:3", "a:b", "1e3:", "0.5.5:", ".:", "1:0.1234567890123456789", "--1:"] {
            assert!(matches!(RowRange::parse(bad), Err(DataError::BadRowRange { .. })), "{bad}");
        }
        let msg = RowRange::parse("x:5").unwrap_err().to_string();
        assert!(msg.starts_with("row range `x:5`: `x` is not a row index"), "{msg}");
    }

    #[test]
    fn display_round_trips() {
        for t in ["100:500", ":500", "100:", ":", "0:0.7", "0.25:1.", "0.05:0.5"] {
            let r = RowRange::parse(t).unwrap();
            assert_eq!(RowRange::parse(&r.to_string()).unwrap(), r, "{t} -> {r}");
        }
        assert_eq!(RowRange::parse("0:0.70").unwrap().to_string(), "0.0:0.7");
        assert_eq!(RowRange::parse("100:").unwrap().to_string(), "100:");
    }
}
