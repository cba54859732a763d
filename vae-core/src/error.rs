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
    /// An alarm rule field is out of range (a margin must be finite and at least 0, the
    /// guard not NaN).
    InvalidAlarm {
        /// Which field.
        field: &'static str,
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
    /// A model file ends before a field it must hold.
    Truncated {
        /// Bytes needed to read the field.
        needed: usize,
        /// Bytes present.
        found: usize,
    },
    /// Not a model file: the first four bytes are not `VAEM`.
    BadMagic {
        /// The bytes found.
        found: [u8; 4],
    },
    /// A model file of a format version this build does not read.
    UnsupportedVersion {
        /// The file's version.
        found: u16,
        /// The version this build reads.
        supported: u16,
    },
    /// The length stored in a model file differs from the file's actual length (truncated
    /// or with bytes appended).
    LengthMismatch {
        /// Length stored in the header.
        declared: usize,
        /// Length of the bytes given.
        actual: usize,
    },
    /// The CRC-32 stored at the end of a model file does not match its contents.
    Checksum {
        /// CRC stored in the file.
        stored: u32,
        /// CRC computed over the file.
        computed: u32,
    },
    /// A header field holds a value outside its range.
    InvalidField {
        /// The field.
        field: &'static str,
        /// Its value.
        found: u64,
    },
    /// A layer descriptor holds an invalid value.
    InvalidLayer {
        /// Layer index (file order).
        layer: usize,
        /// The field of the descriptor.
        field: &'static str,
        /// Its value.
        found: u64,
    },
    /// Two sizes that must agree do not.
    SizeMismatch {
        /// What the size is of.
        what: &'static str,
        /// The size required.
        expected: usize,
        /// The size found.
        found: usize,
    },
    /// A layer of the model file has another shape than the compiled model expects.
    LayerShape {
        /// Layer index (file order).
        layer: usize,
        /// Inputs the code expects.
        expected_inputs: usize,
        /// Outputs the code expects.
        expected_outputs: usize,
        /// Inputs in the file.
        found_inputs: usize,
        /// Outputs in the file.
        found_outputs: usize,
    },
    /// A layer index past the model's layers.
    LayerIndex {
        /// The index.
        layer: usize,
    },
    /// A weight or bias of a model file is NaN or infinite.
    InvalidTensor {
        /// Which part of the model (a byte rather than a name: on a device, a name per part
        /// costs flash).
        part: crate::model_file::Part,
        /// Layer index (file order).
        layer: usize,
        /// `weight` or `bias`.
        tensor: &'static str,
        /// Flat index inside the tensor.
        index: usize,
        /// The value.
        found: f32,
    },
    /// Model-file bytes must start at a 4-byte aligned address for zero-copy f32 access
    /// (see `model_file::Aligned`).
    Misaligned {
        /// The address of the parameter data.
        address: usize,
    },
    /// The zero-copy reader needs a little-endian target.
    UnsupportedTarget,
}

/// Which [`Error`] a value is, without its fields: what a device logs when it refuses its
/// model (`defmt` writes it as one byte, where the fields of every variant cost the 64-32-8
/// nRF52840 image 824 B of flash). The firmware's model passed the same checks at build time
/// (`vae-build`), so a refusal on the device is rare (a flash that changed: `Checksum`);
/// `vae-train inspect` on the file gives the whole message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum ErrorKind {
    /// [`Error::ZeroHop`].
    ZeroHop,
    /// [`Error::ZeroWindow`].
    ZeroWindow,
    /// [`Error::InvalidStd`].
    InvalidStd,
    /// [`Error::InvalidMean`].
    InvalidMean,
    /// [`Error::ZeroSamples`].
    ZeroSamples,
    /// [`Error::InvalidParameter`].
    InvalidParameter,
    /// [`Error::Length`].
    Length,
    /// [`Error::Channels`].
    Channels,
    /// [`Error::InvalidThreshold`].
    InvalidThreshold,
    /// [`Error::InvalidAlarm`].
    InvalidAlarm,
    /// [`Error::InvalidQuantile`].
    InvalidQuantile,
    /// [`Error::NoScores`].
    NoScores,
    /// [`Error::LayerMismatch`].
    LayerMismatch,
    /// [`Error::LayerCount`].
    LayerCount,
    /// [`Error::Truncated`].
    Truncated,
    /// [`Error::BadMagic`].
    BadMagic,
    /// [`Error::UnsupportedVersion`].
    UnsupportedVersion,
    /// [`Error::LengthMismatch`].
    LengthMismatch,
    /// [`Error::Checksum`].
    Checksum,
    /// [`Error::InvalidField`].
    InvalidField,
    /// [`Error::InvalidLayer`].
    InvalidLayer,
    /// [`Error::SizeMismatch`].
    SizeMismatch,
    /// [`Error::LayerShape`].
    LayerShape,
    /// [`Error::LayerIndex`].
    LayerIndex,
    /// [`Error::InvalidTensor`].
    InvalidTensor,
    /// [`Error::Misaligned`].
    Misaligned,
    /// [`Error::UnsupportedTarget`].
    UnsupportedTarget,
}

