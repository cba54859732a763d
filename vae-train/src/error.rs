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
    Eval(#[from] crate::eval::EvalError),
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
