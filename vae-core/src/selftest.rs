//! Checks that a build of this crate computes what the host computes: run by the host tests
//! and, on a microcontroller, by the firmware's `selftest` binary (in QEMU, as part of the
//! test command). It covers what differs between targets: the matrix-vector kernel (the
//! assembly one on a Cortex-M4F) against the portable loops, the PRNG and normal stream
//! against golden values, the tanh approximation, a hand-computed score, the spectrum front
//! end at every window size the model-file reader accepts (each size has its own FFT code
//! and reads microfft's sine table at its own stride: a missing table panics here, on the
//! device, not in the field), and a finite spike that must overflow rather than count as
//! NaN/Inf.

use crate::activation::Activation;
use crate::dense::Dense;
use crate::kernel;
use crate::normalize::Normalizer;
use crate::rng::Rng;
use crate::score::{Outcome, ScoreConfig};
use crate::transform::{Features, Transform, MAX_SPECTRUM_WINDOW};
use crate::weights;
use crate::{Decoder, Encoder, Vae};
use core::fmt;

/// A failed check.
#[derive(Clone, Copy, Debug, PartialEq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Failure {
    /// Which check.
    pub check: &'static str,
    /// Which case of it.
    pub case: usize,
    /// The value computed.
    pub got: f32,
    /// The value expected.
    pub want: f32,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "self-test {} case {}: got {}, want {}", self.check, self.case, self.got, self.want)
    }
}

/// First outputs of `Rng::new(42)`: four `next_u32`, then four `normal` as f32 bits
/// (1.7207433, 1.0868597, 1.9741901, 0.24173145). Reproduced independently by a NumPy
/// float32 re-implementation of SplitMix64, xoshiro128** and the polar method.
pub const GOLDEN_RNG: [u32; 8] =
    [0x69e8_5a2a, 0xf843_fad0, 0x0105_185f, 0x8a1f_1ea6, 0x3fdc_4151, 0x3f8b_1e38, 0x3ffc_b243, 0x3e77_8873];

/// Runs every check; `Ok(n)` gives the number of cases that passed.
pub fn run() -> Result<usize, Failure> {
    let mut n = 0;
    n += rng_stream()?;
    n += tanh_table()?;
    n += kernel_matches_portable()?;
    n += weighted_squares_match_portable()?;
    n += tanh_all_matches_portable()?;
    n += compact_kernels_match_portable()?;
    n += compact_weights_are_exact()?;
    n += sqrt_matches_libm()?;
    n += hand_computed_score()?;
    n += spectrum_every_window()?;
    n += finite_spike_overflows()?;
    Ok(n)
}

fn fail(check: &'static str, case: usize, got: f32, want: f32) -> Failure {
    Failure { check, case, got, want }
}

/// The PRNG and the normal sampler give the golden stream bit for bit.
pub fn rng_stream() -> Result<usize, Failure> {
    let mut rng = Rng::new(42);
    for (case, &want) in GOLDEN_RNG.iter().enumerate() {
        let got = if case < 4 { rng.next_u32() } else { rng.normal().to_bits() };
        if got != want {
            return Err(fail("rng_stream", case, f32::from_bits(got), f32::from_bits(want)));
        }
    }
    Ok(GOLDEN_RNG.len())
}

/// tanh against values of the exact function (rounded to f32), within 6 ulp.
pub fn tanh_table() -> Result<usize, Failure> {
    const TABLE: [(f32, f32); 6] = [
        (0.0, 0.0),
        (0.1, 0.099_667_996),
        (-0.5, -0.462_117_16),
        (1.0, 0.761_594_2),
        (3.0, 0.995_054_8),
        (-6.0, -0.999_987_7),
    ];
    for (case, &(x, want)) in TABLE.iter().enumerate() {
        let got = crate::math::tanh(x);
        if (got - want).abs() > 6.0 * f32::EPSILON * want.abs().max(f32::MIN_POSITIVE) {
            return Err(fail("tanh_table", case, got, want));
        }
    }
    Ok(TABLE.len())
}

