//! How a layer's weight matrix is stored: `f32` (as trained), `f16` (half the flash), or
//! `int8` with one `f32` scale per output row (a quarter). Only storage shrinks: the
//! weights are converted to `f32` as they are read, and every activation and sum stays
//! `f32`, on the host and the device alike.
//!
//! * `f16`: IEEE-754 binary16, rounded to nearest even from the trained `f32`; the
//!   conversion back is exact ([`f16_to_f32`]).
//! * `int8`: row `o` holds `q[o][i]` in -127..=127 and a scale `s[o] = max |w[o][i]| / 127`;
//!   the weight is the `f32` product `s[o] * q[o][i]` ([`dequantize_i8`]), which the host
//!   holds. The kernels apply the scale once per row, `b + s * sum(q x)`, one multiply per
//!   row instead of one per weight: the same value as the host's sum of the dequantised
//!   weights' products up to rounding.
//!
//! The encoding of a layer is a type parameter of [`Dense`](crate::Dense) ([`F32`], [`F16`],
//! [`Int8`]): a firmware links only the code of the encodings its model uses.

use crate::error::Error;

// The assembly f16 and int8 kernels (Cortex-M4F/M7): the only `unsafe` code of this module.
#[cfg(all(feature = "arm-vfma", target_arch = "arm", target_abi = "eabihf"))]
#[path = "kernel/compact_arm.rs"]
mod arm;

/// Whether this build reads f16 and int8 weights (feature `compact-weights`); without it a
/// model file storing them is refused, and none of their code is linked.
pub const COMPACT_WEIGHTS: bool = cfg!(feature = "compact-weights");

/// The largest int8 scale a model file may hold: every weight `s * q`, `q` in -128..=127,
/// stays finite.
pub const MAX_SCALE: f32 = f32::MAX / 128.0;

/// A weight encoding, as the model file records it per layer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Encoding {
    /// 4 bytes per weight.
    #[default]
    F32,
    /// 2 bytes per weight (IEEE-754 half precision).
    F16,
    /// 1 byte per weight and a 4-byte scale per output row.
    Int8,
}

impl Encoding {
    /// Every encoding.
    pub const ALL: [Encoding; 3] = [Encoding::F32, Encoding::F16, Encoding::Int8];

    /// The code in the model file's layer descriptor.
    pub const fn code(self) -> u8 {
        match self {
            Encoding::F32 => 0,
            Encoding::F16 => 1,
            Encoding::Int8 => 2,
        }
    }

    /// The encoding of a code; `None` for an unknown one.
    pub const fn from_code(code: u8) -> Option<Self> {
        match code {
            0 => Some(Encoding::F32),
            1 => Some(Encoding::F16),
            2 => Some(Encoding::Int8),
            _ => None,
        }
    }

    /// `f32`, `f16` or `int8`.
    pub const fn name(self) -> &'static str {
        match self {
            Encoding::F32 => "f32",
            Encoding::F16 => "f16",
            Encoding::Int8 => "int8",
        }
    }

    /// The encoding named `name` (`f32`, `f16`, `int8`).
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|e| e.name() == name)
    }

    /// 4-byte words the weights of an `outputs x inputs` layer take in the file (the
    /// matrix padded to a whole word, and the scales of `int8`).
    pub const fn words(self, inputs: usize, outputs: usize) -> usize {
        let n = inputs * outputs;
        match self {
            Encoding::F32 => n,
            Encoding::F16 => n.div_ceil(2),
            Encoding::Int8 => n.div_ceil(4) + outputs,
        }
    }
}

/// A weight encoding as a type, for [`Dense`](crate::Dense).
pub trait Store: Copy + core::fmt::Debug + 'static {
    /// The encoding.
    const ENCODING: Encoding;
    /// One stored weight.
    type Elem: Copy + core::fmt::Debug + bytemuck::Pod;
    /// The `f32` weight of `e` in a row scaled by `scale` (ignored by unscaled encodings).
    fn weight(e: Self::Elem, scale: f32) -> f32;
    /// Whether a row's scale multiplies its sum (`b + s * sum(q x)`) rather than each weight.
    const SCALED: bool = false;
}

