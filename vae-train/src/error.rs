//! The crate's error type: every failure names the file (and where it applies the line,
//! column and values) so the CLI can print one clear line and exit non-zero.

use std::path::{Path, PathBuf};

/// Errors of `vae-train`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// An error of the inference core (model file, shapes, parameters).
    #[error("{0}")]
    Core(#[from] vae_core::Error),
    /// A model file that `vae-core` refused.
    #[error("{path}: {source}")]
    ModelFile {
        /// The file.
        path: PathBuf,
        /// Why.
        source: vae_core::Error,
    },
    /// Bad input data (CSV, NumPy), with its location.
    #[error(transparent)]
    Data(#[from] crate::data::DataError),
    /// Bad labels for an evaluation (label windows, file lists).
    #[error(transparent)]
    Eval(#[from] EvalError),
    /// Training failed (divergence, bad configuration).
    #[error(transparent)]
    Train(#[from] TrainError),
    /// Bad command-line usage that clap cannot catch (exit status 2, as clap's own).
    #[error("{0}")]
    Usage(String),
    /// An output path the rules of [`crate::output`] refuse (exists without `--force`, is an
    /// input, is a directory, its directory is missing, its name is too long).
    #[error("{0}")]
    Output(String),
    /// Input that does not fit what the command needs (e.g. columns that do not match the
    /// model's channels, a file larger than the limit).
    #[error("{0}")]
    Input(String),
    /// Standard output could not be written (a closed pipe, a full device).
    #[error("standard output: {0}")]
    Stdout(std::io::Error),
}

impl Error {
    /// An I/O error on `path`.
    pub fn io(path: &Path, source: std::io::Error) -> Self {
        Error::Io { path: path.to_path_buf(), source }
    }

    /// The process exit status for this error: 2 for usage errors (as clap's), 130 for an
    /// interrupted run (as a shell reports SIGINT), 141 for a closed standard output pipe (as
    /// for a process killed by SIGPIPE), 1 for every other failure.
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Usage(_) => 2,
            Error::Train(TrainError::Interrupted { .. }) => 130,
            Error::Stdout(e) if e.kind() == std::io::ErrorKind::BrokenPipe => 141,
            _ => 1,
        }
    }

    /// True for a closed standard output pipe (`vae-train score ... | head -1`): the reader
    /// has what it wanted, so the command exits without a message.
    pub fn is_closed_pipe(&self) -> bool {
        matches!(self, Error::Stdout(e) if e.kind() == std::io::ErrorKind::BrokenPipe)
    }

    /// Attaches a file name to a core error.
    pub fn in_file(self, path: &Path) -> Self {
        match self {
            Error::Core(source) => Error::ModelFile { path: path.to_path_buf(), source },
            other => other,
        }
    }
}

/// A training error.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TrainError {
    /// The configuration or the data cannot be trained on (found before training starts).
    #[error("invalid training setup: {0}")]
    Config(String),
    /// The loss or a parameter stopped being finite.
    #[error("training diverged in epoch {epoch}{at}: {what}; {kept}",
        at = match .batch { Some(b) => format!(", batch {b}"), None => " (validation)".to_string() },
        kept = kept_text(.checkpoint, .checkpoint_epoch))]
    Diverged {
        /// 1-based epoch.
        epoch: usize,
        /// 1-based batch within the epoch (`None`: found when validating).
        batch: Option<usize>,
        /// What was not finite, with its value.
        what: String,
        /// The checkpoint file (when configured).
        checkpoint: Option<PathBuf>,
        /// The epoch whose model it holds (`None`: none written yet).
        checkpoint_epoch: Option<usize>,
    },
    /// A checkpoint, state or log file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The best model could not be written as a model file.
    #[error("writing checkpoint {path}: {source}")]
    Checkpoint {
        /// The checkpoint file.
        path: PathBuf,
        /// Why (from the model-file writer).
        source: Box<crate::Error>,
    },
    /// `resume` without a resume state.
    #[error("cannot resume: {reason} (train without resume to start afresh)")]
    ResumeMissing {
        /// What is missing.
        reason: String,
    },
    /// The resume state belongs to another model or run.
    #[error("cannot resume from {path}: {what} differs: this run has {expected}, the state has {found}")]
    ResumeMismatch {
        /// The state file.
        path: PathBuf,
        /// Which setting.
        what: &'static str,
        /// This run's value.
        expected: String,
        /// The state's value.
        found: String,
    },
    /// The resume state is not one this trainer wrote.
    #[error("cannot resume: {path} is not a valid training state: {reason}")]
    ResumeCorrupt {
        /// The state file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The stop flag was raised; the state file (if any) holds the last completed epoch.
    #[error("training interrupted in epoch {epoch}; {}", match .state {
        Some(p) => format!("resume from {}", p.display()),
        None => "no epoch had finished, so nothing was saved to resume from: run it again".to_string(),
    })]
    Interrupted {
        /// 1-based epoch in progress.
        epoch: usize,
        /// The resume state holding the last completed epoch (`None`: none was written, as
        /// when the run stopped in its first epoch or had no checkpoint).
        state: Option<PathBuf>,
    },
    /// The compute device failed (e.g. CUDA initialisation).
    #[error("device: {0}")]
    Device(String),
}

