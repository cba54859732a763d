//! Where the labels of an evaluation come from, and their errors.
//!
//! * [`LabelSource::Column`]: a 0/1 column of every file, row by row (SKAB's `anomaly`).
//! * [`LabelSource::Windows`]: a JSON object mapping files to lists of `[start, end]`
//!   timestamps, both inclusive (NAB's `combined_windows.json`); a row is anomalous when its
//!   timestamp lies in one of its file's windows. A key names a file when the file's path
//!   ends with it (component by component, `realKnownCause/nyc_taxi.csv`), or, failing
//!   that, when exactly one key has the file's name. The JSON may start with a UTF-8 BOM; a
//!   key given twice is refused (a JSON reader would silently keep the last list). Keys for
//!   files not evaluated are ignored, but every window of an evaluated file must label at
//!   least one of its rows (a window outside the data means a wrong key, date or time zone);
//!   with a row range (`--rows`), windows entirely before or after the rows evaluated are
//!   outside the part evaluated and are not checked. Rows are matched to windows by time,
//!   so a recording whose time goes back across a window (its rows would not be in time
//!   order there) is refused, naming the line; a step back away from every window (NAB's
//!   `machine_temperature_system_failure.csv` repeats an hour) changes no label and is
//!   accepted.
//! * [`LabelSource::Files`]: whole recordings, normal or anomalous (CWRU).
//!
//! Every row then has a label ([`Recording::labels`]); a window is anomalous when any of its
//! rows is. Timestamps are kept where a file has a timestamp column, for the alarm figures'
//! days and seconds ([`super::alarms`]).

use crate::data::{self, LoadOptions, Recording};
use crate::error::Error;
use std::path::{Path, PathBuf};

