//! The model file: one versioned, checksummed binary that carries everything the device
//! needs to score a window, from `vae-train` to the firmware. The layout is documented byte
//! by byte in `docs/model-format.md`.
//!
//! Reading is zero-copy and allocation-free: [`ModelFile::parse`] validates the whole file
//! (magic, version, length, CRC-32, every field, every parameter finite) and the models it
//! builds borrow their weights from the file's bytes, so a model embedded in flash costs no
//! RAM. The bytes must start at a 4-byte aligned address (see [`Aligned`]).
//!
//! Writing ([`write`](fn@write)) fills a caller's buffer and then parses what it wrote, so nothing is
//! written that the reader would refuse.

use crate::activation::Activation;
use crate::alarm::AlarmRule;
use crate::decoder::Decoder;
use crate::dense::{Chain, Dense, LayerShape, Layers};
use crate::dynamic::{DenseRef, DynLayers, DynVae, MAX_HIDDEN};
use crate::encoder::Encoder;
use crate::error::Error;
use crate::normalize::Normalizer;
use crate::score::{ScoreConfig, ScoreKind};
use crate::threshold::Threshold;
use crate::vae::Vae;
use crate::weights::{self, Encoding, Store};
use heapless::Vec;

/// First four bytes of every model file.
pub const MAGIC: [u8; 4] = *b"VAEM";
/// The format version this crate writes when the alarm rule has a spread floor (weights in
/// f32, f16 or int8 per layer); it also reads [`VERSION_COMPACT`], [`VERSION_ALARM`] and
/// [`VERSION_STATIC`] files.
pub const VERSION: u16 = 4;
/// The format version with f16/int8 weights and the alarm rule without a spread floor
/// ([`AlarmRule::floor`] 0); written for such rules with compact weights.
pub const VERSION_COMPACT: u16 = 3;
/// The format version with the alarm rule and f32 weights only.
pub const VERSION_ALARM: u16 = 2;
/// The first format version, without the alarm rule (its models decide by the static
/// threshold, [`AlarmRule::STATIC`]).
pub const VERSION_STATIC: u16 = 1;
/// Bytes of the alarm rule (format versions 2 and 3): learn `u16`, relearn after `u16`,
/// margin `f32`, guard `f32`; version 4 adds the spread floor `f32` ([`ALARM_LEN_FLOOR`]).
pub const ALARM_LEN: usize = 12;
/// Bytes of the alarm rule of format version 4: [`ALARM_LEN`] and the spread floor `f32`.
pub const ALARM_LEN_FLOOR: usize = 16;
/// Most calibrated thresholds a file holds.
pub const MAX_THRESHOLDS: usize = 8;
/// Most layers a file holds: both hidden stacks, two encoder heads, the output layer.
pub const MAX_LAYERS: usize = 2 * MAX_HIDDEN + 3;
/// Bytes of the fixed part of the header.
pub const FIXED_HEADER_LEN: usize = 52;
/// Bytes of one layer descriptor.
pub const LAYER_DESCRIPTOR_LEN: usize = 4;

/// A byte buffer aligned for zero-copy f32 access: embed a model with
/// `static MODEL: &Aligned<[u8]> = &Aligned(*include_bytes!("model.vaem"));`.
#[repr(C, align(4))]
pub struct Aligned<T: ?Sized>(pub T);

pub use crate::transform::{Features, Transform};

/// A threshold with the quantile of normal scores it was calibrated at.
#[derive(Clone, Copy, Debug, PartialEq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Calibration {
    /// The quantile (e.g. 0.995).
    pub quantile: f32,
    /// The threshold on the anomaly score.
    pub threshold: f32,
}

/// CRC-32 (IEEE 802.3, reflected, as zlib and PNG compute it). Four bits at a time with a
/// 64-byte table: a model is checked once at boot, and flash is scarcer than cycles there.
pub fn crc32(bytes: &[u8]) -> u32 {
    const TABLE: [u32; 16] = {
        let mut t = [0u32; 16];
        let mut i = 0;
        while i < 16 {
            let mut c = i as u32;
            let mut k = 0;
            while k < 4 {
                c = if c & 1 != 0 { 0xEDB8_8320 ^ (c >> 1) } else { c >> 1 };
                k += 1;
            }
            t[i] = c;
            i += 1;
        }
        t
    };
    let mut crc = !0u32;
    for &b in bytes {
        crc ^= u32::from(b);
        crc = TABLE[(crc & 0xF) as usize] ^ (crc >> 4);
        crc = TABLE[(crc & 0xF) as usize] ^ (crc >> 4);
    }
    !crc
}

/// Which part of the model a layer belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Part {
    /// Encoder hidden stack.
    Encoder,
    /// Encoder mean head.
    MuHead,
    /// Encoder log-variance head.
    LogVarHead,
    /// Decoder hidden stack.
    Decoder,
    /// Decoder output layer (the Gaussian mean).
    Output,
}

impl Part {
    /// Name used in messages and tensor names.
    pub const fn name(self) -> &'static str {
        match self {
            Part::Encoder => "encoder",
            Part::MuHead => "encoder.mu",
            Part::LogVarHead => "encoder.log_var",
            Part::Decoder => "decoder",
            Part::Output => "decoder.out",
        }
    }
}

/// The validated header of a model file.
#[derive(Clone, Debug)]
pub struct Header<'a> {
    /// Training seed.
    pub seed: u64,
    /// Network input width X.
    pub input_len: usize,
    /// Latent width Z.
    pub latent_len: usize,
    /// Input channels C.
    pub channels: usize,
    /// Window length W in samples.
    pub window: usize,
    /// Hop between windows in samples.
    pub hop: usize,
    /// The score the model was calibrated for.
    pub score: ScoreConfig,
    /// How a window becomes the input.
    pub transform: Transform,
    /// When a score becomes an alarm on the device ([`crate::alarm`]).
    pub alarm: AlarmRule,
    /// Free-text model name.
    pub name: &'a str,
    encoder_depth: usize,
    decoder_depth: usize,
    layers: Vec<LayerShape, MAX_LAYERS>,
    /// Two bits per layer: its weight encoding's code.
    encodings: u64,
    thresholds: Vec<Calibration, MAX_THRESHOLDS>,
    channel_names: &'a [u8],
    header_len: usize,
    param_count: usize,
}

