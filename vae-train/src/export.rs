//! Weights out to and in from safetensors, for PyTorch users: a model trained elsewhere can
//! be deployed, and ours inspected with `safetensors.torch.load_file`.
//!
//! Tensor names (float32, row-major, PyTorch's `Linear` layout `[out, in]`):
//! `encoder.{i}.weight|bias` (hidden layers, i from 0), `encoder.mu.weight|bias`,
//! `encoder.log_var.weight|bias`, `decoder.{i}.weight|bias`, `decoder.out.weight|bias`,
//! `decoder.log_var` `[X]`, `norm.mean` and `norm.std` `[C]`. The metadata (string map)
//! carries `format` = `vae-anomaly/1`, `name`, `seed`, `window`, `hop`, `channels` (JSON list),
//! `activations` (JSON list, file order: hidden encoder layers, mu, log_var, hidden decoder
//! layers, out), `score`, `samples`, `transform` (the front end: raw, diff, demean, stats or
//! spectrum), `wandering` (channel bit mask, decimal), `smoothing` (windows averaged),
//! `thresholds` (JSON list of `[quantile, threshold]`). A model from elsewhere that omits
//! `wandering` and `smoothing` gets 0 and 1.

use crate::error::Error;
use crate::model::{Layer, ModelMeta, Network, OwnedModel};
use safetensors::tensor::{Dtype, SafeTensors, TensorView};
use std::collections::HashMap;
use vae_core::model_file::{Calibration, Transform};
use vae_core::transform::Features;
use vae_core::{Activation, AlarmRule, ScoreConfig, ScoreKind};

/// The `format` metadata value this version writes and reads.
pub const FORMAT: &str = "vae-anomaly/1";

fn bad(msg: impl Into<String>) -> Error {
    Error::Input(msg.into())
}