/// [`kernel::matvec`] against [`kernel::matvec_portable`] on shapes that exercise every
/// path of the assembly (passes of 8 rows, then one of 4, then 1 to 3 one-row passes; fewer
/// than 4 rows; no whole block of 8 columns, blocks of 8 and a remainder; no columns at all).
pub fn kernel_matches_portable() -> Result<usize, Failure> {
    const SHAPES: [(usize, usize); 14] = [
        (1, 1),
        (2, 8),
        (3, 7),
        (5, 17),
        (8, 32),
        (32, 64),
        (64, 32),
        (7, 9),
        (4, 0),
        (1, 33),
        (15, 20),
        (12, 16),
        (9, 0),
        (6, 40),
    ];
    const MAX: usize = 64 * 64;
    let mut w = [0.0f32; MAX];
    let mut x = [0.0f32; 64];
    let mut b = [0.0f32; 64];
    let mut rng = Rng::new(7);
    let mut cases = 0;
    for (case, &(rows, cols)) in SHAPES.iter().enumerate() {
        rng.fill_normal(&mut w[..rows * cols]);
        rng.fill_normal(&mut x[..cols]);
        rng.fill_normal(&mut b[..rows]);
        let mut fast = [f32::NAN; 65];
        let mut slow = [f32::NAN; 65];
        kernel::matvec(&w[..rows * cols], &x[..cols], &b[..rows], &mut fast[..rows]);
        kernel::matvec_portable(&w[..rows * cols], &x[..cols], &b[..rows], &mut slow[..rows]);
        for r in 0..rows {
            // Error bound of a length-`cols` f32 dot product, relative to sum |w x| + |b|.
            let mut mag = b[r].abs();
            for c in 0..cols {
                mag += (w[r * cols + c] * x[c]).abs();
            }
            let tol = 1e-6 * (cols as f32 + 1.0) * mag.max(1e-30);
            if (fast[r] - slow[r]).abs() > tol || !fast[r].is_finite() {
                return Err(fail("kernel_matches_portable", case * 100 + r, fast[r], slow[r]));
            }
        }
        // Nothing past the output was written.
        if !fast[rows].is_nan() {
            return Err(fail("kernel_matches_portable.bounds", case, fast[rows], f32::NAN));
        }
        cases += 1;
    }
    Ok(cases)
}

/// [`kernel::weighted_squares8`] against [`kernel::weighted_squares8_portable`]: no blocks,
/// one, several, and a remainder the kernel must leave alone.
pub fn weighted_squares_match_portable() -> Result<usize, Failure> {
    const LENS: [usize; 5] = [0, 7, 8, 64, 69];
    let mut x = [0.0f32; 69];
    let mut m = [0.0f32; 69];
    let mut p = [0.0f32; 69];
    let mut rng = Rng::new(11);
    for (case, &n) in LENS.iter().enumerate() {
        rng.fill_normal(&mut x[..n]);
        rng.fill_normal(&mut m[..n]);
        rng.fill_normal(&mut p[..n]);
        p.iter_mut().for_each(|v| *v = v.abs());
        let mut fast = [0.5f32; 8];
        let mut slow = [0.5f32; 8];
        let done = kernel::weighted_squares8(&x[..n], &m[..n], &p[..n], &mut fast);
        let want = kernel::weighted_squares8_portable(&x[..n], &m[..n], &p[..n], &mut slow);
        if done != want {
            return Err(fail("weighted_squares_match_portable.count", case, done as f32, want as f32));
        }
        for j in 0..8 {
            // One fused multiply-add per value against two roundings: a few ulp of the sum.
            let tol = 1e-6 * (n as f32 + 1.0) * slow[j].abs().max(1e-30);
            if (fast[j] - slow[j]).abs() > tol || !fast[j].is_finite() {
                return Err(fail("weighted_squares_match_portable", case * 10 + j, fast[j], slow[j]));
            }
        }
    }
    Ok(LENS.len())
}

