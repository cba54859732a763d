//! Checkpoints: the best model so far as a model file, and the resume state beside it.
//!
//! The resume state `PATH.state` is a safetensors file: tensors `latest/NAME`, `best/NAME`,
//! `adam.m/NAME`, `adam.v/NAME` (f32, weights `[out, in]`, NAME as in `param_names`), and
//! `history` (f64 `[epochs, 9]`, the columns of the CSV log, NaN for a missing validation
//! value), and string metadata `format` (= [`FORMAT`]), `state` (JSON: the run's
//! fingerprint, epochs done, Adam's step, best epoch and loss (as f64 bits), patience
//! counter) and `checksum` (FNV-1a over every tensor's name and bytes in name order). Both files are written atomically (temporary
//! file + rename).

use super::adam::Adam;
use super::network::{param_names, param_shapes, params, params_mut};
use super::{EpochStats, TrainConfig, TrainError};
use crate::atomic;
use crate::model::{Layer, ModelMeta, Network, OwnedModel};
use safetensors::tensor::{Dtype, SafeTensors, TensorView};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use vae_core::Activation;

/// The `format` metadata of a resume state.
pub const FORMAT: &str = "vae-train-state/1";

/// Where the resume state of checkpoint `checkpoint` lives: the same name plus `.state`.
pub fn state_path(checkpoint: &Path) -> PathBuf {
    let mut name = checkpoint.file_name().map(|n| n.to_os_string()).unwrap_or_default();
    name.push(".state");
    checkpoint.with_file_name(name)
}

/// What a resume state must agree on with the run that resumes it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct Fingerprint {
    pub x: usize,
    pub hidden: Vec<usize>,
    pub latent: usize,
    pub activation: String,
    pub seed: u64,
    pub batch_size: usize,
    pub kl_warmup: usize,
    pub train_windows: usize,
    pub val_windows: usize,
    /// FNV-1a of the training and validation data, hex.
    pub data_hash: String,
}

impl Fingerprint {
    pub(crate) fn new(
        cfg: &TrainConfig,
        x: usize,
        train_windows: usize,
        val_windows: usize,
        hash: u64,
    ) -> Self {
        Self {
            x,
            hidden: cfg.hidden.clone(),
            latent: cfg.latent,
            activation: cfg.activation.name().to_string(),
            seed: cfg.seed,
            batch_size: cfg.batch_size,
            kl_warmup: cfg.kl_warmup,
            train_windows,
            val_windows,
            data_hash: format!("{hash:016x}"),
        }
    }

    /// The first setting that differs, as (what, this run's, the state's).
    fn difference(&self, found: &Fingerprint) -> Option<(&'static str, String, String)> {
        let shape =
            |f: &Fingerprint| format!("X={} hidden={:?} latent={} {}", f.x, f.hidden, f.latent, f.activation);
        let checks: [(&'static str, String, String); 6] = [
            ("model shape", shape(self), shape(found)),
            ("seed", self.seed.to_string(), found.seed.to_string()),
            ("batch size", self.batch_size.to_string(), found.batch_size.to_string()),
            ("KL warm-up", self.kl_warmup.to_string(), found.kl_warmup.to_string()),
            (
                "data (training, validation windows)",
                format!("{}, {}", self.train_windows, self.val_windows),
                format!("{}, {}", found.train_windows, found.val_windows),
            ),
            ("data (contents hash)", self.data_hash.clone(), found.data_hash.clone()),
        ];
        checks.into_iter().find(|(_, a, b)| a != b)
    }
}

/// Everything a run needs to continue after its last completed epoch.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct TrainState {
    pub fingerprint: Fingerprint,
    pub epochs_done: usize,
    pub best_epoch: usize,
    pub best_loss: f64,
    pub since_best: usize,
    pub stopped_early: bool,
    pub history: Vec<EpochStats>,
    pub latest: Network,
    pub best: Network,
    pub adam: Adam,
}

/// The scalar part of the state, as JSON metadata.
#[derive(Serialize, Deserialize)]
struct Scalars {
    fingerprint: Fingerprint,
    epochs_done: usize,
    adam_step: u64,
    best_epoch: usize,
    /// `f64::to_bits` (JSON numbers do not round-trip every f64 through serde_json).
    best_loss_bits: u64,
    since_best: usize,
    stopped_early: bool,
}

/// Columns of the `history` tensor (f64, one row per epoch; NaN = no validation value).
const HISTORY_COLUMNS: usize = 9;

