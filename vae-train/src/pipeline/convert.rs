//! Weight encodings on the host: rounding a model's weights to the encoding its file stores
//! (`f32`, `f16`, `int8`; see [`vae_core::weights`]) and measuring what that changes.
//!
//! The device computes with the weights its file stores, so a host model whose file is
//! `f16` or `int8` must hold those rounded values too, or its scores, and the threshold
//! calibrated on them, are not the device's. [`encode`] rounds through the file's own bytes,
//! so host and device hold the very same `f32` values.

use crate::error::Error;
use crate::model::{Network, OwnedModel};
use crate::pipeline::{decisions, threshold};
use crate::scoring::ScoredWindow;
use vae_core::weights::Encoding;

/// `model` with its weights stored as `weights`: written to model-file bytes and read back,
/// so it holds the dequantised values the device computes with.
pub fn encode(mut model: OwnedModel, weights: Encoding) -> Result<OwnedModel, Error> {
    if weights == Encoding::F32 && model.meta.weights == Encoding::F32 {
        // f32 stores f32 values exactly.
        return Ok(model);
    }
    model.meta.weights = weights;
    OwnedModel::from_bytes(&model.to_bytes()?)
}

/// Bytes the weight matrices of `net` take in a model file stored as `weights` (with the
/// padding and the `int8` row scales; biases, log-variances and the header excluded).
pub fn weight_bytes(net: &Network, weights: Encoding) -> usize {
    net.layers().map(|l| 4 * weights.words(l.inputs, l.outputs)).sum()
}

/// A model re-encoded by [`convert`], with what the change of encoding did to the weights.
#[derive(Clone, Debug)]
pub struct Conversion {
    /// The model with its new encoding (thresholds and alarm rule kept).
    pub model: OwnedModel,
    /// The encoding it had.
    pub from: Encoding,
    /// Bytes of weights before ([`weight_bytes`]).
    pub bytes_before: usize,
    /// Bytes of weights after.
    pub bytes_after: usize,
    /// The largest absolute change of one weight (0 when the new encoding holds the old
    /// values exactly, as `f32` holds `f16` and `int8` values).
    pub largest_change: f32,
}

impl Conversion {
    /// Whether the new encoding keeps the weights, so the scores and thresholds still hold.
    pub fn exact(&self) -> bool {
        self.largest_change == 0.0
    }
}

/// Re-encodes `model`'s weights as `to`. The thresholds and alarm rule are kept as they
/// are: they were calibrated on the old weights' scores, and recalibrating needs the
/// training data (`vae-train fit --weights`).
pub fn convert(model: &OwnedModel, to: Encoding) -> Result<Conversion, Error> {
    let converted = encode(model.clone(), to)?;
    let largest_change = model
        .net
        .layers()
        .zip(converted.net.layers())
        .flat_map(|(a, b)| a.weight.iter().zip(&b.weight))
        .map(|(a, b)| (a - b).abs())
        .fold(0.0f32, f32::max);
    Ok(Conversion {
        from: model.meta.weights,
        bytes_before: weight_bytes(&model.net, model.meta.weights),
        bytes_after: weight_bytes(&converted.net, to),
        largest_change,
        model: converted,
    })
}

/// How much the scores of the same windows differ between two models (the same network in
/// two encodings).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ScoreChange {
    /// Windows scored finite by both models.
    pub windows: usize,
    /// The largest absolute change of a window's score.
    pub largest: f32,
    /// The largest change relative to the old score's magnitude.
    pub largest_relative: f64,
    /// Windows whose decision (at each model's threshold and alarm rule) differs.
    pub decisions_changed: usize,
}

/// Compares the scores `old` and `new` (the same windows, scored by [`super::score`] with
/// `old_model` and `new_model`) and the decisions each model takes on them.
pub fn score_change(
    old_model: &OwnedModel,
    old: &[ScoredWindow],
    new_model: &OwnedModel,
    new: &[ScoredWindow],
) -> Result<ScoreChange, Error> {
    let mut c = ScoreChange::default();
    for (a, b) in old.iter().zip(new) {
        if let (Some(x), Some(y)) = (a.score(), b.score()) {
            let d = (x - y).abs();
            c.windows += 1;
            c.largest = c.largest.max(d);
            if x != 0.0 {
                c.largest_relative = c.largest_relative.max(f64::from(d) / f64::from(x.abs()));
            }
        }
    }
    let da = decisions(old_model, old, threshold(old_model).as_ref())?;
    let db = decisions(new_model, new, threshold(new_model).as_ref())?;
    c.decisions_changed = da.iter().zip(&db).filter(|(a, b)| a != b).count();
    Ok(c)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::tests::tiny as model;

    #[test]
    fn encodings_round_the_weights_and_f32_keeps_them() {
        let m = model();
        let f16 = convert(&m, Encoding::F16).unwrap();
        assert!(f16.largest_change > 0.0 && f16.largest_change < 1e-2, "{}", f16.largest_change);
        assert_eq!(f16.model.meta.weights, Encoding::F16);
        assert!(f16.bytes_after < f16.bytes_before);
        // f32 holds the f16 values exactly, and f16 again changes nothing.
        let back = convert(&f16.model, Encoding::F32).unwrap();
        assert!(back.exact());
        assert_eq!(back.model.net, f16.model.net);
        assert!(convert(&f16.model, Encoding::F16).unwrap().exact());
        let int8 = convert(&m, Encoding::Int8).unwrap();
        assert!(int8.largest_change > f16.largest_change);
        assert!(convert(&m, Encoding::F32).unwrap().exact());
    }
}
