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
    /// Bad command-line usage that clap cannot catch.
    #[error("{0}")]
    Usage(String),
}

impl Error {
    /// An I/O error on `path`.
    pub fn io(path: &Path, source: std::io::Error) -> Self {
        Error::Io { path: path.to_path_buf(), source }
    }

    /// Attaches a file name to a core error.
    pub fn in_file(self, path: &Path) -> Self {
        match self {
            Error::Core(source) => Error::ModelFile { path: path.to_path_buf(), source },
            other => other,
        }
    }
}