/// `f32` weights.
#[derive(Clone, Copy, Debug)]
pub struct F32;
/// `f16` weights.
#[derive(Clone, Copy, Debug)]
pub struct F16;
/// `int8` weights with a scale per row.
#[derive(Clone, Copy, Debug)]
pub struct Int8;

impl Store for F32 {
    const ENCODING: Encoding = Encoding::F32;
    type Elem = f32;
    #[inline(always)]
    fn weight(e: f32, _: f32) -> f32 {
        e
    }
}

impl Store for F16 {
    const ENCODING: Encoding = Encoding::F16;
    type Elem = u16;
    #[inline(always)]
    fn weight(e: u16, _: f32) -> f32 {
        half(e)
    }
}

impl Store for Int8 {
    const ENCODING: Encoding = Encoding::Int8;
    const SCALED: bool = true;
    type Elem = i8;
    #[inline(always)]
    fn weight(e: i8, scale: f32) -> f32 {
        dequantize_i8(e, scale)
    }
}

/// [`f16_to_f32`], the conversion every f16 kernel uses (the one place where a core's
/// half-precision instruction, VCVTB on a Cortex-M4F, would go).
#[inline(always)]
pub fn half(h: u16) -> f32 {
    f16_to_f32(h)
}

/// The `f32` value of the half-precision bits `h` (exact: every `f16` is an `f32`).
#[inline]
pub const fn f16_to_f32(h: u16) -> f32 {
    let sign = ((h as u32) & 0x8000) << 16;
    let exp = ((h >> 10) & 0x1f) as u32;
    let man = (h & 0x3ff) as u32;
    let bits = if exp == 0x1f {
        // Inf or NaN.
        sign | 0x7f80_0000 | (man << 13)
    } else if exp != 0 {
        sign | ((exp + 112) << 23) | (man << 13)
    } else if man == 0 {
        sign
    } else {
        // Subnormal: man * 2^-24, normalised.
        let shift = man.leading_zeros() - 21; // bring the top set bit to bit 10
        let man = (man << shift) & 0x3ff;
        sign | ((113 - shift) << 23) | (man << 13)
    };
    f32::from_bits(bits)
}

/// The half-precision bits nearest to `v` (ties to even); values beyond the `f16` range
/// become infinite, which the model file refuses.
pub fn f32_to_f16(v: f32) -> u16 {
    let bits = v.to_bits();
    let sign = ((bits >> 16) & 0x8000) as u16;
    let exp = ((bits >> 23) & 0xff) as i32;
    let man = bits & 0x7f_ffff;
    if exp == 0xff {
        return sign | 0x7c00 | if man != 0 { 0x200 } else { 0 };
    }
    let e = exp - 127 + 15;
    if e >= 0x1f {
        return sign | 0x7c00;
    }
    if e <= 0 {
        // Subnormal or zero in f16: shift the full significand (with its implicit 1).
        if e < -10 {
            return sign;
        }
        let full = man | 0x80_0000;
        let shift = (14 - e) as u32;
        let half = 1u32 << (shift - 1);
        let rest = full & ((1 << shift) - 1);
        let mut out = full >> shift;
        if rest > half || (rest == half && out & 1 == 1) {
            out += 1;
        }
        return sign | out as u16;
    }
    let mut out = ((e as u32) << 10) | (man >> 13);
    let rest = man & 0x1fff;
    if rest > 0x1000 || (rest == 0x1000 && out & 1 == 1) {
        out += 1; // may carry into the exponent, up to infinity: still correct
    }
    sign | out as u16
}

/// The `f32` weight of an `int8` value in a row scaled by `scale`: their `f32` product.
#[inline(always)]
pub fn dequantize_i8(q: i8, scale: f32) -> f32 {
    scale * f32::from(q)
}

