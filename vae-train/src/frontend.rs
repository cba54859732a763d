//! Training with an input front end (`fit --transform`, `--wandering`, `--smooth`): the
//! transform is built from the options and the training rows, every window goes through
//! `vae-core`'s [`Transform::apply`] (the device's code), the network trains on features
//! standardised with training statistics, and the standardisation is then folded into the
//! first encoder layer and the decoder's output layer and variances, so the model file needs
//! nothing beyond the transform to describe its input.
//!
//! Folding: with features `f`, means `m` and standard deviations `s`, the network trained on
//! `u = (f - m) / s`. The encoder's first layer `W u + b` becomes `(W / s) f + (b - W m / s)`;
//! the decoder's mean `m_u(z)` of `u` becomes `s m_u(z) + m` of `f` and its log-variance
//! `v` becomes `v + 2 ln s`. Then log p(f|z) = log p(u|z) - sum ln s: every score of the
//! folded model is the trained one plus a constant, so rankings are unchanged, and the
//! threshold is calibrated on the folded model itself.

use crate::data::{Recording, Windows};
use crate::error::Error;
use crate::model::Network;
use std::borrow::Cow;
use vae_core::transform::{Features, Transform, MAX_WANDERING_CHANNELS, WANDERING_RATIO};

/// Smallest standard deviation a feature is divided by (features of normalised samples are
/// of order 1; a constant feature keeps this scale).
pub const FEATURE_STD_FLOOR: f32 = 1e-3;

/// For each channel of normalised training recordings: the standard deviation of its window
/// means over the standard deviation of its samples. About `1/sqrt(W)` for noise around a
/// steady level, near 1 for a level that wanders. 0 for a constant channel.
pub fn level_wander(train: &[Recording], window: usize, hop: usize) -> Vec<f64> {
    let c = train.first().map_or(0, |r| r.channels.len());
    let mut out = Vec::with_capacity(c);
    for ch in 0..c {
        let (mut n, mut s, mut ss) = (0f64, 0f64, 0f64);
        let (mut wn, mut ws, mut wss) = (0f64, 0f64, 0f64);
        for r in train {
            let rows = r.rows();
            let col: Vec<f64> = (0..rows)
                .filter_map(|i| r.row(i).and_then(|row| row.get(ch)))
                .map(|&v| f64::from(v))
                .collect();
            for &v in &col {
                n += 1.0;
                s += v;
                ss += v * v;
            }
            let mut start = 0;
            while start + window <= col.len() {
                let m = col[start..start + window].iter().sum::<f64>() / window as f64;
                wn += 1.0;
                ws += m;
                wss += m * m;
                start += hop.max(1);
            }
        }
        let var = |n: f64, s: f64, ss: f64| if n > 0.0 { (ss / n - (s / n).powi(2)).max(0.0) } else { 0.0 };
        let (total, means) = (var(n, s, ss).sqrt(), var(wn, ws, wss).sqrt());
        out.push(if total > 1e-12 { means / total } else { 0.0 });
    }
    out
}

/// Channels whose level wanders in normal operation (see `vae_core::transform`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Wandering {
    /// None: every level is a feature as it is.
    #[default]
    None,
    /// Decided on the training rows (`vae_core::transform::WANDERING_RATIO`).
    Auto,
    /// These channels, by name.
    Channels(Vec<String>),
}

