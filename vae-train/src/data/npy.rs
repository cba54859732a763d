//! NumPy `.npy` reader: format versions 1.0, 2.0 and 3.0; float, integer and bool dtypes of
//! either byte order; C or Fortran order; shapes (N,) and (N, C). Values are converted to f32
//! (f64 values beyond the f32 range become infinities, which the NaN policy then handles).
//!
//! The header is a Python dict literal; a small parser of its own reads it (depth-limited, no
//! allocation driven by the header's numbers) so arbitrary bytes cannot make it panic or
//! exhaust memory.

use super::error::{join, DataError, Position};
use super::rows::{finish, Table};
use super::{LoadOptions, Recording, SkipReason, SkippedColumn};
use std::path::{Path, PathBuf};

/// The magic string every `.npy` file starts with.
pub const MAGIC: &[u8] = b"\x93NUMPY";

/// Parses a `.npy` file's bytes into a recording. Channels are `col0`, `col1`, ... or the file
/// stem for a single column; `opts.columns` and `opts.label_column` choose among them. The
/// names are made up, so no column is left out for its name: by default every column but the
/// label column is taken.
pub fn parse(bytes: &[u8], opts: &LoadOptions, path: &Path) -> Result<Recording, DataError> {
    let arr = read_array(bytes, path)?;
    let names: Vec<String> = if arr.cols == 1 {
        let stem = path.file_stem().map(|s| s.to_string_lossy().into_owned());
        vec![stem.filter(|s| !s.is_empty()).unwrap_or_else(|| "col0".to_string())]
    } else {
        (0..arr.cols).map(|c| format!("col{c}")).collect()
    };
    let missing = |name: &str| DataError::MissingColumn {
        path: path.to_path_buf(),
        column: name.to_string(),
        available: join(&names),
    };
    let sel = select(&names, opts, path, &missing, false)?;
    let col = |i: usize| Column { name: names[i].clone(), array: &arr, col: i };
    build(path, sel.features.into_iter().map(col).collect(), sel.label.map(col), arr.rows, opts, sel.skipped)
}

/// Element types the reader converts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// IEEE float (`f4`, `f8`).
    Float,
    /// Signed integer (`i1` to `i8`).
    Int,
    /// Unsigned integer (`u1` to `u8`).
    Uint,
    /// Bool (`b1`).
    Bool,
}

/// An array's element type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Dtype {
    /// Kind of number.
    pub kind: Kind,
    /// Bytes per element.
    pub size: usize,
    /// Byte order (`>`), else little endian.
    pub big_endian: bool,
}

impl Dtype {
    /// Parses a NumPy descr such as `<f8`, `|u1`, `>i2`; `None` for anything else.
    pub fn parse(descr: &str) -> Option<Dtype> {
        let (big_endian, rest) = match descr.as_bytes().first()? {
            b'<' | b'|' | b'=' => (false, &descr[1..]),
            b'>' => (true, &descr[1..]),
            _ => (false, descr),
        };
        let kind = match rest.as_bytes().first()? {
            b'f' => Kind::Float,
            b'i' => Kind::Int,
            b'u' => Kind::Uint,
            b'b' => Kind::Bool,
            _ => return None,
        };
        let size: usize = rest.get(1..)?.parse().ok()?;
        let ok = match kind {
            Kind::Float => matches!(size, 4 | 8),
            Kind::Int | Kind::Uint => matches!(size, 1 | 2 | 4 | 8),
            Kind::Bool => size == 1,
        };
        ok.then_some(Dtype { kind, size, big_endian })
    }
}

/// A 2-D view of a `.npy` array (an (N,) array is N x 1), borrowing the file's bytes.
#[derive(Clone, Debug)]
pub struct Array<'a> {
    /// Rows (the first dimension).
    pub rows: usize,
    /// Columns (1 for shape (N,)).
    pub cols: usize,
    /// Element type.
    pub dtype: Dtype,
    /// Column-major data.
    pub fortran_order: bool,
    data: &'a [u8],
}

