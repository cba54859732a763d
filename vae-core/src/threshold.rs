//! The decision threshold on the anomaly score, and its calibration from scores of normal
//! windows.

use crate::error::Error;

/// Windows whose anomaly score exceeds the threshold are anomalous.
///
/// Scores are in nats: minus a bound on the window's log-density log p(x) under the model
/// (see [`crate::score`]), so a higher score is a less likely window. They can be negative
/// (a density above 1, common for smooth signals normalised to unit spread) and their scale
/// depends on the window size and front end, so a threshold is only meaningful for the model
/// it was calibrated with. `vae-train fit` calibrates it on held-out normal windows: by
/// default the empirical quantile `1 - a` of their (smoothed) scores for the false-alarm rate
/// `a` the user accepts (`--false-alarm-rate`, 0.005); `--threshold-rule cantelli` takes
/// Cantelli's bound instead (mean + sqrt((1 - a) / a) standard deviations, which holds for any
/// score distribution), `auto` the bound where there are too few windows for the quantile.
/// The model file records the threshold with its quantile. On the device, the alarm rule may learn its own level
/// after boot ([`crate::alarm`]).
///
/// ```
/// use vae_core::Threshold;
///
/// // Scores of normal windows (nats; negative ones are fine).
/// let mut normal = [-3.5f32, -1.0, 0.25, 2.0, 4.5, 1.5, -0.5, 3.0];
/// let t = Threshold::from_quantile(&mut normal, 0.9)?;
/// assert!(t.value() > 3.0 && t.value() < 4.5);
/// assert!(t.is_exceeded(12.0) && !t.is_exceeded(-2.0));
/// assert!(Threshold::new(f32::NAN).is_err());
/// # Ok::<(), vae_core::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Threshold {
    value: f32,
}

impl Threshold {
    /// A threshold at a finite score.
    pub const fn new(value: f32) -> Result<Self, Error> {
        if value.is_finite() {
            Ok(Self { value })
        } else {
            Err(Error::InvalidThreshold { found: value })
        }
    }

    /// The `q`-quantile of `scores` (linear interpolation between order statistics, as
    /// NumPy's default), e.g. `q = 0.995` to let 0.5% of normal windows through. Sorts
    /// `scores` in place and ignores NaN.
    pub fn from_quantile(scores: &mut [f32], q: f32) -> Result<Self, Error> {
        if !(0.0..=1.0).contains(&q) {
            return Err(Error::InvalidQuantile { found: q });
        }
        // Move NaN to the end, then sort the rest.
        let mut n = 0;
        for i in 0..scores.len() {
            if !scores[i].is_nan() {
                scores.swap(i, n);
                n += 1;
            }
        }
        let finite = &mut scores[..n];
        if finite.is_empty() {
            return Err(Error::NoScores);
        }
        finite.sort_unstable_by(f32::total_cmp);
        let pos = q as f64 * (n - 1) as f64;
        let lo = pos as usize; // pos >= 0, so truncation is floor
        let hi = (lo + 1).min(n - 1);
        let frac = (pos - lo as f64) as f32;
        let value = finite[lo] + (finite[hi] - finite[lo]) * frac;
        Self::new(value)
    }

    /// The score value.
    pub const fn value(&self) -> f32 {
        self.value
    }

    /// Whether `score` lies above the threshold.
    #[inline]
    pub fn is_exceeded(&self, score: f32) -> bool {
        score > self.value
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_match_numpy_linear() {
        let mut s = [4.0, 1.0, 3.0, 2.0, f32::NAN];
        // numpy.quantile([1, 2, 3, 4], 0.5) = 2.5; 0.9 -> 3.7; 0 -> 1; 1 -> 4.
        assert_eq!(Threshold::from_quantile(&mut s, 0.5).unwrap().value(), 2.5);
        assert!((Threshold::from_quantile(&mut s, 0.9).unwrap().value() - 3.7).abs() < 1e-6);
        assert_eq!(Threshold::from_quantile(&mut s, 0.0).unwrap().value(), 1.0);
        assert_eq!(Threshold::from_quantile(&mut s, 1.0).unwrap().value(), 4.0);
        assert_eq!(Threshold::from_quantile(&mut [7.0], 0.995).unwrap().value(), 7.0);
    }

    #[test]
    fn rejects_bad_input() {
        assert_eq!(Threshold::from_quantile(&mut [], 0.5), Err(Error::NoScores));
        assert_eq!(Threshold::from_quantile(&mut [f32::NAN], 0.5), Err(Error::NoScores));
        assert!(matches!(Threshold::from_quantile(&mut [1.0], 1.5), Err(Error::InvalidQuantile { .. })));
        assert!(Threshold::new(f32::INFINITY).is_err());
        let t = Threshold::new(2.0).unwrap();
        assert!(t.is_exceeded(2.5) && !t.is_exceeded(2.0));
    }
}