/// [`kernel::tanh_all`] (assembly on the device) gives [`kernel::tanh_all_portable`]'s bits,
/// for tanh and the sigmoid, over lengths 0, 1 and more (the pipelined kernel's first pass
/// stores junk to the first value before its real result, and its last pass loads the last
/// value again; the value after the slice must stay untouched), values past both clamps,
/// zeros, infinities and NaN.
pub fn tanh_all_matches_portable() -> Result<usize, Failure> {
    const SPECIAL: [f32; 9] = [0.0, -0.0, 7.9, -7.9, 8.5, -30.0, f32::INFINITY, f32::NEG_INFINITY, f32::NAN];
    let mut rng = Rng::new(5);
    let mut cases = 0;
    for (a, b) in [(1.0f32, 0.0f32), (0.5, 0.5)] {
        for len in [0usize, 1, 2, 9, 32, 33] {
            let mut fast = [0.0f32; 34];
            rng.fill_normal(&mut fast[..len]);
            for (i, v) in fast[..len].iter_mut().enumerate() {
                *v = if i < SPECIAL.len() && len > 8 { SPECIAL[i] } else { *v * 4.0 };
            }
            fast[len] = 1234.5;
            let mut slow = fast;
            kernel::tanh_all(&mut fast[..len], a, b);
            kernel::tanh_all_portable(&mut slow[..len], a, b);
            for i in 0..=len {
                if fast[i].to_bits() != slow[i].to_bits() && !(fast[i].is_nan() && slow[i].is_nan()) {
                    return Err(fail("tanh_all_matches_portable", cases * 100 + i, fast[i], slow[i]));
                }
            }
            cases += 1;
        }
    }
    Ok(cases)
}

/// [`weights::matvec_f16`] and [`weights::matvec_i8`] (assembly on the device) against
/// [`weights::matvec_f16_portable`] and [`weights::matvec_i8_portable`] on shapes that
/// exercise every path of the kernels: groups of 4 rows, 1 to 3 rows left over, blocks of 8
/// columns, tails, odd widths (f16 rows off a word boundary) and a matrix that does not start
/// on a word. Two cases per shape (f16, int8).
pub fn compact_kernels_match_portable() -> Result<usize, Failure> {
    const SHAPES: [(usize, usize); 12] = [
        (1, 1),
        (2, 8),
        (3, 7),
        (5, 17),
        (8, 32),
        (32, 64),
        (7, 9),
        (4, 0),
        (1, 33),
        (3, 2),
        (6, 6),
        (2, 13),
    ];
    const MAX: usize = 32 * 64;
    // One extra half and byte in front, to start a matrix off a word (odd shapes).
    let mut h = [0u16; MAX + 2];
    let mut q = [0i8; MAX + 4];
    let mut wf = [0.0f32; MAX];
    let mut s = [0.0f32; 32];
    let mut x = [0.0f32; 64];
    let mut b = [0.0f32; 32];
    let mut rng = Rng::new(13);
    let mut cases = 0;
    for (case, &(rows, cols)) in SHAPES.iter().enumerate() {
        let n = rows * cols;
        rng.fill_normal(&mut wf[..n]);
        rng.fill_normal(&mut x[..cols]);
        rng.fill_normal(&mut b[..rows]);
        let off = case % 2; // every other shape starts off a word
        for (d, &v) in h[off..off + n].iter_mut().zip(&wf[..n]) {
            *d = weights::f32_to_f16(v);
        }
        for r in 0..rows {
            let row = &wf[r * cols..(r + 1) * cols];
            let start = off + r * cols;
            s[r] = match weights::quantize_row_i8(row, &mut q[start..start + cols]) {
                Ok(scale) => scale,
                Err(_) => return Err(fail("compact_kernels_match_portable.quantize", case, f32::NAN, 0.0)),
            };
        }
        for enc in 0..2 {
            let mut fast = [f32::NAN; 33];
            let mut slow = [f32::NAN; 33];
            let (xs, bs) = (&x[..cols], &b[..rows]);
            let mut mag = [0.0f32; 32];
            if enc == 0 {
                let w = &h[off..off + n];
                weights::matvec_f16(w, xs, bs, &mut fast[..rows]);
                weights::matvec_f16_portable(w, xs, bs, &mut slow[..rows]);
                for (r, m) in mag.iter_mut().enumerate().take(rows) {
                    *m = b[r].abs();
                    for c in 0..cols {
                        *m += (weights::f16_to_f32(w[r * cols + c]) * x[c]).abs();
                    }
                }
            } else {
                let w = &q[off..off + n];
                weights::matvec_i8(w, &s[..rows], xs, bs, &mut fast[..rows]);
                weights::matvec_i8_portable(w, &s[..rows], xs, bs, &mut slow[..rows]);
                for (r, m) in mag.iter_mut().enumerate().take(rows) {
                    *m = b[r].abs();
                    for c in 0..cols {
                        *m += (weights::dequantize_i8(w[r * cols + c], s[r]) * x[c]).abs();
                    }
                }
            }
            for r in 0..rows {
                // Error bound of a length-`cols` f32 dot product, relative to sum |w x| + |b|.
                let tol = 1e-6 * (cols as f32 + 1.0) * mag[r].max(1e-30);
                if (fast[r] - slow[r]).abs() > tol || !fast[r].is_finite() {
                    return Err(fail(
                        "compact_kernels_match_portable",
                        (case * 2 + enc) * 100 + r,
                        fast[r],
                        slow[r],
                    ));
                }
            }
            // Nothing past the output was written.
            if !fast[rows].is_nan() {
                return Err(fail(
                    "compact_kernels_match_portable.bounds",
                    case * 2 + enc,
                    fast[rows],
                    f32::NAN,
                ));
            }
            cases += 1;
        }
    }
    Ok(cases)
}