/// Labelling errors live with the crate's error type, which wraps them.
pub use crate::error::EvalError;

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
                // Timestamps, where the files have them, give the alarm figures days and
                // seconds.
                let opts =
                    LoadOptions { label_column: Some(column.clone()), keep_timestamps: true, ..opts.clone() };
                Ok(data::load(files, &opts)?)
            }
            LabelSource::Windows { files, json } => {
                let windows = LabelWindows::read(json)?;
                let opts = LoadOptions { keep_timestamps: true, ..opts.clone() };
                let mut recs = data::load(files, &opts)?;
                for r in &mut recs {
                    if opts.rows.is_some() {
                        windows.label_part(r)?;
                    } else {
                        windows.label(r)?;
                    }
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
                let mut recs = data::load(&all, &LoadOptions { keep_timestamps: true, ..opts.clone() })?;
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

impl std::fmt::Display for Stamp {
    /// `YYYY-MM-DD HH:MM:SS`, with the fraction of a second when there is one.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let [y, mo, d, h, mi, s, nanos] = self.0;
        write!(f, "{y:04}-{mo:02}-{d:02} {h:02}:{mi:02}:{s:02}")?;
        if nanos > 0 {
            let frac = format!("{nanos:09}");
            write!(f, ".{}", frac.trim_end_matches('0'))?;
        }
        Ok(())
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

/// A label window: its start and end, both inclusive.
type Span = (Stamp, Stamp);

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

    /// Parses label-window JSON (a leading UTF-8 BOM is skipped); `path` names the file in
    /// errors. A key given twice is refused.
    pub fn parse(bytes: &[u8], path: &Path) -> Result<Self, EvalError> {
        let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
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
        unique_keys(bytes, path)?;
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
        self.entry_for(file).map(|(_, w)| w)
    }

    /// The key naming `file` and its windows (see [`LabelWindows::for_file`]).
    fn entry_for(&self, file: &Path) -> Result<(&str, &[Span]), EvalError> {
        if let Some((k, w)) = self.entries.iter().find(|(k, _)| !k.is_empty() && file.ends_with(k)) {
            return Ok((k, w));
        }
        let name = file.file_name();
        let same_name: Vec<&(String, Vec<(Stamp, Stamp)>)> =
            self.entries.iter().filter(|(k, _)| name.is_some() && Path::new(k).file_name() == name).collect();
        if let [(k, w)] = same_name.as_slice() {
            return Ok((k, w));
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

    /// Labels every row of `rec` (which must carry timestamps, the whole file's rows) by its
    /// file's windows. Refused: a window that labels no row, and time that goes back across
    /// a window.
    pub fn label(&self, rec: &mut Recording) -> Result<(), EvalError> {
        self.label_rows(rec, false)
    }

    /// [`LabelWindows::label`] for a recording of part of its file (a row range): a window
    /// entirely before the recording's first time or after its last is outside the part
    /// evaluated and is not checked; a window within its time span must still label a row.
    pub fn label_part(&self, rec: &mut Recording) -> Result<(), EvalError> {
        self.label_rows(rec, true)
    }

    fn label_rows(&self, rec: &mut Recording, part: bool) -> Result<(), EvalError> {
        let (key, windows) = self.entry_for(&rec.path)?;
        let stamps = self.stamps(rec, key, windows)?;
        let labels: Vec<bool> =
            stamps.iter().map(|s| windows.iter().any(|(a, b)| a <= s && s <= b)).collect();
        let (Some(&lo), Some(&hi)) = (stamps.iter().min(), stamps.iter().max()) else {
            rec.labels = Some(labels);
            return Ok(());
        };
        for (i, &(a, b)) in windows.iter().enumerate() {
            if stamps.iter().any(|s| a <= *s && *s <= b) {
                continue;
            }
            let why = if b < lo {
                if part {
                    continue;
                }
                format!("ends before the first row's time, {lo}")
            } else if a > hi {
                if part {
                    continue;
                }
                format!("starts after the last row's time, {hi}")
            } else {
                let before = stamps.iter().filter(|s| **s < a).max();
                let after = stamps.iter().filter(|s| **s > b).min();
                match (before, after) {
                    (Some(x), Some(y)) => format!("falls between the rows at {x} and {y}"),
                    _ => format!("is not met by rows running from {lo} to {hi}"),
                }
            };
            return Err(EvalError::WindowLabelsNoRow {
                json: self.path.clone(),
                key: key.to_string(),
                window: i + 1,
                file: rec.path.clone(),
                why: format!("[{a}, {b}] {why}"),
            });
        }
        rec.labels = Some(labels);
        Ok(())
    }

    /// Rows of `rec` (by its timestamps) before its file's first window: the normal stretch
    /// NAB's protocol trains on. Time going back across a window is refused, as for
    /// [`LabelWindows::label`].
    pub fn rows_before_first(&self, rec: &Recording) -> Result<usize, EvalError> {
        let (key, windows) = self.entry_for(&rec.path)?;
        let Some(first) = windows.iter().map(|w| w.0).min() else { return Ok(rec.rows()) };
        let stamps = self.stamps(rec, key, windows)?;
        Ok(stamps.iter().position(|s| *s >= first).unwrap_or(stamps.len()))
    }

    /// The parsed timestamps of `rec`, checked to increase around every window of `windows`
    /// (those of `key`): a step back in time from `t1` to `t0 < t1` is refused when a window
    /// meets `[t0, t1]`, since the rows there are not in time order.
    fn stamps(
        &self,
        rec: &Recording,
        key: &str,
        windows: &[(Stamp, Stamp)],
    ) -> Result<Vec<Stamp>, EvalError> {
        let ts = rec.timestamps.as_ref().ok_or_else(|| EvalError::NoTimestamps { path: rec.path.clone() })?;
        let mut out: Vec<Stamp> = Vec::with_capacity(ts.len());
        for (i, t) in ts.iter().enumerate() {
            let s = Stamp::parse(t).ok_or_else(|| EvalError::BadTimestamp {
                path: rec.path.clone(),
                at: row_at(rec, i),
                found: t.clone(),
            })?;
            if let Some(&prev) = out.last() {
                if s < prev {
                    if let Some((k, &(a, b))) =
                        windows.iter().enumerate().find(|(_, &(a, b))| a <= prev && s <= b)
                    {
                        return Err(EvalError::TimestampsOutOfOrder {
                            path: rec.path.clone(),
                            at: row_at(rec, i),
                            found: t.clone(),
                            previous: match rec.line(i - 1) {
                                Some(line) => format!("`{}` (line {line})", ts[i - 1]),
                                None => format!("`{}`", ts[i - 1]),
                            }
                            .into(),
                            window: format!(
                                "window {} [{a}, {b}] of key \"{key}\" in {}",
                                k + 1,
                                self.path.display()
                            )
                            .into(),
                        });
                    }
                }
            }
            out.push(s);
        }
        Ok(out)
    }
}

/// Where row `i` of `rec` is in its file: `line 17, column 1 `timestamp`` (the timestamp
/// column), or, for a recording without line numbers, `data row 16 (the header not counted)`.
fn row_at(rec: &Recording, i: usize) -> String {
    match (rec.line(i), &rec.timestamp_column) {
        (Some(line), Some(c)) => format!("line {line}, column {} `{}`", c.number, c.name),
        (Some(line), None) => format!("line {line}"),
        (None, _) => format!("data row {} (the header not counted)", rec.file_row(i)),
    }
}

/// Refuses a top-level key given twice, naming it and its line (`serde_json::Value` would
/// keep the last silently). `bytes` is known to be a valid JSON object.
fn unique_keys(bytes: &[u8], path: &Path) -> Result<(), EvalError> {
    use serde::de::{Deserializer as _, Error as _, IgnoredAny, MapAccess, Visitor};
    use std::cell::RefCell;
    use std::collections::HashSet;

    struct Keys<'a>(&'a RefCell<Option<String>>);
    impl<'de> Visitor<'de> for Keys<'_> {
        type Value = ();
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("an object")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
            let mut seen = HashSet::new();
            while let Some(key) = map.next_key::<String>()? {
                if !seen.insert(key.clone()) {
                    *self.0.borrow_mut() = Some(key);
                    return Err(A::Error::custom("duplicate key"));
                }
                map.next_value::<IgnoredAny>()?;
            }
            Ok(())
        }
    }

    let dup = RefCell::new(None);
    let mut de = serde_json::Deserializer::from_slice(bytes);
    match de.deserialize_map(Keys(&dup)) {
        Err(e) => match dup.into_inner() {
            Some(key) => Err(EvalError::DuplicateKey {
                path: path.to_path_buf(),
                key,
                line: e.line(),
                column: e.column(),
            }),
            // Unreachable: the bytes parsed as an object already.
            None => Err(EvalError::LabelJson {
                path: path.to_path_buf(),
                line: e.line(),
                column: e.column(),
                why: e.to_string(),
            }),
        },
        Ok(()) => Ok(()),
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

    /// The error of parsing `json` as the label windows of `w.json`.
    fn parse_err(json: &[u8]) -> EvalError {
        LabelWindows::parse(json, Path::new("w.json")).unwrap_err()
    }

    #[test]
    fn json_cut_short_is_refused_with_its_place() {
        // The document up to the end of the first timestamp (cut from a whole one, which
        // keeps the braces of this file balanced for line counters).
        let whole = br#"{"a.csv": [["2014-01-01 00:00:00", "2014-01-02 00:00:00"]]}"#;
        let cut = whole.iter().position(|&b| b == b',').unwrap_or(whole.len());
        assert_eq!(&whole[..cut], b"\x7b\"a.csv\": [[\"2014-01-01 00:00:00\"");
        let e = parse_err(&whole[..cut]);
        assert!(matches!(e, EvalError::LabelJson { line: 1, .. }), "{e}");
    }

    #[test]
    fn json_top_level_must_be_an_object() {
        let e = parse_err(b"[1, 2]");
        assert_eq!(
            e.to_string(),
            "w.json: the top level: expected an object mapping file names to lists of windows, found [1,2]"
        );
    }

    #[test]
    fn json_windows_are_checked_with_their_place() {
        let e = parse_err(b"{\"a.csv\": [[\"2014-01-01\", 3]]}");
        assert!(
            e.to_string().contains("key \"a.csv\", window 1, end: expected a timestamp string, found 3"),
            "{e}"
        );
        let e = parse_err(b"{\"a.csv\": [[\"2014-01-02\", \"2014-01-01\"]]}");
        assert!(e.to_string().contains("a start no later than the end"), "{e}");
        let e = parse_err(b"{\"a.csv\": [[\"2014-01-01\", \"soon\"]]}");
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

    fn rec_with(times: &[&str]) -> Recording {
        let mut r = Recording::new("/d/a.csv", vec!["v".into()], vec![0.0; times.len()]);
        r.timestamps = Some(times.iter().map(|s| s.to_string()).collect());
        r.lines = Some((0..times.len()).map(|i| i + 2).collect());
        r.timestamp_column = Some(crate::data::FileColumn { name: "timestamp".into(), number: 1 });
        r
    }

    fn windows(json: &str) -> LabelWindows {
        LabelWindows::parse(json.as_bytes(), Path::new("w.json")).unwrap()
    }

    const DAY: [&str; 4] =
        ["2020-01-01 00:00:00", "2020-01-01 00:05:00", "2020-01-01 00:10:00", "2020-01-01 00:15:00"];

    #[test]
    fn a_bom_is_skipped_and_a_key_given_twice_is_refused() {
        let p = Path::new("w.json");
        let w =
            LabelWindows::parse(b"\xEF\xBB\xBF{\"a.csv\": [[\"2020-01-01\", \"2020-01-02\"]]}", p).unwrap();
        assert_eq!(w.for_file(Path::new("a.csv")).unwrap().len(), 1);
        let e = LabelWindows::parse(b"{\"a.csv\": [],\n \"b.csv\": [],\n \"a.csv\": []}", p).unwrap_err();
        assert!(matches!(&e, EvalError::DuplicateKey { key, line: 3, .. } if key == "a.csv"), "{e:?}");
        assert!(e.to_string().starts_with("w.json, line 3, column "), "{e}");
        assert!(e.to_string().contains("key \"a.csv\" appears twice"), "{e}");
        // The same key spelled with an escape is the same key.
        let e = LabelWindows::parse(br#"{"a.csv": [], "\u0061.csv": []}"#, p).unwrap_err();
        assert!(matches!(&e, EvalError::DuplicateKey { key, .. } if key == "a.csv"), "{e:?}");
    }

    #[test]
    fn stamps_display_as_parsed() {
        for t in ["2020-01-01 00:05:00", "2014-03-14 03:31:00.5", "2014-03-14 03:31:00.000001"] {
            assert_eq!(Stamp::parse(t).unwrap().to_string(), t);
        }
        assert_eq!(Stamp::parse("2020-01-01").unwrap().to_string(), "2020-01-01 00:00:00");
    }

    #[test]
    fn a_window_must_label_a_row() {
        let mut r = rec_with(&DAY);
        // After the data, before it, between two rows.
        let cases = [
            (
                r#"[["2020-01-01 00:00:00", "2020-01-01 00:00:00"], ["2021-01-01", "2021-01-02"]]"#,
                2,
                "[2021-01-01 00:00:00, 2021-01-02 00:00:00] starts after the last row's time, 2020-01-01 00:15:00",
            ),
            (
                r#"[["2019-01-01", "2019-01-02"]]"#,
                1,
                "[2019-01-01 00:00:00, 2019-01-02 00:00:00] ends before the first row's time, 2020-01-01 00:00:00",
            ),
            (
                r#"[["2020-01-01 00:01:00", "2020-01-01 00:04:00"]]"#,
                1,
                "[2020-01-01 00:01:00, 2020-01-01 00:04:00] falls between the rows at 2020-01-01 00:00:00 and \
                 2020-01-01 00:05:00",
            ),
        ];
        for (list, n, why) in cases {
            let w =
                windows(&format!("{{\"a.csv\": {list}, \"other.csv\": [[\"1999-01-01\", \"1999-01-02\"]]}}"));
            let e = w.label(&mut r).unwrap_err();
            assert!(matches!(&e, EvalError::WindowLabelsNoRow { window, .. } if *window == n), "{e:?}");
            let msg = e.to_string();
            assert!(msg.starts_with("w.json: key \"a.csv\", window "), "{msg}");
            assert!(msg.contains(&format!("labels no row of /d/a.csv: {why}")), "{msg}");
        }
        // Part of a file (a row range): windows outside the rows read are not checked, one
        // between two of them still is.
        let w = windows(
            r#"{"a.csv": [["2019-01-01", "2019-01-02"], ["2020-01-01 00:05:00", "2020-01-01 00:05:00"], ["2021-01-01", "2021-01-02"]]}"#,
        );
        w.label_part(&mut r).unwrap();
        assert_eq!(r.labels, Some(vec![false, true, false, false]));
        assert!(w.label(&mut r).is_err());
        let w = windows(r#"{"a.csv": [["2020-01-01 00:01:00", "2020-01-01 00:04:00"]]}"#);
        assert!(matches!(w.label_part(&mut r), Err(EvalError::WindowLabelsNoRow { .. })));
    }

    #[test]
    fn time_going_back_across_a_window_is_refused() {
        let w = windows(r#"{"a.csv": [["2020-01-01 00:05:00", "2020-01-01 00:06:00"]]}"#);
        // Rows 00:00, 00:10, 00:05, 00:15: the window's row sits after a later one.
        let mut r = rec_with(&[DAY[0], DAY[2], DAY[1], DAY[3]]);
        let e = w.label(&mut r).unwrap_err();
        assert_eq!(
            e.to_string(),
            "/d/a.csv, line 4, column 1 `timestamp`: time goes back from `2020-01-01 00:10:00` \
             (line 3) to `2020-01-01 00:05:00`, across window 1 \
             [2020-01-01 00:05:00, 2020-01-01 00:06:00] of key \"a.csv\" in w.json: rows are \
             matched to label windows by time, which needs the timestamps in increasing order \
             around every window"
        );
        assert!(matches!(w.rows_before_first(&r), Err(EvalError::TimestampsOutOfOrder { .. })));
        // A step back away from every window changes no label (NAB's machine_temperature
        // repeats an hour): accepted. Equal times are not a step back.
        let mut r = rec_with(&[DAY[0], DAY[1], DAY[1], DAY[3], DAY[2], DAY[3]]);
        let w = windows(r#"{"a.csv": [["2020-01-01 00:05:00", "2020-01-01 00:06:00"]]}"#);
        w.label(&mut r).unwrap();
        assert_eq!(r.labels, Some(vec![false, true, true, false, false, false]));
        assert_eq!(w.rows_before_first(&r).unwrap(), 1);
    }

    #[test]
    fn bad_timestamps_name_the_line_and_column() {
        let w = windows(r#"{"a.csv": []}"#);
        let mut r = rec_with(&[DAY[0], "yesterday"]);
        let e = w.label(&mut r).unwrap_err();
        assert_eq!(
            e.to_string(),
            "/d/a.csv, line 3, column 1 `timestamp`: expected a timestamp `YYYY-MM-DD HH:MM:SS[.ffffff]`, found `yesterday`"
        );
        assert!(!e.to_string().contains("0-based"));
    }
}