fn history_to_rows(h: &[EpochStats]) -> Vec<f64> {
    h.iter()
        .flat_map(|s| {
            let opt = |v: Option<f64>| v.unwrap_or(f64::NAN);
            [
                s.epoch as f64,
                s.train_loss,
                s.train_recon,
                s.train_kl,
                opt(s.val_loss),
                opt(s.val_recon),
                opt(s.val_kl),
                s.beta,
                s.seconds,
            ]
        })
        .collect()
}

fn history_from_rows(rows: &[f64]) -> Vec<EpochStats> {
    let opt = |v: f64| (!v.is_nan()).then_some(v);
    rows.chunks_exact(HISTORY_COLUMNS)
        .map(|r| EpochStats {
            epoch: r[0] as usize,
            train_loss: r[1],
            train_recon: r[2],
            train_kl: r[3],
            val_loss: opt(r[4]),
            val_recon: opt(r[5]),
            val_kl: opt(r[6]),
            beta: r[7],
            seconds: r[8],
        })
        .collect()
}

fn checksum<'a>(tensors: impl IntoIterator<Item = (&'a str, &'a [u8])>) -> String {
    let mut sorted: Vec<(&str, &[u8])> = tensors.into_iter().collect();
    sorted.sort_by(|a, b| a.0.cmp(b.0));
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for (name, bytes) in sorted {
        for &b in name.as_bytes().iter().chain([0u8].iter()).chain(bytes) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0000_0100_0000_01B3);
        }
    }
    format!("{h:016x}")
}

fn le_bytes(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

/// A network of the fingerprint's shape, all zeros.
fn skeleton(f: &Fingerprint) -> Option<Network> {
    let act = Activation::from_name(&f.activation)?;
    let mut encoder = Vec::new();
    let mut width = f.x;
    for &h in &f.hidden {
        encoder.push(Layer::zeros(width, h, act));
        width = h;
    }
    let mu = Layer::zeros(width, f.latent, Activation::Identity);
    let log_var = Layer::zeros(width, f.latent, Activation::Identity);
    let mut decoder = Vec::new();
    width = f.latent;
    for &h in f.hidden.iter().rev() {
        decoder.push(Layer::zeros(width, h, act));
        width = h;
    }
    let mean = Layer::zeros(width, f.x, Activation::Identity);
    Some(Network { encoder, mu, log_var, decoder, mean, decoder_log_var: vec![0.0; f.x] })
}

/// The scalars and tensors of a state file, checked against its format and checksum.
fn open_state(bytes: &[u8]) -> Result<(Scalars, SafeTensors<'_>), String> {
    let (_, header) =
        SafeTensors::read_metadata(bytes).map_err(|e| format!("not a safetensors file ({e})"))?;
    let meta = header.metadata().clone().unwrap_or_default();
    let get = |k: &str| meta.get(k).ok_or_else(|| format!("no `{k}` metadata"));
    let format = get("format")?;
    if format != FORMAT {
        return Err(format!("format `{format}`, expected `{FORMAT}`"));
    }
    let scalars: Scalars = serde_json::from_str(get("state")?).map_err(|e| format!("state metadata: {e}"))?;
    let tensors = SafeTensors::deserialize(bytes).map_err(|e| e.to_string())?;
    let stored = get("checksum")?;
    let computed =
        checksum(tensors.tensors().iter().map(|(n, v)| (n.as_str(), v.data())).collect::<Vec<_>>());
    if *stored != computed {
        return Err(format!("checksum {computed} does not match the stored {stored}"));
    }
    Ok((scalars, tensors))
}

/// The per-parameter tensor groups of a state file (`GROUP/NAME`), read against the
/// parameter names and shapes of the fingerprint's network.
struct Groups<'a, 'data> {
    tensors: &'a SafeTensors<'data>,
    names: Vec<String>,
    shapes: Vec<Vec<usize>>,
}

impl Groups<'_, '_> {
    /// The tensors of `group`, one per parameter, each checked to be F32 of its shape.
    fn read(&self, group: &str) -> Result<Vec<Vec<f32>>, String> {
        self.names
            .iter()
            .zip(&self.shapes)
            .map(|(name, shape)| {
                let key = format!("{group}/{name}");
                let t = self.tensors.tensor(&key).map_err(|_| format!("no tensor `{key}`"))?;
                if t.dtype() != Dtype::F32 || t.shape() != shape.as_slice() {
                    return Err(format!(
                        "`{key}` is {:?} {:?}, expected F32 {shape:?}",
                        t.dtype(),
                        t.shape()
                    ));
                }
                Ok(t.data().chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect())
            })
            .collect()
    }

    /// The network `skel` with the parameters of `group`.
    fn network(&self, skel: &Network, group: &str) -> Result<Network, String> {
        let values = self.read(group)?;
        let mut net = skel.clone();
        for (dst, src) in params_mut(&mut net).into_iter().zip(values) {
            dst.copy_from_slice(&src);
        }
        Ok(net)
    }
}

/// The epoch history of a state file (tensor `history`, F64 `[n, HISTORY_COLUMNS]`).
fn read_history(tensors: &SafeTensors<'_>) -> Result<Vec<EpochStats>, String> {
    let h = tensors.tensor("history").map_err(|_| "no tensor `history`".to_string())?;
    if h.dtype() != Dtype::F64 || h.shape().len() != 2 || h.shape()[1] != HISTORY_COLUMNS {
        return Err(format!(
            "`history` is {:?} {:?}, expected F64 [n, {HISTORY_COLUMNS}]",
            h.dtype(),
            h.shape()
        ));
    }
    let rows: Vec<f64> = h
        .data()
        .chunks_exact(8)
        .map(|c| f64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]))
        .collect();
    Ok(history_from_rows(&rows))
}

