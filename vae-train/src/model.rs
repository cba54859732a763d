//! An owned model: what training produces and what the model file holds, with conversions
//! to and from the file through `vae-core` (which alone knows the layout).

use crate::atomic;
use crate::error::Error;
use std::path::Path;
use vae_core::model_file::{self, Calibration, ModelDesc, ModelFile, Transform};
use vae_core::{Activation, AlarmRule, DenseRef, DynLayers, DynVae, ScoreConfig};

/// One dense layer with owned weights, row-major `[outputs][inputs]` (PyTorch's layout).
#[derive(Clone, Debug, PartialEq)]
pub struct Layer {
    /// Input width.
    pub inputs: usize,
    /// Output width.
    pub outputs: usize,
    /// Activation after the affine map.
    pub activation: Activation,
    /// `outputs * inputs` weights.
    pub weight: Vec<f32>,
    /// `outputs` biases.
    pub bias: Vec<f32>,
}

impl Layer {
    /// A layer of zeros.
    pub fn zeros(inputs: usize, outputs: usize, activation: Activation) -> Self {
        Self { inputs, outputs, activation, weight: vec![0.0; inputs * outputs], bias: vec![0.0; outputs] }
    }

    fn as_ref(&self) -> Result<DenseRef<'_>, Error> {
        Ok(DenseRef::new(&self.weight, &self.bias, self.inputs, self.activation)?)
    }
}

/// The network: encoder hidden stack, the two heads, decoder hidden stack, output layer,
/// and the decoder's per-dimension log-variances.
#[derive(Clone, Debug, PartialEq)]
pub struct Network {
    /// Encoder hidden layers, input side first.
    pub encoder: Vec<Layer>,
    /// Mean head (latent width outputs).
    pub mu: Layer,
    /// Log-variance head.
    pub log_var: Layer,
    /// Decoder hidden layers.
    pub decoder: Vec<Layer>,
    /// Output layer: the Gaussian mean of x.
    pub mean: Layer,
    /// log sigma^2 of p(x|z), one per input dimension.
    pub decoder_log_var: Vec<f32>,
}

impl Network {
    /// Input width X.
    pub fn input_len(&self) -> usize {
        self.mean.outputs
    }

    /// Latent width Z.
    pub fn latent_len(&self) -> usize {
        self.mu.outputs
    }

    /// Every layer in file order.
    pub fn layers(&self) -> impl Iterator<Item = &Layer> {
        self.encoder.iter().chain([&self.mu, &self.log_var]).chain(&self.decoder).chain([&self.mean])
    }

    /// Trained parameters: every layer's weights and biases and the decoder's log-variances.
    pub fn parameter_count(&self) -> usize {
        self.layers().map(|l| (l.inputs + 1) * l.outputs).sum::<usize>() + self.decoder_log_var.len()
    }
}

/// Everything about a model except its weights and thresholds: the input it expects and
/// the score it uses.
#[derive(Clone, Debug, PartialEq)]
pub struct ModelMeta {
    /// Free-text name.
    pub name: String,
    /// Training seed.
    pub seed: u64,
    /// Window length in samples.
    pub window: usize,
    /// Hop in samples.
    pub hop: usize,
    /// Channel names in input order.
    pub channels: Vec<String>,
    /// Per-channel normalisation mean (training data only).
    pub norm_mean: Vec<f32>,
    /// Per-channel normalisation std.
    pub norm_std: Vec<f32>,
    /// The score kind and K the model is calibrated for.
    pub score: ScoreConfig,
    /// Input transform.
    pub transform: Transform,
    /// How the model file stores the weights (`f32` as trained, or `f16`/`int8` to shrink
    /// flash; the weights held here are then the dequantised ones, exactly what the device
    /// computes with).
    pub weights: vae_core::weights::Encoding,
}

