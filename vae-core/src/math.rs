//! Scalar f32 math used by the scores, in one place so the accuracy/speed trade-off is a
//! single switch.
//!
//! * `ln` and `sqrt` come from [`libm`] (a port of musl: the same bits on the host and on
//!   the device, which is what makes host and firmware scores agree); `exp` is
//!   [`exp_poly`], within 1 ulp, plain f32 arithmetic (the same bits everywhere too) and
//!   without libm's table (a third of the flash).
//! * With the `fast-math` feature, `exp` comes from `micromath` (about 2e-3 relative error).
//!   `ln` always stays on libm: micromath's `ln` has an absolute error near 0.1, too coarse for
//!   log-likelihoods. The effect on the score is bounded by tests (see `tests/fast_math.rs`).
//! * The spectrum front end takes its logarithms from [`ln_fast`] (no division, a 16-pair
//!   table, within 2 ulp): there `libm::logf` was an eighth of a window's cycles.
//! * [`tanh`] is a rational minimax approximation (the one Eigen uses for f32): within 6 ulp
//!   (4e-7 relative) of the true value, a fraction of the instructions of `libm::tanhf` on a
//!   Cortex-M4F (one division, no exponential), and branch-free apart from the clamp.

/// ln(2 pi), the constant of every Gaussian log-density.
pub const LN_2PI: f32 = 1.837_877_1;

/// e^x.
#[inline]
pub fn exp(x: f32) -> f32 {
    #[cfg(feature = "fast-math")]
    {
        micromath::F32Ext::exp(x)
    }
    #[cfg(not(feature = "fast-math"))]
    {
        exp_poly(x)
    }
}

/// e^x within 1 ulp: 0.992 ulp at worst over every f32 from -87.3 to 88.7 (where results are
/// normal), checked exhaustively against f64 once; the unit test sweeps 2 million points.
/// Cody-Waite reduction to r = x - n ln 2 with |r| <= ln(2)/2, a degree-7 polynomial for e^r
/// (Cephes' `expf` coefficients), then a scale by 2^n (in two exact steps where 2^n itself is
/// not a normal f32). No table: about 200 bytes of code on a Cortex-M4F against 700 for
/// `libm::expf` with its table; plain f32 arithmetic, so the same bits on the host and the
/// device. NaN propagates; overflow gives infinity, underflow 0.
#[inline(never)]
pub fn exp_poly(x: f32) -> f32 {
    const LOG2E: f32 = core::f32::consts::LOG2_E;
    // ln 2 split so that n * LN2_HI is exact for |n| < 512.
    const LN2_HI: f32 = 0.693_359_4;
    const LN2_LO: f32 = -2.121_944_4e-4;
    if x > 88.722_84 {
        return f32::INFINITY;
    }
    if x < -103.972_08 {
        return 0.0;
    }
    // Round to nearest (the cast truncates towards zero; NaN gives 0 and stays NaN below).
    let n = (x * LOG2E + if x < 0.0 { -0.5 } else { 0.5 }) as i32;
    let nf = n as f32;
    let r = (x - nf * LN2_HI) - nf * LN2_LO;
    let mut p = 1.987_569_1e-4f32;
    p = p * r + 1.398_199_9e-3;
    p = p * r + 8.333_452e-3;
    p = p * r + 4.166_579_6e-2;
    p = p * r + 1.666_666_5e-1;
    p = p * r + 0.5; // Cephes: 5.0000001201e-1, which rounds to 0.5 in f32
    let y = p * r * r + r + 1.0;
    if n > -127 && n < 128 {
        y * pow2(n)
    } else {
        // 2^n is not a normal f32 (results near overflow or subnormal): two exact steps.
        let half = n / 2;
        y * pow2(half) * pow2(n - half)
    }
}

/// 2^k for k in -126..=127, built from its bits (other k give other powers, never a panic).
#[inline]
fn pow2(k: i32) -> f32 {
    f32::from_bits((k.wrapping_add(127) as u32) << 23)
}

