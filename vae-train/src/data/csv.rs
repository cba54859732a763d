//! CSV reader: a header line, then one row per line.
//!
//! A small parser of its own rather than the `csv` crate, so every error can name the line as
//! an editor shows it (blank lines are skipped but still counted) and the field as a column
//! number. Fields may be quoted with `"` (a separator inside quotes is text, `""` is a quote);
//! a quoted field cannot span lines. Cells are trimmed.
//!
//! A feature cell holding one of [`MISSING_VALUES`] (empty, `nan`, `n/a`, `NA`, `null`,
//! `none`, `-`, `?`, in any case) is a missing value, NaN, subject to
//! [`NanPolicy`](super::NanPolicy): the same in every row. Without named columns, the
//! automatic selection (see [the data module](super)) decides whether a column is numeric
//! from its first *non-missing* value in the rows read, and leaves out the label and
//! timestamp columns, unnamed columns, columns named like a label
//! ([`LABEL_NAMES`](super::LABEL_NAMES)) and 0/1 columns; [`Recording::skipped`] lists them.
//!
//! Only the rows of the row range are parsed, so junk past `--rows 0:0.7` does not matter.

use super::error::{join, snippet, DataError, Position};
use super::rows::{finish, Table};
use super::{FileColumn, LoadOptions, Recording, SkipReason, SkippedColumn};
use std::borrow::Cow;
use std::collections::HashMap;
use std::path::Path;

/// Separators detected from the header, in order of preference for messages.
pub const SEPARATORS: [u8; 4] = [b',', b';', b'\t', b'|'];

/// Header names (compared case-insensitively) of a timestamp column, which the automatic
/// column selection leaves out even when its values are numbers (epoch seconds).
pub const TIMESTAMP_NAMES: [&str; 8] =
    ["timestamp", "datetime", "date", "time", "date_time", "time_stamp", "ts", "epoch"];

/// Cell texts (compared case-insensitively, after trimming) that mean a missing value, read as
/// NaN wherever they appear: empty, pandas' and R's markers (`nan`, `NA`, `N/A`, `#N/A`,
/// `null`, `None`), a lone `-` and `?` (UCI's marker). `inf` is not missing: it is a value,
/// and the NaN policy refuses or drops it like NaN.
pub const MISSING_VALUES: [&str; 9] = ["", "nan", "na", "n/a", "#n/a", "null", "none", "-", "?"];

/// Whether a (trimmed) cell is a missing value ([`MISSING_VALUES`]).
pub fn is_missing(cell: &str) -> bool {
    let cell = cell.trim();
    MISSING_VALUES.iter().any(|m| cell.eq_ignore_ascii_case(m))
}

/// Parses a CSV file's bytes into a recording. `path` only names the file in errors.
pub fn parse(bytes: &[u8], opts: &LoadOptions, path: &Path) -> Result<Recording, DataError> {
    let lines = lines(bytes, path)?;
    let Some((&(header_line, header), data)) = lines.split_first() else {
        return Err(DataError::Empty { path: path.to_path_buf() });
    };
    let sep = separator(header, data.first().map(|d| d.1), opts.sep, header_line, path)?;
    let names = header_names(header, sep, header_line, path)?;
    if data.is_empty() {
        return Err(DataError::NoDataRows {
            path: path.to_path_buf(),
            what: "only a header line".to_string(),
        });
    }
    let range = match &opts.rows {
        Some(r) => r.resolve(data.len(), path)?,
        None => 0..data.len(),
    };
    let ctx = Ctx { path, names: &names, sep };
    let label = opts.label_column.as_deref().map(|name| ctx.find(name)).transpose()?;
    let rows = data.get(range.clone()).unwrap_or_default();
    let selection = match &opts.columns {
        Some(cols) => ctx.select_named(cols, label, rows, opts.keep_timestamps)?,
        None => ctx.select_automatic(label, rows)?,
    };
    let cells = ctx.read_rows(rows, &selection, label, opts.keep_timestamps, range.start)?;
    let table = Table {
        path: path.to_path_buf(),
        channels: selection.features.iter().map(|&i| names[i].clone()).collect(),
        values: cells.values,
        labels: cells.labels,
        timestamp_column: selection
            .timestamp
            .filter(|_| cells.timestamps.is_some())
            .map(|i| FileColumn { name: names[i].clone(), number: i + 1 }),
        timestamps: cells.timestamps,
        lines: Some(cells.lines),
        skipped: selection.skipped,
        first_row: range.start,
        file_rows: data.len(),
    };
    let locate = |r: usize, ch: usize| ctx.locate(rows, &selection.features, range.start, r, ch);
    finish(table, opts, &locate)
}

/// The trimmed header names, refused when the header is missing or names a column twice.
fn header_names(header: &str, sep: u8, line: usize, path: &Path) -> Result<Vec<String>, DataError> {
    let mut fields = Vec::new();
    split_fields(header, sep, &mut fields).map_err(|column_number| DataError::UnterminatedQuote {
        path: path.to_path_buf(),
        line,
        column_number,
    })?;
    let names: Vec<String> = fields.iter().map(|f| f.trim().to_string()).collect();
    check_header(&names, header, line, path)?;
    Ok(names)
}

/// The columns a recording is made of: the features (in order), the timestamp column, and
/// the columns the automatic selection left out.
struct Selection {
    features: Vec<usize>,
    timestamp: Option<usize>,
    skipped: Vec<SkippedColumn>,
}

