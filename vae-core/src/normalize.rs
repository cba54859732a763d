//! Per-channel normalisation with the training data's mean and standard deviation.
//!
//! The same function normalises on the host and on the device, so both feed the network the
//! same bits.

use crate::error::Error;

/// (x - mean) / std for each channel of a `C`-channel sample.
#[derive(Clone, Copy, Debug, PartialEq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Normalizer<const C: usize> {
    mean: [f32; C],
    std: [f32; C],
}

impl<const C: usize> Normalizer<C> {
    /// Checks that every mean is finite and every std finite and positive.
    pub fn new(mean: [f32; C], std: [f32; C]) -> Result<Self, Error> {
        check(&mean, &std)?;
        Ok(Self { mean, std })
    }

    /// Per-channel means.
    pub const fn mean(&self) -> &[f32; C] {
        &self.mean
    }

    /// Per-channel standard deviations.
    pub const fn std(&self) -> &[f32; C] {
        &self.std
    }

    /// Normalises one sample in place.
    #[inline]
    pub fn apply(&self, sample: &mut [f32; C]) {
        normalize_in_place(sample, &self.mean, &self.std);
    }
}

/// Checks normalisation statistics of equal length.
pub fn check(mean: &[f32], std: &[f32]) -> Result<(), Error> {
    if mean.len() != std.len() {
        return Err(Error::Length { what: "normalisation std", expected: mean.len(), found: std.len() });
    }
    for (channel, (&m, &s)) in mean.iter().zip(std).enumerate() {
        if !m.is_finite() {
            return Err(Error::InvalidMean { channel, found: m });
        }
        if !(s.is_finite() && s > 0.0) {
            return Err(Error::InvalidStd { channel, found: s });
        }
    }
    Ok(())
}

/// Normalises time-major values (`values[t * C + c]`, C = `mean.len()`) in place. NaN and
/// infinities stay non-finite, so the scorer still sees them (and reports the window
/// [`NonFinite`](crate::Outcome::NonFinite)); a finite sample stays finite (see
/// [`normalize_value`]), so a huge spike is scored, and flagged, rather than taken for a
/// faulty sensor.
#[inline]
pub fn normalize_in_place(values: &mut [f32], mean: &[f32], std: &[f32]) {
    if mean.is_empty() {
        return;
    }
    for chunk in values.chunks_mut(mean.len()) {
        for ((v, m), s) in chunk.iter_mut().zip(mean).zip(std) {
            *v = normalize_value(*v, *m, *s);
        }
    }
}

/// `(v - mean) / std` for one value, saturated at `±f32::MAX` when a finite `v` overflows
/// (`f32::MAX`, a common sentinel, with a standard deviation below 1): only NaN and
/// infinite *samples* give non-finite normalised values. The window of such a spike then
/// scores beyond f32 range, which is [`Outcome::Overflow`](crate::Outcome::Overflow): an
/// anomaly, not an invalid window.
#[inline]
pub fn normalize_value(v: f32, mean: f32, std: f32) -> f32 {
    let n = (v - mean) / std;
    // With a finite mean and a finite, positive std, a finite `v` gives a finite or an
    // infinite `n`, never NaN.
    if n.is_infinite() && v.is_finite() {
        f32::MAX.copysign(n)
    } else {
        n
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises_each_channel() {
        let n = Normalizer::new([1.0, -2.0], [2.0, 0.5]).unwrap();
        let mut s = [3.0, -1.0];
        n.apply(&mut s);
        assert_eq!(s, [1.0, 2.0]);
        let mut w = [3.0, -1.0, 1.0, -2.0];
        normalize_in_place(&mut w, n.mean(), n.std());
        assert_eq!(w, [1.0, 2.0, 0.0, 0.0]);
        let mut bad = [f32::NAN, f32::INFINITY];
        n.apply(&mut bad);
        assert!(bad[0].is_nan() && bad[1].is_infinite());
    }

    /// A finite sample stays finite: `f32::MAX` divided by a std below 1 (or minus a
    /// negative mean) used to become `inf`, and the window was then reported as holding
    /// NaN/Inf samples instead of being scored (and flagged).
    #[test]
    fn a_finite_sample_never_normalises_to_infinity() {
        let n = Normalizer::new([-1.0, 0.0, 2.0], [0.5, 0.25, 1.0]).unwrap();
        let mut s = [f32::MAX, f32::MIN, f32::MAX];
        n.apply(&mut s);
        assert_eq!(s, [f32::MAX, f32::MIN, f32::MAX]);
        let mut w = [f32::MAX, -3.0e38, 3.0e38];
        normalize_in_place(&mut w, &[-1.0e38], &[0.5]);
        assert_eq!(w, [f32::MAX, f32::MIN, f32::MAX]);
        // NaN and infinities stay what they are.
        let mut bad = [f32::NAN, f32::NEG_INFINITY, f32::INFINITY];
        n.apply(&mut bad);
        assert!(bad[0].is_nan() && bad[1] == f32::NEG_INFINITY && bad[2] == f32::INFINITY);
    }

    #[test]
    fn rejects_bad_statistics() {
        assert_eq!(
            Normalizer::new([0.0, 0.0], [1.0, 0.0]),
            Err(Error::InvalidStd { channel: 1, found: 0.0 })
        );
        assert!(matches!(Normalizer::new([f32::NAN], [1.0]), Err(Error::InvalidMean { channel: 0, .. })));
        assert!(matches!(Normalizer::new([0.0], [-1.0]), Err(Error::InvalidStd { .. })));
        assert!(matches!(check(&[0.0], &[]), Err(Error::Length { .. })));
    }
}