/// The kernels use exactly the stored weights: every finite f16 (through
/// [`weights::matvec_f16`], each in every one of the 8 columns of a block and in 4 rows, with
/// `x` one-hot) gives [`weights::f16_to_f32`], and every int8 value times a few scales gives
/// [`weights::dequantize_i8`] (the `f32` product). One case per encoding.
pub fn compact_weights_are_exact() -> Result<usize, Failure> {
    let zero = [0.0f32; 4];
    // f16: 32 consecutive codes as a 4 x 8 matrix, each column selected once.
    let mut code = 0u32;
    while code <= 0xffff {
        let mut w = [0u16; 32];
        for v in w.iter_mut() {
            // Infinities and NaNs (exponent 31) are refused by the model file: skip them.
            while code <= 0xffff && code & 0x7c00 == 0x7c00 {
                code += 1;
            }
            *v = if code <= 0xffff { code as u16 } else { 0 };
            code += 1;
        }
        for j in 0..8 {
            let mut x = [0.0f32; 8];
            x[j] = 1.0;
            let mut y = [f32::NAN; 4];
            weights::matvec_f16(&w, &x, &zero, &mut y);
            for (r, &got) in y.iter().enumerate() {
                let want = weights::f16_to_f32(w[r * 8 + j]);
                // The sum starts from a +0 bias: -0 comes out as +0.
                if got != want || got.is_nan() {
                    return Err(fail("compact_weights_are_exact.f16", w[r * 8 + j] as usize, got, want));
                }
            }
        }
    }
    // int8: every value, eight per row, in 4 rows of different scales.
    const SCALES: [f32; 4] = [0.007_874_016, 1.0e-3, 0.123_456_79, 3.3e-7];
    for base in (-128i32..128).step_by(32) {
        let w: [i8; 32] = core::array::from_fn(|k| (base + k as i32) as i8);
        for j in 0..8 {
            let mut x = [0.0f32; 8];
            x[j] = 1.0;
            let mut y = [f32::NAN; 4];
            weights::matvec_i8(&w, &SCALES, &x, &zero, &mut y);
            for (r, &got) in y.iter().enumerate() {
                let want = weights::dequantize_i8(w[r * 8 + j], SCALES[r]);
                if got != want || got.is_nan() {
                    return Err(fail(
                        "compact_weights_are_exact.int8",
                        (base + 128) as usize + r * 8 + j,
                        got,
                        want,
                    ));
                }
            }
        }
    }
    Ok(2)
}

/// [`kernel::sqrt`] (the FPU's `VSQRT` on the device) gives `libm::sqrtf`'s bits.
pub fn sqrt_matches_libm() -> Result<usize, Failure> {
    const XS: [f32; 8] = [0.0, 1.0, 2.0, 0.1, 1.0e-30, 3.0e38, 1.5e-40, f32::INFINITY];
    for (case, &x) in XS.iter().enumerate() {
        let (got, want) = (kernel::sqrt(x), libm::sqrtf(x));
        if got.to_bits() != want.to_bits() {
            return Err(fail("sqrt_matches_libm", case, got, want));
        }
    }
    if !kernel::sqrt(-1.0).is_nan() {
        return Err(fail("sqrt_matches_libm.negative", 0, kernel::sqrt(-1.0), f32::NAN));
    }
    Ok(XS.len() + 1)
}