/// The cells of the rows read: one value per row and feature (row-major), and the label,
/// timestamp and line of every row.
struct Cells {
    values: Vec<f32>,
    labels: Option<Vec<bool>>,
    timestamps: Option<Vec<String>>,
    lines: Vec<usize>,
}

/// Why the automatic selection leaves column `i` out, or `None` to take it as a feature.
fn skip_reason(
    i: usize,
    name: &str,
    sc: &Scan,
    label: Option<usize>,
    timestamp: Option<usize>,
) -> Option<SkipReason> {
    let reason = if Some(i) == label {
        SkipReason::LabelColumn
    } else if Some(i) == timestamp {
        SkipReason::Timestamp
    } else if name.is_empty() {
        SkipReason::Unnamed
    } else if super::is_label_name(name) {
        SkipReason::LabelName
    } else if sc.numeric == Some(false) {
        SkipReason::NonNumeric
    } else if sc.is_binary() {
        SkipReason::Binary
    } else {
        return None;
    };
    Some(reason)
}

/// What the row checks need to name a position.
struct Ctx<'a> {
    path: &'a Path,
    names: &'a [String],
    sep: u8,
}

impl Ctx<'_> {
    /// The index of the column named `name` (trimmed).
    fn find(&self, name: &str) -> Result<usize, DataError> {
        self.names.iter().position(|n| n == name.trim()).ok_or_else(|| DataError::MissingColumn {
            path: self.path.to_path_buf(),
            column: name.to_string(),
            available: join(self.names),
        })
    }

    /// The columns named in `--columns`; the timestamp column by its name, or (only when
    /// timestamps are kept, as nothing else needs it) by its contents.
    fn select_named(
        &self,
        cols: &[String],
        label: Option<usize>,
        rows: &[(usize, &str)],
        keep_timestamps: bool,
    ) -> Result<Selection, DataError> {
        if cols.is_empty() {
            return Err(DataError::NoColumns {
                path: self.path.to_path_buf(),
                why: "the column list is empty".to_string(),
                available: join(self.names),
            });
        }
        let features = super::pick_columns(cols, label, self.path, |name| self.find(name))?;
        let timestamp = match timestamp_by_name(self.names, label) {
            Some(t) => Some(t),
            None if keep_timestamps => timestamp_by_content(&scan(self, rows, |i| Some(i) == label, false)?),
            None => None,
        };
        Ok(Selection { features, timestamp, skipped: Vec::new() })
    }

    /// The automatic selection: every numeric column that is not left out (see
    /// [`skip_reason`]); an error naming every column left out when none is left.
    fn select_automatic(&self, label: Option<usize>, rows: &[(usize, &str)]) -> Result<Selection, DataError> {
        // Columns left out by their name need no scan (a label column may be long).
        let by_name = timestamp_by_name(self.names, label);
        let skip = |i: usize| Some(i) == label || Some(i) == by_name || super::is_label_name(&self.names[i]);
        let scans = scan(self, rows, skip, true)?;
        let timestamp = by_name.or_else(|| timestamp_by_content(&scans));
        let mut features = Vec::new();
        let mut skipped = Vec::new();
        for (i, (name, sc)) in self.names.iter().zip(&scans).enumerate() {
            match skip_reason(i, name, sc, label, timestamp) {
                Some(reason) => skipped.push(SkippedColumn { name: name.clone(), number: i + 1, reason }),
                None => features.push(i),
            }
        }
        if features.is_empty() {
            let left: Vec<String> = skipped.iter().map(ToString::to_string).collect();
            return Err(DataError::NoColumns {
                path: self.path.to_path_buf(),
                why: format!(
                    "every column was left out: {}; name the columns to use in --columns",
                    left.join(", ")
                ),
                available: join(self.names),
            });
        }
        Ok(Selection { features, timestamp, skipped })
    }

    /// Reads the selected cells of `rows` (file rows from `first_row`); timestamps only when
    /// kept.
    fn read_rows(
        &self,
        rows: &[(usize, &str)],
        sel: &Selection,
        label: Option<usize>,
        keep_timestamps: bool,
        first_row: usize,
    ) -> Result<Cells, DataError> {
        let mut cells = Cells {
            values: Vec::with_capacity(rows.len().saturating_mul(sel.features.len())),
            labels: label.map(|_| Vec::with_capacity(rows.len())),
            timestamps: sel.timestamp.filter(|_| keep_timestamps).map(|_| Vec::with_capacity(rows.len())),
            lines: Vec::with_capacity(rows.len()),
        };
        let mut fields = Vec::new();
        for (k, &(line, text)) in rows.iter().enumerate() {
            self.split_row(text, line, self.names.len(), &mut fields)?;
            cells.lines.push(line);
            for &i in &sel.features {
                cells.values.push(self.feature_value(fields[i].trim(), line, i)?);
            }
            if let (Some(labels), Some(i)) = (&mut cells.labels, label) {
                labels.push(self.label_value(fields[i].trim(), line, first_row + k, i)?);
            }
            if let (Some(ts), Some(i)) = (&mut cells.timestamps, sel.timestamp) {
                ts.push(fields[i].trim().to_string());
            }
        }
        Ok(cells)
    }

    /// The value of a feature cell at `line`, column `i`.
    fn feature_value(&self, cell: &str, line: usize, i: usize) -> Result<f32, DataError> {
        parse_cell(cell).ok_or_else(|| DataError::NonNumeric {
            path: self.path.to_path_buf(),
            line,
            column: self.names[i].clone(),
            column_number: i + 1,
            cell: snippet(cell),
        })
    }

    /// The label in a cell of file row `row` at `line`, column `i`.
    fn label_value(&self, cell: &str, line: usize, row: usize, i: usize) -> Result<bool, DataError> {
        parse_label(cell).ok_or_else(|| DataError::BadLabel {
            path: self.path.to_path_buf(),
            at: Position { line: Some(line), row, column: self.names[i].clone(), column_number: i + 1 },
            cell: snippet(cell),
        })
    }

    /// The position and text of value `ch` of row `r` (of `rows`, file rows from
    /// `first_row`), for the NaN policy's message: the row is split again, as only the
    /// values were kept.
    fn locate(
        &self,
        rows: &[(usize, &str)],
        features: &[usize],
        first_row: usize,
        r: usize,
        ch: usize,
    ) -> (Position, String) {
        let col = features.get(ch).copied().unwrap_or(0);
        let (line, text) = rows.get(r).copied().unwrap_or((0, ""));
        let mut f = Vec::new();
        let cell = match split_fields(text, self.sep, &mut f) {
            Ok(()) => f.get(col).map(|c| c.trim().to_string()).unwrap_or_default(),
            Err(_) => String::new(),
        };
        let found = if cell.is_empty() { "(empty cell)".to_string() } else { snippet(&cell) };
        let at = Position {
            line: Some(line),
            row: first_row + r,
            column: self.names.get(col).cloned().unwrap_or_default(),
            column_number: col + 1,
        };
        (at, found)
    }

    /// Splits a data line, checking it has as many fields as the header.
    fn split_row<'t>(
        &self,
        text: &'t str,
        line: usize,
        ncols: usize,
        out: &mut Vec<Cow<'t, str>>,
    ) -> Result<(), DataError> {
        split_fields(text, self.sep, out).map_err(|column_number| DataError::UnterminatedQuote {
            path: self.path.to_path_buf(),
            line,
            column_number,
        })?;
        if out.len() != ncols {
            return Err(DataError::RaggedRow {
                path: self.path.to_path_buf(),
                line,
                expected: ncols,
                found: out.len(),
                sep: char::from(self.sep),
            });
        }
        Ok(())
    }
}