impl Array<'_> {
    /// Element (row, col) as f32 (`None` out of range).
    pub fn get(&self, row: usize, col: usize) -> Option<f32> {
        Some(match self.raw(row, col)? {
            Num::F(v) => v as f32,
            Num::I(v) => v as f32,
            Num::U(v) => v as f32,
        })
    }

    /// Element (row, col) as f64, for exact checks such as 0/1 labels.
    pub fn get_f64(&self, row: usize, col: usize) -> Option<f64> {
        Some(match self.raw(row, col)? {
            Num::F(v) => v,
            Num::I(v) => v as f64,
            Num::U(v) => v as f64,
        })
    }

    fn raw(&self, row: usize, col: usize) -> Option<Num> {
        if row >= self.rows || col >= self.cols {
            return None;
        }
        let idx = if self.fortran_order { col * self.rows + row } else { row * self.cols + col };
        let s = self.dtype.size;
        let b = self.data.get(idx.checked_mul(s)?..idx.checked_mul(s)?.checked_add(s)?)?;
        let mut buf = [0u8; 8];
        buf.get_mut(..s)?.copy_from_slice(b);
        if self.dtype.big_endian {
            buf.get_mut(..s)?.reverse();
        }
        // `buf` now holds the little-endian bytes in its first `s` places.
        let sign_extend = |bits: u32| {
            let v = u64::from_le_bytes(buf);
            let shift = 64 - bits;
            ((v << shift) as i64) >> shift
        };
        Some(match (self.dtype.kind, s) {
            (Kind::Float, 4) => Num::F(f64::from(f32::from_le_bytes([buf[0], buf[1], buf[2], buf[3]]))),
            (Kind::Float, _) => Num::F(f64::from_le_bytes(buf)),
            (Kind::Int, _) => Num::I(sign_extend(8 * s as u32)),
            (Kind::Uint, _) => Num::U(u64::from_le_bytes(buf)),
            (Kind::Bool, _) => Num::U(u64::from(buf[0] != 0)),
        })
    }
}

enum Num {
    F(f64),
    I(i64),
    U(u64),
}

/// Parses a `.npy` file's header and checks its data length, borrowing the data.
pub fn read_array<'a>(bytes: &'a [u8], path: &Path) -> Result<Array<'a>, DataError> {
    let p = || path.to_path_buf();
    if bytes.is_empty() {
        return Err(DataError::Empty { path: p() });
    }
    if !bytes.starts_with(MAGIC) {
        let head = bytes.get(..MAGIC.len()).unwrap_or(bytes);
        return Err(DataError::NpyMagic { path: p(), found: head.escape_ascii().to_string() });
    }
    let header_err = |why: String| DataError::NpyHeader { path: p(), why };
    let (major, minor) = match bytes.get(6..8) {
        Some(&[a, b]) => (a, b),
        _ => return Err(header_err("file ends inside the version bytes".to_string())),
    };
    let (len_bytes, start): (usize, usize) = match (major, minor) {
        (1, 0) => (2, 10),
        (2, 0) | (3, 0) => (4, 12),
        _ => return Err(DataError::NpyVersion { path: p(), major, minor }),
    };
    let len = match bytes.get(8..8 + len_bytes) {
        Some(&[a, b]) => usize::from(u16::from_le_bytes([a, b])),
        Some(&[a, b, c, d]) => usize::try_from(u32::from_le_bytes([a, b, c, d])).unwrap_or(usize::MAX),
        _ => return Err(header_err("file ends inside the header length".to_string())),
    };
    let Some(raw) = bytes.get(start..start.saturating_add(len)) else {
        return Err(header_err(format!(
            "header of {len} bytes announced but the file has only {} after the preamble",
            bytes.len().saturating_sub(start)
        )));
    };
    let text: String = if major == 3 {
        std::str::from_utf8(raw).map_err(|_| header_err("header is not UTF-8".to_string()))?.to_string()
    } else {
        raw.iter().map(|&b| char::from(b)).collect() // latin-1
    };
    let header = Header::parse(&text).map_err(header_err)?;
    let dtype = Dtype::parse(&header.descr)
        .ok_or_else(|| DataError::UnsupportedDtype { path: p(), dtype: header.descr.clone() })?;
    let shape_text = shape_string(&header.shape);
    let (rows, cols) = match header.shape[..] {
        [n] => (n, 1),
        [n, c] if c > 0 => (n, c),
        _ => return Err(DataError::UnsupportedShape { path: p(), shape: shape_text }),
    };
    if rows == 0 {
        return Err(DataError::NoDataRows { path: p(), what: format!("array of shape {shape_text}") });
    }
    let data = &bytes[start + len..];
    let expected = (rows as u128)
        .checked_mul(cols as u128)
        .and_then(|v| v.checked_mul(dtype.size as u128))
        .unwrap_or(u128::MAX);
    let found = data.len() as u128;
    let sat = |v: u128| u64::try_from(v).unwrap_or(u64::MAX);
    if found < expected {
        return Err(DataError::Truncated {
            path: p(),
            shape: shape_text,
            dtype: header.descr,
            expected: sat(expected),
            found: sat(found),
        });
    }
    if found > expected {
        return Err(DataError::TrailingBytes {
            path: p(),
            shape: shape_text,
            dtype: header.descr,
            expected: sat(expected),
            found: sat(found),
        });
    }
    Ok(Array { rows, cols, dtype, fortran_order: header.fortran_order, data })
}