/// The 2-2-1 model of `tests/tiny_model.rs`, whose deterministic score was computed by hand.
type TinyVae = Vae<'static, Dense<'static, 2, 2>, Dense<'static, 1, 2>, 2, 2, 1, 2>;

/// Builds [`TinyVae`]; `check` names the failing check if the decoder is refused.
fn tiny_vae(check: &'static str) -> Result<TinyVae, Failure> {
    static W1: [[f32; 2]; 2] = [[0.5, -1.0], [0.25, 0.75]];
    static B1: [f32; 2] = [0.1, -0.2];
    static W_MU: [[f32; 2]; 1] = [[1.0, -0.5]];
    static B_MU: [f32; 1] = [0.05];
    static W_LV: [[f32; 2]; 1] = [[0.2, 0.4]];
    static B_LV: [f32; 1] = [-1.0];
    static WD: [[f32; 1]; 2] = [[2.0], [-1.0]];
    static BD: [f32; 2] = [0.5, 0.25];
    static WO: [[f32; 2]; 2] = [[1.0, 0.5], [-0.3, 0.8]];
    static BO: [f32; 2] = [0.0, 0.1];
    static S: [f32; 2] = [-0.5, 0.3];
    let enc = Encoder::new(
        Dense::new(&W1, &B1, Activation::Tanh),
        Dense::new(&W_MU, &B_MU, Activation::Identity),
        Dense::new(&W_LV, &B_LV, Activation::Identity),
    );
    match Decoder::new(Dense::new(&WD, &BD, Activation::Relu), Dense::new(&WO, &BO, Activation::Identity), &S)
    {
        Ok(dec) => Ok(Vae::new(enc, dec)),
        Err(_) => Err(fail(check, 0, f32::NAN, 0.0)),
    }
}

/// The deterministic score of a 2-2-1 model computed by hand (Python `math`, f64): the
/// same model as `tests/tiny_model.rs`.
pub fn hand_computed_score() -> Result<usize, Failure> {
    let vae = tiny_vae("hand_computed_score.decoder")?;
    let want = 4.258_074_f32;
    // fast-math's exp is good to about 1e-4 relative here.
    let tol = if cfg!(feature = "fast-math") { 2e-4 } else { 4e-6 };
    match vae.score::<2>(&[0.8, -0.4], ScoreConfig::DETERMINISTIC, &mut Rng::new(0)) {
        Outcome::Scored(sc) if (sc.score - want).abs() <= tol * want && sc.top_channel == 0 => Ok(1),
        Outcome::Scored(sc) => Err(fail("hand_computed_score", 0, sc.score, want)),
        _ => Err(fail("hand_computed_score", 1, f32::NAN, want)),
    }
}

