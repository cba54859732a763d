//! Scoring recordings with a model: the host runs the device's engine on the same bits.
//!
//! The score CSV is defined once here ([`ScoreRow`], [`scores_header`], [`read_scores`]):
//! `vae-train score --out` writes it, the device's log is turned into it, and
//! `vae-train eval --scores` reads it back, so what the device decided can be evaluated
//! against labels offline.

use crate::data::{self, Recording};
use crate::error::{Error, EvalError};
use crate::model::OwnedModel;
use crate::scoring::{self, ScoredWindow};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use vae_core::{Decision, Outcome, ScoreConfig, Threshold};

/// Scores every window of `recordings` (raw samples, read with the model's channels): they
/// are normalised in place with the model's statistics, cut into the model's windows and
/// scored with `config` (smoothed as the model says). Refuses recordings whose channels
/// differ from the model's.
pub fn score(
    model: &OwnedModel,
    recordings: &mut [Recording],
    config: ScoreConfig,
) -> Result<Vec<ScoredWindow>, Error> {
    for r in recordings.iter() {
        scoring::check_channels(model, r)?;
    }
    scoring::normalise(model, recordings);
    let windows = data::windows_of(recordings, model.meta.window, model.meta.hop)?;
    scoring::score_windows(model, &windows, config)
}

/// The model's decision threshold, if it was calibrated.
pub fn threshold(model: &OwnedModel) -> Option<Threshold> {
    model.thresholds.first().and_then(|c| Threshold::new(c.threshold).ok())
}

/// The device's decision for every window of `scored`, each recording its own stream from
/// boot: the model's alarm rule (learning, then its threshold; see [`vae_core::alarm`]) on
/// the smoothed scores, or, with `t` other than the model's threshold, that threshold alone.
pub fn decisions(
    model: &OwnedModel,
    scored: &[ScoredWindow],
    t: Option<&Threshold>,
) -> Result<Vec<Decision>, Error> {
    let rule = match (t, threshold(model)) {
        (Some(t), Some(m)) if *t == m => model.alarm,
        _ => vae_core::AlarmRule::STATIC,
    };
    scoring::decisions(scored, t.copied(), rule)
}

/// The `anomalous` column of a score CSV: the decision taken on the window.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Flag {
    /// `yes`: an alarm.
    Yes,
    /// `no`: scored, not an alarm.
    No,
    /// `learning`: scored while the device learns its baseline (not an alarm).
    Learning,
    /// `invalid`: not scored (NaN/Inf samples).
    Invalid,
    /// Empty: no decision, the model has no threshold.
    Unknown,
}

impl Flag {
    /// The cell as written: `yes`, `no`, `learning`, `invalid`, or empty.
    pub fn as_str(self) -> &'static str {
        match self {
            Flag::Yes => "yes",
            Flag::No => "no",
            Flag::Learning => "learning",
            Flag::Invalid => "invalid",
            Flag::Unknown => "",
        }
    }

    /// The flag of a cell as [`Flag::as_str`] writes it (surrounding spaces ignored), `None`
    /// for anything else.
    pub fn parse(cell: &str) -> Option<Flag> {
        match cell.trim() {
            "yes" => Some(Flag::Yes),
            "no" => Some(Flag::No),
            "learning" => Some(Flag::Learning),
            "invalid" => Some(Flag::Invalid),
            "" => Some(Flag::Unknown),
            _ => None,
        }
    }

    /// The flag of a device (or host) decision, so a logged [`Decision`] becomes a row.
    pub fn from_decision(d: Decision) -> Flag {
        match d {
            Decision::Anomalous => Flag::Yes,
            Decision::Normal => Flag::No,
            Decision::Learning => Flag::Learning,
            Decision::Invalid => Flag::Invalid,
        }
    }

    /// The decision the flag records (`None` for [`Flag::Unknown`]: no threshold).
    pub fn decision(self) -> Option<Decision> {
        match self {
            Flag::Yes => Some(Decision::Anomalous),
            Flag::No => Some(Decision::Normal),
            Flag::Learning => Some(Decision::Learning),
            Flag::Invalid => Some(Decision::Invalid),
            Flag::Unknown => None,
        }
    }
}

impl From<Decision> for Flag {
    fn from(d: Decision) -> Flag {
        Flag::from_decision(d)
    }
}