/// The non-blank lines with their 1-based numbers; a UTF-8 BOM and `\r` endings are removed.
fn lines<'a>(bytes: &'a [u8], path: &Path) -> Result<Vec<(usize, &'a str)>, DataError> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let mut out = Vec::new();
    for (i, raw) in bytes.split(|&b| b == b'\n').enumerate() {
        let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
        let text = std::str::from_utf8(raw)
            .map_err(|_| DataError::InvalidUtf8 { path: path.to_path_buf(), line: i + 1 })?;
        if !text.trim().is_empty() {
            out.push((i + 1, text));
        }
    }
    Ok(out)
}

/// The forced separator (checked against the header), or the one the header uses.
fn separator(
    header: &str,
    first_data: Option<&str>,
    forced: Option<u8>,
    line: usize,
    path: &Path,
) -> Result<u8, DataError> {
    let counts = SEPARATORS.map(|c| (c, count_sep(header, c)));
    if let Some(sep) = forced {
        if !sep.is_ascii() || matches!(sep, b'"' | b'\n' | b'\r') {
            return Err(DataError::Invalid(format!(
                "separator {:?}: must be an ASCII character other than a quote or a line break",
                char::from(sep)
            )));
        }
        if count_sep(header, sep) == 0 {
            if let Some(&(found, count)) =
                counts.iter().filter(|&&(c, n)| c != sep && n > 0).max_by_key(|&&(_, n)| n)
            {
                return Err(DataError::WrongSeparator {
                    path: path.to_path_buf(),
                    line,
                    expected: char::from(sep),
                    found: char::from(found),
                    count,
                });
            }
        }
        return Ok(sep);
    }
    let max = counts.iter().map(|&(_, n)| n).max().unwrap_or(0);
    if max == 0 {
        // One column: no separator to find; any candidate splits nothing.
        return Ok(b',');
    }
    let top: Vec<u8> = counts.iter().filter(|&&(_, n)| n == max).map(|&(c, _)| c).collect();
    if let [only] = top[..] {
        return Ok(only);
    }
    // A tie in the header: the first data row decides if exactly one candidate fits it.
    if let Some(first) = first_data {
        let fit: Vec<u8> = top.iter().copied().filter(|&c| count_sep(first, c) == max).collect();
        if let [only] = fit[..] {
            return Ok(only);
        }
    }
    let found: Vec<String> = top.iter().map(|&c| format!("{max} {:?}", char::from(c))).collect();
    Err(DataError::AmbiguousSeparator { path: path.to_path_buf(), line, found: found.join(" and ") })
}

/// Occurrences of `sep` outside double quotes.
fn count_sep(line: &str, sep: u8) -> usize {
    let mut quoted = false;
    let mut n = 0;
    for &c in line.as_bytes() {
        if c == b'"' {
            quoted = !quoted;
        } else if c == sep && !quoted {
            n += 1;
        }
    }
    n
}

