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
use vae_core::{Activation, ScoreConfig, ScoreKind};

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
        E::InvalidHeaderStart => "not a safetensors file: its header does not start with `{`".into(),
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
    let st = SafeTensors::deserialize(bytes).map_err(|e| bad(format!("{what}: {}", describe(&e))))?;
    let (_, header) =
        SafeTensors::read_metadata(bytes).map_err(|e| bad(format!("{what}: {}", describe(&e))))?;
    let meta = header.metadata().clone().unwrap_or_default();
    let get = |k: &str| meta.get(k).ok_or_else(|| bad(format!("{what}: metadata key `{k}` missing")));
    let format = get("format")?;
    if format != FORMAT {
        return Err(bad(format!("{what}: metadata format `{format}`, expected `{FORMAT}`")));
    }
    let num = |k: &str| -> Result<u64, Error> {
        get(k)?.parse::<u64>().map_err(|_| bad(format!("{what}: metadata `{k}` is not a whole number")))
    };
    let parse_json = |k: &str| -> Result<serde_json::Value, Error> {
        serde_json::from_str(get(k)?).map_err(|e| bad(format!("{what}: metadata `{k}`: {e}")))
    };
    let tensor = |name: &str| -> Result<(Vec<usize>, Vec<f32>), Error> {
        let t = st.tensor(name).map_err(|_| bad(format!("{what}: tensor `{name}` missing")))?;
        if t.dtype() != Dtype::F32 {
            return Err(bad(format!("{what}: tensor `{name}` is {:?}, expected F32", t.dtype())));
        }
        let v = t.data().chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect();
        Ok((t.shape().to_vec(), v))
    };
    let acts: Vec<String> = serde_json::from_value(parse_json("activations")?)
        .map_err(|e| bad(format!("{what}: metadata `activations`: {e}")))?;
    let mut acts = acts
        .iter()
        .map(|a| Activation::from_name(a).ok_or_else(|| bad(format!("{what}: unknown activation `{a}`"))));
    let mut next_act = |name: &str| -> Result<Activation, Error> {
        acts.next().unwrap_or_else(|| Err(bad(format!("{what}: no activation listed for `{name}`"))))
    };
    let mut layer = |prefix: &str| -> Result<Layer, Error> {
        let (ws, w) = tensor(&format!("{prefix}.weight"))?;
        let (bs, b) = tensor(&format!("{prefix}.bias"))?;
        match (ws.as_slice(), bs.as_slice()) {
            ([o, i], [ob]) if o == ob => {
                Ok(Layer { inputs: *i, outputs: *o, activation: next_act(prefix)?, weight: w, bias: b })
            }
            _ => Err(bad(format!("{what}: `{prefix}` has weight shape {ws:?} and bias shape {bs:?}, expected [out, in] and [out]"))),
        }
    };
    let count = |side: &str| (0..).take_while(|i| st.tensor(&format!("{side}.{i}.weight")).is_ok()).count();
    let (ne, nd) = (count("encoder"), count("decoder"));
    let encoder = (0..ne).map(|i| layer(&format!("encoder.{i}"))).collect::<Result<Vec<_>, _>>()?;
    let mu = layer("encoder.mu")?;
    let log_var = layer("encoder.log_var")?;
    let decoder = (0..nd).map(|i| layer(&format!("decoder.{i}"))).collect::<Result<Vec<_>, _>>()?;
    let mean = layer("decoder.out")?;
    let (_, decoder_log_var) = tensor("decoder.log_var")?;
    let (_, norm_mean) = tensor("norm.mean")?;
    let (_, norm_std) = tensor("norm.std")?;
    let channels: Vec<String> = serde_json::from_value(parse_json("channels")?)
        .map_err(|e| bad(format!("{what}: metadata `channels`: {e}")))?;
    let kind_name = get("score")?;
    let kind =
        ScoreKind::from_name(kind_name).ok_or_else(|| bad(format!("{what}: unknown score `{kind_name}`")))?;
    let samples = u16::try_from(num("samples")?).map_err(|_| bad(format!("{what}: `samples` too large")))?;
    let features_name = get("transform")?;
    let features = Features::from_name(features_name)
        .ok_or_else(|| bad(format!("{what}: unknown transform `{features_name}`")))?;
    let optional = |k: &str, default: u64| -> Result<u64, Error> {
        match meta.get(k) {
            Some(v) => {
                v.parse::<u64>().map_err(|_| bad(format!("{what}: metadata `{k}` is not a whole number")))
            }
            None => Ok(default),
        }
    };
    let smoothing = u16::try_from(optional("smoothing", 1)?)
        .map_err(|_| bad(format!("{what}: metadata `smoothing` is too large")))?;
    let transform = Transform { features, wandering: optional("wandering", 0)?, smoothing };
    let thresholds: Vec<[f32; 2]> = serde_json::from_value(parse_json("thresholds")?)
        .map_err(|e| bad(format!("{what}: metadata `thresholds`: {e}")))?;
    Ok(OwnedModel {
        meta: ModelMeta {
            name: get("name")?.clone(),
            seed: num("seed")?,
            window: num("window")? as usize,
            hop: num("hop")? as usize,
            channels,
            norm_mean,
            norm_std,
            score: ScoreConfig::new(kind, samples)?,
            transform,
        },
        net: Network { encoder, mu, log_var, decoder, mean, decoder_log_var },
        thresholds: thresholds
            .into_iter()
            .map(|[quantile, threshold]| Calibration { quantile, threshold })
            .collect(),
    })
}