/// One window of a score CSV (`vae-train score --out`, or the device's log turned into
/// CSV): the row type both sides write and `eval --scores` reads.
///
/// Two rows are equal when they hold the same cells: floats compare by their bits, and NaN
/// equals NaN (a `nan` cell is a value of the format, not a missing one).
#[derive(Clone, Debug)]
pub struct ScoreRow {
    /// The recording, as written (unquoted).
    pub file: String,
    /// Index of the window in its recording's stream (0, 1, ...).
    pub window: u64,
    /// The window's first row in the file (0-based data row).
    pub start_row: u64,
    /// The window's own score: NaN when not scored (`nan`), `+inf` after an overflow (`inf`).
    pub score: f32,
    /// The decision (the `anomalous` column).
    pub flag: Flag,
    /// The channel that contributes most to the score; empty when not scored.
    pub top_channel: String,
    /// -log p(x|z) per channel, one per channel column; `None` is an empty cell (not scored,
    /// or not logged, as on the device).
    pub channel_nll: Vec<Option<f32>>,
    /// The `smoothed_score` cell when the file has that column (NaN: `nan`, not scored);
    /// `None` without the column.
    pub smoothed: Option<f32>,
}

impl PartialEq for ScoreRow {
    fn eq(&self, o: &Self) -> bool {
        let f = |a: f32, b: f32| a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan());
        let opt = |a: Option<f32>, b: Option<f32>| match (a, b) {
            (Some(a), Some(b)) => f(a, b),
            (a, b) => a.is_none() && b.is_none(),
        };
        self.file == o.file
            && self.window == o.window
            && self.start_row == o.start_row
            && f(self.score, o.score)
            && self.flag == o.flag
            && self.top_channel == o.top_channel
            && self.channel_nll.len() == o.channel_nll.len()
            && self.channel_nll.iter().zip(&o.channel_nll).all(|(a, b)| opt(*a, *b))
            && opt(self.smoothed, o.smoothed)
    }
}

/// A text cell, quoted (its quotes doubled) when it holds a separator, a quote or a line
/// break, as the CSV readers expect.
fn text_cell(v: &str) -> std::borrow::Cow<'_, str> {
    if v.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", v.replace('"', "\"\"")).into()
    } else {
        v.into()
    }
}

/// A float cell: Rust's shortest round-trip form, `inf`/`-inf`, and `nan` for NaN.
fn float_cell(v: f32) -> String {
    if v.is_nan() {
        "nan".into()
    } else {
        v.to_string()
    }
}

impl ScoreRow {
    /// The row as one CSV line with its `'\n'`, for a file whose header is
    /// [`scores_header`]`(channels, smoothed)`: one cell per [`ScoreRow::channel_nll`], and
    /// with `smoothed` a last `smoothed_score` cell (`nan` when [`ScoreRow::smoothed`] is
    /// `None`). The file and channel names are quoted when they hold `,`, `"` or a line
    /// break.
    pub fn to_csv_line(&self, smoothed: bool) -> String {
        let mut s = format!(
            "{},{},{},{},{},{}",
            text_cell(&self.file),
            self.window,
            self.start_row,
            float_cell(self.score),
            self.flag.as_str(),
            text_cell(&self.top_channel)
        );
        for v in &self.channel_nll {
            s.push(',');
            if let Some(v) = v {
                s.push_str(&float_cell(*v));
            }
        }
        if smoothed {
            s.push(',');
            s.push_str(&float_cell(self.smoothed.unwrap_or(f32::NAN)));
        }
        s.push('\n');
        s
    }
}

/// The header line of a score CSV with its `'\n'`: `file,window,start_row,score,anomalous,
/// top_channel`, `nll_<channel>` per channel, and `smoothed_score` when the decisions are on
/// smoothed scores.
pub fn scores_header(channels: &[String], smoothed: bool) -> String {
    let mut s = String::from("file,window,start_row,score,anomalous,top_channel");
    for c in channels {
        let _ = write!(s, ",{}", text_cell(&format!("nll_{c}")));
    }
    if smoothed {
        s.push_str(",smoothed_score");
    }
    s.push('\n');
    s
}

