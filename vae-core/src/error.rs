//! The crate's error type.

use core::fmt;

/// Everything that can go wrong in `vae-core`. Each variant says what was expected and what
/// was found, so a message names the problem without a debugger.
#[derive(Clone, Copy, Debug, PartialEq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum Error {
    /// A window hop of 0 would never emit a window.
    ZeroHop,
    /// A window length of 0 holds no data.
    ZeroWindow,
    /// A normalisation standard deviation must be finite and positive.
    InvalidStd {
        /// Channel index.
        channel: usize,
        /// The value found.
        found: f32,
    },
    /// A normalisation mean must be finite.
    InvalidMean {
        /// Channel index.
        channel: usize,
        /// The value found.
        found: f32,
    },
    /// A sampled score needs at least one sample.
    ZeroSamples,
    /// A model parameter is NaN or infinite, or (a decoder log-variance) so extreme that its
    /// precision exp(-s) overflows.
    InvalidParameter {
        /// Which tensor.
        tensor: &'static str,
        /// Flat index inside it.
        index: usize,
        /// The value found.
        found: f32,
    },
    /// A buffer or tensor has the wrong length.
    Length {
        /// What the length is of.
        what: &'static str,
        /// The length required.
        expected: usize,
        /// The length given.
        found: usize,
    },
    /// The input width is not a whole number of channels.
    Channels {
        /// Input width X.
        inputs: usize,
        /// Channel count C.
        channels: usize,
    },
    /// A threshold must be finite.
    InvalidThreshold {
        /// The value found.
        found: f32,
    },
    /// A quantile must lie in [0, 1].
    InvalidQuantile {
        /// The value found.
        found: f32,
    },
    /// A quantile of no scores (or of scores that are all NaN) is undefined.
    NoScores,
    /// Consecutive layers do not fit together.
    LayerMismatch {
        /// Index of the layer whose input is wrong.
        layer: usize,
        /// The previous layer's output width.
        expected: usize,
        /// This layer's input width.
        found: usize,
    },
    /// A hidden stack must have between 1 and `max` layers.
    LayerCount {
        /// The maximum.
        max: usize,
        /// The number given.
        found: usize,
    },
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Error::ZeroHop => write!(f, "window hop must be at least 1 sample"),
            Error::ZeroWindow => write!(f, "window length must be at least 1 sample"),
            Error::InvalidStd { channel, found } => write!(
                f,
                "normalisation std of channel {channel} must be finite and > 0, found {found}"
            ),
            Error::InvalidMean { channel, found } => write!(
                f,
                "normalisation mean of channel {channel} must be finite, found {found}"
            ),
            Error::ZeroSamples => write!(f, "a sampled score needs at least 1 sample (K >= 1)"),
            Error::InvalidParameter {
                tensor,
                index,
                found,
            } => write!(f, "parameter {tensor}[{index}] is unusable: {found}"),
            Error::Length {
                what,
                expected,
                found,
            } => write!(f, "{what}: expected length {expected}, found {found}"),
            Error::Channels { inputs, channels } => write!(
                f,
                "input width {inputs} is not a whole number of windows of {channels} channels"
            ),
            Error::InvalidThreshold { found } => {
                write!(f, "threshold must be finite, found {found}")
            }
            Error::InvalidQuantile { found } => {
                write!(f, "quantile must lie in [0, 1], found {found}")
            }
            Error::NoScores => write!(f, "no finite scores to take a quantile of"),
            Error::LayerMismatch {
                layer,
                expected,
                found,
            } => write!(
                f,
                "layer {layer} takes {found} inputs but the layer before it gives {expected}"
            ),
            Error::LayerCount { max, found } => {
                write!(f, "{found} hidden layers given, 1 to {max} supported")
            }
        }
    }
}

impl core::error::Error for Error {}
