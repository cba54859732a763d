//! The decoder p(x|z): a stack of dense layers ending in the Gaussian mean, and a learned
//! log-variance per input dimension.

use crate::dense::{Dense, LayerShape, Layers};
use crate::error::Error;
use crate::kernel;
use crate::math::{self, LN_2PI};
use crate::weights::{Store, F32};

/// Decoder with latent width `Z`, last hidden width `H` and output width `X`.
///
/// The precision exp(-s) and the normalising constant -1/2 sum_i (s_i + ln 2 pi) do not
/// depend on the window, so they are computed once here rather than X exponentials per score.
#[derive(Clone, Copy, Debug)]
pub struct Decoder<'a, B, const Z: usize, const H: usize, const X: usize, S: Store = F32> {
    body: B,
    mean: Dense<'a, H, X, S>,
    log_var: &'a [f32; X],
    precision: [f32; X],
    log_norm: f32,
}

impl<'a, B: Layers<Z, H>, const Z: usize, const H: usize, const X: usize, S: Store>
    Decoder<'a, B, Z, H, X, S>
{
    /// A decoder from its hidden stack, its output layer (the Gaussian mean, normally with
    /// [`Activation::Identity`](crate::Activation::Identity)) and the per-dimension
    /// log-variances `s`.
    ///
    /// Fails when some `s_i` is not finite or so negative that exp(-s_i) overflows.
    pub fn new(body: B, mean: Dense<'a, H, X, S>, log_var: &'a [f32; X]) -> Result<Self, Error> {
        let (precision, log_norm) = noise_constants::<X>(log_var)?;
        Ok(Self { body, mean, log_var, precision, log_norm })
    }

    /// The Gaussian mean m(z).
    pub fn mean(&self, z: &[f32; Z]) -> [f32; X] {
        let mut m = [0.0f32; X];
        self.mean_into(z, &mut m);
        m
    }

    /// The Gaussian mean m(z), written into `out` (no copy of a returned array).
    pub fn mean_into(&self, z: &[f32; Z], out: &mut [f32; X]) {
        self.mean_with(z, &mut [0.0f32; H], out);
    }

    /// [`Decoder::mean_into`] with the caller's buffer `h` for the last hidden layer (kept
    /// between calls, it need not be zeroed for each).
    pub fn mean_with(&self, z: &[f32; Z], h: &mut [f32; H], out: &mut [f32; X]) {
        self.body.forward(z, h);
        self.mean.forward(h, out);
    }

    /// log p(x|z) = -1/2 sum_i ((x_i - m_i)^2 exp(-s_i) + s_i + ln 2 pi).
    pub fn log_likelihood(&self, x: &[f32; X], z: &[f32; Z]) -> f32 {
        let m = self.mean(z);
        -0.5 * weighted_squares(x, &m, &self.precision, &mut [], &mut []) + self.log_norm
    }

    /// The per-dimension log-variances s.
    pub const fn log_var(&self) -> &'a [f32; X] {
        self.log_var
    }

    /// exp(-s), precomputed.
    pub const fn precision(&self) -> &[f32; X] {
        &self.precision
    }

    /// -1/2 sum_i (s_i + ln 2 pi): log p(x|z) when the reconstruction is exact.
    pub const fn log_norm(&self) -> f32 {
        self.log_norm
    }

    /// The hidden stack.
    pub const fn body(&self) -> &B {
        &self.body
    }

    /// The output layer.
    pub const fn mean_head(&self) -> &Dense<'a, H, X, S> {
        &self.mean
    }

    /// Calls `f` with each layer's shape: the hidden stack, then the output layer.
    pub fn for_each_layer(&self, f: &mut dyn FnMut(LayerShape)) {
        self.body.for_each_layer(f);
        self.mean.for_each_layer(f);
    }

    /// Multiply-accumulates per decoding.
    pub fn macs(&self) -> usize {
        self.body.macs() + H * X
    }
}

