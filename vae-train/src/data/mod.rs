//! Sensor data in: CSV and NumPy readers, row ranges, windows, the train/validation split and
//! the normalisation statistics.
//!
//! (Being filled in: see the module's issue. The types below are the interface the trainer
//! and the CLI use.)

use std::path::PathBuf;

/// A data error with its location.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DataError {
    /// Placeholder until the readers land.
    #[error("{path}: {message}")]
    Other {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
}

/// One recording: a file (or a row range of it), row-major `rows x channels`.
#[derive(Clone, Debug, PartialEq)]
pub struct Recording {
    /// Where it came from.
    pub path: PathBuf,
    /// Channel names, in column order.
    pub channels: Vec<String>,
    /// Row-major samples, `rows * channels.len()` values.
    pub values: Vec<f32>,
    /// Index in the file of the first row kept (after `--rows`).
    pub first_row: usize,
}

impl Recording {
    /// Number of rows (samples in time).
    pub fn rows(&self) -> usize {
        self.values.len() / self.channels.len().max(1)
    }
}