/// `(3,)`, `(3, 2)` as Python writes a shape.
fn shape_string(shape: &[usize]) -> String {
    match shape {
        [n] => format!("({n},)"),
        _ => format!("({})", shape.iter().map(usize::to_string).collect::<Vec<_>>().join(", ")),
    }
}

/// The three keys of a `.npy` header.
struct Header {
    descr: String,
    fortran_order: bool,
    shape: Vec<usize>,
}

impl Header {
    fn parse(text: &str) -> Result<Header, String> {
        let mut p = Lexer { s: text.as_bytes(), i: 0 };
        let Lit::Dict(items) = p.value(0)? else {
            return Err("not a dict".to_string());
        };
        p.skip_ws();
        if p.i != p.s.len() {
            return Err(format!("unexpected text after the dict at byte {}", p.i));
        }
        let get =
            |key: &str| items.iter().find(|(k, _)| matches!(k, Lit::Str(s) if s == key)).map(|(_, v)| v);
        let descr = match get("descr") {
            Some(Lit::Str(s)) => s.clone(),
            Some(other) => other.to_string(),
            None => return Err("no 'descr' key".to_string()),
        };
        let fortran_order = match get("fortran_order") {
            Some(Lit::Bool(b)) => *b,
            Some(_) => return Err("'fortran_order' is not True or False".to_string()),
            None => return Err("no 'fortran_order' key".to_string()),
        };
        let shape = match get("shape") {
            Some(Lit::Tuple(dims)) => dims
                .iter()
                .map(|d| match d {
                    Lit::Int(n) => usize::try_from(*n).map_err(|_| format!("shape dimension {n} too large")),
                    _ => Err("'shape' holds a non-integer".to_string()),
                })
                .collect::<Result<Vec<_>, _>>()?,
            Some(_) => return Err("'shape' is not a tuple".to_string()),
            None => return Err("no 'shape' key".to_string()),
        };
        Ok(Header { descr, fortran_order, shape })
    }
}

/// A Python literal of the kinds a `.npy` header uses.
enum Lit {
    Str(String),
    Bool(bool),
    Int(u64),
    None,
    Tuple(Vec<Lit>),
    List(Vec<Lit>),
    Dict(Vec<(Lit, Lit)>),
}

impl std::fmt::Display for Lit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let seq = |f: &mut std::fmt::Formatter<'_>, items: &[Lit], open: &str, close: &str| {
            f.write_str(open)?;
            for (i, x) in items.iter().enumerate() {
                if i > 0 {
                    f.write_str(", ")?;
                }
                write!(f, "{x}")?;
            }
            f.write_str(close)
        };
        match self {
            Lit::Str(s) => write!(f, "'{s}'"),
            Lit::Bool(b) => f.write_str(if *b { "True" } else { "False" }),
            Lit::Int(n) => write!(f, "{n}"),
            Lit::None => f.write_str("None"),
            Lit::Tuple(v) => seq(f, v, "(", ")"),
            Lit::List(v) => seq(f, v, "[", "]"),
            Lit::Dict(v) => {
                f.write_str("{")?;
                for (i, (k, x)) in v.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{k}: {x}")?;
                }
                f.write_str("}")
            }
        }
    }
}

/// Nesting deeper than this is refused (a header nests two levels; fuzzers nest thousands).
const MAX_DEPTH: usize = 16;

struct Lexer<'a> {
    s: &'a [u8],
    i: usize,
}