/// exp(-s) and -1/2 sum (s + ln 2 pi) for log-variances `s`, checked.
pub(crate) fn noise_constants<const X: usize>(log_var: &[f32; X]) -> Result<([f32; X], f32), Error> {
    let mut precision = [0.0f32; X];
    let log_norm = fill_noise_constants(log_var, &mut precision)?;
    Ok((precision, log_norm))
}

/// Writes exp(-s) into `precision` (same length as `log_var`) and returns the log-normaliser.
pub(crate) fn fill_noise_constants(log_var: &[f32], precision: &mut [f32]) -> Result<f32, Error> {
    if precision.len() != log_var.len() {
        return Err(Error::Length {
            what: "precision buffer",
            expected: log_var.len(),
            found: precision.len(),
        });
    }
    let mut sum = 0.0f32;
    for (index, (&s, p)) in log_var.iter().zip(precision.iter_mut()).enumerate() {
        *p = math::exp(-s);
        if !s.is_finite() || !p.is_finite() || *p <= 0.0 {
            return Err(Error::InvalidParameter { tensor: "decoder.log_var", index, found: s });
        }
        sum += s + LN_2PI;
    }
    Ok(-0.5 * sum)
}

/// sum_i (x_i - m_i)^2 p_i over a time-major window (dimension i belongs to channel i mod C,
/// C = `channels.len()`), also added per channel into `channels`. When C divides 8 the sum
/// runs in eight lanes ([`weighted_squares_lanes`]); otherwise per channel first (in time
/// order, into `tmp`, C floats), then over channels. [`weighted_squares_fixed`] takes the same
/// route, so both give the same bits. With no channels it is a plain sum. `x.len()` must be a
/// multiple of C (the callers check it).
#[inline]
pub(crate) fn weighted_squares(
    x: &[f32],
    m: &[f32],
    precision: &[f32],
    channels: &mut [f32],
    tmp: &mut [f32],
) -> f32 {
    let c = channels.len();
    if c != 0 && 8 % c == 0 {
        return weighted_squares_lanes(x, m, precision, channels);
    }
    if c == 0 {
        let mut total = 0.0f32;
        for ((&xi, &mi), &pi) in x.iter().zip(m).zip(precision) {
            let d = xi - mi;
            total += d * d * pi;
        }
        return total;
    }
    tmp.fill(0.0);
    for ((xs, ms), ps) in x.chunks_exact(c).zip(m.chunks_exact(c)).zip(precision.chunks_exact(c)) {
        for (((&xi, &mi), &pi), acc) in xs.iter().zip(ms).zip(ps).zip(tmp.iter_mut()) {
            let d = xi - mi;
            *acc += d * d * pi;
        }
    }
    let mut total = 0.0f32;
    for (slot, &acc) in channels.iter_mut().zip(tmp.iter()) {
        *slot += acc;
        total += acc;
    }
    total
}

/// [`weighted_squares`] for a channel count known at compile time: the per-channel sums stay
/// in registers (the device's hot loop).
#[inline]
pub(crate) fn weighted_squares_fixed<const C: usize>(
    x: &[f32],
    m: &[f32],
    precision: &[f32],
    channels: &mut [f32],
) -> f32 {
    if C > 0 && 8 % C == 0 {
        return weighted_squares_lanes(x, m, precision, channels);
    }
    let mut acc = [0.0f32; C];
    for ((xs, ms), ps) in
        x.as_chunks::<C>().0.iter().zip(m.as_chunks::<C>().0).zip(precision.as_chunks::<C>().0)
    {
        for c in 0..C {
            let d = xs[c] - ms[c];
            acc[c] += d * d * ps[c];
        }
    }
    let mut total = 0.0f32;
    for (slot, &a) in channels.iter_mut().zip(acc.iter()) {
        *slot += a;
        total += a;
    }
    total
}