impl TrainState {
    /// The state file's bytes.
    pub(crate) fn to_bytes(&self) -> Result<Vec<u8>, String> {
        let names = param_names(&self.latest);
        let shapes = param_shapes(&self.latest);
        let mut buffers: Vec<(String, Vec<usize>, Vec<u8>)> = Vec::new();
        let groups: [(&str, Vec<&[f32]>); 4] = [
            ("latest", params(&self.latest)),
            ("best", params(&self.best)),
            ("adam.m", self.adam.m.iter().map(Vec::as_slice).collect()),
            ("adam.v", self.adam.v.iter().map(Vec::as_slice).collect()),
        ];
        for (group, values) in groups {
            if values.len() != names.len() {
                return Err(format!("{group}: {} tensors for {} parameters", values.len(), names.len()));
            }
            for ((name, shape), v) in names.iter().zip(&shapes).zip(values) {
                buffers.push((format!("{group}/{name}"), shape.clone(), le_bytes(v)));
            }
        }
        let scalars = Scalars {
            fingerprint: self.fingerprint.clone(),
            epochs_done: self.epochs_done,
            adam_step: self.adam.step,
            best_epoch: self.best_epoch,
            best_loss_bits: self.best_loss.to_bits(),
            since_best: self.since_best,
            stopped_early: self.stopped_early,
        };
        let history: Vec<u8> = history_to_rows(&self.history).iter().flat_map(|v| v.to_le_bytes()).collect();
        buffers.push(("history".to_string(), vec![self.history.len(), HISTORY_COLUMNS], history));
        let mut meta = HashMap::new();
        meta.insert("format".to_string(), FORMAT.to_string());
        meta.insert("state".to_string(), serde_json::to_string(&scalars).map_err(|e| e.to_string())?);
        meta.insert(
            "checksum".to_string(),
            checksum(buffers.iter().map(|(n, _, b)| (n.as_str(), b.as_slice()))),
        );
        let views = buffers
            .iter()
            .map(|(n, s, b)| {
                let dtype = if n == "history" { Dtype::F64 } else { Dtype::F32 };
                TensorView::new(dtype, s.clone(), b).map(|v| (n.clone(), v))
            })
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| e.to_string())?;
        safetensors::serialize(views, &Some(meta)).map_err(|e| e.to_string())
    }

    /// Parses a state file's bytes; `lr` is the learning rate of the resuming run.
    pub(crate) fn from_bytes(bytes: &[u8], lr: f32) -> Result<Self, String> {
        let (scalars, tensors) = open_state(bytes)?;
        let f = &scalars.fingerprint;
        let skel = skeleton(f).ok_or_else(|| format!("unknown activation `{}`", f.activation))?;
        let groups = Groups { tensors: &tensors, names: param_names(&skel), shapes: param_shapes(&skel) };
        let latest = groups.network(&skel, "latest")?;
        let best = groups.network(&skel, "best")?;
        let history = read_history(&tensors)?;
        if history.len() != scalars.epochs_done {
            return Err(format!("{} history rows for {} epochs", history.len(), scalars.epochs_done));
        }
        let mut adam = Adam::new(lr, groups.shapes.iter().map(|s| s.iter().product()));
        adam.m = groups.read("adam.m")?;
        adam.v = groups.read("adam.v")?;
        adam.step = scalars.adam_step;
        Ok(Self {
            fingerprint: scalars.fingerprint,
            epochs_done: scalars.epochs_done,
            best_epoch: scalars.best_epoch,
            best_loss: f64::from_bits(scalars.best_loss_bits),
            since_best: scalars.since_best,
            stopped_early: scalars.stopped_early,
            history,
            latest,
            best,
            adam,
        })
    }

    /// Writes the state atomically.
    pub(crate) fn save(&self, path: &Path) -> Result<(), TrainError> {
        let bytes = self
            .to_bytes()
            .map_err(|reason| TrainError::ResumeCorrupt { path: path.to_path_buf(), reason })?;
        atomic::write(path, &bytes).map_err(|source| TrainError::Io { path: path.to_path_buf(), source })
    }

    /// Reads the state of a run with fingerprint `expected`.
    pub(crate) fn load(path: &Path, expected: &Fingerprint, lr: f32) -> Result<Self, TrainError> {
        let bytes = match std::fs::read(path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(TrainError::ResumeMissing {
                    reason: format!("no training state at {}", path.display()),
                })
            }
            Err(source) => return Err(TrainError::Io { path: path.to_path_buf(), source }),
        };
        let state = Self::from_bytes(&bytes, lr)
            .map_err(|reason| TrainError::ResumeCorrupt { path: path.to_path_buf(), reason })?;
        if let Some((what, expected, found)) = expected.difference(&state.fingerprint) {
            return Err(TrainError::ResumeMismatch { path: path.to_path_buf(), what, expected, found });
        }
        Ok(state)
    }
}