/// The rows of a score CSV for every window of `scored`: where it is, its score and
/// decision (`decided`, from [`decisions`]; [`Flag::Unknown`] without a threshold, and
/// [`Flag::Invalid`] for a window not scored), and its per-channel split; the smoothed
/// score when the model smooths.
pub fn score_rows(
    model: &OwnedModel,
    recs: &[Recording],
    scored: &[ScoredWindow],
    decided: Option<&[Decision]>,
) -> Vec<ScoreRow> {
    let channels = &model.meta.channels;
    let smoothed = model.meta.transform.smoothing > 1;
    scored
        .iter()
        .enumerate()
        .map(|(i, w)| {
            let rec = recs.get(w.recording);
            let (score, top) = match w.outcome {
                Outcome::Scored(sc) => (sc.score, channels.get(sc.top_channel).cloned().unwrap_or_default()),
                Outcome::Overflow => (f32::INFINITY, String::new()),
                Outcome::NonFinite { .. } => (f32::NAN, String::new()),
            };
            let flag = match (decided.and_then(|d| d.get(i)), &w.outcome) {
                (_, Outcome::NonFinite { .. }) => Flag::Invalid,
                (Some(Decision::Anomalous), _) => Flag::Yes,
                (Some(Decision::Learning), _) => Flag::Learning,
                (Some(_), _) => Flag::No,
                (None, _) => Flag::Unknown,
            };
            ScoreRow {
                file: rec.map(|r| r.path.display().to_string()).unwrap_or_default(),
                window: w.index as u64,
                start_row: rec.map_or(w.start, |r| r.file_row(w.start)) as u64,
                score,
                flag,
                top_channel: top,
                channel_nll: (0..channels.len()).map(|c| w.channel_nll.get(c).copied()).collect(),
                smoothed: smoothed.then(|| w.smoothed.unwrap_or(f32::NAN)),
            }
        })
        .collect()
}

/// One CSV row per window: where it is, its score and decision (`decided`, from
/// [`decisions`]: `yes`, `no`, `learning` while the device learns, `invalid`; empty without
/// a threshold), and its per-channel split. [`scores_header`] and [`score_rows`] written
/// out; [`read_scores`] reads it back.
pub fn scores_csv(
    model: &OwnedModel,
    recs: &[Recording],
    scored: &[ScoredWindow],
    decided: Option<&[Decision]>,
) -> String {
    // With smoothing, the decision is on the smoothed score: a last column.
    let smoothed = model.meta.transform.smoothing > 1;
    let mut s = scores_header(&model.meta.channels, smoothed);
    for row in score_rows(model, recs, scored, decided) {
        s.push_str(&row.to_csv_line(smoothed));
    }
    s
}

/// A score CSV read back: its rows and the columns it has.
#[derive(Clone, Debug, PartialEq)]
pub struct ScoresFile {
    /// The file read (named in every error about it).
    pub path: PathBuf,
    /// The channels of its `nll_<channel>` columns, in order.
    pub channels: Vec<String>,
    /// Whether it has the `smoothed_score` column.
    pub smoothed: bool,
    /// Its rows, in file order.
    pub rows: Vec<ScoreRow>,
    /// The 1-based line of each row, to name it in errors.
    pub lines: Vec<usize>,
}

impl ScoresFile {
    /// The file as CSV again: [`scores_header`] and each row's [`ScoreRow::to_csv_line`].
    pub fn to_csv(&self) -> String {
        let mut s = scores_header(&self.channels, self.smoothed);
        for r in &self.rows {
            s.push_str(&r.to_csv_line(self.smoothed));
        }
        s
    }

    /// Parses the text of a score CSV; `path` names it in errors. Columns are found by
    /// name in the header (others are ignored): `file`, `window`, `start_row`, `score`,
    /// `anomalous` and `top_channel` are required, `nll_<channel>` and `smoothed_score`
    /// optional. Numbers may be `nan` or `inf`; the file may be quoted.
    pub fn parse(bytes: &[u8], path: &Path) -> Result<ScoresFile, Error> {
        let bytes = bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(bytes);
        let syntax =
            |line: usize, why: String| EvalError::ScoresSyntax { path: path.to_path_buf(), line, why };
        let mut reader = csv::ReaderBuilder::new().has_headers(false).flexible(true).from_reader(bytes);
        let mut records = reader.records();
        let header = match records.next() {
            Some(Ok(h)) => h,
            Some(Err(e)) => return Err(syntax(csv_line(&e), e.to_string()).into()),
            None => return Err(syntax(1, "the file is empty, expected a header line".into()).into()),
        };
        let names: Vec<&str> = header.iter().collect();
        let columns = Columns::of(&names, path)?;
        let mut out = ScoresFile {
            path: path.to_path_buf(),
            channels: columns.nll.iter().map(|&(_, c)| c.to_string()).collect(),
            smoothed: columns.smoothed.is_some(),
            rows: Vec::new(),
            lines: Vec::new(),
        };
        for rec in records {
            let rec = rec.map_err(|e| syntax(csv_line(&e), e.to_string()))?;
            let line = rec.position().map_or(0, |p| p.line() as usize);
            let cells: Vec<&str> = rec.iter().collect();
            if cells.len() != names.len() {
                let at = match names.get(cells.len()) {
                    Some(name) => format!("no cell for column {} `{name}`", cells.len() + 1),
                    None => format!(
                        "field {} is past the last column `{}`",
                        names.len() + 1,
                        names.last().copied().unwrap_or_default()
                    ),
                };
                return Err(EvalError::ScoresFields {
                    path: path.to_path_buf(),
                    line,
                    expected: names.len(),
                    found: cells.len(),
                    at,
                }
                .into());
            }
            out.rows.push(columns.row(&cells, &names, line, path)?);
            out.lines.push(line);
        }
        Ok(out)
    }
}