fn kept_text(checkpoint: &Option<PathBuf>, epoch: &Option<usize>) -> String {
    match (checkpoint, epoch) {
        (Some(p), Some(e)) => format!("the last good checkpoint (epoch {e}) is kept at {}", p.display()),
        (Some(p), None) => format!("no checkpoint of this run was written to {} yet", p.display()),
        (None, _) => "no checkpoint was configured".to_string(),
    }
}

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
    /// A key given twice in the label-window JSON (a JSON reader keeps only the last).
    #[error("{path}, line {line}, column {column}: key \"{key}\" appears twice in the label windows (only one list per file): merge its windows into one list")]
    DuplicateKey {
        /// The JSON file.
        path: PathBuf,
        /// The key.
        key: String,
        /// 1-based line of its second occurrence.
        line: usize,
        /// 1-based column (just after the key).
        column: usize,
    },
    /// A timestamp that is not `YYYY-MM-DD HH:MM:SS[.fraction]`.
    #[error("{path}, {at}: expected a timestamp `YYYY-MM-DD HH:MM:SS[.ffffff]`, found `{found}`")]
    BadTimestamp {
        /// The file holding it (JSON or CSV).
        path: PathBuf,
        /// Where (`key "a.csv", window 1, start`, `line 17, column 1 `timestamp``).
        at: String,
        /// The text.
        found: String,
    },
    /// A label window of an evaluated file that labels none of its rows.
    #[error("{json}: key \"{key}\", window {window} labels no row of {file}: {why} (wrong key, dates or time zone?)")]
    WindowLabelsNoRow {
        /// The JSON file.
        json: PathBuf,
        /// The key naming the file.
        key: String,
        /// 1-based number of the window in the key's list.
        window: usize,
        /// The data file.
        file: PathBuf,
        /// The window and where it lies against the rows (`[a, b] starts after the last
        /// row's time, c`).
        why: String,
    },
    /// Timestamps that go back in time across a label window: the rows cannot be matched to
    /// the window as one stretch.
    #[error("{path}, {at}: time goes back from {previous} to `{found}`, across {window}: rows are matched to label windows by time, which needs the timestamps in increasing order around every window")]
    TimestampsOutOfOrder {
        /// The data file.
        path: PathBuf,
        /// Where the earlier time is (`line 17, column 1 `timestamp``).
        at: String,
        /// Its text.
        found: String,
        /// The later time just before it, and its line (`` `2020-01-01 00:05:10` (line 16) ``).
        previous: Box<str>,
        /// The window (`window 1 [a, b] of key "x.csv" in w.json`).
        window: Box<str>,
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
    /// A score CSV (`vae-train score --out`, `eval --scores`) that is not readable CSV: bad
    /// quoting, not UTF-8, or no header line.
    #[error("{path}, line {line}: not a readable score CSV: {why}")]
    ScoresSyntax {
        /// The score file.
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// What is wrong.
        why: String,
    },
    /// A score CSV whose header lacks a column every score file has.
    #[error("{path}, line 1: no column `{column}` in the header, which has {header}; a score file has the columns file, window, start_row, score, anomalous, top_channel (then nll_<channel>... and smoothed_score), as `vae-train score --out` writes them")]
    ScoresMissingColumn {
        /// The score file.
        path: PathBuf,
        /// The missing column.
        column: &'static str,
        /// The columns found (shortened).
        header: String,
    },
    /// A cell of a score CSV that does not hold what its column needs.
    #[error("{path}, line {line}, column {number} `{column}`: expected {expected}, found `{found}`")]
    ScoresCell {
        /// The score file.
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// 1-based field number.
        number: usize,
        /// The column's name.
        column: String,
        /// What the column holds.
        expected: String,
        /// The cell (shortened).
        found: String,
    },
    /// A line of a score CSV with more or fewer fields than the header has columns.
    #[error("{path}, line {line}: {found} fields, expected {expected} as in the header ({at})")]
    ScoresFields {
        /// The score file.
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// Columns of the header.
        expected: usize,
        /// Fields of the line.
        found: usize,
        /// Where it goes wrong (`no cell for column 7 `nll_x``, `field 9 is past the last column `smoothed_score``).
        at: String,
    },
    /// A score file whose per-channel columns name other channels than the model's.
    #[error("{path}: per-channel columns for {found}, but the model's channels are {expected}: the scores come from another model")]
    ScoresChannels {
        /// The score file.
        path: PathBuf,
        /// The model's channels.
        expected: String,
        /// The file's `nll_` columns, without the prefix.
        found: String,
    },
    /// A window of the evaluated recordings with no row in the score file.
    #[error("{path} has no row for window at start_row {start_row} of {recording} (file names in it: {files}): the scores must come from the same recording with the model's window and hop")]
    ScoresMissingWindow {
        /// The score file.
        path: PathBuf,
        /// The recording evaluated.
        recording: PathBuf,
        /// The window's first row in the recording's file (0-based data row).
        start_row: u64,
        /// Some of the `file` values the score file holds.
        files: String,
    },
    /// Two rows of a score file for the same window.
    #[error("{path}, line {line}: a second row for {file}, start_row {start_row} (the first is on line {first_line}): one row per window")]
    ScoresDuplicateRow {
        /// The score file.
        path: PathBuf,
        /// 1-based line of the second row.
        line: usize,
        /// 1-based line of the first.
        first_line: usize,
        /// Its `file` cell.
        file: String,
        /// Its `start_row`.
        start_row: u64,
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
