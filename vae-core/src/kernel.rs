//! The matrix-vector product `y = W x + b`: the hot path of every score.
//!
//! Two implementations with the same contract:
//! * [`matvec_portable`]: safe Rust, eight independent accumulators so that the host
//!   compiler vectorises it and a Cortex-M keeps the partial sums in registers.
//! * with the `arm-vfma` feature on an `eabihf` ARM target (Cortex-M4F/M7): a hand-written
//!   VLDM + VFMA loop (`cortex_m`), two rows at a time, about 1.3 instructions per
//!   multiply-accumulate against 3.7 for the best plain Rust (rustc emits no VFMA for
//!   `a * b + c` on this target). It is the only code in the crate that uses `unsafe`.
//!
//! [`matvec`] picks one at compile time. The firmware's self-test checks the kernel against
//! the portable path on the device.
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
    fn empty_input_gives_the_bias() {
        let mut y = [0.0; 2];
        matvec(&[], &[], &[3.0, 4.0], &mut y);
        assert_eq!(y, [3.0, 4.0]);
    }
}