/// The transform of `features`, `wandering` channels (for [`Wandering::Auto`], decided on
/// the normalised training recordings by [`level_wander`] and [`WANDERING_RATIO`]) and
/// `smoothing`. Returns the transform and the names of the wandering channels.
pub fn transform_of(
    f: Features,
    wandering: &Wandering,
    smoothing: u16,
    channels: &[String],
    train: &[Recording],
    window: usize,
    hop: usize,
) -> Result<(Transform, Vec<String>), Error> {
    let mut t = Transform { smoothing, ..Transform::new(f) };
    let mut names = Vec::new();
    match wandering {
        Wandering::None => {}
        Wandering::Auto => {
            if !f.has_level() {
                return Err(Error::Usage(format!(
                    "--wandering auto needs a transform with a level row (demean, stats or spectrum), not `{}`",
                    f.name()
                )));
            }
            {
                for (c, r) in level_wander(train, window, hop).into_iter().enumerate() {
                    if r > WANDERING_RATIO && c < MAX_WANDERING_CHANNELS {
                        t.wandering |= 1 << c;
                        names.push(channels[c].clone());
                    }
                }
            }
        }
        Wandering::Channels(list) => {
            if !f.has_level() {
                return Err(Error::Usage(format!(
                    "--wandering needs a transform with a level row (demean, stats or spectrum), not `{}`",
                    f.name()
                )));
            }
            for name in list.iter().map(String::as_str) {
                let c = channels.iter().position(|n| n == name).ok_or_else(|| {
                    Error::Usage(format!(
                        "--wandering: no channel `{name}`; channels: {}",
                        channels.join(", ")
                    ))
                })?;
                if c >= MAX_WANDERING_CHANNELS {
                    return Err(Error::Usage(format!(
                        "--wandering: channel `{name}` is channel {c}; only the first {MAX_WANDERING_CHANNELS} can be marked"
                    )));
                }
                t.wandering |= 1 << c;
                names.push(name.to_string());
            }
        }
    }
    t.check(window, channels.len()).map_err(|e| match e {
        vae_core::Error::InvalidField { field, found } if field.starts_with("window") => {
            Error::Usage(format!(
                "--transform {} cannot take windows of {found} samples{}",
                f.name(),
                if f == Features::Spectrum { " (it needs a power of two from 4 to 1024)" } else { "" }
            ))
        }
        vae_core::Error::InvalidField { field: "smoothing", found } => Error::Usage(format!(
            "--smooth must lie in 1..={}, found {found}",
            vae_core::transform::MAX_SMOOTHING
        )),
        other => Error::Core(other),
    })?;
    Ok((t, names))
}

/// The network inputs of `windows` (normalised): `n * X` values. Refuses a window the
/// transform would not score (non-finite samples or features), naming it.
pub fn features_of(t: &Transform, windows: &Windows) -> Result<Vec<f32>, Error> {
    let c = windows.channels;
    let x = t.input_len(windows.window, c);
    let mut out = vec![0.0f32; windows.len() * x];
    let mut scratch = vec![0.0f32; windows.window];
    for (i, (w, o)) in windows.iter().zip(out.chunks_exact_mut(x.max(1))).enumerate() {
        if let Some(skip) = t.apply(w, c, o, &mut scratch)? {
            return Err(Error::Input(format!(
                "training window {i} (row {} of recording {}) cannot be transformed: {skip:?}",
                windows.origin[i].start, windows.origin[i].recording
            )));
        }
    }
    Ok(out)
}

/// Per-feature mean and standard deviation of training features.
#[derive(Clone, Debug, PartialEq)]
pub struct FeatureScale {
    /// Means.
    pub mean: Vec<f32>,
    /// Standard deviations, at least [`FEATURE_STD_FLOOR`].
    pub std: Vec<f32>,
}

impl FeatureScale {
    /// Fits on `n * x` training features (f64 accumulation).
    pub fn fit(features: &[f32], x: usize) -> Self {
        let n = (features.len() / x.max(1)).max(1) as f64;
        let mut s = vec![0f64; x];
        let mut ss = vec![0f64; x];
        for row in features.chunks_exact(x.max(1)) {
            for ((a, b), &v) in s.iter_mut().zip(ss.iter_mut()).zip(row) {
                *a += f64::from(v);
                *b += f64::from(v) * f64::from(v);
            }
        }
        let mean: Vec<f64> = s.iter().map(|v| v / n).collect();
        let std = ss
            .iter()
            .zip(&mean)
            .map(|(b, m)| ((b / n - m * m).max(0.0).sqrt() as f32).max(FEATURE_STD_FLOOR))
            .collect();
        Self { mean: mean.into_iter().map(|v| v as f32).collect(), std }
    }