impl Lexer<'_> {
    fn skip_ws(&mut self) {
        while self.s.get(self.i).is_some_and(|c| c.is_ascii_whitespace()) {
            self.i += 1;
        }
    }

    fn peek(&mut self) -> Option<u8> {
        self.skip_ws();
        self.s.get(self.i).copied()
    }

    fn value(&mut self, depth: usize) -> Result<Lit, String> {
        if depth > MAX_DEPTH {
            return Err("nested too deeply".to_string());
        }
        match self.peek() {
            Some(b'{') => self.dict(depth),
            Some(open @ (b'(' | b'[')) => self.sequence(open, depth),
            Some(q @ (b'\'' | b'"')) => self.string(q),
            Some(c) if c.is_ascii_digit() => self.integer(),
            Some(c) if c.is_ascii_alphabetic() => self.word(),
            Some(c) => Err(format!("unexpected {:?} at byte {}", char::from(c), self.i)),
            None => Err("header ends early".to_string()),
        }
    }

    /// `{key: value, ...}`, at its opening brace.
    fn dict(&mut self, depth: usize) -> Result<Lit, String> {
        self.i += 1;
        let mut items = Vec::new();
        loop {
            if self.peek() == Some(b'}') {
                self.i += 1;
                return Ok(Lit::Dict(items));
            }
            let k = self.value(depth + 1)?;
            if self.peek() != Some(b':') {
                return Err(format!("expected ':' at byte {}", self.i));
            }
            self.i += 1;
            let v = self.value(depth + 1)?;
            items.push((k, v));
            match self.peek() {
                Some(b',') => self.i += 1,
                Some(b'}') => {}
                _ => return Err(format!("expected ',' or '}}' at byte {}", self.i)),
            }
        }
    }

    /// A tuple or list, at its opening bracket `open`.
    fn sequence(&mut self, open: u8, depth: usize) -> Result<Lit, String> {
        let close = if open == b'(' { b')' } else { b']' };
        self.i += 1;
        let mut items = Vec::new();
        loop {
            if self.peek() == Some(close) {
                self.i += 1;
                return Ok(if open == b'(' { Lit::Tuple(items) } else { Lit::List(items) });
            }
            items.push(self.value(depth + 1)?);
            match self.peek() {
                Some(b',') => self.i += 1,
                Some(c) if c == close => {}
                _ => return Err(format!("expected ',' or '{}' at byte {}", char::from(close), self.i)),
            }
        }
    }

    /// A string quoted with `q`, at its opening quote.
    fn string(&mut self, q: u8) -> Result<Lit, String> {
        let at = self.i;
        let start = self.i + 1;
        let len = self.s.get(start..).and_then(|r| r.iter().position(|&c| c == q));
        let Some(len) = len else {
            return Err(format!("unterminated string at byte {at}"));
        };
        self.i = start + len + 1;
        Ok(Lit::Str(String::from_utf8_lossy(&self.s[start..start + len]).into_owned()))
    }

    /// A non-negative integer, with Python 2's optional `L` suffix.
    fn integer(&mut self) -> Result<Lit, String> {
        let start = self.i;
        while self.s.get(self.i).is_some_and(u8::is_ascii_digit) {
            self.i += 1;
        }
        let digits = String::from_utf8_lossy(&self.s[start..self.i]).into_owned();
        if matches!(self.s.get(self.i), Some(b'L' | b'l')) {
            self.i += 1;
        }
        digits.parse().map(Lit::Int).map_err(|_| format!("integer {digits} too large"))
    }

    /// `True`, `False` or `None`.
    fn word(&mut self) -> Result<Lit, String> {
        let start = self.i;
        while self.s.get(self.i).is_some_and(|c| c.is_ascii_alphanumeric() || *c == b'_') {
            self.i += 1;
        }
        match &self.s[start..self.i] {
            b"True" => Ok(Lit::Bool(true)),
            b"False" => Ok(Lit::Bool(false)),
            b"None" => Ok(Lit::None),
            w => Err(format!("unexpected word `{}` at byte {start}", String::from_utf8_lossy(w))),
        }
    }
}

/// The columns [`select`] picked.
pub(crate) struct Selection {
    /// Feature indices, in channel order.
    pub features: Vec<usize>,
    /// The label index.
    pub label: Option<usize>,
    /// What the automatic selection left out.
    pub skipped: Vec<SkippedColumn>,
}