impl<'a> Header<'a> {
    /// Every layer, in file order: encoder hidden stack, mean head, log-variance head,
    /// decoder hidden stack, output layer.
    pub fn layers(&self) -> &[LayerShape] {
        &self.layers
    }

    /// How layer `i`'s weights are stored ([`Encoding::F32`] for an index past the last).
    pub fn encoding(&self, i: usize) -> Encoding {
        if !weights::COMPACT_WEIGHTS {
            // A build without f16 and int8 read only f32 files: every offset folds.
            return Encoding::F32;
        }
        Encoding::from_code(((self.encodings >> (2 * i.min(31))) & 3) as u8).unwrap_or_default()
    }

    /// The encoding of every layer's weights when they share one, `None` when they differ.
    pub fn weights(&self) -> Option<Encoding> {
        let first = self.encoding(0);
        (0..self.layers.len()).all(|i| self.encoding(i) == first).then_some(first)
    }

    /// Layers of the encoder's hidden stack.
    pub const fn encoder_depth(&self) -> usize {
        self.encoder_depth
    }

    /// Layers of the decoder's hidden stack.
    pub const fn decoder_depth(&self) -> usize {
        self.decoder_depth
    }

    /// The part a layer (index into [`Header::layers`]) belongs to.
    pub const fn part(&self, layer: usize) -> Part {
        part_of(layer, self.encoder_depth, self.decoder_depth)
    }

    /// The calibrated thresholds, the first being the one decisions use.
    pub fn thresholds(&self) -> &[Calibration] {
        &self.thresholds
    }

    /// The decision threshold (the first calibration), if the model was calibrated.
    pub fn threshold(&self) -> Option<Threshold> {
        self.thresholds.first().and_then(|c| Threshold::new(c.threshold).ok())
    }

    /// Channel names, in input order.
    pub fn channel_names(&self) -> ChannelNames<'a> {
        ChannelNames { rest: self.channel_names }
    }

    /// Number of 4-byte parameter words (normalisation, weights as stored, scales, biases,
    /// log-variances).
    pub const fn param_count(&self) -> usize {
        self.param_count
    }

    /// Bytes of the header, up to the start of the parameters.
    pub const fn header_len(&self) -> usize {
        self.header_len
    }

    /// Multiply-accumulates of one deterministic score.
    pub fn macs(&self) -> usize {
        self.layers.iter().map(|l| l.inputs * l.outputs).sum()
    }

    /// Length of the whole file in bytes.
    pub const fn file_len(&self) -> usize {
        self.header_len + 4 * self.param_count + 4
    }
}

/// Iterator over the channel names of a header.
#[derive(Clone, Debug)]
pub struct ChannelNames<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for ChannelNames<'a> {
    type Item = &'a str;

    fn next(&mut self) -> Option<&'a str> {
        let (&len, rest) = self.rest.split_first()?;
        let (name, rest) = rest.split_at_checked(usize::from(len))?;
        self.rest = rest;
        // Validated as UTF-8 by the parser.
        crate::utf8::str_of(name)
    }
}

/// Little-endian reader over a byte slice that reports where it ran out.
struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], Error> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&e| e <= self.bytes.len())
            .ok_or(Error::Truncated { needed: self.pos.saturating_add(n), found: self.bytes.len() })?;
        let s = self.bytes.get(self.pos..end).unwrap_or(&[]);
        self.pos = end;
        Ok(s)
    }
    fn array<const N: usize>(&mut self) -> Result<[u8; N], Error> {
        let mut a = [0u8; N];
        for (d, s) in a.iter_mut().zip(self.take(N)?) {
            *d = *s;
        }
        Ok(a)
    }
    fn u8(&mut self) -> Result<u8, Error> {
        Ok(self.array::<1>()?[0])
    }
    fn u16(&mut self) -> Result<u16, Error> {
        Ok(u16::from_le_bytes(self.array()?))
    }
    fn u32(&mut self) -> Result<u32, Error> {
        Ok(u32::from_le_bytes(self.array()?))
    }
    fn u64(&mut self) -> Result<u64, Error> {
        Ok(u64::from_le_bytes(self.array()?))
    }
    fn f32(&mut self) -> Result<f32, Error> {
        Ok(f32::from_le_bytes(self.array()?))
    }
}

fn field(name: &'static str, value: u64) -> Error {
    Error::InvalidField { field: name, found: value }
}

/// A parsed, fully validated model file borrowing its bytes.
///
/// ```
/// use vae_core::{Aligned, Error, ModelFile};
///
/// static BYTES: &Aligned<[u8]> =
///     &Aligned(*include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/start-here.vaem")));
/// let file = ModelFile::parse(&BYTES.0)?;
/// let h = file.header();
/// assert_eq!((h.channels, h.window, h.hop, h.transform.smoothing), (2, 16, 4, 2));
/// assert!(h.threshold().is_some());
///
/// // One flipped bit anywhere is refused by the CRC, never half-loaded.
/// let mut bad = [0u32; 1024];
/// let bad = &mut bytemuck::cast_slice_mut::<u32, u8>(&mut bad)[..BYTES.0.len()];
/// bad.copy_from_slice(&BYTES.0);
/// bad[100] ^= 1;
/// assert!(matches!(ModelFile::parse(bad), Err(Error::Checksum { .. })));
/// # Ok::<(), vae_core::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct ModelFile<'a> {
    header: Header<'a>,
    params: &'a [f32],
    /// The same words as bytes, for the weights stored in f16 and int8.
    data: &'a [u8],
}