/// Natural logarithm (always libm: see the module docs).
#[inline]
pub fn ln(x: f32) -> f32 {
    libm::logf(x)
}

/// Natural logarithm without a division, for the spectrum front end: `ln(x) = k ln 2 +
/// ln(c) + ln(1 + r)`, with `x = 2^k z`, `z` in [0.707, 1.414), `c` the centre of one of 16
/// intervals of `z` (a table of 1/c and ln(c), 128 bytes), `r = z / c - 1` within 0.04 and a
/// degree-5 polynomial for `ln(1 + r)`. Plain f32 arithmetic: the same bits on the host and
/// the device. Within 2 ulp where |ln x| >= 0.5 and 1e-7 absolute below (`libm::logf`: 1
/// ulp), in about a third of the estimated Cortex-M4F cycles of `libm::logf` (whose VDIV
/// alone is 14). Zero,
/// negative, subnormal, infinite and NaN inputs go to `libm::logf`.
#[inline(never)]
pub fn ln_fast(x: f32) -> f32 {
    // (1/c, ln c) per interval, as f32 bits; the interval holding 1 has c = 1, so that
    // r = z - 1 is exact there and ln x near 1 keeps its relative accuracy.
    const TABLE: [(u32, u32); 16] = [
        (0x3fb1_1b17, 0xbea6_4153),
        (0x3fa9_c3f0, 0xbe90_950b),
        (0x3fa3_025b, 0xbe77_943a),
        (0x3f9c_c52b, 0xbe4f_9de1),
        (0x3f96_fdbd, 0xbe29_27d9),
        (0x3f91_9f80, 0xbe04_1641),
        (0x3f8c_9fa0, 0xbdc0_a07b),
        (0x3f87_f4b6, 0xbd76_fd78),
        (0x3f83_9693, 0xbce2_7bd5),
        (0x3f80_0000, 0x0000_0000),
        (0x3f6f_2614, 0x3d8b_73ae),
        (0x3f61_f4c2, 0x3dff_aa6d),
        (0x3f56_2494, 0x3e36_d19c),
        (0x3f4b_80e7, 0x3e6b_0082),
        (0x3f41_df0f, 0x3e8e_53c3),
        (0x3f39_1c17, 0x3ea6_014d),
    ];
    // ln 2 split so that k * LN2_HI is exact for |k| < 2^15.
    const LN2_HI: f32 = 0.693_359_4;
    const LN2_LO: f32 = -2.121_944_4e-4;
    const OFF: u32 = 0x3f35_04f3; // the bits of sqrt(1/2)
    let ix = x.to_bits();
    if ix.wrapping_sub(0x0080_0000) >= 0x7f00_0000 {
        return libm::logf(x);
    }
    let tmp = ix.wrapping_sub(OFF);
    let k = (tmp as i32) >> 23;
    let z = f32::from_bits(ix.wrapping_sub(tmp & 0xff80_0000));
    let (inv_c, ln_c) = TABLE[((tmp >> 19) & 15) as usize];
    let r = z * f32::from_bits(inv_c) - 1.0;
    let mut q = r * 0.2 - 0.25;
    q = q * r + 1.0 / 3.0;
    q = q * r - 0.5;
    let poly = r + r * r * q;
    let kf = k as f32;
    (kf * LN2_HI + f32::from_bits(ln_c)) + (kf * LN2_LO + poly)
}

/// Square root (correctly rounded, so identical everywhere; the FPU instruction on a
/// Cortex-M4F, see [`crate::kernel::sqrt`]).
#[inline]
pub fn sqrt(x: f32) -> f32 {
    crate::kernel::sqrt(x)
}