/// Picks feature and label indices among `names` by `opts.columns` and `opts.label_column`;
/// when no columns are given, all but the label and, with `label_names`, those named like a
/// label ([`LABEL_NAMES`](super::LABEL_NAMES)). Shared by `.npy` columns and `.npz` arrays.
pub(crate) fn select(
    names: &[String],
    opts: &LoadOptions,
    path: &Path,
    missing: &dyn Fn(&str) -> DataError,
    label_names: bool,
) -> Result<Selection, DataError> {
    let find = |name: &str| names.iter().position(|n| n.trim() == name.trim()).ok_or_else(|| missing(name));
    let label = opts.label_column.as_deref().map(find).transpose()?;
    let mut skipped = Vec::new();
    let features: Vec<usize> = match &opts.columns {
        Some(cols) => super::pick_columns(cols, label, path, find)?,
        None => {
            let mut out = Vec::with_capacity(names.len());
            for (i, n) in names.iter().enumerate() {
                let reason = if Some(i) == label {
                    SkipReason::LabelColumn
                } else if label_names && super::is_label_name(n) {
                    SkipReason::LabelName
                } else {
                    out.push(i);
                    continue;
                };
                skipped.push(SkippedColumn { name: n.clone(), number: i + 1, reason });
            }
            out
        }
    };
    if features.is_empty() {
        let why = if opts.columns.is_some() {
            "the column list is empty".to_string()
        } else {
            let left: Vec<String> = skipped.iter().map(ToString::to_string).collect();
            format!("every column was left out: {}; name the columns to use", left.join(", "))
        };
        return Err(DataError::NoColumns { path: path.to_path_buf(), why, available: join(names) });
    }
    Ok(Selection { features, label, skipped })
}

/// One column of an array, named as a channel.
pub(crate) struct Column<'a> {
    pub name: String,
    pub array: &'a Array<'a>,
    pub col: usize,
}