/// The spectrum front end ([`Transform::apply`], microfft underneath) at every window the
/// reader accepts (powers of two from 4 to [`MAX_SPECTRUM_WINDOW`]), against known answers:
/// `0.5 + cos(2 pi k1 t / W) + 0.5 sin(2 pi k2 t / W) + 0.125 cos(pi t)` has amplitude
/// `|F_k| / W` of 1/2 at bin `k1`, 1/4 at `k2`, 1/8 at the Nyquist bin `W/2`, nothing
/// elsewhere, and a level of 0.5. The bins are chosen so that the larger sizes use twiddles
/// from the whole table. One case per window size.
pub fn spectrum_every_window() -> Result<usize, Failure> {
    const N: usize = MAX_SPECTRUM_WINDOW;
    let t = Transform::new(Features::Spectrum);
    let mut x = [0.0f32; N];
    let mut out = [0.0f32; N / 2 + 1];
    let mut scratch = [0.0f32; N];
    let mut cases = 0;
    let mut w = 1;
    while w <= N {
        if t.check(w, 1).is_err() {
            w *= 2;
            continue;
        }
        let half = w / 2;
        let k1 = (3 * w / 8).max(1);
        // W = 4: bin 1 carries the cosine already.
        let k2 = if k1 == 1 { 0 } else { 1 };
        let phase = |k: usize, i: usize| core::f32::consts::TAU * ((k * i) % w) as f32 / w as f32;
        for (i, v) in x.iter_mut().take(w).enumerate() {
            let nyquist = if i % 2 == 0 { 0.125 } else { -0.125 };
            let second = if k2 > 0 { 0.5 * libm::sinf(phase(k2, i)) } else { 0.0 };
            *v = 0.5 + libm::cosf(phase(k1, i)) + second + nyquist;
        }
        let case = w;
        let (xs, os) = match (x.get(..w), out.get_mut(..=half)) {
            (Some(xs), Some(os)) => (xs, os),
            _ => return Err(fail("spectrum_every_window.buffers", case, 0.0, 0.0)),
        };
        match t.apply(xs, 1, os, &mut scratch) {
            Ok(None) => {}
            _ => return Err(fail("spectrum_every_window.apply", case, f32::NAN, 0.0)),
        }
        // Row r is bin r + 1; its feature is ln(|F| / W) (the floor is far below).
        for (r, &got) in os.iter().take(half).enumerate() {
            let k = r + 1;
            let want = if k == k1 {
                Some(0.5f32)
            } else if k == k2 {
                Some(0.25)
            } else if k == half {
                Some(0.125)
            } else {
                None
            };
            match want {
                Some(a) if (got - libm::logf(a)).abs() > 1e-4 => {
                    return Err(fail("spectrum_every_window.peak", case * 10_000 + k, got, libm::logf(a)));
                }
                None if got > -8.0 => {
                    return Err(fail("spectrum_every_window.leak", case * 10_000 + k, got, -8.0));
                }
                _ => {}
            }
        }
        let level = os.get(half).copied().unwrap_or(f32::NAN);
        if (level - 0.5).abs() > 1e-5 {
            return Err(fail("spectrum_every_window.level", case, level, 0.5));
        }
        cases += 1;
        w *= 2;
    }
    Ok(cases)
}

/// A finite spike (`f32::MAX`, with a std below 1) normalises to a finite value and its
/// window's score overflows ([`Outcome::Overflow`], an anomaly), where NaN and infinities
/// stay non-finite ([`Outcome::NonFinite`], an invalid window).
pub fn finite_spike_overflows() -> Result<usize, Failure> {
    let norm = match Normalizer::new([0.5, -0.5], [0.25, 0.5]) {
        Ok(n) => n,
        Err(_) => return Err(fail("finite_spike_overflows.normalizer", 0, f32::NAN, 0.0)),
    };
    let mut spike = [f32::MAX, f32::MIN];
    norm.apply(&mut spike);
    if spike != [f32::MAX, f32::MIN] {
        return Err(fail("finite_spike_overflows.normalize", 0, spike[0], f32::MAX));
    }
    let mut bad = [f32::NAN, f32::INFINITY];
    norm.apply(&mut bad);
    if !(bad[0].is_nan() && bad[1] == f32::INFINITY) {
        return Err(fail("finite_spike_overflows.normalize", 1, bad[1], f32::INFINITY));
    }
    let vae = tiny_vae("finite_spike_overflows.decoder")?;
    let cases: [([f32; 2], bool); 4] = [
        ([f32::MAX, 0.0], true),
        ([0.0, f32::MIN], true),
        ([f32::MAX, f32::MIN], true),
        ([f32::NAN, 0.0], false),
    ];
    for (case, &(x, finite)) in cases.iter().enumerate() {
        let outcome = vae.score::<2>(&x, ScoreConfig::DETERMINISTIC, &mut Rng::new(0));
        let ok = match outcome {
            Outcome::Overflow => finite,
            Outcome::NonFinite { count: 1, first: 0 } => !finite,
            _ => false,
        };
        if !ok {
            return Err(fail(
                "finite_spike_overflows.score",
                case + 2,
                outcome.score().unwrap_or(f32::NAN),
                f32::INFINITY,
            ));
        }
    }
    Ok(2 + cases.len())
}

#[cfg(test)]
mod tests {
    #[test]
    fn passes_on_the_host() {
        // The spectrum check runs every window size the reader accepts: 4, 8, ..., 1024.
        assert_eq!(super::spectrum_every_window(), Ok(9));
        assert_eq!(super::finite_spike_overflows(), Ok(6));
        assert_eq!(super::compact_kernels_match_portable(), Ok(24));
        assert_eq!(super::compact_weights_are_exact(), Ok(2));
        assert_eq!(super::run(), Ok(8 + 6 + 14 + 5 + 12 + 24 + 2 + 9 + 1 + 9 + 6));
    }
}