impl<'a> ModelFile<'a> {
    /// Validates `bytes` as a model file. Every failure is a typed [`Error`]; nothing is
    /// half-loaded.
    pub fn parse(bytes: &'a [u8]) -> Result<Self, Error> {
        if bytes.len() < FIXED_HEADER_LEN + 4 {
            return Err(Error::Truncated { needed: FIXED_HEADER_LEN + 4, found: bytes.len() });
        }
        let mut r = Reader { bytes, pos: 0 };
        let magic = r.array::<4>()?;
        if magic != MAGIC {
            return Err(Error::BadMagic { found: magic });
        }
        let version = r.u16()?;
        if !(VERSION_STATIC..=VERSION).contains(&version) {
            return Err(Error::UnsupportedVersion { found: version, supported: VERSION });
        }
        let header_len = usize::from(r.u16()?);
        let file_len = r.u32()? as usize;
        if file_len != bytes.len() {
            return Err(Error::LengthMismatch { declared: file_len, actual: bytes.len() });
        }
        let Some((body, crc_bytes)) = bytes.split_last_chunk::<4>() else {
            return Err(Error::Truncated { needed: 4, found: bytes.len() });
        };
        let stored = u32::from_le_bytes(*crc_bytes);
        let computed = crc32(body);
        if stored != computed {
            return Err(Error::Checksum { stored, computed });
        }

        let param_count = r.u32()? as usize;
        let seed = r.u64()?;
        let input_len = usize::from(r.u16()?);
        let latent_len = usize::from(r.u16()?);
        let channels = usize::from(r.u16()?);
        let window = usize::from(r.u16()?);
        let hop = usize::from(r.u16()?);
        let samples = r.u16()?;
        let kind_code = r.u8()?;
        let transform_code = r.u8()?;
        let encoder_depth = usize::from(r.u8()?);
        let decoder_depth = usize::from(r.u8()?);
        let threshold_count = usize::from(r.u8()?);
        let name_len = usize::from(r.u8()?);
        let smoothing = r.u16()?;
        let wandering = r.u64()?;

        let kind = ScoreKind::from_code(kind_code).ok_or(field("score kind", kind_code.into()))?;
        let score = ScoreConfig::new(kind, samples).map_err(|_| field("score samples", samples.into()))?;
        // One meaning per file: a deterministic score draws no sample.
        if !kind.is_sampled() && samples != 1 {
            return Err(field("score samples (deterministic score)", samples.into()));
        }
        let features =
            Features::from_code(transform_code).ok_or(field("transform", transform_code.into()))?;
        let transform = Transform { features, wandering, smoothing };
        if channels == 0 {
            return Err(field("channels", 0));
        }
        if window == 0 {
            return Err(field("window", 0));
        }
        if hop == 0 {
            return Err(field("hop", 0));
        }
        if latent_len == 0 {
            return Err(field("latent width", 0));
        }
        transform.check(window, channels)?;
        let want_x = transform.input_len(window, channels);
        if input_len != want_x {
            return Err(Error::SizeMismatch {
                what: "input width (transform rows x channels)",
                expected: want_x,
                found: input_len,
            });
        }
        for depth in [encoder_depth, decoder_depth] {
            if depth == 0 || depth > MAX_HIDDEN {
                return Err(Error::LayerCount { max: MAX_HIDDEN, found: depth });
            }
        }
        if threshold_count > MAX_THRESHOLDS {
            return Err(field("threshold count", threshold_count as u64));
        }

        // Layer descriptors, checked to chain X -> ... -> Z -> ... -> X.
        let layer_count = encoder_depth + 2 + decoder_depth + 1;
        let mut layers: Vec<LayerShape, MAX_LAYERS> = Vec::new();
        let mut encodings = 0u64;
        let mut width = input_len;
        // Checked sums: on a 32-bit device a crafted file must not wrap the count around to
        // the one it declares and send the parameter check through billions of values.
        let too_many = || field("parameter count", u64::MAX);
        let mut expected_params =
            channels.checked_mul(2).and_then(|v| v.checked_add(input_len)).ok_or_else(too_many)?;
        for i in 0..layer_count {
            let outputs = usize::from(r.u16()?);
            let act_code = r.u8()?;
            let enc_code = r.u8()?;
            let activation = Activation::from_code(act_code).ok_or(Error::InvalidLayer {
                layer: i,
                field: "activation",
                found: act_code.into(),
            })?;
            // The weight encoding (format 3; a reserved zero before).
            let encoding = match Encoding::from_code(enc_code) {
                // Without the compact-weights feature only f32 is read (a constant: the
                // offsets below fold to those of f32 files).
                _ if !weights::COMPACT_WEIGHTS && enc_code == 0 => Encoding::F32,
                Some(e) if weights::COMPACT_WEIGHTS && (e == Encoding::F32 || version >= VERSION_COMPACT) => {
                    e
                }
                _ => {
                    return Err(Error::InvalidLayer {
                        layer: i,
                        field: "weight encoding",
                        found: enc_code.into(),
                    })
                }
            };
            if outputs == 0 {
                return Err(Error::InvalidLayer { layer: i, field: "outputs", found: 0 });
            }
            // Hidden layers read the previous width; both heads read the last encoder
            // hidden layer; the decoder starts from the latent width.
            let part = part_of(i, encoder_depth, decoder_depth);
            let inputs = width;
            let required = match part {
                Part::MuHead | Part::LogVarHead => Some(latent_len),
                Part::Output => Some(input_len),
                Part::Encoder | Part::Decoder => None,
            };
            if let Some(req) = required {
                if outputs != req {
                    return Err(Error::SizeMismatch { what: part.name(), expected: req, found: outputs });
                }
            }
            width = match part {
                Part::MuHead => width,
                Part::LogVarHead => latent_len,
                _ => outputs,
            };
            expected_params = inputs
                .checked_mul(outputs)
                .map(|_| encoding.words(inputs, outputs))
                .and_then(|v| v.checked_add(outputs))
                .and_then(|v| v.checked_add(expected_params))
                .ok_or_else(too_many)?;
            layers
                .push(LayerShape { inputs, outputs, activation })
                .map_err(|_| field("layer count", layer_count as u64))?;
            encodings |= u64::from(encoding.code()) << (2 * i);
        }

        let mut thresholds: Vec<Calibration, MAX_THRESHOLDS> = Vec::new();
        for _ in 0..threshold_count {
            let quantile = r.f32()?;
            let threshold = r.f32()?;
            if !(0.0..=1.0).contains(&quantile) {
                return Err(Error::InvalidQuantile { found: quantile });
            }
            if !threshold.is_finite() {
                return Err(Error::InvalidThreshold { found: threshold });
            }
            thresholds
                .push(Calibration { quantile, threshold })
                .map_err(|_| field("threshold count", threshold_count as u64))?;
        }
        let alarm = if version == VERSION_STATIC {
            AlarmRule::STATIC
        } else {
            let (learn, relearn_after, margin, guard) = (r.u16()?, r.u16()?, r.f32()?, r.f32()?);
            let floor = if version >= VERSION { r.f32()? } else { 0.0 };
            let rule = AlarmRule { learn, relearn_after, margin, guard, floor };
            rule.check()?;
            if rule.learns() && thresholds.is_empty() {
                return Err(field("threshold count (an alarm rule needs a calibration)", 0));
            }
            rule
        };
        let name = crate::utf8::str_of(r.take(name_len)?)
            .ok_or_else(|| field("model name (UTF-8)", name_len as u64))?;
        let names_start = r.pos;
        for c in 0..channels {
            let len = usize::from(r.u8()?);
            crate::utf8::str_of(r.take(len)?).ok_or_else(|| field("channel name (UTF-8)", c as u64))?;
        }
        let channel_names = bytes.get(names_start..r.pos).unwrap_or(&[]);
        let padded = r.pos.div_ceil(4) * 4;
        if header_len != padded {
            return Err(Error::SizeMismatch { what: "header length", expected: padded, found: header_len });
        }
        for &b in r.take(padded - r.pos)? {
            if b != 0 {
                return Err(field("header padding", b.into()));
            }
        }
        if param_count != expected_params {
            return Err(Error::SizeMismatch {
                what: "parameter count",
                expected: expected_params,
                found: param_count,
            });
        }
        let data_len = param_count.checked_mul(4).ok_or(field("parameter count", param_count as u64))?;
        let total = data_len.checked_add(header_len + 4).ok_or_else(too_many)?;
        if total != bytes.len() {
            return Err(Error::SizeMismatch { what: "file length", expected: total, found: bytes.len() });
        }
        let data = bytes.get(header_len..header_len + data_len).unwrap_or(&[]);
        let header = Header {
            seed,
            input_len,
            latent_len,
            channels,
            window,
            hop,
            score,
            transform,
            alarm,
            name,
            encoder_depth,
            decoder_depth,
            layers,
            encodings,
            thresholds,
            channel_names,
            header_len,
            param_count,
        };
        check_params(&header, data)?;
        if cfg!(target_endian = "big") {
            return Err(Error::UnsupportedTarget);
        }
        let params: &[f32] = bytemuck::try_cast_slice(data)
            .map_err(|_| Error::Misaligned { address: data.as_ptr() as usize })?;
        Ok(Self { header, params, data })
    }

