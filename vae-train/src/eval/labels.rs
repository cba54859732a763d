//! Where the labels of an evaluation come from, and their errors.
//!
//! * [`LabelSource::Column`]: a 0/1 column of every file, row by row (SKAB's `anomaly`).
//! * [`LabelSource::Windows`]: a JSON object mapping files to lists of `[start, end]`
//!   timestamps, both inclusive (NAB's `combined_windows.json`); a row is anomalous when its
//!   timestamp lies in one of its file's windows. A key names a file when the file's path
//!   ends with it (component by component, `realKnownCause/nyc_taxi.csv`), or, failing
//!   that, when exactly one key has the file's name.
//! * [`LabelSource::Files`]: whole recordings, normal or anomalous (CWRU).
//!
//! Every row then has a label ([`Recording::labels`]); a window is anomalous when any of its
//! rows is.

use crate::data::{self, LoadOptions, Recording};
use crate::error::Error;
use std::cmp::Ordering;
use std::path::{Path, PathBuf};

/// A labelling error, naming the file and the place.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EvalError {
    /// The label-window file is not valid JSON.
    #[error("{path}, line {line}, column {column}: the label windows are not valid JSON: {why}")]
    LabelJson {
        /// The JSON file.
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// The parser's message.
        why: String,
    },
    /// Valid JSON of the wrong shape.
    #[error("{path}: {at}: expected {expected}, found {found}")]
    LabelJsonShape {
        /// The JSON file.
        path: PathBuf,
        /// Where (`the top level`, `key "a.csv", window 2`).
        at: String,
        /// What the format needs there.
        expected: &'static str,
        /// What is there (shortened).
        found: String,
    },
    /// A timestamp that is not `YYYY-MM-DD HH:MM:SS[.fraction]`.
    #[error("{path}: {at}: expected a timestamp `YYYY-MM-DD HH:MM:SS[.ffffff]`, found `{found}`")]
    BadTimestamp {
        /// The file holding it (JSON or CSV).
        path: PathBuf,
        /// Where (`key "a.csv", window 1, start`, `data row 17 (0-based)`).
        at: String,
        /// The text.
        found: String,
    },
    /// The label windows have no entry for an input file.
    #[error("{json} has no label windows for {file}: none of its keys ({keys}) names this file (a key must be the end of the file's path, or the only key with its file name)")]
    NoLabelsFor {
        /// The JSON file.
        json: PathBuf,
        /// The input file.
        file: PathBuf,
        /// Some of the JSON's keys.
        keys: String,
    },
    /// Label windows need a timestamp column to place rows in time.
    #[error("{path}: no timestamp column, which --label-windows needs to place the rows in time (a column named timestamp, datetime, date, time...)")]
    NoTimestamps {
        /// The data file.
        path: PathBuf,
    },
    /// `--normal` or `--anomalous` without a file.
    #[error(
        "no {which} recording given: --normal FILE... and --anomalous FILE... each need at least one file"
    )]
    EmptyFiles {
        /// `normal` or `anomalous`.
        which: &'static str,
    },
    /// A recording too short for one window of the model.
    #[error("{path}: {rows} rows, fewer than one window of {window}: nothing to evaluate")]
    NoWindows {
        /// The file.
        path: PathBuf,
        /// Its rows (after `--rows`).
        rows: usize,
        /// The model's window.
        window: usize,
    },
}

/// Where the labels come from.
#[derive(Clone, Debug, PartialEq)]
pub enum LabelSource {
    /// Every file of `files` has this 0/1 column.
    Column {
        /// The data files.
        files: Vec<PathBuf>,
        /// The label column.
        column: String,
    },
    /// Timestamped windows in a JSON file (NAB's format).
    Windows {
        /// The data files (CSV with a timestamp column).
        files: Vec<PathBuf>,
        /// The JSON file.
        json: PathBuf,
    },
    /// Whole recordings.
    Files {
        /// Normal recordings.
        normal: Vec<PathBuf>,
        /// Anomalous recordings.
        anomalous: Vec<PathBuf>,
    },
}