/// Builds the recording from array columns of `rows` rows each: row range, labels, NaN policy.
pub(crate) fn build(
    path: &Path,
    features: Vec<Column<'_>>,
    label: Option<Column<'_>>,
    rows: usize,
    opts: &LoadOptions,
    skipped: Vec<SkippedColumn>,
) -> Result<Recording, DataError> {
    let range = match &opts.rows {
        Some(r) => r.resolve(rows, path)?,
        None => 0..rows,
    };
    let mut values = Vec::with_capacity(range.len().saturating_mul(features.len()));
    for r in range.clone() {
        for f in &features {
            values.push(f.array.get(r, f.col).unwrap_or(f32::NAN));
        }
    }
    let labels = match &label {
        None => None,
        Some(l) => {
            let mut out = Vec::with_capacity(range.len());
            for r in range.clone() {
                let v = l.array.get_f64(r, l.col).unwrap_or(f64::NAN);
                if v == 0.0 || v == 1.0 {
                    out.push(v == 1.0);
                } else {
                    return Err(DataError::BadLabel {
                        path: path.to_path_buf(),
                        at: Position { line: None, row: r, column: l.name.clone(), column_number: l.col + 1 },
                        cell: v.to_string(),
                    });
                }
            }
            Some(out)
        }
    };
    let table = Table {
        path: PathBuf::from(path),
        channels: features.iter().map(|f| f.name.clone()).collect(),
        values,
        labels,
        timestamps: None,
        timestamp_column: None,
        lines: None,
        skipped,
        first_row: range.start,
        file_rows: rows,
    };
    let locate = |r: usize, ch: usize| {
        let row = range.start + r;
        let (column, col, v) = match features.get(ch) {
            Some(f) => (f.name.clone(), f.col, f.array.get_f64(row, f.col).unwrap_or(f64::NAN)),
            None => (String::new(), 0, f64::NAN),
        };
        (Position { line: None, row, column, column_number: col + 1 }, v.to_string())
    };
    finish(table, opts, &locate)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::data::{NanPolicy, RowRange};

    /// A version 1.0 `.npy` with the given descr, shape text and raw data.
    pub(crate) fn npy_bytes(descr: &str, shape: &str, data: &[u8]) -> Vec<u8> {
        npy_with("{'descr': 'DESCR', 'fortran_order': False, 'shape': SHAPE, }", descr, shape, 1, data)
    }

    pub(crate) fn npy_with(template: &str, descr: &str, shape: &str, major: u8, data: &[u8]) -> Vec<u8> {
        let mut header = template.replace("DESCR", descr).replace("SHAPE", shape);
        let pre = if major == 1 { 10 } else { 12 };
        while !(pre + header.len() + 1).is_multiple_of(64) {
            header.push(' ');
        }
        header.push('\n');
        let mut out = MAGIC.to_vec();
        out.extend([major, 0]);
        if major == 1 {
            out.extend((header.len() as u16).to_le_bytes());
        } else {
            out.extend((header.len() as u32).to_le_bytes());
        }
        out.extend(header.as_bytes());
        out.extend(data);
        out
    }

    fn f64s(v: &[f64]) -> Vec<u8> {
        v.iter().flat_map(|x| x.to_le_bytes()).collect()
    }

    fn p(bytes: &[u8], opts: &LoadOptions) -> Result<Recording, DataError> {
        parse(bytes, opts, Path::new("d/sig.npy"))
    }

    #[test]
    fn shapes_and_names() {
        let r = p(&npy_bytes("<f8", "(3, 1)", &f64s(&[1.0, 2.0, 3.5])), &LoadOptions::default()).unwrap();
        assert_eq!(
            (r.channels.as_slice(), r.values.as_slice()),
            (&["sig".to_string()][..], &[1.0f32, 2.0, 3.5][..])
        );
        let r = p(&npy_bytes("<f8", "(2, 3)", &f64s(&[1., 2., 3., 4., 5., 6.])), &LoadOptions::default())
            .unwrap();
        assert_eq!(r.channels, ["col0", "col1", "col2"]);
        assert_eq!(r.values, [1., 2., 3., 4., 5., 6.]);
        // Fortran order holds the columns one after the other.
        let bytes = npy_with(
            "{'descr': 'DESCR', 'fortran_order': True, 'shape': SHAPE}",
            "<f8",
            "(2, 3)",
            2,
            &f64s(&[1., 4., 2., 5., 3., 6.]),
        );
        let o = LoadOptions { columns: Some(vec!["col2".into(), "col0".into()]), ..Default::default() };
        assert_eq!(p(&bytes, &o).unwrap().values, [3., 1., 6., 4.]);
        let o = LoadOptions { label_column: Some("col1".into()), ..Default::default() };
        let bytes = npy_bytes("<f8", "(2, 2)", &f64s(&[7., 0., 8., 1.]));
        let r = p(&bytes, &o).unwrap();
        assert_eq!((r.values.as_slice(), r.labels), (&[7.0f32, 8.0][..], Some(vec![false, true])));
        let o = LoadOptions { columns: Some(vec!["DE".into()]), ..Default::default() };
        assert_eq!(
            p(&bytes, &o).unwrap_err().to_string(),
            "d/sig.npy: no column `DE`; available: col0, col1"
        );
    }

    #[test]
    fn dtypes() {
        let cases: Vec<(&str, Vec<u8>)> = vec![
            ("<f4", [1.5f32, -2.0].iter().flat_map(|x| x.to_le_bytes()).collect()),
            (">f4", [1.5f32, -2.0].iter().flat_map(|x| x.to_be_bytes()).collect()),
            (">f8", [1.5f64, -2.0].iter().flat_map(|x| x.to_be_bytes()).collect()),
            ("<i2", [3i16, -4].iter().flat_map(|x| x.to_le_bytes()).collect()),
            (">i2", [3i16, -4].iter().flat_map(|x| x.to_be_bytes()).collect()),
            ("<i4", [3i32, -4].iter().flat_map(|x| x.to_le_bytes()).collect()),
            ("<i8", [3i64, -4].iter().flat_map(|x| x.to_le_bytes()).collect()),
            ("|i1", vec![3, 0xFC]),
            ("|u1", vec![3, 250]),
            ("<u2", [3u16, 65535].iter().flat_map(|x| x.to_le_bytes()).collect()),
            ("<u4", [3u32, 7].iter().flat_map(|x| x.to_le_bytes()).collect()),
            ("<u8", [3u64, 7].iter().flat_map(|x| x.to_le_bytes()).collect()),
            ("|b1", vec![0, 1]),
        ];
        let want = [
            [1.5, -2.0],
            [1.5, -2.0],
            [1.5, -2.0],
            [3.0, -4.0],
            [3.0, -4.0],
            [3.0, -4.0],
            [3.0, -4.0],
            [3.0, -4.0],
            [3.0, 250.0],
            [3.0, 65535.0],
            [3.0, 7.0],
            [3.0, 7.0],
            [0.0, 1.0],
        ];
        for ((descr, data), want) in cases.iter().zip(want) {
            let r = p(&npy_bytes(descr, "(2,)", data), &LoadOptions::default()).unwrap();
            assert_eq!(r.values, want, "{descr}");
        }
        for bad in ["<f2", "<c16", "|S5", "<U3", "O", "<M8[ns]", ""] {
            let e = p(&npy_bytes(bad, "(2,)", &[0; 8]), &LoadOptions::default()).unwrap_err();
            assert!(matches!(e, DataError::UnsupportedDtype { .. }), "{bad}: {e}");
        }
        let bytes =
            npy_with("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (1,)}", "", "", 1, &[0; 4]);
        let e = p(&bytes, &LoadOptions::default()).unwrap_err();
        assert_eq!(e.to_string().split(';').next(), Some("d/sig.npy: unsupported dtype [('a', '<f4')]"));
    }

    #[test]
    fn versions_and_header_errors() {
        for major in [2, 3] {
            let b = npy_with(
                "{'descr': 'DESCR', 'fortran_order': False, 'shape': SHAPE}",
                "<f8",
                "(1,)",
                major,
                &f64s(&[2.0]),
            );
            assert_eq!(p(&b, &LoadOptions::default()).unwrap().values, [2.0]);
        }
        let mut b = npy_bytes("<f8", "(1,)", &f64s(&[2.0]));
        b[6] = 4;
        assert!(matches!(
            p(&b, &LoadOptions::default()),
            Err(DataError::NpyVersion { major: 4, minor: 0, .. })
        ));
        // Python 2 long integers.
        let b = npy_bytes("<f8", "(1L, 1L)", &f64s(&[2.0]));
        assert_eq!(p(&b, &LoadOptions::default()).unwrap().values, [2.0]);
        for (shape, what) in [("()", "()"), ("(1, 1, 1)", "(1, 1, 1)"), ("(2, 0)", "(2, 0)")] {
            let e = p(&npy_bytes("<f8", shape, &[]), &LoadOptions::default()).unwrap_err();
            assert_eq!(
                e.to_string(),
                format!("d/sig.npy: unsupported array shape {what}; expected (N,) or (N, C)")
            );
        }
        let e = p(&npy_bytes("<f8", "(0, 2)", &[]), &LoadOptions::default()).unwrap_err();
        assert!(matches!(e, DataError::NoDataRows { .. }), "{e}");
        for header in [
            "{'descr': '<f8', 'shape': (1,)}",
            "[1]",
            "{'descr': '<f8', 'fortran_order': 1, 'shape': (1,)}",
            "{'a' 1}",
            "{'descr': '<f8",
        ] {
            let b = npy_with(header, "", "", 1, &f64s(&[2.0]));
            assert!(matches!(p(&b, &LoadOptions::default()), Err(DataError::NpyHeader { .. })), "{header}");
        }
        assert!(matches!(p(b"\x93NUMPY\x01", &LoadOptions::default()), Err(DataError::NpyHeader { .. })));
        assert!(matches!(
            p(b"\x93NUMPY\x01\x00\xff\xff{", &LoadOptions::default()),
            Err(DataError::NpyHeader { .. })
        ));
        assert!(matches!(p(b"PK\x03\x04", &LoadOptions::default()), Err(DataError::NpyMagic { .. })));
        assert!(matches!(p(b"", &LoadOptions::default()), Err(DataError::Empty { .. })));
        let deep = format!("{}{}", "(".repeat(10_000), ")".repeat(10_000));
        let b = npy_with(&deep, "", "", 2, &[]);
        assert!(matches!(p(&b, &LoadOptions::default()), Err(DataError::NpyHeader { .. })));
    }

    #[test]
    fn headers_other_readers_refuse_are_read_in_linear_time() {
        let ok = |b: &[u8]| p(b, &LoadOptions::default()).map(|r| r.values);
        // Byte orders `|`, `=` and none on multi-byte types; a bool byte other than 0 or 1.
        for descr in ["|f8", "=f8", "f8"] {
            assert_eq!(ok(&npy_bytes(descr, "(1,)", &f64s(&[2.5]))).unwrap(), [2.5], "{descr}");
        }
        assert_eq!(ok(&npy_bytes("|b1", "(3,)", &[2, 0, 255])).unwrap(), [1.0, 0.0, 1.0]);
        // Newlines between the items and a latin-1 byte in a version 1.0 header.
        let mut b = npy_with(
            "{'descr': '<f8',\n 'fortran_order': False,\r\n 'shape': (1,), 'n': 'Z'}",
            "",
            "",
            1,
            &f64s(&[3.0]),
        );
        let z = b.iter().position(|&c| c == b'Z').unwrap();
        b[z] = 0xE9;
        assert_eq!(ok(&b).unwrap(), [3.0]);
        // Nesting that a backtracking parser (npyz's py_literal) takes exponential time over:
        // 22 levels in a 136-byte file took it 33 s. Here it is linear, refused beyond MAX_DEPTH.
        for (depth, accepted) in [(MAX_DEPTH - 1, true), (22, false), (5_000, false)] {
            let extra = format!("{}1{}", "[".repeat(depth), "]".repeat(depth));
            let header = format!("{{'descr': '<f8', 'fortran_order': False, 'shape': (1,), 'x': {extra}}}");
            let r = ok(&npy_with(&header, "", "", 2, &f64s(&[4.0])));
            assert_eq!(r.is_ok(), accepted, "{depth}: {r:?}");
        }
        // Dimensions whose product overflows u64 (npyz panics: "attempt to multiply with overflow").
        let e = ok(&npy_bytes("<f8", "(4294967296, 4294967296)", &[])).unwrap_err();
        assert!(matches!(e, DataError::Truncated { expected: u64::MAX, .. }), "{e}");
        // `M8`/`m8` are dates, not numbers (npyz would read them as i64).
        for descr in ["<M8[ns]", "<m8[s]", "<f16", "|V8"] {
            let e = ok(&npy_bytes(descr, "(1,)", &[0; 8])).unwrap_err();
            assert!(matches!(e, DataError::UnsupportedDtype { .. }), "{descr}: {e}");
        }
    }

    #[test]
    fn data_length() {
        let e = p(&npy_bytes("<f8", "(4, 1)", &f64s(&[1.0, 2.0])), &LoadOptions::default()).unwrap_err();
        assert_eq!(
            e.to_string(),
            "d/sig.npy: truncated .npy data: shape (4, 1) of <f8 needs 32 bytes, found 16"
        );
        let e = p(&npy_bytes("<f8", "(1,)", &f64s(&[1.0, 2.0])), &LoadOptions::default()).unwrap_err();
        assert!(matches!(e, DataError::TrailingBytes { expected: 8, found: 16, .. }), "{e}");
        // A huge shape is refused without allocating.
        let e = p(
            &npy_bytes("<f8", "(18446744073709551615, 18446744073709551615)", &[]),
            &LoadOptions::default(),
        );
        assert!(matches!(e, Err(DataError::Truncated { expected: u64::MAX, found: 0, .. })));
    }

    #[test]
    fn non_finite_and_ranges() {
        let b = npy_bytes("<f8", "(4,)", &f64s(&[1.0, f64::NAN, 1e40, 4.0]));
        let e = p(&b, &LoadOptions::default()).unwrap_err();
        assert!(e.to_string().starts_with("d/sig.npy: 2 NaN/Inf/missing value(s) in 2 row(s), the first at row 1 (0-based), column 1 `sig`: `NaN`"), "{e}");
        let o = LoadOptions { nan: NanPolicy::DropRows, ..Default::default() };
        let r = p(&b, &o).unwrap();
        assert_eq!((r.values.as_slice(), r.dropped_rows.as_slice()), (&[1.0f32, 4.0][..], &[1, 2][..]));
        let o = LoadOptions {
            rows: Some(RowRange::parse("0.5:").unwrap()),
            nan: NanPolicy::DropRows,
            ..Default::default()
        };
        let r = p(&b, &o).unwrap();
        assert_eq!(
            (r.values.as_slice(), r.first_row, r.dropped_rows.as_slice()),
            (&[4.0f32][..], 2, &[2][..])
        );
        assert_eq!(r.file_row(0), 3);
        let o = LoadOptions { label_column: Some("col1".into()), ..Default::default() };
        let e = p(&npy_bytes("<f8", "(2, 2)", &f64s(&[0., 0., 0., 0.5])), &o).unwrap_err();
        assert_eq!(e.to_string(), "d/sig.npy, row 1 (0-based), column 2 `col1`: label must be 0 or 1 (0.0 and 1.0 accepted), found `0.5`");
    }
}