    /// The header.
    pub const fn header(&self) -> &Header<'a> {
        &self.header
    }

    /// All parameter words, in file order, viewed as f32 (the words of f16 and int8 weights
    /// are not f32 values: read them with [`ModelFile::layer_params`]).
    pub const fn params(&self) -> &'a [f32] {
        self.params
    }

    fn slice(&self, start: usize, len: usize) -> &'a [f32] {
        self.params.get(start..start + len).unwrap_or(&[])
    }

    /// Per-channel normalisation means.
    pub fn norm_mean(&self) -> &'a [f32] {
        self.slice(0, self.header.channels)
    }

    /// Per-channel normalisation standard deviations.
    pub fn norm_std(&self) -> &'a [f32] {
        self.slice(self.header.channels, self.header.channels)
    }

    /// The word offset of layer `i`'s weights.
    fn layer_offset(&self, i: usize) -> usize {
        let h = &self.header;
        let mut off = 2 * h.channels;
        for (k, l) in h.layers.iter().enumerate().take(i) {
            off += h.encoding(k).words(l.inputs, l.outputs) + l.outputs;
        }
        off
    }

    /// Weights (as stored, row-major, outputs x inputs) and bias of layer `i` of
    /// [`Header::layers`].
    pub fn layer_params(&self, i: usize) -> (LayerWeights<'a>, &'a [f32]) {
        let Some(l) = self.header.layers.get(i) else { return (LayerWeights::F32(&[]), &[]) };
        let (off, n, enc) = (self.layer_offset(i), l.inputs * l.outputs, self.header.encoding(i));
        let words = enc.words(l.inputs, l.outputs);
        let bytes = |len: usize| self.data.get(4 * off..4 * off + len).unwrap_or(&[]);
        let weights = match enc {
            Encoding::F32 => LayerWeights::F32(self.slice(off, n)),
            Encoding::F16 => LayerWeights::F16(bytemuck::try_cast_slice(bytes(2 * n)).unwrap_or(&[])),
            Encoding::Int8 => LayerWeights::Int8 {
                q: bytemuck::cast_slice(bytes(n)),
                scale: self.slice(off + words - l.outputs, l.outputs),
            },
        };
        (weights, self.slice(off + words, l.outputs))
    }

    /// The decoder's per-dimension log-variances.
    pub fn decoder_log_var(&self) -> &'a [f32] {
        let x = self.header.input_len;
        self.slice(self.params.len().saturating_sub(x), x)
    }

    /// Layer `i` as a run-time-sized dense layer; f32 weights only (a host dequantises
    /// others with [`LayerWeights::weight`]).
    pub fn dense_ref(&self, i: usize) -> Result<DenseRef<'a>, Error> {
        let l = self.header.layers.get(i).ok_or(Error::LayerIndex { layer: i })?;
        match self.layer_params(i) {
            (LayerWeights::F32(w), b) => DenseRef::new(w, b, l.inputs, l.activation),
            (w, _) => Err(Error::InvalidLayer {
                layer: i,
                field: "weight encoding (run-time sizes read f32 only)",
                found: w.encoding().code().into(),
            }),
        }
    }

    /// The layers as run-time-sized dense layers.
    pub fn layers(&self) -> Result<ModelLayers<'a>, Error> {
        let e = self.header.encoder_depth;
        let d = self.header.decoder_depth;
        let mut encoder = Vec::new();
        let mut decoder = Vec::new();
        for i in 0..e {
            encoder.push(self.dense_ref(i)?).map_err(|_| Error::LayerCount { max: MAX_HIDDEN, found: e })?;
        }
        for i in e + 2..e + 2 + d {
            decoder.push(self.dense_ref(i)?).map_err(|_| Error::LayerCount { max: MAX_HIDDEN, found: d })?;
        }
        Ok(ModelLayers {
            encoder,
            mu: self.dense_ref(e)?,
            log_var: self.dense_ref(e + 1)?,
            decoder,
            mean: self.dense_ref(e + 2 + d)?,
        })
    }

    /// The model with run-time sizes; `precision` must hold X floats.
    pub fn dyn_vae(&self, precision: &'a mut [f32]) -> Result<DynVae<'a>, Error> {
        let layers = self.layers()?;
        DynVae::new(layers.as_dyn(), self.decoder_log_var(), precision)
    }

    /// The model with compile-time sizes. Fails with an error naming expected and found
    /// sizes when the file's shapes differ from the type's.
    #[allow(clippy::type_complexity)]
    pub fn vae<EB, DB, const X: usize, const HE: usize, const Z: usize, const HD: usize>(
        &self,
    ) -> Result<Vae<'a, EB, DB, X, HE, Z, HD>, Error>
    where
        EB: LoadLayers<'a> + Layers<X, HE>,
        DB: LoadLayers<'a> + Layers<Z, HD>,
    {
        self.encoded_vae()
    }

    /// [`ModelFile::vae`] for weights stored as `S` (the heads' and output layer's; the
    /// hidden stacks' are in their types): fails, naming the layer, when the file stores
    /// them otherwise.
    #[allow(clippy::type_complexity)]
    pub fn encoded_vae<EB, DB, const X: usize, const HE: usize, const Z: usize, const HD: usize, S: Store>(
        &self,
    ) -> Result<Vae<'a, EB, DB, X, HE, Z, HD, S>, Error>
    where
        EB: LoadLayers<'a> + Layers<X, HE>,
        DB: LoadLayers<'a> + Layers<Z, HD>,
    {
        let h = &self.header;
        if h.input_len != X {
            return Err(Error::SizeMismatch { what: "input width X", expected: X, found: h.input_len });
        }
        if h.latent_len != Z {
            return Err(Error::SizeMismatch { what: "latent width Z", expected: Z, found: h.latent_len });
        }
        for (depth, want, what) in [
            (h.encoder_depth, EB::DEPTH, "encoder hidden layers"),
            (h.decoder_depth, DB::DEPTH, "decoder hidden layers"),
        ] {
            if depth != want {
                return Err(Error::SizeMismatch { what, expected: want, found: depth });
            }
        }
        let mut cursor = LayerCursor { file: self, next: 0, off: 2 * h.channels };
        let body = EB::load(&mut cursor)?;
        let mu = Dense::load(&mut cursor)?;
        let log_var = Dense::load(&mut cursor)?;
        let dec_body = DB::load(&mut cursor)?;
        let mean = Dense::load(&mut cursor)?;
        let log_var_x: &'a [f32; X] = self.decoder_log_var().try_into().map_err(|_| Error::SizeMismatch {
            what: "decoder log-variance",
            expected: X,
            found: self.decoder_log_var().len(),
        })?;
        let decoder = Decoder::new(dec_body, mean, log_var_x)?;
        Ok(Vae::new(Encoder::new(body, mu, log_var), decoder))
    }

    /// The normalisation for `C` channels.
    pub fn normalizer<const C: usize>(&self) -> Result<Normalizer<C>, Error> {
        let wrong = |found| Error::SizeMismatch { what: "channels", expected: C, found };
        let mean: [f32; C] = self.norm_mean().try_into().map_err(|_| wrong(self.header.channels))?;
        let std: [f32; C] = self.norm_std().try_into().map_err(|_| wrong(self.header.channels))?;
        Normalizer::new(mean, std)
    }
}