impl Error {
    /// Which error this is.
    pub const fn kind(&self) -> ErrorKind {
        match self {
            Error::ZeroHop => ErrorKind::ZeroHop,
            Error::ZeroWindow => ErrorKind::ZeroWindow,
            Error::InvalidStd { .. } => ErrorKind::InvalidStd,
            Error::InvalidMean { .. } => ErrorKind::InvalidMean,
            Error::ZeroSamples => ErrorKind::ZeroSamples,
            Error::InvalidParameter { .. } => ErrorKind::InvalidParameter,
            Error::Length { .. } => ErrorKind::Length,
            Error::Channels { .. } => ErrorKind::Channels,
            Error::InvalidThreshold { .. } => ErrorKind::InvalidThreshold,
            Error::InvalidAlarm { .. } => ErrorKind::InvalidAlarm,
            Error::InvalidQuantile { .. } => ErrorKind::InvalidQuantile,
            Error::NoScores => ErrorKind::NoScores,
            Error::LayerMismatch { .. } => ErrorKind::LayerMismatch,
            Error::LayerCount { .. } => ErrorKind::LayerCount,
            Error::Truncated { .. } => ErrorKind::Truncated,
            Error::BadMagic { .. } => ErrorKind::BadMagic,
            Error::UnsupportedVersion { .. } => ErrorKind::UnsupportedVersion,
            Error::LengthMismatch { .. } => ErrorKind::LengthMismatch,
            Error::Checksum { .. } => ErrorKind::Checksum,
            Error::InvalidField { .. } => ErrorKind::InvalidField,
            Error::InvalidLayer { .. } => ErrorKind::InvalidLayer,
            Error::SizeMismatch { .. } => ErrorKind::SizeMismatch,
            Error::LayerShape { .. } => ErrorKind::LayerShape,
            Error::LayerIndex { .. } => ErrorKind::LayerIndex,
            Error::InvalidTensor { .. } => ErrorKind::InvalidTensor,
            Error::Misaligned { .. } => ErrorKind::Misaligned,
            Error::UnsupportedTarget => ErrorKind::UnsupportedTarget,
        }
    }
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
            Error::InvalidAlarm { field, found } => {
                write!(f, "alarm rule: invalid {field} {found} (a margin is finite and >= 0, the guard not NaN)")
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
            Error::Truncated { needed, found } => {
                write!(f, "model file truncated: needs at least {needed} bytes, has {found}")
            }
            Error::BadMagic { found } => write!(
                f,
                "not a model file: starts with {found:02x?}, expected \"VAEM\" (56 41 45 4d)"
            ),
            Error::UnsupportedVersion { found, supported } => write!(
                f,
                "model file format version {found} is not supported (this build reads version {supported})"
            ),
            Error::LengthMismatch { declared, actual } => write!(
                f,
                "model file length mismatch: header says {declared} bytes, file has {actual}"
            ),
            Error::Checksum { stored, computed } => write!(
                f,
                "model file is corrupt: CRC-32 stored {stored:08x}, computed {computed:08x}"
            ),
            Error::InvalidField { field, found } => {
                write!(f, "model file field {field} has invalid value {found}")
            }
            Error::InvalidLayer {
                layer,
                field,
                found,
            } => write!(f, "layer {layer}: invalid {field} {found}"),
            Error::SizeMismatch {
                what,
                expected,
                found,
            } => write!(f, "{what}: expected {expected}, found {found}"),
            Error::LayerShape {
                layer,
                expected_inputs,
                expected_outputs,
                found_inputs,
                found_outputs,
            } => write!(
                f,
                "layer {layer}: expected {expected_inputs} -> {expected_outputs}, found {found_inputs} -> {found_outputs}"
            ),
            Error::LayerIndex { layer } => write!(f, "no layer {layer} in the model"),
            Error::InvalidTensor {
                part,
                layer,
                tensor,
                index,
                found,
            } => write!(f, "{} layer {layer} {tensor}[{index}] is {found}", part.name()),
            Error::Misaligned { address } => write!(
                f,
                "model bytes at {address:#x} are not 4-byte aligned (embed them with model_file::Aligned)"
            ),
            Error::UnsupportedTarget => {
                write!(f, "model files can only be read zero-copy on little-endian targets")
            }
        }
    }
}

impl core::error::Error for Error {}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use std::format;

    /// The kind is the variant (its `Debug` name).
    #[test]
    fn the_kind_names_the_variant() {
        let cases = [
            Error::ZeroHop,
            Error::InvalidStd { channel: 1, found: f32::NAN },
            Error::InvalidParameter { tensor: "decoder.log_var", index: 3, found: 1e30 },
            Error::Length { what: "window", expected: 4, found: 3 },
            Error::InvalidAlarm { field: "floor", found: -1.0 },
            Error::InvalidField { field: "threshold count", found: 0 },
            Error::InvalidLayer { layer: 0, field: "activation", found: 9 },
            Error::SizeMismatch { what: "transform", expected: 1, found: 2 },
            Error::Checksum { stored: 1, computed: 2 },
            Error::UnsupportedTarget,
        ];
        for e in cases {
            let (debug, kind) = (format!("{e:?}"), format!("{:?}", e.kind()));
            assert!(debug == kind || debug.starts_with(&format!("{kind} ")), "{debug} vs {kind}");
        }
    }
}