    /// Standardises `n * x` features in place.
    pub fn apply(&self, features: &mut [f32]) {
        for row in features.chunks_exact_mut(self.mean.len().max(1)) {
            for ((v, m), s) in row.iter_mut().zip(&self.mean).zip(&self.std) {
                *v = (*v - m) / s;
            }
        }
    }

    /// Folds the standardisation into `net` (trained on standardised features), so that it
    /// reads and models the features themselves (see the module documentation).
    pub fn fold(&self, net: &mut Network) {
        let (m, s): (Vec<f64>, Vec<f64>) =
            self.mean.iter().zip(&self.std).map(|(&m, &s)| (f64::from(m), f64::from(s))).unzip();
        if let Some(first) = net.encoder.first_mut() {
            let inputs = first.inputs;
            for (o, b) in first.bias.iter_mut().enumerate() {
                let row = &mut first.weight[o * inputs..(o + 1) * inputs];
                let mut shift = 0f64;
                for ((w, mi), si) in row.iter_mut().zip(&m).zip(&s) {
                    let scaled = f64::from(*w) / si;
                    shift += scaled * mi;
                    *w = scaled as f32;
                }
                *b = (f64::from(*b) - shift) as f32;
            }
        }
        let out = &mut net.mean;
        let inputs = out.inputs;
        for (i, b) in out.bias.iter_mut().enumerate() {
            let (mi, si) = (m.get(i).copied().unwrap_or(0.0), s.get(i).copied().unwrap_or(1.0));
            for w in &mut out.weight[i * inputs..(i + 1) * inputs] {
                *w = (f64::from(*w) * si) as f32;
            }
            *b = (f64::from(*b) * si + mi) as f32;
        }
        for (v, si) in net.decoder_log_var.iter_mut().zip(&s) {
            *v = (f64::from(*v) + 2.0 * si.ln()) as f32;
        }
    }
}

/// Training and validation inputs (`n * X` values each), and the scale to fold back into the
/// network after training (`None` for raw windows).
pub type TrainingInputs<'w> = (Cow<'w, [f32]>, Cow<'w, [f32]>, Option<FeatureScale>);