/// The part layer `i` belongs to, for `e` encoder and `d` decoder hidden layers.
const fn part_of(i: usize, e: usize, d: usize) -> Part {
    if i < e {
        Part::Encoder
    } else if i == e {
        Part::MuHead
    } else if i == e + 1 {
        Part::LogVarHead
    } else if i < e + 2 + d {
        Part::Decoder
    } else {
        Part::Output
    }
}

/// Checks every parameter from the raw little-endian bytes (before any zero-copy view, so
/// an unaligned buffer is still fully validated): every f32 word finite (weights, int8
/// scales, biases; scales also not negative), no f16 weight infinite or NaN, stds positive,
/// decoder log-variances usable.
fn check_params(h: &Header<'_>, data: &[u8]) -> Result<(), Error> {
    let value = |i: usize| -> f32 {
        let mut b = [0u8; 4];
        if let Some(src) = data.get(4 * i..4 * i + 4) {
            b.copy_from_slice(src);
        }
        f32::from_le_bytes(b)
    };
    let c = h.channels;
    for ch in 0..c {
        let (m, s) = (value(ch), value(c + ch));
        if !m.is_finite() {
            return Err(Error::InvalidMean { channel: ch, found: m });
        }
        if !(s.is_finite() && s > 0.0) {
            return Err(Error::InvalidStd { channel: ch, found: s });
        }
    }
    let mut off = 2 * c;
    for (layer, l) in h.layers.iter().enumerate() {
        let enc = h.encoding(layer);
        let words = enc.words(l.inputs, l.outputs);
        // Words of the matrix that are not f32 (f16 pairs, int8 quadruples).
        let packed = match enc {
            Encoding::F32 => 0,
            Encoding::F16 => words,
            Encoding::Int8 => words - l.outputs,
        };
        if enc == Encoding::F16 {
            let half = |k: usize| {
                data.get(4 * off + 2 * k..4 * off + 2 * k + 2).map_or(0, |b| u16::from_le_bytes([b[0], b[1]]))
            };
            if let Some(k) = (0..l.inputs * l.outputs).find(|&k| half(k) & 0x7c00 == 0x7c00) {
                return Err(bad_tensor(h, layer, Encoding::F32, k, weights::f16_to_f32(half(k))));
            }
        }
        // The padding after an f16 or int8 matrix is zero, as the reserved bytes elsewhere
        // (a future version may give it a meaning that this reader must refuse).
        if enc != Encoding::F32 {
            let size = if enc == Encoding::F16 { 2 } else { 1 };
            let pad = data.get(4 * off + size * l.inputs * l.outputs..4 * (off + packed)).unwrap_or(&[]);
            if let Some(&b) = pad.iter().find(|&&b| b != 0) {
                return Err(Error::InvalidLayer { layer, field: "weight padding", found: b.into() });
            }
        }
        // Every f32 word of the layer (f32 weights, int8 scales, biases) in one pass; the
        // tensor holding a bad one is worked out only then.
        let scales = if enc == Encoding::Int8 { off + packed..off + words } else { 0..0 };
        // A scale above f32::MAX / 128 would make some weight s * q infinite.
        let bad = |w: usize| {
            !value(w).is_finite() || (scales.contains(&w) && !(0.0..=weights::MAX_SCALE).contains(&value(w)))
        };
        if let Some(w) = (off + packed..off + words + l.outputs).find(|&w| bad(w)) {
            return Err(bad_tensor(h, layer, enc, w - off, value(w)));
        }
        off += words + l.outputs;
    }
    for index in 0..h.input_len {
        let s = value(off + index);
        let p = crate::math::exp(-s);
        if !s.is_finite() || !p.is_finite() || p <= 0.0 {
            return Err(Error::InvalidParameter { tensor: "decoder.log_var", index, found: s });
        }
    }
    Ok(())
}