/// Reads a score CSV (see [`ScoresFile::parse`]); files larger than the data readers'
/// limit are refused.
pub fn read_scores(path: &Path) -> Result<ScoresFile, Error> {
    let bytes = crate::output::read_bounded(path, data::MAX_FILE_BYTES, "score file")?;
    ScoresFile::parse(&bytes, path)
}

/// The 1-based line of a CSV reader error.
fn csv_line(e: &csv::Error) -> usize {
    e.position().map_or(1, |p| p.line() as usize)
}

/// Where each column of a score CSV's header is (0-based field indices).
struct Columns<'h> {
    file: usize,
    window: usize,
    start_row: usize,
    score: usize,
    anomalous: usize,
    top_channel: usize,
    nll: Vec<(usize, &'h str)>,
    smoothed: Option<usize>,
}

impl<'h> Columns<'h> {
    /// The columns of `names`, refusing a required one missing or a name given twice.
    fn of(names: &[&'h str], path: &Path) -> Result<Self, Error> {
        for (i, n) in names.iter().enumerate() {
            if let Some(j) = names[..i].iter().position(|m| m == n) {
                return Err(EvalError::ScoresCell {
                    path: path.to_path_buf(),
                    line: 1,
                    number: i + 1,
                    column: (*n).to_string(),
                    expected: format!("each column name once (`{n}` is column {} already)", j + 1),
                    found: (*n).to_string(),
                }
                .into());
            }
        }
        let find = |name: &'static str| {
            names.iter().position(|n| *n == name).ok_or_else(|| EvalError::ScoresMissingColumn {
                path: path.to_path_buf(),
                column: name,
                header: shorten(&names.join(","), 120),
            })
        };
        Ok(Columns {
            file: find("file")?,
            window: find("window")?,
            start_row: find("start_row")?,
            score: find("score")?,
            anomalous: find("anomalous")?,
            top_channel: find("top_channel")?,
            nll: names
                .iter()
                .enumerate()
                .filter_map(|(i, n)| n.strip_prefix("nll_").map(|c| (i, c)))
                .collect(),
            smoothed: names.iter().position(|n| *n == "smoothed_score"),
        })
    }

    /// One data line (`cells`, as many as `names`) as a row.
    fn row(&self, cells: &[&str], names: &[&str], line: usize, path: &Path) -> Result<ScoreRow, Error> {
        let bad = |i: usize, expected: &str| EvalError::ScoresCell {
            path: path.to_path_buf(),
            line,
            number: i + 1,
            column: names.get(i).copied().unwrap_or_default().to_string(),
            expected: expected.to_string(),
            found: shorten(cells.get(i).copied().unwrap_or_default(), 60),
        };
        let cell = |i: usize| cells.get(i).copied().unwrap_or_default();
        let whole = |i: usize| cell(i).trim().parse::<u64>().map_err(|_| bad(i, "a whole number"));
        let float = |i: usize| cell(i).trim().parse::<f32>().map_err(|_| bad(i, "a number (or nan, inf)"));
        Ok(ScoreRow {
            file: cell(self.file).to_string(),
            window: whole(self.window)?,
            start_row: whole(self.start_row)?,
            score: float(self.score)?,
            flag: Flag::parse(cell(self.anomalous))
                .ok_or_else(|| bad(self.anomalous, "yes, no, learning, invalid or an empty cell"))?,
            top_channel: cell(self.top_channel).to_string(),
            channel_nll: self
                .nll
                .iter()
                .map(|&(i, _)| if cell(i).trim().is_empty() { Ok(None) } else { float(i).map(Some) })
                .collect::<Result<_, _>>()?,
            smoothed: self.smoothed.map(float).transpose()?,
        })
    }
}