/// Refuses duplicate names (a selection by name would be ambiguous) and a missing header.
fn check_header(names: &[String], header: &str, line: usize, path: &Path) -> Result<(), DataError> {
    if names.iter().all(|n| !n.is_empty() && n.parse::<f32>().is_ok()) {
        return Err(DataError::NoHeader { path: path.to_path_buf(), line, found: snippet(header) });
    }
    let mut seen: HashMap<&str, usize> = HashMap::new();
    for (i, n) in names.iter().enumerate() {
        if n.is_empty() {
            continue;
        }
        if let Some(&first) = seen.get(n.as_str()) {
            return Err(DataError::DuplicateColumn {
                path: path.to_path_buf(),
                line,
                column: n.clone(),
                first: first + 1,
                second: i + 1,
            });
        }
        seen.insert(n, i);
    }
    Ok(())
}

/// The first column (not the label) named like a timestamp ([`TIMESTAMP_NAMES`]).
fn timestamp_by_name(names: &[String], label: Option<usize>) -> Option<usize> {
    names
        .iter()
        .enumerate()
        .position(|(i, n)| Some(i) != label && TIMESTAMP_NAMES.iter().any(|t| n.eq_ignore_ascii_case(t)))
}

/// The first column whose first non-missing value is a date or time.
fn timestamp_by_content(scans: &[Scan]) -> Option<usize> {
    scans.iter().position(|s| s.date)
}

/// What the rows read say about one column.
#[derive(Clone, Copy, Debug, Default)]
struct Scan {
    /// Whether its first non-missing value is a number (`None`: only missing values).
    numeric: Option<bool>,
    /// Whether its first non-missing value is a date or time (not a number, has digits and
    /// `-`, `:` or `/`).
    date: bool,
    /// Non-missing values seen while all were 0 or 1.
    zero_one: usize,
    /// A value other than 0 or 1 (or a missing one only) was seen: not a 0/1 column.
    not_binary: bool,
}

impl Scan {
    /// At least two values, every non-missing one 0 or 1.
    fn is_binary(&self) -> bool {
        self.numeric == Some(true) && !self.not_binary && self.zero_one >= 2
    }

    /// Nothing more to learn from further rows.
    fn done(&self, binary: bool) -> bool {
        self.numeric.is_some() && (!binary || self.numeric == Some(false) || self.not_binary)
    }
}

/// Scans `rows` (the rows read) column by column: the first non-missing value of every column
/// (number, date or text) and, with `binary`, whether the numeric ones hold only 0 and 1.
/// Stops as soon as further rows cannot change the answer. Columns `skip(i)` are not scanned
/// (reported as text that is not a date).
fn scan(
    ctx: &Ctx<'_>,
    rows: &[(usize, &str)],
    skip: impl Fn(usize) -> bool,
    binary: bool,
) -> Result<Vec<Scan>, DataError> {
    let n = ctx.names.len();
    let mut scans = vec![Scan::default(); n];
    for (i, sc) in scans.iter_mut().enumerate() {
        if skip(i) {
            *sc = Scan { numeric: Some(false), ..Scan::default() };
        }
    }
    let mut fields = Vec::new();
    for &(line, text) in rows {
        if scans.iter().all(|s| s.done(binary)) {
            break;
        }
        ctx.split_row(text, line, n, &mut fields)?;
        for (sc, f) in scans.iter_mut().zip(&fields) {
            let f = f.trim();
            if sc.done(binary) || is_missing(f) {
                continue;
            }
            let value = f.parse::<f64>().ok();
            if sc.numeric.is_none() {
                sc.numeric = Some(value.is_some());
                sc.date = value.is_none()
                    && f.bytes().any(|b| b.is_ascii_digit())
                    && f.bytes().any(|b| matches!(b, b'-' | b':' | b'/'));
            }
            match value {
                Some(v) if v == 0.0 || v == 1.0 => sc.zero_one += 1,
                _ => sc.not_binary = true,
            }
        }
    }
    Ok(scans)
}

/// A feature value: a number (values beyond the f32 range become infinities), or NaN for a
/// missing value ([`MISSING_VALUES`]).
fn parse_cell(cell: &str) -> Option<f32> {
    match cell.parse::<f32>() {
        Ok(v) => Some(v),
        Err(_) if is_missing(cell) => Some(f32::NAN),
        Err(_) => None,
    }
}

/// A row label: 0 or 1 written as any number (`0`, `1`, `0.0`, `1.0`).
fn parse_label(cell: &str) -> Option<bool> {
    match cell.parse::<f64>() {
        Ok(v) if v == 0.0 || v == 1.0 => Some(v == 1.0),
        _ => None,
    }
}