/// Quantises one row: writes `q[i] = round(row[i] / s)` with `s` = [`row_scale`] and
/// returns `s` (0 for a row of zeros). Fails on a non-finite weight.
pub fn quantize_row_i8(row: &[f32], q: &mut [i8]) -> Result<f32, Error> {
    let scale = row_scale(row);
    quantize_with(row, scale, q)?;
    Ok(scale)
}

/// The scale of a row: `max |row| / 127`, moved to the nearest `f32` `s` with
/// `(s * 127) / 127 == s` in `f32`, so that quantising the dequantised row again gives the
/// same scale and values (a model saved twice is the same file, and the host's weights stay
/// the device's).
pub fn row_scale(row: &[f32]) -> f32 {
    let mut s = row.iter().fold(0.0f32, |m, v| m.max(v.abs())) / 127.0;
    for _ in 0..8 {
        let back = (s * 127.0) / 127.0;
        if back == s {
            break;
        }
        s = back;
    }
    s
}

/// `q[i] = round(row[i] / scale)` (0 for a zero scale), clamped to -127..=127; fails on a
/// non-finite weight.
pub fn quantize_with(row: &[f32], scale: f32, q: &mut [i8]) -> Result<(), Error> {
    if let Some(index) = row.iter().position(|v| !v.is_finite()) {
        return Err(Error::InvalidParameter { tensor: "weight", index, found: row[index] });
    }
    for (out, &w) in q.iter_mut().zip(row) {
        *out = if scale > 0.0 { libm::roundf(w / scale).clamp(-127.0, 127.0) as i8 } else { 0 };
    }
    Ok(())
}

/// `y = W x + b` for weights stored as `S` (row `o` of `w` scaled by `scale[o]`, applied to
/// the row's sum: `b + s * sum(q x)`; `scale` may be empty for unscaled encodings). Sums in
/// the order of the portable `f32` kernel. The
/// f16 and int8 products are the functions [`matvec_f16`] and [`matvec_i8`], compiled
/// (and optimised) in this crate rather than in each caller.
#[inline(always)]
pub fn matvec<S: Store>(w: &[S::Elem], scale: &[f32], x: &[f32], b: &[f32], y: &mut [f32]) {
    match S::ENCODING {
        Encoding::F16 => matvec_f16(bytemuck::try_cast_slice(w).unwrap_or(&[]), x, b, y),
        Encoding::Int8 => matvec_i8(bytemuck::try_cast_slice(w).unwrap_or(&[]), scale, x, b, y),
        Encoding::F32 => matvec_by::<S>(w, scale, x, b, y),
    }
}

/// [`matvec`] of f16 weights: with the `arm-vfma` feature on an `eabihf` ARM target the
/// assembly kernel (`kernel/compact_arm.rs`: `VCVTB`/`VCVTT` conversions, exact, and sums
/// in another order), else [`matvec_f16_portable`].
pub fn matvec_f16(w: &[u16], x: &[f32], b: &[f32], y: &mut [f32]) {
    #[cfg(all(feature = "arm-vfma", target_arch = "arm", target_abi = "eabihf"))]
    arm::matvec_f16(w, x, b, y);
    #[cfg(not(all(feature = "arm-vfma", target_arch = "arm", target_abi = "eabihf")))]
    matvec_f16_portable(w, x, b, y);
}