/// A complete model.
#[derive(Clone, Debug, PartialEq)]
pub struct OwnedModel {
    /// Input description and score.
    pub meta: ModelMeta,
    /// Weights.
    pub net: Network,
    /// Calibrated thresholds, the decision one first (empty before calibration).
    pub thresholds: Vec<Calibration>,
    /// When a score becomes an alarm on the device (learning, re-learning; see
    /// [`vae_core::alarm`]). [`AlarmRule::STATIC`] before calibration.
    pub alarm: AlarmRule,
}

impl OwnedModel {
    /// The model file's bytes.
    pub fn to_bytes(&self) -> Result<Vec<u8>, Error> {
        let enc: Vec<DenseRef<'_>> = self.net.encoder.iter().map(Layer::as_ref).collect::<Result<_, _>>()?;
        let dec: Vec<DenseRef<'_>> = self.net.decoder.iter().map(Layer::as_ref).collect::<Result<_, _>>()?;
        let names: Vec<&str> = self.meta.channels.iter().map(String::as_str).collect();
        let desc = ModelDesc {
            name: &self.meta.name,
            seed: self.meta.seed,
            window: self.meta.window,
            hop: self.meta.hop,
            channel_names: &names,
            norm_mean: &self.meta.norm_mean,
            norm_std: &self.meta.norm_std,
            score: self.meta.score,
            transform: self.meta.transform,
            thresholds: &self.thresholds,
            alarm: self.alarm,
            layers: DynLayers {
                encoder: &enc,
                mu: self.net.mu.as_ref()?,
                log_var: self.net.log_var.as_ref()?,
                decoder: &dec,
                mean: self.net.mean.as_ref()?,
            },
            log_var: &self.net.decoder_log_var,
            weights: self.meta.weights,
        };
        let mut out = vec![0u8; model_file::encoded_len(&desc)];
        let n = model_file::write(&desc, &mut out)?;
        out.truncate(n);
        Ok(out)
    }

    /// Parses model-file bytes (any alignment). Weights stored as f16 or int8 are held
    /// dequantised (the f32 values the device computes with) and [`ModelMeta::weights`]
    /// keeps their encoding, so saving writes them back unchanged.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, Error> {
        let buf = AlignedBytes::new(bytes);
        let f = ModelFile::parse(buf.bytes())?;
        let h = f.header();
        let weights = h.weights().ok_or_else(|| {
            Error::Input(
                "the model file mixes weight encodings across layers, which vae-train does not write".into(),
            )
        })?;
        let layer = |i: usize| -> Layer {
            let shape = h.layers()[i];
            let (w, b) = f.layer_params(i);
            Layer {
                inputs: shape.inputs,
                outputs: shape.outputs,
                activation: shape.activation,
                weight: (0..w.len()).map(|k| w.weight(k, shape.inputs)).collect(),
                bias: b.to_vec(),
            }
        };
        let (e, d) = (h.encoder_depth(), h.decoder_depth());
        Ok(Self {
            meta: ModelMeta {
                weights,
                name: h.name.to_string(),
                seed: h.seed,
                window: h.window,
                hop: h.hop,
                channels: h.channel_names().map(str::to_string).collect(),
                norm_mean: f.norm_mean().to_vec(),
                norm_std: f.norm_std().to_vec(),
                score: h.score,
                transform: h.transform,
            },
            net: Network {
                encoder: (0..e).map(layer).collect(),
                mu: layer(e),
                log_var: layer(e + 1),
                decoder: (e + 2..e + 2 + d).map(layer).collect(),
                mean: layer(e + 2 + d),
                decoder_log_var: f.decoder_log_var().to_vec(),
            },
            thresholds: h.thresholds().to_vec(),
            alarm: h.alarm,
        })
    }

    /// Reads a model file.
    pub fn load(path: &Path) -> Result<Self, Error> {
        let bytes = crate::output::read_bounded(path, crate::output::MAX_MODEL_FILE, "model file")?;
        Self::from_bytes(&bytes).map_err(|e| e.in_file(path))
    }

    /// Writes the model file atomically (temporary file + rename).
    pub fn save(&self, path: &Path) -> Result<(), Error> {
        let bytes = self.to_bytes()?;
        atomic::write(path, &bytes).map_err(|e| Error::io(path, e))
    }

    /// Runs `f` with the run-time-sized `vae-core` model of these weights: host scores use
    /// exactly the engine the firmware runs.
    pub fn with_dyn_vae<R>(&self, f: impl FnOnce(&DynVae<'_>) -> R) -> Result<R, Error> {
        let enc: Vec<DenseRef<'_>> = self.net.encoder.iter().map(Layer::as_ref).collect::<Result<_, _>>()?;
        let dec: Vec<DenseRef<'_>> = self.net.decoder.iter().map(Layer::as_ref).collect::<Result<_, _>>()?;
        let layers = DynLayers {
            encoder: &enc,
            mu: self.net.mu.as_ref()?,
            log_var: self.net.log_var.as_ref()?,
            decoder: &dec,
            mean: self.net.mean.as_ref()?,
        };
        let mut precision = vec![0.0f32; self.net.input_len()];
        let vae = DynVae::new(layers, &self.net.decoder_log_var, &mut precision)?;
        Ok(f(&vae))
    }
}