/// What the network trains on: raw windows as they are; other front ends' features,
/// standardised, with the scale to fold back after training.
pub fn training_inputs<'w>(
    t: &Transform,
    train: &'w Windows,
    val: Option<&'w Windows>,
) -> Result<TrainingInputs<'w>, Error> {
    if t.features == Features::Raw {
        return Ok((Cow::Borrowed(&train.data), Cow::Borrowed(val.map_or(&[][..], |v| &v.data)), None));
    }
    let x = t.input_len(train.window, train.channels);
    let mut tf = features_of(t, train)?;
    let mut vf = match val {
        Some(v) => features_of(t, v)?,
        None => Vec::new(),
    };
    let scale = FeatureScale::fit(&tf, x);
    scale.apply(&mut tf);
    scale.apply(&mut vf);
    Ok((Cow::Owned(tf), Cow::Owned(vf), Some(scale)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Layer;
    use crate::model::OwnedModel;
    use vae_core::model_file::Calibration;
    use vae_core::{Activation, Rng, ScoreConfig, ScoreKind};

    fn net(x: usize) -> Network {
        let mut rng = Rng::new(3);
        let mut l = |i: usize, o: usize, a| {
            let mut l = Layer::zeros(i, o, a);
            l.weight.iter_mut().for_each(|w| *w = 0.3 * rng.normal());
            l.bias.iter_mut().for_each(|b| *b = 0.1 * rng.normal());
            l
        };
        Network {
            encoder: vec![l(x, 5, Activation::Tanh)],
            mu: l(5, 2, Activation::Identity),
            log_var: l(5, 2, Activation::Identity),
            decoder: vec![l(2, 5, Activation::Tanh)],
            mean: l(5, x, Activation::Identity),
            decoder_log_var: (0..x).map(|i| 0.1 * i as f32 - 0.2).collect(),
        }
    }

    #[test]
    fn folding_shifts_every_score_by_the_log_scales() {
        let x = 4;
        let scale = FeatureScale { mean: vec![1.0, -2.0, 0.5, 3.0], std: vec![2.0, 0.5, 1.0, 4.0] };
        let trained = net(x);
        let mut folded = trained.clone();
        scale.fold(&mut folded);
        let meta = crate::model::ModelMeta {
            weights: vae_core::weights::Encoding::F32,
            name: "f".into(),
            seed: 1,
            window: 2,
            hop: 1,
            channels: vec!["a".into(), "b".into()],
            norm_mean: vec![0.0; 2],
            norm_std: vec![1.0; 2],
            score: ScoreConfig::DETERMINISTIC,
            transform: Transform::Raw,
        };
        let cal = vec![Calibration { quantile: 0.99, threshold: 1.0 }];
        let a = OwnedModel {
            meta: meta.clone(),
            net: trained,
            thresholds: cal.clone(),
            alarm: vae_core::AlarmRule::STATIC,
        };
        let b = OwnedModel { meta, net: folded, thresholds: cal, alarm: vae_core::AlarmRule::STATIC };
        let shift: f32 = scale.std.iter().map(|s| s.ln()).sum();
        let f = [0.7f32, -1.5, 2.0, 5.0];
        let mut u = f;
        scale.apply(&mut u);
        for cfg in [ScoreConfig::DETERMINISTIC, ScoreConfig::new(ScoreKind::Iwae, 4).unwrap()] {
            let score = |m: &OwnedModel, x: &[f32]| {
                m.with_dyn_vae(|v| {
                    let mut work = vec![0.0; v.work_len(2)];
                    v.score(x, cfg, &mut Rng::for_stream(1, 1), &mut work, &mut [0.0; 2])
                        .unwrap()
                        .score()
                        .unwrap()
                })
                .unwrap()
            };
            let (su, sf) = (score(&a, &u), score(&b, &f));
            assert!((sf - (su + shift)).abs() < 1e-4 * su.abs().max(1.0), "{cfg:?}: {sf} vs {su} + {shift}");
        }
    }

    #[test]
    fn scale_and_wander() {
        let s = FeatureScale::fit(&[1.0, 5.0, 3.0, 5.0], 2);
        assert_eq!((s.mean.as_slice(), s.std.as_slice()), (&[2.0, 5.0][..], &[1.0, FEATURE_STD_FLOOR][..]));
        // Channel a: a slow ramp (wanders); channel b: alternating noise around 0.
        let rows = 64;
        let values: Vec<f32> =
            (0..rows).flat_map(|i| [i as f32 / rows as f32, if i % 2 == 0 { 1.0 } else { -1.0 }]).collect();
        let r = Recording::new("r.csv", vec!["a".into(), "b".into()], values);
        let w = level_wander(std::slice::from_ref(&r), 8, 4);
        assert!(w[0] > 0.9 && w[1] < 0.01, "{w:?}");
        let names = ["a".to_string(), "b".to_string()];
        let (none, auto) = (Wandering::None, Wandering::Auto);
        let by_name = |n: &str| Wandering::Channels(vec![n.to_string()]);
        let (t, n) = transform_of(Features::Stats, &auto, 4, &names, std::slice::from_ref(&r), 8, 4).unwrap();
        assert_eq!((t.wandering, n, t.smoothing), (1, vec!["a".to_string()], 4));
        let (t, _) = transform_of(Features::Demean, &by_name("b"), 1, &names, &[], 8, 4).unwrap();
        assert_eq!(t.wandering, 2);
        assert!(transform_of(Features::Raw, &by_name("b"), 1, &names, &[], 8, 4).is_err());
        assert!(
            transform_of(Features::Raw, &auto, 1, &names, &[], 8, 4).is_err(),
            "auto is refused as a name is"
        );
        assert!(transform_of(Features::Stats, &by_name("c"), 1, &names, &[], 8, 4).is_err());
        // An unknown front-end name is refused where the name is parsed: `cli::limits::transform`.
        assert!(transform_of(Features::Spectrum, &none, 1, &names, &[], 24, 4).is_err());
        assert!(transform_of(Features::Raw, &none, 0, &names, &[], 8, 4).is_err());
    }
}
