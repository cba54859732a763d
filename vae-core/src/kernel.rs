//! The hot loops of every score: the matrix-vector product `y = W x + b`, the weighted
//! squares of the Gaussian likelihood, the tanh/sigmoid activation loop, and the square root.
//!
//! Two implementations with the same contract:
//! * portable safe Rust ([`matvec_portable`], [`weighted_squares8_portable`],
//!   [`tanh_all_portable`], `libm`): eight independent accumulators so that the host compiler
//!   vectorises them and a Cortex-M keeps the partial sums in registers;
//! * with the `arm-vfma` feature on an `eabihf` ARM target (Cortex-M4F/M7): hand-written
//!   assembly (`cortex_m`), with instructions chosen by the Cortex-M4's cycle table (VFMA and
//!   VMLA take 3 cycles, VMUL and VADD 1 each) and sized for flash: one matrix-vector
//!   routine for every shape, eight rows at a time with VMUL + VADD on independent
//!   accumulators, about 3.4 estimated cycles per multiply-accumulate in its inner loop (the
//!   former VFMA loop took 4.9; rustc emits VMLA or no fused instruction at all); the
//!   tanh/sigmoid loop software-pipelined one value at a time, the same bits as the portable
//!   loop in about three quarters of the cycles; the weighted squares in
//!   eight lanes; `VSQRT` for the square root. That module is the only code in the crate that
//!   uses `unsafe`.
//!
//! [`matvec`], [`weighted_squares8`], [`tanh_all`] and [`sqrt`] pick one at compile time. The
//! firmware's self-test checks the assembly against the portable paths on the device.
//!
//! Weights are stored row-major, `[[f32; I]; O]` (one row per output), the layout of a
//! PyTorch or dfdx `Linear` weight. Plain arrays beat `nalgebra`'s `SMatrix * SVector` here
//! (the `score` benchmark measures both): nalgebra walks columns with many live
//! accumulators, which spills registers on the device.

#[cfg(all(feature = "arm-vfma", target_arch = "arm", target_abi = "eabihf"))]
mod cortex_m;

/// `y = W x + b` with the fastest kernel available for the target.
///
/// `w` holds `y.len()` rows of `x.len()` weights. Lengths that do not fit (a short `w` or
/// `b`) shorten the product instead of panicking; the callers in this crate check shapes when
/// a model is built, so that never happens in a score.
#[inline]
pub fn matvec(w: &[f32], x: &[f32], b: &[f32], y: &mut [f32]) {
    #[cfg(all(feature = "arm-vfma", target_arch = "arm", target_abi = "eabihf"))]
    cortex_m::matvec(w, x, b, y);
    #[cfg(not(all(feature = "arm-vfma", target_arch = "arm", target_abi = "eabihf")))]
    matvec_portable(w, x, b, y);
}

/// Adds to `lanes[j]` the sum of `(x[i] - m[i])^2 * p[i]` over the positions `i = 8b + j` of
/// the whole blocks of 8 (of the shortest slice), and returns how many values that covered
/// (a multiple of 8; the caller adds the rest). With the fastest kernel for the target: the
/// Gaussian likelihood's per-channel weighted squares, whose eight lanes fold into channels
/// for any channel count that divides 8.
#[inline]
pub fn weighted_squares8(x: &[f32], m: &[f32], p: &[f32], lanes: &mut [f32; 8]) -> usize {
    #[cfg(all(feature = "arm-vfma", target_arch = "arm", target_abi = "eabihf"))]
    return cortex_m::weighted_squares8(x, m, p, lanes);
    #[cfg(not(all(feature = "arm-vfma", target_arch = "arm", target_abi = "eabihf")))]
    weighted_squares8_portable(x, m, p, lanes)
}

/// [`weighted_squares8`] in portable Rust (the reference for the assembly kernel).
pub fn weighted_squares8_portable(x: &[f32], m: &[f32], p: &[f32], lanes: &mut [f32; 8]) -> usize {
    let (xc, _) = x.as_chunks::<8>();
    let (mc, _) = m.as_chunks::<8>();
    let (pc, _) = p.as_chunks::<8>();
    let mut n = 0;
    for ((xs, ms), ps) in xc.iter().zip(mc).zip(pc) {
        for j in 0..8 {
            let d = xs[j] - ms[j];
            lanes[j] += d * ps[j] * d;
        }
        n += 8;
    }
    n
}

/// Square root, correctly rounded: the FPU's `VSQRT` with the ARM kernels, else
/// `libm::sqrtf` (the same bits: both round correctly).
#[inline]
pub fn sqrt(x: f32) -> f32 {
    #[cfg(all(feature = "arm-vfma", target_arch = "arm", target_abi = "eabihf"))]
    return cortex_m::sqrt(x);
    #[cfg(not(all(feature = "arm-vfma", target_arch = "arm", target_abi = "eabihf")))]
    libm::sqrtf(x)
}