impl LabelSource {
    /// Loads the recordings with `opts` (columns, row range, NaN policy) and labels every
    /// row.
    pub fn load(&self, opts: &LoadOptions) -> Result<Vec<Recording>, Error> {
        match self {
            LabelSource::Column { files, column } => {
                let opts = LoadOptions { label_column: Some(column.clone()), ..opts.clone() };
                Ok(data::load(files, &opts)?)
            }
            LabelSource::Windows { files, json } => {
                let windows = LabelWindows::read(json)?;
                let opts = LoadOptions { keep_timestamps: true, ..opts.clone() };
                let mut recs = data::load(files, &opts)?;
                for r in &mut recs {
                    windows.label(r)?;
                }
                Ok(recs)
            }
            LabelSource::Files { normal, anomalous } => {
                if normal.is_empty() {
                    return Err(EvalError::EmptyFiles { which: "normal" }.into());
                }
                if anomalous.is_empty() {
                    return Err(EvalError::EmptyFiles { which: "anomalous" }.into());
                }
                let all: Vec<PathBuf> = normal.iter().chain(anomalous).cloned().collect();
                let mut recs = data::load(&all, opts)?;
                for (i, r) in recs.iter_mut().enumerate() {
                    r.labels = Some(vec![i >= normal.len(); r.rows()]);
                }
                Ok(recs)
            }
        }
    }
}

/// A point in time as written in a file, comparable: (year, month, day, hour, minute,
/// second, nanoseconds).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Stamp([u32; 7]);

impl Stamp {
    /// Parses `YYYY-MM-DD`, optionally followed by ` HH:MM[:SS[.fraction]]` (or `T` for the
    /// space).
    pub fn parse(text: &str) -> Option<Stamp> {
        let t = text.trim();
        let (date, time) = match t.find([' ', 'T']) {
            Some(i) => (&t[..i], t[i + 1..].trim()),
            None => (t, ""),
        };
        let mut d = date.split('-');
        let num = |s: Option<&str>, lo: u32, hi: u32| -> Option<u32> {
            let s = s?;
            if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            s.parse().ok().filter(|v| (lo..=hi).contains(v))
        };
        let (y, mo, day) = (num(d.next(), 0, 9999)?, num(d.next(), 1, 12)?, num(d.next(), 1, 31)?);
        if d.next().is_some() {
            return None;
        }
        let (mut h, mut mi, mut s, mut nanos) = (0, 0, 0, 0);
        if !time.is_empty() {
            let (hms, frac) = match time.split_once('.') {
                Some((a, b)) => (a, Some(b)),
                None => (time, None),
            };
            let mut p = hms.split(':');
            h = num(p.next(), 0, 23)?;
            mi = num(p.next(), 0, 59)?;
            s = match p.next() {
                Some(x) => num(Some(x), 0, 60)?,
                None => 0,
            };
            if p.next().is_some() {
                return None;
            }
            if let Some(f) = frac {
                if f.is_empty() || f.len() > 9 || !f.bytes().all(|b| b.is_ascii_digit()) {
                    return None;
                }
                nanos = f.parse::<u32>().ok()? * 10u32.pow(9 - f.len() as u32);
            }
        }
        Some(Stamp([y, mo, day, h, mi, s, nanos]))
    }

    /// Seconds since 1970-01-01 00:00:00 (proleptic Gregorian calendar, no leap seconds,
    /// no time zone): differences of stamps are durations.
    pub fn seconds(&self) -> f64 {
        let [y, mo, d, h, mi, s, nanos] = self.0.map(i64::from);
        // Days from the civil date (H. Hinnant's algorithm), exact for every year >= 0.
        let y = if mo <= 2 { y - 1 } else { y };
        let era = y.div_euclid(400);
        let yoe = y - era * 400;
        let mp = (mo + 9) % 12;
        let doy = (153 * mp + 2) / 5 + d - 1;
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        let days = era * 146_097 + doe - 719_468;
        (days * 86_400 + h * 3_600 + mi * 60 + s) as f64 + nanos as f64 * 1e-9
    }
}

/// `text` cut to 60 characters, so one bad value cannot flood the terminal.
fn short(text: &str) -> String {
    const MAX: usize = 60;
    match text.char_indices().nth(MAX) {
        Some((i, _)) => format!("{}...", &text[..i]),
        None => text.to_string(),
    }
}

/// Label windows read from a JSON file: key -> inclusive [start, end] pairs.
#[derive(Clone, Debug)]
pub struct LabelWindows {
    path: PathBuf,
    entries: Vec<(String, Vec<(Stamp, Stamp)>)>,
}