/// Hyperbolic tangent as a 13/6 rational polynomial on [-7.9, 7.9] (clamped outside, where
/// f32 tanh is ±1 to within half an ulp).
///
/// NaN propagates (the clamp is written so that it does not swallow NaN).
#[inline]
pub fn tanh(x: f32) -> f32 {
    // Coefficients of Eigen's `generic_fast_tanh_float` (MPL-2.0 project; the numbers are a
    // minimax fit and carry no licence of their own).
    const CLAMP: f32 = 7.905_311;
    const A1: f32 = 4.893_524_6e-3;
    const A3: f32 = 6.372_619_3e-4;
    const A5: f32 = 1.485_722_4e-5;
    const A7: f32 = 5.122_297e-8;
    const A9: f32 = -8.604_672e-11;
    const A11: f32 = 2.000_188e-13;
    const A13: f32 = -2.760_768_5e-16;
    const B0: f32 = 4.893_525e-3;
    const B2: f32 = 2.268_434_7e-3;
    const B4: f32 = 1.185_347_1e-4;
    const B6: f32 = 1.198_258_4e-6;
    // No special case for tiny x (Eigen returns x below 4e-4): there the rational gives
    // x * A1 / B0, within 2 ulp of x, and a branch per value costs more than it buys.
    // NaN stays NaN through `clamp`.
    let x = x.clamp(-CLAMP, CLAMP);
    let x2 = x * x;
    let mut p = x2 * A13 + A11;
    p = x2 * p + A9;
    p = x2 * p + A7;
    p = x2 * p + A5;
    p = x2 * p + A3;
    p = x2 * p + A1;
    p *= x;
    let mut q = x2 * B6 + B4;
    q = x2 * q + B2;
    q = x2 * q + B0;
    p / q
}