/// The error for the bad value `found` at word `k` of layer `layer` stored as `enc` (for an
/// f16 weight, `k` is its index and `enc` f32).
#[cold]
#[inline(never)]
fn bad_tensor(h: &Header<'_>, layer: usize, enc: Encoding, k: usize, found: f32) -> Error {
    let (inputs, outputs) = h.layers.get(layer).map_or((0, 0), |l| (l.inputs, l.outputs));
    let words = enc.words(inputs, outputs);
    let (tensor, index) = if k >= words {
        ("bias", k - words)
    } else if enc == Encoding::Int8 {
        ("scale", k - (words - outputs))
    } else {
        ("weight", k)
    };
    Error::InvalidTensor { part: h.part(layer), layer, tensor, index, found }
}

/// A layer's weight matrix as the file stores it (row-major, outputs x inputs).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum LayerWeights<'a> {
    /// f32 weights.
    F32(&'a [f32]),
    /// Half-precision bits.
    F16(&'a [u16]),
    /// int8 values and one scale per row.
    Int8 {
        /// The values, `outputs x inputs`.
        q: &'a [i8],
        /// One scale per output row.
        scale: &'a [f32],
    },
}

impl LayerWeights<'_> {
    /// The encoding.
    pub const fn encoding(&self) -> Encoding {
        match self {
            LayerWeights::F32(_) => Encoding::F32,
            LayerWeights::F16(_) => Encoding::F16,
            LayerWeights::Int8 { .. } => Encoding::Int8,
        }
    }

    /// Number of weights.
    pub const fn len(&self) -> usize {
        match self {
            LayerWeights::F32(w) => w.len(),
            LayerWeights::F16(w) => w.len(),
            LayerWeights::Int8 { q, .. } => q.len(),
        }
    }

    /// True when there is no weight.
    pub const fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Weight `k` (row `k / inputs`) as the f32 every kernel computes with (NaN past the
    /// end); `inputs` is the row length.
    pub fn weight(&self, k: usize, inputs: usize) -> f32 {
        match self {
            LayerWeights::F32(w) => w.get(k).copied().unwrap_or(f32::NAN),
            LayerWeights::F16(w) => w.get(k).map_or(f32::NAN, |&h| weights::f16_to_f32(h)),
            LayerWeights::Int8 { q, scale } => match (q.get(k), scale.get(k / inputs.max(1))) {
                (Some(&q), Some(&s)) => weights::dequantize_i8(q, s),
                _ => f32::NAN,
            },
        }
    }
}

/// The layers of a model file with run-time sizes.
#[derive(Clone, Debug)]
pub struct ModelLayers<'a> {
    /// Encoder hidden stack.
    pub encoder: Vec<DenseRef<'a>, MAX_HIDDEN>,
    /// Mean head.
    pub mu: DenseRef<'a>,
    /// Log-variance head.
    pub log_var: DenseRef<'a>,
    /// Decoder hidden stack.
    pub decoder: Vec<DenseRef<'a>, MAX_HIDDEN>,
    /// Output layer.
    pub mean: DenseRef<'a>,
}

impl<'a> ModelLayers<'a> {
    /// Borrowed as [`DynLayers`].
    pub fn as_dyn(&self) -> DynLayers<'_, 'a> {
        DynLayers {
            encoder: &self.encoder,
            mu: self.mu,
            log_var: self.log_var,
            decoder: &self.decoder,
            mean: self.mean,
        }
    }
}

/// Position in the layer list of a file while a typed model loads.
pub struct LayerCursor<'f, 'a> {
    file: &'f ModelFile<'a>,
    next: usize,
    /// Word offset of the next layer's weights.
    off: usize,
}