/// Writes `net` as a model file at `path` (atomically, through vae-core's validated
/// writer): `meta` with the training seed, no thresholds.
pub(crate) fn write_model(path: &Path, meta: &ModelMeta, seed: u64, net: &Network) -> Result<(), TrainError> {
    let mut meta = meta.clone();
    meta.seed = seed;
    let model =
        OwnedModel { meta, net: net.clone(), thresholds: Vec::new(), alarm: vae_core::AlarmRule::STATIC };
    model.save(path).map_err(|e| TrainError::Checkpoint { path: path.to_path_buf(), source: Box::new(e) })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::train::batches::{rng, Stream};
    use crate::train::network::init_network;

    fn state() -> TrainState {
        let cfg = TrainConfig { hidden: vec![5, 3], latent: 2, ..TrainConfig::default() };
        let f = Fingerprint::new(&cfg, 6, 10, 4, 0xabc);
        let latest = init_network(6, &cfg.hidden, 2, cfg.activation, &mut rng(1, Stream::Init, 0));
        let best = init_network(6, &cfg.hidden, 2, cfg.activation, &mut rng(2, Stream::Init, 0));
        let mut adam = Adam::new(1e-3, params(&latest).iter().map(|p| p.len()));
        adam.step = 17;
        adam.m[3][1] = 0.25;
        adam.v[0][0] = 1.5;
        let history = vec![EpochStats {
            epoch: 1,
            train_loss: 3.5,
            train_recon: 3.0,
            train_kl: 0.5,
            val_loss: None,
            val_recon: None,
            val_kl: None,
            beta: 1.0,
            seconds: 0.25,
        }];
        TrainState {
            fingerprint: f,
            epochs_done: 1,
            best_epoch: 1,
            best_loss: 3.5,
            since_best: 0,
            stopped_early: false,
            history,
            latest,
            best,
            adam,
        }
    }

    #[test]
    fn state_round_trips() {
        let s = state();
        let bytes = s.to_bytes().unwrap();
        assert_eq!(TrainState::from_bytes(&bytes, 1e-3).unwrap(), s);
    }

    #[test]
    fn corruption_and_mismatch_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("m.vaem.state");
        let s = state();
        let mut bytes = s.to_bytes().unwrap();
        let n = bytes.len();
        bytes[n - 3] ^= 0x40;
        std::fs::write(&p, &bytes).unwrap();
        let e = TrainState::load(&p, &s.fingerprint, 1e-3).unwrap_err().to_string();
        assert!(e.contains("checksum") && e.contains("m.vaem.state"), "{e}");

        s.save(&p).unwrap();
        let mut other = s.fingerprint.clone();
        other.hidden = vec![5, 4];
        let e = TrainState::load(&p, &other, 1e-3).unwrap_err().to_string();
        assert!(e.contains("model shape") && e.contains("[5, 4]") && e.contains("[5, 3]"), "{e}");

        let e = TrainState::load(&dir.path().join("nope.state"), &other, 1e-3).unwrap_err();
        assert!(matches!(e, TrainError::ResumeMissing { .. }), "{e}");
    }

    #[test]
    fn state_path_appends() {
        assert_eq!(state_path(Path::new("a/b.vaem")), Path::new("a/b.vaem.state"));
    }
}