impl LabelWindows {
    /// Reads and checks a label-window file.
    pub fn read(path: &Path) -> Result<Self, Error> {
        let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
        Ok(Self::parse(&bytes, path)?)
    }

    /// Parses label-window JSON; `path` names the file in errors.
    pub fn parse(bytes: &[u8], path: &Path) -> Result<Self, EvalError> {
        let v: serde_json::Value = serde_json::from_slice(bytes).map_err(|e| EvalError::LabelJson {
            path: path.to_path_buf(),
            line: e.line(),
            column: e.column(),
            why: e.to_string(),
        })?;
        let shape =
            |at: String, expected: &'static str, found: &serde_json::Value| EvalError::LabelJsonShape {
                path: path.to_path_buf(),
                at,
                expected,
                found: short(&found.to_string()),
            };
        let obj = v.as_object().ok_or_else(|| {
            shape("the top level".into(), "an object mapping file names to lists of windows", &v)
        })?;
        let mut entries = Vec::with_capacity(obj.len());
        for (key, list) in obj {
            let arr = list
                .as_array()
                .ok_or_else(|| shape(format!("key \"{key}\""), "a list of [start, end] windows", list))?;
            let mut windows = Vec::with_capacity(arr.len());
            for (i, w) in arr.iter().enumerate() {
                let at = || format!("key \"{key}\", window {}", i + 1);
                let pair = w
                    .as_array()
                    .filter(|p| p.len() == 2)
                    .ok_or_else(|| shape(at(), "a [start, end] pair of timestamps", w))?;
                let mut ends = [Stamp([0; 7]); 2];
                for (j, e) in pair.iter().enumerate() {
                    let which = if j == 0 { "start" } else { "end" };
                    let text = e
                        .as_str()
                        .ok_or_else(|| shape(format!("{}, {which}", at()), "a timestamp string", e))?;
                    ends[j] = Stamp::parse(text).ok_or_else(|| EvalError::BadTimestamp {
                        path: path.to_path_buf(),
                        at: format!("{}, {which}", at()),
                        found: text.to_string(),
                    })?;
                }
                if ends[0] > ends[1] {
                    return Err(shape(at(), "a start no later than the end", w));
                }
                windows.push((ends[0], ends[1]));
            }
            entries.push((key.clone(), windows));
        }
        Ok(Self { path: path.to_path_buf(), entries })
    }

    /// The windows of `file`: the key the path ends with, or else the only key with the
    /// file's name.
    pub fn for_file(&self, file: &Path) -> Result<&[(Stamp, Stamp)], EvalError> {
        if let Some((_, w)) = self.entries.iter().find(|(k, _)| !k.is_empty() && file.ends_with(k)) {
            return Ok(w);
        }
        let name = file.file_name();
        let same_name: Vec<&(String, Vec<(Stamp, Stamp)>)> =
            self.entries.iter().filter(|(k, _)| name.is_some() && Path::new(k).file_name() == name).collect();
        if let [(_, w)] = same_name.as_slice() {
            return Ok(w);
        }
        let mut keys: Vec<&str> = self.entries.iter().map(|(k, _)| k.as_str()).take(5).collect();
        if self.entries.len() > 5 {
            keys.push("...");
        }
        Err(EvalError::NoLabelsFor {
            json: self.path.clone(),
            file: file.to_path_buf(),
            keys: if keys.is_empty() { "none".into() } else { keys.join(", ") },
        })
    }

    /// Labels every row of `rec` (which must carry timestamps) by its file's windows.
    pub fn label(&self, rec: &mut Recording) -> Result<(), EvalError> {
        let windows = self.for_file(&rec.path)?;
        let ts = rec.timestamps.as_ref().ok_or_else(|| EvalError::NoTimestamps { path: rec.path.clone() })?;
        let mut labels = Vec::with_capacity(ts.len());
        for (i, t) in ts.iter().enumerate() {
            let s = Stamp::parse(t).ok_or_else(|| EvalError::BadTimestamp {
                path: rec.path.clone(),
                at: format!("data row {} (0-based)", rec.file_row(i)),
                found: t.clone(),
            })?;
            labels.push(
                windows.iter().any(|(a, b)| a.cmp(&s) != Ordering::Greater && s.cmp(b) != Ordering::Greater),
            );
        }
        rec.labels = Some(labels);
        Ok(())
    }

    /// Rows of `rec` (by its timestamps) before its file's first window: the normal stretch
    /// NAB's protocol trains on.
    pub fn rows_before_first(&self, rec: &Recording) -> Result<usize, EvalError> {
        let windows = self.for_file(&rec.path)?;
        let Some(first) = windows.iter().map(|w| w.0).min() else { return Ok(rec.rows()) };
        let ts = rec.timestamps.as_ref().ok_or_else(|| EvalError::NoTimestamps { path: rec.path.clone() })?;
        for (i, t) in ts.iter().enumerate() {
            let s = Stamp::parse(t).ok_or_else(|| EvalError::BadTimestamp {
                path: rec.path.clone(),
                at: format!("data row {} (0-based)", rec.file_row(i)),
                found: t.clone(),
            })?;
            if s >= first {
                return Ok(i);
            }
        }
        Ok(ts.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamps_parse_and_order() {
        let a = Stamp::parse("2014-03-14 03:31:00.000000").unwrap();
        let b = Stamp::parse("2014-03-14 03:31:00").unwrap();
        assert_eq!(a, b);
        assert!(Stamp::parse("2014-03-14T03:31:01").unwrap() > b);
        assert!(Stamp::parse("2014-03-14 03:31:00.5").unwrap() > b);
        assert!(Stamp::parse("2014-03-13").unwrap() < b);
        for bad in
            ["", "2014-13-01", "14-03-2014 00:00:00", "2014-03-14 25:00:00", "2014-03-14 03:31:00.", "x"]
        {
            assert_eq!(Stamp::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn json_shapes_are_checked_with_their_place() {
        let p = Path::new("w.json");
        let e = LabelWindows::parse(b"{\"a.csv\": [[\"2014-01-01 00:00:00\"", p).unwrap_err();
        assert!(matches!(e, EvalError::LabelJson { line: 1, .. }), "{e}");
        let e = LabelWindows::parse(b"[1, 2]", p).unwrap_err();
        assert_eq!(
            e.to_string(),
            "w.json: the top level: expected an object mapping file names to lists of windows, found [1,2]"
        );
        let e = LabelWindows::parse(b"{\"a.csv\": [[\"2014-01-01\", 3]]}", p).unwrap_err();
        assert!(
            e.to_string().contains("key \"a.csv\", window 1, end: expected a timestamp string, found 3"),
            "{e}"
        );
        let e = LabelWindows::parse(b"{\"a.csv\": [[\"2014-01-02\", \"2014-01-01\"]]}", p).unwrap_err();
        assert!(e.to_string().contains("a start no later than the end"), "{e}");
        let e = LabelWindows::parse(b"{\"a.csv\": [[\"2014-01-01\", \"soon\"]]}", p).unwrap_err();
        assert!(matches!(e, EvalError::BadTimestamp { .. }), "{e}");
    }

    #[test]
    fn keys_match_path_ends_then_file_names() {
        let j = br#"{"realKnownCause/a.csv": [["2014-01-01 00:00:00", "2014-01-01 00:10:00"]],
                    "other/b.csv": [], "x/b.csv": []}"#;
        let w = LabelWindows::parse(j, Path::new("w.json")).unwrap();
        assert_eq!(w.for_file(Path::new("/data/realKnownCause/a.csv")).unwrap().len(), 1);
        assert_eq!(w.for_file(Path::new("a.csv")).unwrap().len(), 1);
        assert!(w.for_file(Path::new("/data/other/b.csv")).is_ok());
        // Two keys named b.csv and the path ends with neither: ambiguous.
        let e = w.for_file(Path::new("/elsewhere/b.csv")).unwrap_err();
        assert!(e.to_string().contains("has no label windows for /elsewhere/b.csv"), "{e}");
        assert!(w.for_file(Path::new("c.csv")).is_err());

        let mut r = Recording::new("/data/realKnownCause/a.csv", vec!["value".into()], vec![0.0; 4]);
        assert!(matches!(w.label(&mut r), Err(EvalError::NoTimestamps { .. })));
        r.timestamps = Some(
            ["2013-12-31 23:55:00", "2014-01-01 00:00:00", "2014-01-01 00:10:00", "2014-01-01 00:15:00"]
                .iter()
                .map(|s| s.to_string())
                .collect(),
        );
        w.label(&mut r).unwrap();
        assert_eq!(r.labels, Some(vec![false, true, true, false]));
        assert_eq!(w.rows_before_first(&r).unwrap(), 1);
    }
}