/// `b + a tanh(a x)` of every value in place, [`crate::math::tanh`] bit for bit: tanh with
/// a = 1, b = 0, the logistic sigmoid with a = b = 1/2. With the ARM kernels, assembly that
/// performs the same operations in the same order, software-pipelined (the same bits, in
/// about three quarters of the cycles of the compiled loop); else [`tanh_all_portable`].
#[inline]
pub fn tanh_all(xs: &mut [f32], a: f32, b: f32) {
    #[cfg(all(feature = "arm-vfma", target_arch = "arm", target_abi = "eabihf"))]
    cortex_m::tanh_all(xs, a, b);
    #[cfg(not(all(feature = "arm-vfma", target_arch = "arm", target_abi = "eabihf")))]
    tanh_all_portable(xs, a, b);
}

/// [`tanh_all`] in portable Rust (the reference for the assembly kernel).
pub fn tanh_all_portable(xs: &mut [f32], a: f32, b: f32) {
    for x in xs {
        *x = b + a * crate::math::tanh(a * *x);
    }
}

/// Whether [`matvec`] runs the hand-written Cortex-M kernel in this build.
pub const USES_ARM_KERNEL: bool = cfg!(all(feature = "arm-vfma", target_arch = "arm", target_abi = "eabihf"));

/// `y = W x + b` in portable Rust (the reference for the assembly kernel); same contract as
/// [`matvec`].
pub fn matvec_portable(w: &[f32], x: &[f32], b: &[f32], y: &mut [f32]) {
    let cols = x.len();
    if cols == 0 {
        for (out, &bias) in y.iter_mut().zip(b) {
            *out = bias;
        }
        return;
    }
    for ((row, &bias), out) in w.chunks_exact(cols).zip(b).zip(y.iter_mut()) {
        *out = bias + dot(row, x);
    }
}

/// Dot product with eight interleaved partial sums.
#[inline]
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    let (ac, at) = a.as_chunks::<8>();
    let (bc, bt) = b.as_chunks::<8>();
    let mut acc = [0.0f32; 8];
    for (ca, cb) in ac.iter().zip(bc) {
        for k in 0..8 {
            acc[k] += ca[k] * cb[k];
        }
    }
    let mut tail = 0.0;
    for (p, q) in at.iter().zip(bt) {
        tail += p * q;
    }
    ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7])) + tail
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_product_by_hand() {
        let w = [1.0, 2.0, 3.0, -1.0, 0.5, 0.0];
        let mut y = [0.0; 2];
        matvec(&w, &[1.0, 1.0, 2.0], &[0.5, -0.5], &mut y);
        assert_eq!(y, [9.5, -1.0]);
        // A short weight matrix shortens the product instead of panicking.
        let mut y = [7.0; 2];
        matvec(&w[..4], &[1.0, 1.0, 2.0], &[0.5, -0.5], &mut y);
        assert_eq!(y, [9.5, 7.0]);
    }

    #[test]
    fn dot_with_tail_matches_the_naive_sum() {
        let a: [f32; 19] = core::array::from_fn(|i| i as f32 * 0.25 - 2.0);
        let b: [f32; 19] = core::array::from_fn(|i| 1.0 - i as f32 * 0.125);
        let naive: f64 = a.iter().zip(&b).map(|(p, q)| (*p as f64) * (*q as f64)).sum();
        assert!((dot(&a, &b) as f64 - naive).abs() < 1e-5);
    }

    #[test]
    fn weighted_squares8_by_hand() {
        let x: [f32; 19] = core::array::from_fn(|i| i as f32);
        let m = [1.0f32; 19];
        let p: [f32; 19] = core::array::from_fn(|i| if i % 2 == 0 { 1.0 } else { 0.5 });
        let mut lanes = [1.0f32; 8];
        // Two whole blocks (16 values); the last 3 are the caller's.
        assert_eq!(weighted_squares8(&x, &m, &p, &mut lanes), 16);
        let want: [f32; 8] = core::array::from_fn(|j| {
            let (a, b) = ((j as f32 - 1.0), (j as f32 + 7.0));
            1.0 + (a * a + b * b) * if j % 2 == 0 { 1.0 } else { 0.5 }
        });
        assert_eq!(lanes, want);
        assert_eq!(weighted_squares8(&x[..7], &m, &p, &mut lanes), 0);
        assert_eq!(lanes, want);
    }

    #[test]
    fn empty_input_gives_the_bias() {
        let mut y = [0.0; 2];
        matvec(&[], &[], &[3.0, 4.0], &mut y);
        assert_eq!(y, [3.0, 4.0]);
    }
}