/// [`matvec`] of int8 weights with one scale per row: with the `arm-vfma` feature on an
/// `eabihf` ARM target the assembly kernel (`kernel/compact_arm.rs`: each weight the `f32`
/// product `s * q`, as here, sums in another order), else [`matvec_i8_portable`].
pub fn matvec_i8(w: &[i8], scale: &[f32], x: &[f32], b: &[f32], y: &mut [f32]) {
    // A row without its scale (a layer built by hand with too few; a model file always has
    // them) is its bias alone, on every target.
    #[cfg(all(feature = "arm-vfma", target_arch = "arm", target_abi = "eabihf"))]
    {
        let rows = scale.len().min(y.len());
        let (y_scaled, y_rest) = y.split_at_mut(rows);
        arm::matvec_i8(w, scale, x, b, y_scaled);
        for (out, &bias) in y_rest.iter_mut().zip(b.get(rows..).unwrap_or(&[])) {
            *out = bias;
        }
    }
    #[cfg(not(all(feature = "arm-vfma", target_arch = "arm", target_abi = "eabihf")))]
    matvec_i8_portable(w, scale, x, b, y);
}

/// [`matvec_f16`] in portable Rust, in the order of the portable `f32` kernel (the reference
/// for the assembly kernel).
pub fn matvec_f16_portable(w: &[u16], x: &[f32], b: &[f32], y: &mut [f32]) {
    matvec_by::<F16>(w, &[], x, b, y);
}

/// [`matvec_i8`] in portable Rust, in the order of the portable `f32` kernel, each row
/// `b + s * sum(q x)` (the reference for the assembly kernel).
pub fn matvec_i8_portable(w: &[i8], scale: &[f32], x: &[f32], b: &[f32], y: &mut [f32]) {
    matvec_by::<Int8>(w, scale, x, b, y);
}