/// [`weighted_squares`] when the channel count (`channels.len()`) divides 8: whole blocks of
/// 8 values go through [`kernel::weighted_squares8`] (the assembly kernel on the device), whose
/// lane `j` belongs to channel `j % C`; the remainder (fewer than 8 values) adds to lanes
/// from 0 on. The callers check that C divides 8 (other counts give a meaningless split, never a panic).
pub(crate) fn weighted_squares_lanes(x: &[f32], m: &[f32], precision: &[f32], channels: &mut [f32]) -> f32 {
    let c = channels.len().max(1);
    let mut lanes = [0.0f32; 8];
    let done = kernel::weighted_squares8(x, m, precision, &mut lanes);
    let (xr, mr, pr) = (rest(x, done), rest(m, done), rest(precision, done));
    for (((xs, ms), ps), lane) in xr.iter().zip(mr).zip(pr).zip(lanes.iter_mut()) {
        let d = xs - ms;
        *lane += d * ps * d;
    }
    let mut total = 0.0f32;
    for (ch, slot) in channels.iter_mut().enumerate() {
        let mut sum = 0.0f32;
        for lane in lanes.iter().skip(ch).step_by(c) {
            sum += lane;
        }
        *slot += sum;
        total += sum;
    }
    total
}

/// `s` from `start` on (empty past its end).
fn rest(s: &[f32], start: usize) -> &[f32] {
    s.get(start..).unwrap_or(&[])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Activation;

    #[test]
    fn log_likelihood_by_hand() {
        // Z = 1, H = 1, X = 2: h = z, m = [2h, -h], s = [0, ln 4].
        let w1 = [[1.0]];
        let b1 = [0.0];
        let w2 = [[2.0], [-1.0]];
        let b2 = [0.0, 0.0];
        let s = [0.0, 4.0f32.ln()];
        let dec: Decoder<'_, _, 1, 1, 2> = Decoder::new(
            Dense::new(&w1, &b1, Activation::Identity),
            Dense::new(&w2, &b2, Activation::Identity),
            &s,
        )
        .unwrap();
        // z = 1 -> m = [2, -1]; x = [3, 1]: residuals 1 and 2, variances 1 and 4.
        // log p = -1/2 (1/1 + 0 + ln 2pi) - 1/2 (4/4 + ln 4 + ln 2pi) = -1 - ln 2 - ln 2pi.
        let want = -1.0 - 2.0f32.ln() - LN_2PI;
        assert!((dec.log_likelihood(&[3.0, 1.0], &[1.0]) - want).abs() < 1e-6);
        assert!((dec.log_norm() - (-0.5 * (4.0f32.ln() + 2.0 * LN_2PI))).abs() < 1e-6);
    }

    #[test]
    fn rejects_unusable_log_variances() {
        let w = [[1.0]];
        let b = [0.0];
        for bad in [f32::NAN, f32::INFINITY, -200.0] {
            let s = [bad];
            let err = Decoder::<'_, _, 1, 1, 1>::new(
                Dense::new(&w, &b, Activation::Identity),
                Dense::new(&w, &b, Activation::Identity),
                &s,
            )
            .unwrap_err();
            assert!(matches!(err, Error::InvalidParameter { tensor: "decoder.log_var", index: 0, .. }));
        }
    }

    #[test]
    fn channel_split_is_time_major() {
        let x = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0];
        let m = [0.0; 6];
        let p = [1.0; 6];
        let mut ch = [0.0; 2];
        let total = weighted_squares(&x, &m, &p, &mut ch, &mut [0.0; 2]);
        assert_eq!(total, 91.0);
        assert_eq!(ch, [1.0 + 9.0 + 25.0, 4.0 + 16.0 + 36.0]);
        let mut fixed = [0.0; 2];
        assert_eq!(weighted_squares_fixed::<2>(&x, &m, &p, &mut fixed), 91.0);
        assert_eq!(fixed, ch);
    }
}