/// Bytes copied into 4-byte aligned storage, as the zero-copy reader needs.
pub struct AlignedBytes {
    words: Vec<u32>,
    len: usize,
}

impl AlignedBytes {
    /// An aligned copy of `bytes`.
    pub fn new(bytes: &[u8]) -> Self {
        let mut words = vec![0u32; bytes.len().div_ceil(4)];
        bytemuck::cast_slice_mut::<u32, u8>(&mut words)[..bytes.len()].copy_from_slice(bytes);
        Self { words, len: bytes.len() }
    }

    /// The bytes.
    pub fn bytes(&self) -> &[u8] {
        &bytemuck::cast_slice::<u32, u8>(&self.words)[..self.len]
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use vae_core::ScoreKind;

    /// A small model with weights of several values, for the crate's unit tests.
    pub(crate) fn tiny() -> OwnedModel {
        let l = |i, o, a| {
            let mut l = Layer::zeros(i, o, a);
            for (k, w) in l.weight.iter_mut().enumerate() {
                *w = ((k * 7 % 11) as f32 - 5.0) / 10.0;
            }
            l
        };
        OwnedModel {
            meta: ModelMeta {
                weights: vae_core::weights::Encoding::F32,
                name: "tiny".into(),
                seed: 7,
                window: 2,
                hop: 1,
                channels: vec!["a".into(), "b".into()],
                norm_mean: vec![1.0, 2.0],
                norm_std: vec![0.5, 3.0],
                score: ScoreConfig::new(ScoreKind::Elbo, 4).unwrap(),
                transform: Transform::Raw,
            },
            net: Network {
                encoder: vec![l(4, 3, Activation::Tanh)],
                mu: l(3, 2, Activation::Identity),
                log_var: l(3, 2, Activation::Identity),
                decoder: vec![l(2, 3, Activation::Tanh)],
                mean: l(3, 4, Activation::Identity),
                decoder_log_var: vec![0.1, -0.2, 0.0, 0.3],
            },
            thresholds: vec![Calibration { quantile: 0.995, threshold: 3.5 }],
            alarm: vae_core::AlarmRule::STATIC,
        }
    }

    #[test]
    fn bytes_round_trip() {
        let m = tiny();
        let bytes = m.to_bytes().unwrap();
        assert_eq!(OwnedModel::from_bytes(&bytes).unwrap(), m);
        // From an unaligned copy too.
        let mut shifted = vec![0u8];
        shifted.extend_from_slice(&bytes);
        assert_eq!(OwnedModel::from_bytes(&shifted[1..]).unwrap(), m);
    }

    #[test]
    fn save_and_load() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("m.vaem");
        let m = tiny();
        m.save(&p).unwrap();
        assert_eq!(OwnedModel::load(&p).unwrap(), m);
        std::fs::write(&p, b"garbage").unwrap();
        let e = OwnedModel::load(&p).unwrap_err().to_string();
        assert!(e.contains("m.vaem"), "{e}");
    }
}
