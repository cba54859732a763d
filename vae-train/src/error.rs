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
    Train(#[from] crate::train::TrainError),
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
            Error::Train(crate::train::TrainError::Interrupted { .. }) => 130,
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