/// Logistic sigmoid, written through [`tanh`] so it shares its accuracy and cost.
#[inline]
pub fn sigmoid(x: f32) -> f32 {
    0.5 + 0.5 * tanh(0.5 * x)
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;

    fn ulps(a: f32, b: f32) -> u32 {
        if a == b {
            return 0;
        }
        let (ia, ib) = (a.to_bits() as i32, b.to_bits() as i32);
        // Same sign here (tanh keeps the sign of x).
        ia.abs_diff(ib)
    }

    #[test]
    fn ln_fast_is_within_a_few_ulp_of_the_f64_value() {
        let (mut worst_abs, mut worst_ulp_far) = (0.0f64, 0u32);
        // Every 97th f32 from the smallest normal to the largest finite, and every f32 around 1.
        let mut check = |x: f32| {
            let exact = (x as f64).ln();
            let got = ln_fast(x);
            if exact.abs() < 0.5 {
                worst_abs = worst_abs.max((got as f64 - exact).abs());
            } else {
                worst_ulp_far = worst_ulp_far.max(ulps(got.abs(), (exact as f32).abs()));
            }
        };
        let mut b = 0x0080_0000u32;
        while b < 0x7f80_0000 {
            check(f32::from_bits(b));
            b += 97;
        }
        for b in 0x3f70_0000u32..0x3f90_0000 {
            check(f32::from_bits(b));
        }
        std::println!(
            "ln_fast: worst absolute error {worst_abs:e} below |ln x| = 0.5, worst {worst_ulp_far} ulp above"
        );
        assert!(worst_abs <= 1e-7, "{worst_abs:e}");
        assert!(worst_ulp_far <= 2, "{worst_ulp_far}");
        // Outside the normal positive range: libm's answers.
        for x in [0.0f32, -1.0, 1e-40, f32::INFINITY, f32::NAN, f32::MIN_POSITIVE] {
            let (got, want) = (ln_fast(x), libm::logf(x));
            assert!(got == want || (got.is_nan() && want.is_nan()), "{x:e}: {got} vs {want}");
        }
        assert_eq!(ln_fast(1.0), 0.0);
    }

    #[test]
    fn tanh_is_within_a_few_ulp_of_the_f64_value() {
        let (mut worst_ulp, mut worst_abs, mut worst_rel) = (0, 0.0f64, 0.0f64);
        let mut x = -12.0f32;
        while x <= 12.0 {
            let exact = (x as f64).tanh();
            let got = tanh(x);
            worst_abs = worst_abs.max((got as f64 - exact).abs());
            worst_rel = worst_rel.max((got as f64 - exact).abs() / exact.abs().max(1e-30));
            worst_ulp = worst_ulp.max(ulps(got, exact as f32));
            x += 1.0 / 4096.0;
        }
        std::println!("tanh: worst {worst_ulp} ulp, {worst_abs:e} absolute, {worst_rel:e} relative");
        assert!(worst_ulp <= 6, "worst error {worst_ulp} ulp");
        assert!(worst_abs <= 4e-7, "worst absolute error {worst_abs}");
        assert!(worst_rel <= 4e-7, "worst relative error {worst_rel}");
    }

    #[test]
    fn tanh_edge_cases() {
        assert_eq!(tanh(0.0), 0.0);
        for tiny in [1e-30f32, 3e-9, 1e-5, 3.9e-4] {
            let exact = (tiny as f64).tanh() as f32;
            assert!(ulps(tanh(tiny), exact) <= 2, "tanh({tiny}) = {}, want {exact}", tanh(tiny));
        }
        assert_eq!(tanh(f32::INFINITY), 1.0);
        assert_eq!(tanh(f32::NEG_INFINITY), -1.0);
        assert!(tanh(f32::NAN).is_nan());
        assert!((tanh(9.0) - 1.0).abs() <= f32::EPSILON);
        // Odd function, exactly.
        for x in [0.001f32, 0.3, 1.0, 2.5, 7.0] {
            assert_eq!(tanh(-x), -tanh(x));
        }
    }

    #[test]
    fn sigmoid_matches_its_definition() {
        for x in [-20.0f32, -3.0, -0.5, 0.0, 0.5, 3.0, 20.0] {
            let want = 1.0 / (1.0 + (-(x as f64)).exp());
            assert!((sigmoid(x) as f64 - want).abs() < 2e-7, "sigmoid({x})");
        }
    }

    /// Against f64 over the whole range: at most 1 ulp for normal results, exact at 0, NaN,
    /// infinities and the limits.
    #[test]
    fn exp_poly_is_within_one_ulp() {
        let mut worst = 0.0f64;
        let (lo, hi, steps) = (-87.3f64, 88.72f64, 2_000_000);
        for i in 0..=steps {
            let x = (lo + (hi - lo) * i as f64 / steps as f64) as f32;
            let want = (x as f64).exp();
            let ulp = f32::from_bits((want as f32).to_bits() + 1) as f64 - (want as f32) as f64;
            worst = worst.max(((exp_poly(x) as f64) - want).abs() / ulp);
        }
        assert!(worst <= 1.0, "max error {worst} ulp");
        assert_eq!(exp_poly(0.0), 1.0);
        assert!(exp_poly(f32::NAN).is_nan());
        assert_eq!(exp_poly(f32::INFINITY), f32::INFINITY);
        assert_eq!(exp_poly(f32::NEG_INFINITY), 0.0);
        assert_eq!(exp_poly(89.0), f32::INFINITY);
        assert_eq!(exp_poly(-110.0), 0.0);
        // Subnormal results stay close (to within an ulp of the subnormal grid).
        let tiny = exp_poly(-100.0) as f64;
        assert!((tiny - (-100.0f64).exp()).abs() <= 1.5e-45, "{tiny}");
        std::println!("exp_poly: max error {worst:.3} ulp");
    }

    #[test]
    fn table_of_exact_values() {
        assert!((exp(0.0) - 1.0).abs() < 3e-3);
        assert!((exp(1.0) - core::f32::consts::E).abs() < 1e-2);
        assert_eq!(ln(1.0), 0.0);
        assert_eq!(sqrt(4.0), 2.0);
        assert!((LN_2PI as f64 - (2.0 * core::f64::consts::PI).ln()).abs() < 1e-7);
    }
}