/// The model as safetensors bytes.
pub fn to_safetensors(m: &OwnedModel) -> Result<Vec<u8>, Error> {
    let mut tensors: Vec<(String, Vec<usize>, Vec<u8>)> = Vec::new();
    let mut push = |name: String, shape: Vec<usize>, v: &[f32]| {
        tensors.push((name, shape, v.iter().flat_map(|x| x.to_le_bytes()).collect()));
    };
    let mut layer = |prefix: String, l: &Layer| {
        push(format!("{prefix}.weight"), vec![l.outputs, l.inputs], &l.weight);
        push(format!("{prefix}.bias"), vec![l.outputs], &l.bias);
    };
    for (i, l) in m.net.encoder.iter().enumerate() {
        layer(format!("encoder.{i}"), l);
    }
    layer("encoder.mu".into(), &m.net.mu);
    layer("encoder.log_var".into(), &m.net.log_var);
    for (i, l) in m.net.decoder.iter().enumerate() {
        layer(format!("decoder.{i}"), l);
    }
    layer("decoder.out".into(), &m.net.mean);
    push("decoder.log_var".into(), vec![m.net.decoder_log_var.len()], &m.net.decoder_log_var);
    push("norm.mean".into(), vec![m.meta.norm_mean.len()], &m.meta.norm_mean);
    push("norm.std".into(), vec![m.meta.norm_std.len()], &m.meta.norm_std);

    let json = |v: serde_json::Value| v.to_string();
    let acts: Vec<&str> = m.net.layers().map(|l| l.activation.name()).collect();
    let thresholds: Vec<[f32; 2]> = m.thresholds.iter().map(|c| [c.quantile, c.threshold]).collect();
    let meta: HashMap<String, String> = [
        ("format", FORMAT.to_string()),
        ("name", m.meta.name.clone()),
        ("seed", m.meta.seed.to_string()),
        ("window", m.meta.window.to_string()),
        ("hop", m.meta.hop.to_string()),
        ("channels", json(serde_json::json!(m.meta.channels))),
        ("activations", json(serde_json::json!(acts))),
        ("score", m.meta.score.kind().name().to_string()),
        ("samples", m.meta.score.samples().to_string()),
        ("transform", m.meta.transform.features.name().to_string()),
        ("wandering", m.meta.transform.wandering.to_string()),
        ("smoothing", m.meta.transform.smoothing.to_string()),
        ("thresholds", json(serde_json::json!(thresholds))),
        // [learn, relearn after, margin, guard, floor]; an infinite guard (none) is null.
        (
            "alarm",
            json(serde_json::json!([
                m.alarm.learn,
                m.alarm.relearn_after,
                m.alarm.margin,
                m.alarm.guard.is_finite().then_some(m.alarm.guard),
                m.alarm.floor
            ])),
        ),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    let views: Vec<(String, TensorView<'_>)> = tensors
        .iter()
        .map(|(n, s, d)| TensorView::new(Dtype::F32, s.clone(), d).map(|v| (n.clone(), v)))
        .collect::<Result<_, _>>()
        .map_err(|e| bad(format!("safetensors: {e}")))?;
    safetensors::serialize(views, &Some(meta)).map_err(|e| bad(format!("safetensors: {e}")))
}

/// What a safetensors error means, in words (the crate's own `Display` prints its enum
/// variant names, e.g. `TensorInvalidInfo`).
fn describe(e: &safetensors::SafeTensorError) -> String {
    use safetensors::SafeTensorError as E;
    match e {
        E::HeaderTooSmall => "not a safetensors file: shorter than its 8-byte header length".into(),
        E::InvalidHeaderLength => {
            "not a safetensors file: the header length in its first 8 bytes exceeds the file".into()
        }
        E::HeaderTooLarge => "not a safetensors file: its header length is over the 100 MB limit".into(),
        E::InvalidHeader => "not a safetensors file: its header is not valid UTF-8".into(),
        // An escaped opening brace: a literal one would unbalance brace-counting line counters.
        E::InvalidHeaderStart => "not a safetensors file: its header does not start with `\u{7b}`".into(),
        E::InvalidHeaderDeserialization | E::JsonError(_) => {
            "not a safetensors file: its header is not the JSON of a safetensors header".into()
        }
        E::TensorNotFound(name) => format!("tensor `{name}` missing"),
        E::TensorInvalidInfo => "a tensor's byte range does not match its shape and dtype \
             (expected shape x dtype size bytes, e.g. 4 per F32 value)"
            .into(),
        E::InvalidOffset(name) => format!(
            "tensor `{name}`: its data offsets are invalid (they must be in order, without gaps, \
             inside the file)"
        ),
        E::MetadataIncompleteBuffer => {
            "the tensors' data does not cover the data part of the file exactly".into()
        }
        E::ValidationOverflow => "a tensor's shape is too large (its size overflows)".into(),
        E::InvalidTensorView(dtype, shape, len) => {
            format!("a {dtype:?} tensor of shape {shape:?} cannot hold {len} bytes")
        }
        E::IoError(io) => io.to_string(),
    }
}

/// A model from safetensors bytes written by [`to_safetensors`] or by hand in the same
/// layout (e.g. from PyTorch); `what` names the source in messages. Everything is checked
/// again by the model-file writer when the result is saved.
pub fn from_safetensors(bytes: &[u8], what: &str) -> Result<OwnedModel, Error> {
    let r = Reader::open(bytes, what)?;
    let net = r.network()?;
    let (_, norm_mean) = r.tensor("norm.mean")?;
    let (_, norm_std) = r.tensor("norm.std")?;
    let channels: Vec<String> = r.json("channels")?;
    let (kind, samples) = r.score()?;
    let transform = r.transform()?;
    let thresholds: Vec<[f32; 2]> = r.json("thresholds")?;
    // Files written before the alarm rule decide by the static threshold.
    let alarm = match r.meta.contains_key("alarm") {
        false => AlarmRule::STATIC,
        true => {
            // Exports before the spread floor hold four fields.
            let (learn, relearn_after, margin, guard, floor) =
                match r.json::<(u16, u16, f32, Option<f32>, f32)>("alarm") {
                    Ok(rule) => rule,
                    Err(_) => {
                        let (l, ra, m, g): (u16, u16, f32, Option<f32>) = r.json("alarm")?;
                        (l, ra, m, g, 0.0)
                    }
                };
            let rule =
                AlarmRule { learn, relearn_after, margin, guard: guard.unwrap_or(f32::INFINITY), floor };
            rule.check().map_err(|e| bad(format!("{what}: metadata `alarm`: {e}")))?;
            rule
        }
    };
    Ok(OwnedModel {
        meta: ModelMeta {
            weights: vae_core::weights::Encoding::F32,
            name: r.get("name")?.clone(),
            seed: r.num("seed")?,
            window: r.num("window")? as usize,
            hop: r.num("hop")? as usize,
            channels,
            norm_mean,
            norm_std,
            score: ScoreConfig::new(kind, samples)?,
            transform,
        },
        net,
        thresholds: thresholds
            .into_iter()
            .map(|[quantile, threshold]| Calibration { quantile, threshold })
            .collect(),
        alarm,
    })
}

/// The tensors and metadata of a safetensors model, read with messages that name the
/// source (`what`) and the key or tensor at fault.
struct Reader<'a> {
    what: &'a str,
    st: SafeTensors<'a>,
    meta: HashMap<String, String>,
}

impl<'a> Reader<'a> {
    /// Parses the file and checks its `format`.
    fn open(bytes: &'a [u8], what: &'a str) -> Result<Self, Error> {
        let st = SafeTensors::deserialize(bytes).map_err(|e| bad(format!("{what}: {}", describe(&e))))?;
        let (_, header) =
            SafeTensors::read_metadata(bytes).map_err(|e| bad(format!("{what}: {}", describe(&e))))?;
        let r = Self { what, st, meta: header.metadata().clone().unwrap_or_default() };
        let format = r.get("format")?;
        if format != FORMAT {
            return Err(bad(format!("{what}: metadata format `{format}`, expected `{FORMAT}`")));
        }
        Ok(r)
    }

    /// A metadata value, which must be present.
    fn get(&self, k: &str) -> Result<&String, Error> {
        self.meta.get(k).ok_or_else(|| bad(format!("{}: metadata key `{k}` missing", self.what)))
    }

    /// A metadata value that is a whole number.
    fn num(&self, k: &str) -> Result<u64, Error> {
        self.whole(k, self.get(k)?)
    }

    /// An optional whole-number metadata value: `default` when absent.
    fn optional(&self, k: &str, default: u64) -> Result<u64, Error> {
        match self.meta.get(k) {
            Some(v) => self.whole(k, v),
            None => Ok(default),
        }
    }

    /// `v`, the value of metadata `k`, as a whole number.
    fn whole(&self, k: &str, v: &str) -> Result<u64, Error> {
        v.parse::<u64>().map_err(|_| bad(format!("{}: metadata `{k}` is not a whole number", self.what)))
    }

    /// A metadata value holding the JSON of a `T` (parsed to a JSON value, then converted:
    /// each step has its own message).
    fn json<T: serde::de::DeserializeOwned>(&self, k: &str) -> Result<T, Error> {
        let what = self.what;
        let value: serde_json::Value =
            serde_json::from_str(self.get(k)?).map_err(|e| bad(format!("{what}: metadata `{k}`: {e}")))?;
        serde_json::from_value(value).map_err(|e| bad(format!("{what}: metadata `{k}`: {e}")))
    }

    /// A float32 tensor: its shape and values.
    fn tensor(&self, name: &str) -> Result<(Vec<usize>, Vec<f32>), Error> {
        let what = self.what;
        let t = self.st.tensor(name).map_err(|_| bad(format!("{what}: tensor `{name}` missing")))?;
        if t.dtype() != Dtype::F32 {
            return Err(bad(format!("{what}: tensor `{name}` is {:?}, expected F32", t.dtype())));
        }
        let v = t.data().chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect();
        Ok((t.shape().to_vec(), v))
    }

    /// The network: its layers in file order, each taking the next activation listed in
    /// `activations`, and the decoder's log-variance.
    fn network(&self) -> Result<Network, Error> {
        let acts: Vec<String> = self.json("activations")?;
        let mut acts = acts.iter();
        let count =
            |side: &str| (0..).take_while(|i| self.st.tensor(&format!("{side}.{i}.weight")).is_ok()).count();
        let (ne, nd) = (count("encoder"), count("decoder"));
        let encoder =
            (0..ne).map(|i| self.layer(&format!("encoder.{i}"), &mut acts)).collect::<Result<Vec<_>, _>>()?;
        let mu = self.layer("encoder.mu", &mut acts)?;
        let log_var = self.layer("encoder.log_var", &mut acts)?;
        let decoder =
            (0..nd).map(|i| self.layer(&format!("decoder.{i}"), &mut acts)).collect::<Result<Vec<_>, _>>()?;
        let mean = self.layer("decoder.out", &mut acts)?;
        let (_, decoder_log_var) = self.tensor("decoder.log_var")?;
        Ok(Network { encoder, mu, log_var, decoder, mean, decoder_log_var })
    }

    /// The layer `prefix` (`.weight` `[out, in]` and `.bias` `[out]`) with the next activation
    /// of `acts`.
    fn layer<'s>(&self, prefix: &str, acts: &mut impl Iterator<Item = &'s String>) -> Result<Layer, Error> {
        let (ws, w) = self.tensor(&format!("{prefix}.weight"))?;
        let (bs, b) = self.tensor(&format!("{prefix}.bias"))?;
        match (ws.as_slice(), bs.as_slice()) {
            ([o, i], [ob]) if o == ob => Ok(Layer {
                inputs: *i,
                outputs: *o,
                activation: self.activation(prefix, acts.next())?,
                weight: w,
                bias: b,
            }),
            _ => Err(bad(format!(
                "{}: `{prefix}` has weight shape {ws:?} and bias shape {bs:?}, expected [out, in] and [out]",
                self.what
            ))),
        }
    }

    /// The activation `name` listed for layer `layer`.
    fn activation(&self, layer: &str, name: Option<&String>) -> Result<Activation, Error> {
        let what = self.what;
        let a = name.ok_or_else(|| bad(format!("{what}: no activation listed for `{layer}`")))?;
        Activation::from_name(a).ok_or_else(|| bad(format!("{what}: unknown activation `{a}`")))
    }

    /// The score kind and its sample count.
    fn score(&self) -> Result<(ScoreKind, u16), Error> {
        let what = self.what;
        let kind_name = self.get("score")?;
        let kind = ScoreKind::from_name(kind_name)
            .ok_or_else(|| bad(format!("{what}: unknown score `{kind_name}`")))?;
        let samples =
            u16::try_from(self.num("samples")?).map_err(|_| bad(format!("{what}: `samples` too large")))?;
        Ok((kind, samples))
    }

    /// The front end; `smoothing` and `wandering` default to 1 and 0.
    fn transform(&self) -> Result<Transform, Error> {
        let what = self.what;
        let features_name = self.get("transform")?;
        let features = Features::from_name(features_name)
            .ok_or_else(|| bad(format!("{what}: unknown transform `{features_name}`")))?;
        let smoothing = u16::try_from(self.optional("smoothing", 1)?)
            .map_err(|_| bad(format!("{what}: metadata `smoothing` is too large")))?;
        Ok(Transform { features, wandering: self.optional("wandering", 0)?, smoothing })
    }
}