/// A typed stack that can load its weights from a model file.
pub trait LoadLayers<'a>: Sized {
    /// Number of dense layers of the stack.
    const DEPTH: usize;
    /// Takes the next `DEPTH` layers of the file, checking each shape.
    fn load(cursor: &mut LayerCursor<'_, 'a>) -> Result<Self, Error>;
}

impl<'a, const I: usize, const O: usize, S: Store> LoadLayers<'a> for Dense<'a, I, O, S> {
    const DEPTH: usize = 1;

    fn load(cursor: &mut LayerCursor<'_, 'a>) -> Result<Self, Error> {
        let i = cursor.next;
        let shape = *cursor.file.header.layers.get(i).ok_or(Error::LayerIndex { layer: i })?;
        if (shape.inputs, shape.outputs) != (I, O) {
            return Err(Error::LayerShape {
                layer: i,
                expected_inputs: I,
                expected_outputs: O,
                found_inputs: shape.inputs,
                found_outputs: shape.outputs,
            });
        }
        let enc = cursor.file.header.encoding(i);
        if enc != S::ENCODING {
            return Err(Error::InvalidLayer {
                layer: i,
                field: "weight encoding (not the type's)",
                found: enc.code().into(),
            });
        }
        // Only the slicing of `S`'s encoding is compiled in.
        let (f, off) = (cursor.file, cursor.off);
        let (n, words) = (I * O, S::ENCODING.words(I, O));
        let bytes = f.data.get(4 * off..4 * off + n * core::mem::size_of::<S::Elem>()).unwrap_or(&[]);
        let rows: &'a [[S::Elem; I]] =
            bytemuck::try_cast_slice(bytes).map_err(|_| Error::LayerIndex { layer: i })?;
        let scale = if S::ENCODING == Encoding::Int8 { f.slice(off + words - O, O) } else { &[] };
        let b = f.slice(off + words, O);
        let weight: &'a [[S::Elem; I]; O] = rows.try_into().map_err(|_| Error::LayerIndex { layer: i })?;
        let bias: &'a [f32; O] = b.try_into().map_err(|_| Error::LayerIndex { layer: i })?;
        cursor.next += 1;
        cursor.off = off + words + O;
        Ok(Dense::encoded(weight, scale, bias, shape.activation))
    }
}

impl<'a, A: LoadLayers<'a>, B: LoadLayers<'a>, const M: usize> LoadLayers<'a> for Chain<A, B, M> {
    const DEPTH: usize = A::DEPTH + B::DEPTH;

    fn load(cursor: &mut LayerCursor<'_, 'a>) -> Result<Self, Error> {
        let first = A::load(cursor)?;
        let second = B::load(cursor)?;
        Ok(Chain::new(first, second))
    }
}

/// Everything a model file holds, borrowed, for [`write`](fn@write).
#[derive(Clone, Copy, Debug)]
pub struct ModelDesc<'l, 'a> {
    /// Free-text model name (at most 255 bytes of UTF-8).
    pub name: &'a str,
    /// Training seed.
    pub seed: u64,
    /// Window length in samples.
    pub window: usize,
    /// Hop in samples.
    pub hop: usize,
    /// One name per channel (at most 255 bytes each).
    pub channel_names: &'l [&'a str],
    /// Per-channel normalisation means.
    pub norm_mean: &'a [f32],
    /// Per-channel normalisation standard deviations.
    pub norm_std: &'a [f32],
    /// The score the model is calibrated for.
    pub score: ScoreConfig,
    /// How a window becomes the input.
    pub transform: Transform,
    /// Calibrated thresholds, the decision one first (at most [`MAX_THRESHOLDS`]).
    pub thresholds: &'l [Calibration],
    /// When a score becomes an alarm on the device.
    pub alarm: AlarmRule,
    /// The network.
    pub layers: DynLayers<'l, 'a>,
    /// Decoder log-variances (length X).
    pub log_var: &'a [f32],
    /// How every layer's weights are stored (f32 as trained, or rounded to f16 or int8).
    pub weights: Encoding,
}

fn len_u8(what: &'static str, n: usize) -> Result<u8, Error> {
    u8::try_from(n).map_err(|_| field(what, n as u64))
}

fn len_u16(what: &'static str, n: usize) -> Result<u16, Error> {
    u16::try_from(n).map_err(|_| field(what, n as u64))
}

/// (header length, parameter count) of the file for `desc`.
fn layout(desc: &ModelDesc<'_, '_>) -> (usize, usize) {
    let l = &desc.layers;
    let n_layers = l.encoder.len() + 2 + l.decoder.len() + 1;
    let names: usize = desc.channel_names.iter().map(|n| 1 + n.len()).sum();
    let header = FIXED_HEADER_LEN
        + LAYER_DESCRIPTOR_LEN * n_layers
        + 8 * desc.thresholds.len()
        + alarm_len(desc)
        + desc.name.len()
        + names;
    let params = desc.norm_mean.len()
        + desc.norm_std.len()
        + all_layers(l).map(|d| desc.weights.words(d.inputs(), d.outputs()) + d.bias().len()).sum::<usize>()
        + desc.log_var.len();
    (header.div_ceil(4) * 4, params)
}

/// The format version `write` gives `desc`: the oldest that holds it, so that older readers
/// read what they can.
fn version_of(desc: &ModelDesc<'_, '_>) -> u16 {
    if desc.alarm.floor != 0.0 {
        VERSION
    } else if desc.weights == Encoding::F32 {
        VERSION_ALARM
    } else {
        VERSION_COMPACT
    }
}

/// Bytes of `desc`'s alarm rule in its file.
fn alarm_len(desc: &ModelDesc<'_, '_>) -> usize {
    if version_of(desc) >= VERSION {
        ALARM_LEN_FLOOR
    } else {
        ALARM_LEN
    }
}

/// The layers in file order.
fn all_layers<'r, 'a>(l: &'r DynLayers<'_, 'a>) -> impl Iterator<Item = &'r DenseRef<'a>> {
    l.encoder.iter().chain([&l.mu, &l.log_var]).chain(l.decoder).chain([&l.mean])
}