/// `s` cut to `max` characters, with `...` when cut.
fn shorten(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((i, _)) => format!("{}...", &s[..i]),
        None => s.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use vae_core::Transform;

    /// The scoring tests' model smoothing `smoothing` windows, with threshold 5.
    fn model(smoothing: u16) -> OwnedModel {
        let mut m = crate::scoring::tests::model(Transform { smoothing, ..Transform::Raw });
        m.meta.name = "csv".into();
        m.thresholds[0].threshold = 5.0;
        m
    }

    /// `scores_csv` as it was written before [`ScoreRow`] existed, kept verbatim as the
    /// reference for the bytes.
    fn reference_csv(
        model: &OwnedModel,
        recs: &[Recording],
        scored: &[ScoredWindow],
        decided: Option<&[Decision]>,
    ) -> String {
        let mut s = String::from("file,window,start_row,score,anomalous,top_channel");
        for c in &model.meta.channels {
            let _ = write!(s, ",nll_{c}");
        }
        let smoothed = model.meta.transform.smoothing > 1;
        if smoothed {
            s.push_str(",smoothed_score");
        }
        s.push('\n');
        for (i, w) in scored.iter().enumerate() {
            let rec = &recs[w.recording];
            let file = rec.path.display().to_string();
            let file =
                if file.contains([',', '"']) { format!("\"{}\"", file.replace('"', "\"\"")) } else { file };
            let row = rec.file_row(w.start);
            let (score, top) = match w.outcome {
                Outcome::Scored(sc) => (sc.score.to_string(), model.meta.channels[sc.top_channel].clone()),
                Outcome::Overflow => ("inf".into(), String::new()),
                Outcome::NonFinite { .. } => ("nan".into(), String::new()),
            };
            let flag = match (decided.and_then(|d| d.get(i)), &w.outcome) {
                (_, Outcome::NonFinite { .. }) => "invalid",
                (Some(Decision::Anomalous), _) => "yes",
                (Some(Decision::Learning), _) => "learning",
                (Some(_), _) => "no",
                (None, _) => "",
            };
            let _ = write!(s, "{file},{},{row},{score},{flag},{top}", w.index);
            for c in 0..model.meta.channels.len() {
                match w.channel_nll.get(c) {
                    Some(v) => {
                        let _ = write!(s, ",{v}");
                    }
                    None => s.push(','),
                }
            }
            if smoothed {
                match w.smoothed {
                    Some(v) => {
                        let _ = write!(s, ",{v}");
                    }
                    None => s.push_str(",nan"),
                }
            }
            s.push('\n');
        }
        s
    }

    /// Two recordings (one with `,` and `"` in its name, one starting at file row 5) with
    /// normal windows, an overflow (`f32::MAX`), an alarm and NaN windows.
    fn recordings(m: &OwnedModel) -> Vec<Recording> {
        let a = vec![0.1, -0.2, 0.1, -0.2, 3.0, 1.0, 0.1, f32::MAX, 0.1, -0.2, f32::NAN, 0.0, 0.1, -0.2];
        let b = vec![0.1, -0.2, 0.2, -0.1, 0.1, -0.2];
        let mut second = Recording::new("dir/b \"x\", y.csv", m.meta.channels.clone(), b);
        second.first_row = 5;
        vec![Recording::new("dir/a.csv", m.meta.channels.clone(), a), second]
    }

    #[test]
    fn the_writer_gives_the_bytes_scores_csv_always_wrote() {
        for smoothing in [1, 2, 3] {
            let m = model(smoothing);
            let mut recs = recordings(&m);
            let scored = score(&m, &mut recs, m.meta.score).unwrap();
            let decided = decisions(&m, &scored, threshold(&m).as_ref()).unwrap();
            assert!(decided.contains(&Decision::Anomalous) && decided.contains(&Decision::Normal));
            assert!(scored.iter().any(|w| w.outcome == Outcome::Overflow));
            assert!(scored.iter().any(|w| matches!(w.outcome, Outcome::NonFinite { .. })));
            for d in [Some(decided.as_slice()), None] {
                let got = scores_csv(&m, &recs, &scored, d);
                assert_eq!(got, reference_csv(&m, &recs, &scored, d), "smoothing {smoothing}");
                // And it reads back as the rows it was written from.
                let back = ScoresFile::parse(got.as_bytes(), Path::new("s.csv")).unwrap();
                assert_eq!(back.rows, score_rows(&m, &recs, &scored, d));
                assert_eq!((back.channels.as_slice(), back.smoothed), (&m.meta.channels[..], smoothing > 1));
                assert_eq!(back.to_csv(), got);
            }
        }
        let m = model(2);
        let mut recs = recordings(&m);
        let scored = score(&m, &mut recs, m.meta.score).unwrap();
        let text = scores_csv(&m, &recs, &scored, None);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "file,window,start_row,score,anomalous,top_channel,nll_a,nll_b,smoothed_score");
        assert!(lines[5].starts_with("dir/a.csv,4,4,nan,invalid,,,,nan"), "{}", lines[5]);
        assert!(lines[7].starts_with("\"dir/b \"\"x\"\", y.csv\",0,5,"), "{}", lines[7]);
    }

    fn rows() -> Vec<ScoreRow> {
        let row = |file: &str, window, score, flag, nll: Vec<Option<f32>>, smoothed| ScoreRow {
            file: file.into(),
            window,
            start_row: 10 + window,
            score,
            flag,
            top_channel: if score.is_finite() { "b".into() } else { String::new() },
            channel_nll: nll,
            smoothed,
        };
        vec![
            row("a.csv", 0, 1.25, Flag::Learning, vec![Some(0.5), Some(0.75)], Some(1.25)),
            row("a.csv", 1, f32::NAN, Flag::Invalid, vec![None, None], Some(f32::NAN)),
            row("a.csv", 2, f32::INFINITY, Flag::Yes, vec![None, None], Some(f32::INFINITY)),
            row("say \"hi\", there.csv", 3, -0.0, Flag::No, vec![Some(f32::NAN), None], Some(1e-30)),
            row("plain.csv", 4, 7.0e12, Flag::Unknown, vec![None, Some(f32::INFINITY)], Some(3.5)),
        ]
    }

    #[test]
    fn rows_round_trip_through_the_csv() {
        let channels = vec!["a".to_string(), "b".to_string()];
        for smoothed in [true, false] {
            let mut text = scores_header(&channels, smoothed);
            let rows: Vec<ScoreRow> = rows()
                .into_iter()
                .map(|r| ScoreRow { smoothed: r.smoothed.filter(|_| smoothed), ..r })
                .collect();
            for r in &rows {
                text.push_str(&r.to_csv_line(smoothed));
            }
            let back = ScoresFile::parse(text.as_bytes(), Path::new("s.csv")).unwrap();
            assert_eq!(back.rows, rows, "{text}");
            assert_eq!(back.lines, vec![2, 3, 4, 5, 6]);
            assert_eq!(back.to_csv(), text);
        }
        // Channel names with a separator or a quote are quoted, in the header and as the
        // top channel, and read back as they were.
        let odd = vec!["x,y".to_string(), "say \"hi\"".to_string()];
        let mut text = scores_header(&odd, false);
        let row =
            ScoreRow { top_channel: odd[0].clone(), channel_nll: vec![None, None], ..rows()[0].clone() };
        text.push_str(&row.to_csv_line(false));
        let back = ScoresFile::parse(text.as_bytes(), Path::new("s.csv")).unwrap();
        assert_eq!((back.channels, back.rows[0].top_channel.as_str()), (odd.clone(), "x,y"), "{text}");
        // NaN equals NaN, but other bits do not.
        let r = rows();
        assert_eq!(r[1], r[1].clone());
        assert_ne!(r[3], ScoreRow { score: 0.0, ..r[3].clone() });
        assert_ne!(r[0], ScoreRow { smoothed: None, ..r[0].clone() });
        assert_ne!(r[0], ScoreRow { channel_nll: vec![Some(0.5)], ..r[0].clone() });
    }

    #[test]
    fn columns_are_found_by_name_and_the_device_may_leave_cells_empty() {
        let text = "anomalous,start_row,file,extra,score,window,top_channel,nll_x\r\n\
                    yes,16,\"q,r.csv\",zzz,NaN,4,x,\n\
                    learning , 17,s.csv,,inf,5,,1.5\n";
        let f = ScoresFile::parse(text.as_bytes(), Path::new("dev.csv")).unwrap();
        assert_eq!((f.channels.clone(), f.smoothed), (vec!["x".to_string()], false));
        assert_eq!(f.rows[0].file, "q,r.csv");
        assert_eq!((f.rows[0].flag, f.rows[0].start_row, f.rows[0].window), (Flag::Yes, 16, 4));
        assert!(f.rows[0].score.is_nan() && f.rows[0].channel_nll == vec![None]);
        assert_eq!(
            (f.rows[1].flag, f.rows[1].score, f.rows[1].channel_nll.clone()),
            (Flag::Learning, f32::INFINITY, vec![Some(1.5)])
        );
        assert!(ScoresFile::parse(
            b"\xef\xbb\xbffile,window,start_row,score,anomalous,top_channel\n",
            Path::new("b")
        )
        .is_ok());
    }

    #[test]
    fn flags_map_to_decisions_and_back() {
        for d in [Decision::Normal, Decision::Anomalous, Decision::Learning, Decision::Invalid] {
            assert_eq!(Flag::from_decision(d).decision(), Some(d));
            assert_eq!(Flag::parse(Flag::from(d).as_str()), Some(Flag::from(d)));
        }
        assert_eq!((Flag::parse(""), Flag::Unknown.decision()), (Some(Flag::Unknown), None));
        assert_eq!(Flag::parse("YES"), None);
    }

    /// The message of parsing `text` as `s.csv`, which must fail.
    fn error(text: &str) -> String {
        match ScoresFile::parse(text.as_bytes(), Path::new("s.csv")) {
            Ok(f) => panic!("parsed {text:?} as {f:?}"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn every_bad_cell_is_named_by_line_and_column() {
        let head = "file,window,start_row,score,anomalous,top_channel,nll_a,smoothed_score\n";
        let good = "a.csv,0,0,1.5,no,a,0.5,1.5\n";
        let cases = [
            ("file,window,score,anomalous,top_channel\n".to_string(), "s.csv, line 1: no column `start_row`"),
            (String::new(), "s.csv, line 1: not a readable score CSV: the file is empty"),
            (
                "file,window,start_row,score,score,anomalous,top_channel\n".into(),
                "s.csv, line 1, column 5 `score`: expected each column name once (`score` is column 4 already)",
            ),
            (format!("{head}{good}a.csv,1,1,abc,no,a,0.5,1.5\n"), "s.csv, line 3, column 4 `score`: expected a number (or nan, inf), found `abc`"),
            (format!("{head}{good}a.csv,x1,1,1,no,a,0.5,1.5\n"), "s.csv, line 3, column 2 `window`: expected a whole number, found `x1`"),
            (format!("{head}a.csv,0,-1,1,no,a,0.5,1.5\n"), "s.csv, line 2, column 3 `start_row`: expected a whole number, found `-1`"),
            (format!("{head}a.csv,0,0,1,maybe,a,0.5,1.5\n"), "s.csv, line 2, column 5 `anomalous`: expected yes, no, learning, invalid or an empty cell, found `maybe`"),
            (format!("{head}a.csv,0,0,1,no,a,half,1.5\n"), "s.csv, line 2, column 7 `nll_a`: expected a number (or nan, inf), found `half`"),
            (format!("{head}a.csv,0,0,1,no,a,0.5,\n"), "s.csv, line 2, column 8 `smoothed_score`: expected a number (or nan, inf), found ``"),
            (format!("{head}{good}{good}a.csv,0,0,1,no,a\n"), "s.csv, line 4: 6 fields, expected 8 as in the header (no cell for column 7 `nll_a`)"),
            (format!("{head}a.csv,0,0,1,no,a,0.5,1.5,9\n"), "s.csv, line 2: 9 fields, expected 8 as in the header (field 9 is past the last column `smoothed_score`)"),
        ];
        for (text, want) in cases {
            let got = error(&text);
            assert!(got.starts_with(want), "{text:?}:\n got  {got}\n want {want}");
        }
        // Not UTF-8.
        let mut bytes = head.as_bytes().to_vec();
        bytes.extend_from_slice(b"a\xff.csv,0,0,1,no,a,0.5,1.5\n");
        let e = ScoresFile::parse(&bytes, Path::new("s.csv")).unwrap_err().to_string();
        assert!(e.starts_with("s.csv, line 2: not a readable score CSV"), "{e}");
    }
}