#[inline(always)]
fn matvec_by<S: Store>(w: &[S::Elem], scale: &[f32], x: &[f32], b: &[f32], y: &mut [f32]) {
    let cols = x.len();
    for (o, (out, &bias)) in y.iter_mut().zip(b).enumerate() {
        let row = w.get(o * cols..(o + 1) * cols).unwrap_or(&[]);
        let (rc, rt) = row.as_chunks::<8>();
        let (xc, xt) = x.as_chunks::<8>();
        let mut acc = [0.0f32; 8];
        for (cr, cx) in rc.iter().zip(xc) {
            for k in 0..8 {
                acc[k] += S::weight(cr[k], 1.0) * cx[k];
            }
        }
        let mut tail = 0.0;
        for (&p, q) in rt.iter().zip(xt) {
            tail += S::weight(p, 1.0) * q;
        }
        let sum = ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7])) + tail;
        *out = if S::SCALED { bias + scale.get(o).copied().unwrap_or(0.0) * sum } else { bias + sum };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_f16_converts_exactly_and_back() {
        for h in 0..=u16::MAX {
            let v = f16_to_f32(h);
            if v.is_nan() {
                assert!(f32_to_f16(v) & 0x7c00 == 0x7c00 && f32_to_f16(v) & 0x3ff != 0);
                continue;
            }
            assert_eq!(f32_to_f16(v), h, "{h:#06x} -> {v:e}");
        }
    }

    #[test]
    fn f32_to_f16_rounds_to_nearest_even() {
        // 1 + 2^-11 lies halfway between 1 and the next f16 (1 + 2^-10): ties to even (1).
        assert_eq!(f32_to_f16(1.0 + 2f32.powi(-11)), 0x3c00);
        assert_eq!(f32_to_f16(1.0 + 3.0 * 2f32.powi(-11)), 0x3c02);
        assert_eq!(f32_to_f16(0.1), 0x2e66);
        assert_eq!(f32_to_f16(65520.0), 0x7c00, "beyond the largest f16: infinite");
        assert_eq!(f32_to_f16(65504.0), 0x7bff);
        assert_eq!(f32_to_f16(2f32.powi(-24)), 0x0001, "the smallest subnormal");
        assert_eq!(f32_to_f16(2f32.powi(-26)), 0x0000);
        assert_eq!(f16_to_f32(0x0001), 2f32.powi(-24));
        // The error of a weight is at most half a unit in the last place: 2^-11 relative.
        for v in [0.3f32, -1.7, 3.1e-3, 123.456] {
            let back = f16_to_f32(f32_to_f16(v));
            assert!(((back - v) / v).abs() <= 2f32.powi(-11), "{v}: {back}");
        }
    }

    #[test]
    fn int8_rows_keep_their_largest_weight_and_bound_the_error() {
        let row = [0.5f32, -1.27, 0.01, 0.0, 1.0];
        let mut q = [0i8; 5];
        let s = quantize_row_i8(&row, &mut q).unwrap();
        assert_eq!(q[1], -127);
        for (&w, &qi) in row.iter().zip(&q) {
            assert!((dequantize_i8(qi, s) - w).abs() <= s / 2.0 * 1.0001, "{w}");
        }
        // Quantising the dequantised row again changes nothing.
        let back: [f32; 5] = core::array::from_fn(|i| dequantize_i8(q[i], s));
        let mut q2 = [0i8; 5];
        assert_eq!((quantize_row_i8(&back, &mut q2).unwrap(), q2), (s, q));
        let mut rng = crate::Rng::new(3);
        for _ in 0..2000 {
            let row: [f32; 7] = core::array::from_fn(|_| rng.normal() * 0.3);
            let mut q = [0i8; 7];
            let s = quantize_row_i8(&row, &mut q).unwrap();
            let back: [f32; 7] = core::array::from_fn(|i| dequantize_i8(q[i], s));
            let mut q2 = [0i8; 7];
            assert_eq!((quantize_row_i8(&back, &mut q2).unwrap(), q2), (s, q), "{row:?}");
        }
        let mut z = [1i8; 3];
        assert_eq!(quantize_row_i8(&[0.0; 3], &mut z).unwrap(), 0.0);
        assert_eq!(z, [0; 3]);
        assert!(quantize_row_i8(&[f32::NAN], &mut [0]).is_err());
    }

    #[test]
    fn the_encoded_product_is_the_f32_product_of_the_dequantised_weights() {
        let (rows, cols) = (3, 19);
        let w: [f32; 57] = core::array::from_fn(|i| ((i * 37 % 23) as f32 - 11.0) * 0.07);
        let x: [f32; 19] = core::array::from_fn(|i| (i as f32 * 0.3).sin());
        let b = [0.1f32, -0.2, 0.3];
        let h: [u16; 57] = core::array::from_fn(|i| f32_to_f16(w[i]));
        let hw: [f32; 57] = core::array::from_fn(|i| f16_to_f32(h[i]));
        let mut q = [0i8; 57];
        let mut s = [0.0f32; 3];
        for r in 0..rows {
            s[r] = quantize_row_i8(&w[r * cols..(r + 1) * cols], &mut q[r * cols..(r + 1) * cols]).unwrap();
        }
        let qw: [f32; 57] = core::array::from_fn(|i| dequantize_i8(q[i], s[i / cols]));
        for (encoded, plain) in [
            (
                {
                    let mut y = [0.0; 3];
                    matvec::<F16>(&h, &[], &x, &b, &mut y);
                    y
                },
                hw,
            ),
            (
                {
                    let mut y = [0.0; 3];
                    matvec::<Int8>(&q, &s, &x, &b, &mut y);
                    y
                },
                qw,
            ),
            (
                {
                    let mut y = [0.0; 3];
                    matvec::<F32>(&w, &[], &x, &b, &mut y);
                    y
                },
                w,
            ),
        ] {
            let mut want = [0.0; 3];
            crate::kernel::matvec_portable(&plain, &x, &b, &mut want);
            if plain == qw {
                // int8 applies the scale to the row's sum: equal up to rounding.
                for r in 0..rows {
                    let mag: f32 =
                        (0..cols).map(|c| (plain[r * cols + c] * x[c]).abs()).sum::<f32>() + b[r].abs();
                    assert!(
                        (encoded[r] - want[r]).abs() <= 4.0 * cols as f32 * f32::EPSILON * mag,
                        "row {r}"
                    );
                }
            } else {
                assert_eq!(encoded, want);
            }
        }
    }
}