/// Splits one line at `sep` (ASCII) outside double quotes. `Err(n)`: field `n` (1-based)
/// opens a quote that the line does not close.
fn split_fields<'a>(line: &'a str, sep: u8, out: &mut Vec<Cow<'a, str>>) -> Result<(), usize> {
    out.clear();
    let b = line.as_bytes();
    let mut i = 0;
    loop {
        if b.get(i) == Some(&b'"') {
            let start = i + 1;
            let mut k = start;
            let mut owned: Option<String> = None;
            loop {
                let Some(p) = b.get(k..).and_then(|rest| rest.iter().position(|&c| c == b'"')) else {
                    return Err(out.len() + 1);
                };
                let q = k + p;
                if b.get(q + 1) == Some(&b'"') {
                    owned.get_or_insert_with(String::new).push_str(&line[k..=q]);
                    k = q + 2;
                    continue;
                }
                let inner = match owned.take() {
                    Some(mut s) => {
                        s.push_str(&line[k..q]);
                        Cow::Owned(s)
                    }
                    None => Cow::Borrowed(&line[start..q]),
                };
                let end = b[q + 1..].iter().position(|&c| c == sep).map(|p| q + 1 + p);
                let tail = &line[q + 1..end.unwrap_or(b.len())];
                out.push(if tail.trim().is_empty() { inner } else { Cow::Owned(format!("{inner}{tail}")) });
                match end {
                    Some(e) => {
                        i = e + 1;
                        break;
                    }
                    None => return Ok(()),
                }
            }
        } else {
            let rest = b.get(i..).unwrap_or_default();
            match rest.iter().position(|&c| c == sep) {
                Some(p) => {
                    out.push(Cow::Borrowed(&line[i..i + p]));
                    i += p + 1;
                }
                None => {
                    out.push(Cow::Borrowed(line.get(i..).unwrap_or_default()));
                    return Ok(());
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::{NanPolicy, RowRange, SkipReason};

    fn p(text: &str, opts: &LoadOptions) -> Result<Recording, DataError> {
        parse(text.as_bytes(), opts, Path::new("t.csv"))
    }

    fn ok(text: &str) -> Recording {
        p(text, &LoadOptions::default()).unwrap()
    }

    fn cols(names: &[&str]) -> LoadOptions {
        LoadOptions { columns: Some(names.iter().map(|s| s.to_string()).collect()), ..Default::default() }
    }

    #[test]
    fn splits_fields_with_quotes() {
        let mut f = Vec::new();
        split_fields(r#"a,"b,c","d""e",,"x" "#, b',', &mut f).unwrap();
        assert_eq!(f, ["a", "b,c", "d\"e", "", "x"]);
        split_fields("a,b,", b',', &mut f).unwrap();
        assert_eq!(f, ["a", "b", ""]);
        split_fields("", b',', &mut f).unwrap();
        assert_eq!(f, [""]);
        assert_eq!(split_fields(r#"a,"b"#, b',', &mut f), Err(2));
        split_fields("é;ü\"x", b';', &mut f).unwrap();
        assert_eq!(f, ["é", "ü\"x"]);
    }

    #[test]
    fn detects_separators() {
        for sep in [",", ";", "\t", "|"] {
            let text = format!("a{sep}b\n1{sep}2\n3{sep}4\n");
            let r = ok(&text);
            assert_eq!(r.channels, ["a", "b"], "{sep:?}");
            assert_eq!(r.values, [1.0, 2.0, 3.0, 4.0]);
        }
        // SKAB: ';' with spaces in names and a datetime column.
        let r = ok("datetime;Accel 1;Volume Flow RateRMS\n2020-03-09 10:14:33;0.5;32.0\n");
        assert_eq!(r.channels, ["Accel 1", "Volume Flow RateRMS"]);
        // A tie in the header broken by the data.
        let r = ok("a;b,c\n1;2.5\n");
        assert_eq!((r.channels.len(), r.values.as_slice()), (2, &[1.0f32, 2.5][..]));
        assert!(matches!(
            p("a;b,c\n1;2,3\n", &LoadOptions::default()),
            Err(DataError::AmbiguousSeparator { .. })
        ));
        // One column: no separator at all.
        let r = ok("value\n1\n2\n");
        assert_eq!((r.channels.len(), r.rows()), (1, 2));
    }

    #[test]
    fn forced_separator() {
        let o = LoadOptions { sep: Some(b';'), ..Default::default() };
        assert_eq!(p("a;b\n1;2\n", &o).unwrap().values, [1.0, 2.0]);
        let e = p("a,b,c\n1,2,3\n", &o).unwrap_err();
        assert_eq!(e.to_string(), "t.csv, line 1: separator ';' not found in the header, which contains ',' 2 times (wrong separator?)");
        let o = LoadOptions { sep: Some(b'"'), ..Default::default() };
        assert!(matches!(p("a\n1\n", &o), Err(DataError::Invalid(_))));
        let o = LoadOptions { sep: Some(0xE9), ..Default::default() };
        assert!(matches!(p("a\n1\n", &o), Err(DataError::Invalid(_))));
    }

    #[test]
    fn automatic_selection_skips_timestamp_text_and_label() {
        let text = "timestamp,a,name,b,anomaly\n1583748873,1.5,pump,2.5,0\n1583748874,1.0,pump,2.0,1.0\n";
        let o =
            LoadOptions { label_column: Some("anomaly".into()), keep_timestamps: true, ..Default::default() };
        let r = p(text, &o).unwrap();
        assert_eq!(r.channels, ["a", "b"]);
        assert_eq!(r.values, [1.5, 2.5, 1.0, 2.0]);
        assert_eq!(r.labels, Some(vec![false, true]));
        assert_eq!(r.timestamps, Some(vec!["1583748873".to_string(), "1583748874".to_string()]));
        // A date column found by its contents; empty header names are skipped (pandas index).
        let r = ok(",when,x\n0,2013-12-02 21:15:00,73.9\n1,2013-12-02 21:20:00,74.9\n");
        assert_eq!(r.channels, ["x"]);
        assert_eq!(r.timestamps, None);
        // The first non-empty cell decides; empty cells are missing values.
        let o = LoadOptions { nan: NanPolicy::DropRows, ..Default::default() };
        let r = p("a,b\n,1\n2,3\n", &o).unwrap();
        assert_eq!(
            (r.channels.len(), r.values.as_slice(), r.dropped_rows.as_slice()),
            (2, &[2.0, 3.0][..], &[0][..])
        );
    }

    #[test]
    fn selection_by_name() {
        let text = "t,a,b,c\nx,1,2,3\ny,4,5,6\n";
        let r = p(text, &cols(&["c", " a"])).unwrap();
        assert_eq!(r.channels, ["c", "a"]);
        assert_eq!(r.values, [3.0, 1.0, 6.0, 4.0]);
        let e = p(text, &cols(&["a", "z"])).unwrap_err();
        assert_eq!(e.to_string(), "t.csv: no column `z`; available: t, a, b, c");
        assert!(matches!(
            p(text, &cols(&["a", "a"])),
            Err(DataError::BadSelection { why: "is selected twice", .. })
        ));
        let o = LoadOptions { label_column: Some("b".into()), ..cols(&["b"]) };
        assert!(matches!(p(text, &o), Err(DataError::BadSelection { .. })));
        assert!(matches!(p(text, &cols(&[])), Err(DataError::NoColumns { .. })));
        let e = p(text, &cols(&["t"])).unwrap_err();
        assert_eq!(e.to_string(), "t.csv, line 2, column 1 `t`: expected a number, found `x`");
        assert!(matches!(p("t,u\nx,y\n", &LoadOptions::default()), Err(DataError::NoColumns { .. })));
    }

    #[test]
    fn numbers_and_lines() {
        // Blank lines are skipped but counted; CRLF and a BOM are fine; cells are trimmed.
        let text = "\u{feff}a, b\r\n\r\n 1 , -2.5e-3\r\n\n3,4\r\n";
        let r = ok(text);
        assert_eq!(r.channels, ["a", "b"]);
        assert_eq!(r.values, [1.0, -2.5e-3, 3.0, 4.0]);
        let e = p("a,b\n1,2\n\n3\n", &LoadOptions::default()).unwrap_err();
        assert_eq!(
            e.to_string(),
            "t.csv, line 4: expected 2 fields separated by ',' (as in the header), found 1"
        );
        let e = p("a,b\n1,2\n3,4x\n", &LoadOptions::default()).unwrap_err();
        assert_eq!(e.to_string(), "t.csv, line 3, column 2 `b`: expected a number, found `4x`");
        let e = p("a\n\"1\n", &LoadOptions::default()).unwrap_err();
        assert!(matches!(e, DataError::UnterminatedQuote { line: 2, column_number: 1, .. }), "{e}");
        assert!(matches!(p(" \n\n", &LoadOptions::default()), Err(DataError::Empty { .. })));
        assert!(matches!(p("a,b\n", &LoadOptions::default()), Err(DataError::NoDataRows { .. })));
        assert!(matches!(p("1,2\n3,4\n", &LoadOptions::default()), Err(DataError::NoHeader { line: 1, .. })));
        assert!(matches!(
            p("a,b,a\n1,2,3\n", &LoadOptions::default()),
            Err(DataError::DuplicateColumn { first: 1, second: 3, .. })
        ));
        assert!(matches!(
            parse(b"a\n\xff\n", &LoadOptions::default(), Path::new("t.csv")),
            Err(DataError::InvalidUtf8 { line: 2, .. })
        ));
    }

    #[test]
    fn non_finite_values() {
        let text = "a,b\n1,2\n3,nan\n1e40,inf\n5,6\n";
        let e = p(text, &LoadOptions::default()).unwrap_err();
        assert_eq!(
            e.to_string(),
            "t.csv: 3 NaN/Inf/missing value(s) in 2 row(s), the first at line 3, column 2 `b`: `nan`; \
             drop such rows explicitly (NanPolicy::DropRows, --drop-nan) or clean the file"
        );
        let o = LoadOptions { nan: NanPolicy::DropRows, ..Default::default() };
        let r = p(text, &o).unwrap();
        assert_eq!(r.values, [1.0, 2.0, 5.0, 6.0]);
        assert_eq!(r.dropped_rows, [1, 2]);
        assert_eq!(r.file_row(1), 3);
        let e = p("a,b\n1,\n2,3\n", &LoadOptions::default()).unwrap_err();
        assert!(e.to_string().contains("line 2, column 2 `b`: `(empty cell)`"), "{e}");
        let o = LoadOptions { nan: NanPolicy::DropRows, min_rows: 2, ..Default::default() };
        let e = p("a\n1\nnan\n", &o).unwrap_err();
        assert_eq!(
            e.to_string(),
            "t.csv: needed at least 2 rows (one window), found 1 after dropping 1 row(s) with NaN/Inf"
        );
    }

    #[test]
    fn labels() {
        let o = LoadOptions { label_column: Some("y".into()), ..Default::default() };
        let r = p("x,y\n1,0\n2,1\n3,0.0\n4,1.0\n", &o).unwrap();
        assert_eq!(r.channels, ["x"]);
        assert_eq!(r.labels, Some(vec![false, true, false, true]));
        let e = p("x,y\n1,0\n2,2\n", &o).unwrap_err();
        assert_eq!(
            e.to_string(),
            "t.csv, line 3, column 2 `y`: label must be 0 or 1 (0.0 and 1.0 accepted), found `2`"
        );
        assert!(matches!(p("x,y\n1,\n", &o), Err(DataError::BadLabel { .. })));
        assert!(matches!(p("x,y\n1,nan\n", &o), Err(DataError::BadLabel { .. })));
        let o = LoadOptions { label_column: Some("z".into()), ..Default::default() };
        assert!(matches!(p("x,y\n1,0\n", &o), Err(DataError::MissingColumn { .. })));
    }

    #[test]
    fn row_range_parses_only_its_rows() {
        let o = LoadOptions { rows: Some(RowRange::parse("1:3").unwrap()), ..Default::default() };
        let r = p("a\n0\n1\n2\njunk\n", &o).unwrap();
        assert_eq!((r.values.as_slice(), r.first_row), (&[1.0, 2.0][..], 1));
        let o = LoadOptions { rows: Some(RowRange::parse("0:0.5").unwrap()), ..Default::default() };
        assert_eq!(p("a\n0\n2\n2\n3\n", &o).unwrap().values, [0.0, 2.0]);
        // The rows read decide: rows 0 and 1 hold only 0 and 1.
        let e = p("a\n0\n1\n2\n3\n", &o).unwrap_err();
        assert_eq!(
            e.to_string(),
            "t.csv: no numeric feature column (every column was left out: a (only 0/1 values); \
             name the columns to use in --columns); columns: a"
        );
        assert_eq!(
            p("a\n0\n1\n2\n3\n", &LoadOptions { columns: Some(vec!["a".into()]), ..o }).unwrap().values,
            [0.0, 1.0]
        );
        let o = LoadOptions { rows: Some(RowRange::parse("2:9").unwrap()), ..Default::default() };
        let e = p("a\n0\n1\n2\n3\n", &o).unwrap_err();
        assert_eq!(
            e.to_string(),
            "t.csv: row range `2:9`: end 9 is beyond the last row (the file has 4 rows)"
        );
        let o =
            LoadOptions { rows: Some(RowRange::parse("2:4").unwrap()), min_rows: 3, ..Default::default() };
        let e = p("a\n0\n1\n2\n3\n", &o).unwrap_err();
        assert_eq!(
            e.to_string(),
            "t.csv: needed at least 3 rows (one window), found 2 in rows 2..4 of the file's 4"
        );
    }

    fn skipped(r: &Recording) -> Vec<(&str, usize, SkipReason)> {
        r.skipped.iter().map(|s| (s.name.as_str(), s.number, s.reason)).collect()
    }

    #[test]
    fn labels_and_flags_are_not_input_channels() {
        // SKAB's layout: datetime, sensors, then the anomaly and changepoint labels.
        let text = "datetime;Accel;Flow;anomaly;changepoint\n\
                    2020-03-09 10:14:33;0.5;32.0;0.0;0.0\n\
                    2020-03-09 10:14:34;0.6;31.0;0.0;0.0\n\
                    2020-03-09 10:14:35;0.7;33.0;1.0;1.0\n";
        let r = ok(text);
        assert_eq!(r.channels, ["Accel", "Flow"]);
        assert_eq!(
            skipped(&r),
            [
                ("datetime", 1, SkipReason::Timestamp),
                ("anomaly", 4, SkipReason::LabelName),
                ("changepoint", 5, SkipReason::LabelName)
            ]
        );
        assert_eq!(
            r.column_note().unwrap(),
            "columns: taken Accel, Flow; left out datetime (the timestamp), anomaly (a label name), \
             changepoint (a label name): name them in --columns to use them"
        );
        // Label names in any case, whatever the values; a 0/1 column under another name.
        let r = ok("x,Label,Is_Anomaly,valve,z\n1.5,3,7,1,2\n2.5,4,8,0,2\n3.5,5,9,1,2\n");
        assert_eq!(r.channels, ["x", "z"]);
        assert_eq!(
            skipped(&r),
            [
                ("Label", 2, SkipReason::LabelName),
                ("Is_Anomaly", 3, SkipReason::LabelName),
                ("valve", 4, SkipReason::Binary)
            ]
        );
        // `y` is an axis (x, y, z), taken like any sensor; a `y` of labels holds 0/1 values.
        assert_eq!(ok("x,y,z\n1.5,3,2\n2.5,4,2\n").channels, ["x", "y", "z"]);
        assert_eq!(skipped(&ok("x,y\n1.5,0\n2.5,1\n")), [("y", 2, SkipReason::Binary)]);
        // 0/1 with missing values and `0.0`/`1.0` spellings is still 0/1; a 2 is not.
        let r = ok("x,f,g\n1,0.0,0\n2,,1\n3,1,2\n");
        assert_eq!(
            (r.channels.clone(), skipped(&r)),
            (vec!["x".to_string(), "g".to_string()], vec![("f", 2, SkipReason::Binary)])
        );
        // Only the rows read count, and a single value is too few to call a column 0/1.
        let o = LoadOptions { rows: Some(RowRange::parse("2:").unwrap()), ..Default::default() };
        assert_eq!(p("x,f\n1,0\n2,1\n3,5\n", &o).unwrap().channels, ["x", "f"]);
        assert_eq!(ok("x,f\n1.5,1\n").channels, ["x", "f"]);
        // Named columns are always taken, and nothing is reported as left out.
        let r = p(text, &cols(&["Accel", "anomaly", "changepoint"])).unwrap();
        assert_eq!(r.channels, ["Accel", "anomaly", "changepoint"]);
        assert_eq!(r.values[2], 0.0);
        assert!(r.skipped.is_empty() && r.column_note().is_none());
        // The label column in use is reported as such.
        let o = LoadOptions { label_column: Some("anomaly".into()), ..Default::default() };
        let r = p(text, &o).unwrap();
        assert_eq!(r.skipped[1].reason, SkipReason::LabelColumn);
        // No column left: the error says which were left out and why.
        let e = ok_err("t,anomaly,flag,name\n2020-01-01,0,1,pump\n2020-01-02,1,0,pump\n");
        assert_eq!(
            e,
            "t.csv: no numeric feature column (every column was left out: t (the timestamp), \
             anomaly (a label name), flag (only 0/1 values), name (not numeric); name the columns \
             to use in --columns); columns: t, anomaly, flag, name"
        );
    }

    fn ok_err(text: &str) -> String {
        p(text, &LoadOptions::default()).unwrap_err().to_string()
    }

    #[test]
    fn missing_values_are_nan_in_every_row() {
        // `n/a` in the first row: the column stays, and the NaN error names line 2 exactly as
        // it names line 3 for the same value one row later.
        let first = ok_err("a,b,c\n1,n/a,3\n4,5,6\n");
        let second = ok_err("a,b,c\n1,2,3\n4,n/a,6\n");
        assert_eq!(
            first,
            "t.csv: 1 NaN/Inf/missing value(s) in 1 row(s), the first at line 2, column 2 `b`: `n/a`; \
             drop such rows explicitly (NanPolicy::DropRows, --drop-nan) or clean the file"
        );
        assert_eq!(second, first.replace("line 2", "line 3"));
        let o = LoadOptions { nan: NanPolicy::DropRows, ..Default::default() };
        let r = p("a,b,c\n1,n/a,3\n4,5,6\n7,8,9\n", &o).unwrap();
        assert_eq!(
            (r.channels.len(), r.values.as_slice(), r.dropped_rows.as_slice()),
            (3, &[4.0, 5.0, 6.0, 7.0, 8.0, 9.0][..], &[0][..])
        );
        // Every marker, in any case and with spaces; the first rows empty.
        for m in
            ["", "nan", "NaN", "NA", "na", "N/A", "#N/A", "null", "NULL", "None", "none", "-", "?", " n/a "]
        {
            let o = LoadOptions { nan: NanPolicy::Keep, ..Default::default() };
            let r = p(&format!("a,b\n1,{m}\n2,{m}\n3,4\n"), &o).unwrap();
            assert_eq!(r.channels, ["a", "b"], "{m:?}");
            assert!(r.values[1].is_nan() && r.values[3].is_nan() && r.values[5] == 4.0, "{m:?}");
            assert!(is_missing(m));
        }
        assert!(!is_missing("0") && !is_missing("inf") && !is_missing("n/a/x"));
        // A column of missing values only is numeric: the NaN policy reports it.
        let e = ok_err("a,b\n1,NA\n2,\n");
        assert!(
            e.contains("2 NaN/Inf/missing value(s) in 2 row(s), the first at line 2, column 2 `b`: `NA`"),
            "{e}"
        );
        // Text after missing values is text; a missing timestamp does not hide the date column.
        let r = ok("when,a,name\n,1,-\n2020-01-01 00:00:01,2,pump\n");
        assert_eq!(r.channels, ["a"]);
        assert_eq!(skipped(&r), [("when", 1, SkipReason::Timestamp), ("name", 3, SkipReason::NonNumeric)]);
        // A number column with text further down is still refused at that line.
        let e = ok_err("a,b\nn/a,1.5\n2,x\n");
        assert_eq!(e, "t.csv, line 3, column 2 `b`: expected a number, found `x`");
    }

    #[test]
    fn rows_keep_their_lines() {
        let o = LoadOptions { nan: NanPolicy::DropRows, keep_timestamps: true, ..Default::default() };
        let r = p("ts,a\n\n2020-01-01,1\n2020-01-02,nan\n\n2020-01-03,3\n", &o).unwrap();
        assert_eq!(r.lines, Some(vec![3, 6]));
        assert_eq!((r.line(1), r.line(2)), (Some(6), None));
        assert_eq!(r.timestamp_column, Some(crate::data::FileColumn { name: "ts".into(), number: 1 }));
        assert_eq!(r.slice(1..2).lines, Some(vec![6]));
        assert_eq!(ok("a\n1\n").timestamp_column, None);
        // pandas' `to_csv` of a datetime index: an unnamed column of dates is the timestamp.
        let o = LoadOptions { keep_timestamps: true, ..Default::default() };
        let r = p(",value\n2013-12-02 21:15:00,73.9\n2013-12-02 21:20:00,74.9\n", &o).unwrap();
        assert_eq!(
            (r.channels.as_slice(), skipped(&r)),
            (&["value".to_string()][..], vec![("", 1, SkipReason::Timestamp)])
        );
        assert_eq!(r.timestamps.as_ref().map(Vec::len), Some(2));
        assert_eq!(r.timestamp_column, Some(crate::data::FileColumn { name: String::new(), number: 1 }));
    }
}