/// Bytes [`write`](fn@write) needs for `desc`.
pub fn encoded_len(desc: &ModelDesc<'_, '_>) -> usize {
    let (header_len, params) = layout(desc);
    header_len + 4 * params + 4
}

/// Writes `desc` as a model file into `out` and returns its length; the result is parsed
/// back before returning, so an invalid description is refused with the reader's error.
pub fn write(desc: &ModelDesc<'_, '_>, out: &mut [u8]) -> Result<usize, Error> {
    let len = encoded_len(desc);
    if out.len() < len {
        return Err(Error::Length { what: "output buffer", expected: len, found: out.len() });
    }
    let out = &mut out[..len];
    out.fill(0);
    let l = &desc.layers;
    let x = desc.log_var.len();
    let mut w = Writer { out, pos: 0 };
    w.put(&MAGIC);
    // The oldest format that holds `desc`, which older readers read.
    let version = version_of(desc);
    w.put(&version.to_le_bytes());
    let (header_len, params) = layout(desc);
    w.put(&len_u16("header length", header_len)?.to_le_bytes());
    w.put(&u32::try_from(len).map_err(|_| field("file length", len as u64))?.to_le_bytes());
    w.put(&u32::try_from(params).map_err(|_| field("parameter count", params as u64))?.to_le_bytes());
    w.put(&desc.seed.to_le_bytes());
    w.put(&len_u16("input width", x)?.to_le_bytes());
    w.put(&len_u16("latent width", l.mu.outputs())?.to_le_bytes());
    w.put(&len_u16("channels", desc.channel_names.len())?.to_le_bytes());
    w.put(&len_u16("window", desc.window)?.to_le_bytes());
    w.put(&len_u16("hop", desc.hop)?.to_le_bytes());
    w.put(&desc.score.samples().to_le_bytes());
    w.put(&[
        desc.score.kind().code(),
        desc.transform.code(),
        len_u8("encoder depth", l.encoder.len())?,
        len_u8("decoder depth", l.decoder.len())?,
        len_u8("threshold count", desc.thresholds.len())?,
        len_u8("model name length", desc.name.len())?,
    ]);
    w.put(&desc.transform.smoothing.to_le_bytes());
    w.put(&desc.transform.wandering.to_le_bytes());
    for d in all_layers(l) {
        w.put(&len_u16("layer width", d.outputs())?.to_le_bytes());
        w.put(&[d.activation().code(), desc.weights.code()]);
    }
    for c in desc.thresholds {
        w.put(&c.quantile.to_le_bytes());
        w.put(&c.threshold.to_le_bytes());
    }
    w.put(&desc.alarm.learn.to_le_bytes());
    w.put(&desc.alarm.relearn_after.to_le_bytes());
    w.put(&desc.alarm.margin.to_le_bytes());
    w.put(&desc.alarm.guard.to_le_bytes());
    if version >= VERSION {
        w.put(&desc.alarm.floor.to_le_bytes());
    }
    w.put(desc.name.as_bytes());
    for n in desc.channel_names {
        w.put(&[len_u8("channel name length", n.len())?]);
        w.put(n.as_bytes());
    }
    w.pos = header_len;
    for v in desc.norm_mean.iter().chain(desc.norm_std) {
        w.put(&v.to_le_bytes());
    }
    for d in all_layers(l) {
        w.put_weights(desc.weights, d);
        for v in d.bias() {
            w.put(&v.to_le_bytes());
        }
    }
    for v in desc.log_var {
        w.put(&v.to_le_bytes());
    }
    let crc = crc32(&w.out[..len - 4]);
    w.put(&crc.to_le_bytes());
    // Validate through the reader. It reports misalignment last, after every other check,
    // so a valid file in an unaligned buffer passes here.
    match ModelFile::parse(&w.out[..len]) {
        Ok(_) | Err(Error::Misaligned { .. }) => Ok(len),
        Err(e) => Err(e),
    }
}

struct Writer<'o> {
    out: &'o mut [u8],
    pos: usize,
}

impl Writer<'_> {
    fn put(&mut self, bytes: &[u8]) {
        if let Some(dst) = self.out.get_mut(self.pos..self.pos + bytes.len()) {
            dst.copy_from_slice(bytes);
        }
        self.pos += bytes.len();
    }

    /// `d`'s weight matrix stored as `enc`, padded to a whole word (then the int8 scales).
    /// A weight that does not fit (an f16 overflow, a non-finite int8 row) is written as
    /// NaN or infinity, which the reader refuses, naming it.
    fn put_weights(&mut self, enc: Encoding, d: &DenseRef<'_>) {
        let start = self.pos;
        let w = d.weight();
        match enc {
            Encoding::F32 => w.iter().for_each(|v| self.put(&v.to_le_bytes())),
            Encoding::F16 => w.iter().for_each(|&v| self.put(&weights::f32_to_f16(v).to_le_bytes())),
            Encoding::Int8 => {
                let cols = d.inputs().max(1);
                let mut q = [0i8; 64];
                // Scales after the matrix: computed once per row, written after it.
                for row in w.chunks(cols) {
                    let scale = weights::row_scale(row);
                    for chunk in row.chunks(q.len()) {
                        let n = chunk.len();
                        if weights::quantize_with(chunk, scale, &mut q[..n]).is_err() {
                            q[..n].fill(0);
                        }
                        self.put(bytemuck::cast_slice(&q[..n]));
                    }
                }
            }
        }
        self.pos = start + 4 * enc.words(d.inputs(), d.outputs())
            - if enc == Encoding::Int8 { 4 * d.outputs() } else { 0 };
        if enc == Encoding::Int8 {
            for row in w.chunks(d.inputs().max(1)) {
                let scale =
                    if row.iter().all(|v| v.is_finite()) { weights::row_scale(row) } else { f32::NAN };
                self.put(&scale.to_le_bytes());
            }
        }
    }
}
