//! A small seeded PRNG and the standard-normal sampler of the reparameterisation trick.
//!
//! xoshiro128** (Blackman & Vigna 2018) uses only 32-bit integer operations, so it is cheap on
//! a Cortex-M and gives the same stream on every platform. Normal deviates come from
//! Marsaglia's polar method with libm's `logf`/`sqrtf`, which are bit-identical on the host
//! and the device: a sampled score computed by the trainer equals the firmware's.

use crate::math;

/// xoshiro128** generator with a cached second normal deviate.
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Rng {
    s: [u32; 4],
    spare: Option<f32>,
}

/// One step of SplitMix64, the recommended seeder for the xoshiro family.
const fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

impl Rng {
    /// A generator whose state is expanded from `seed` with SplitMix64.
    pub const fn new(seed: u64) -> Self {
        let mut sm = seed;
        let a = splitmix64(&mut sm);
        let b = splitmix64(&mut sm);
        Self::from_state([a as u32, (a >> 32) as u32, b as u32, (b >> 32) as u32])
    }

    /// An independent stream for one window: the same `(seed, stream)` gives the same samples
    /// wherever the window is scored, whatever was scored before it.
    pub const fn for_stream(seed: u64, stream: u64) -> Self {
        let mut h = stream;
        Self::new(seed ^ splitmix64(&mut h))
    }

    /// A generator with the given raw state (the all-zero state, which xoshiro never leaves,
    /// is replaced by a fixed non-zero one).
    pub const fn from_state(s: [u32; 4]) -> Self {
        let s = if s[0] | s[1] | s[2] | s[3] == 0 { [0x9E37_79B9, 0x243F_6A88, 0xB7E1_5162, 0x1] } else { s };
        Self { s, spare: None }
    }

    /// Next 32 uniformly distributed bits.
    #[inline]
    pub fn next_u32(&mut self) -> u32 {
        let s = &mut self.s;
        let result = s[1].wrapping_mul(5).rotate_left(7).wrapping_mul(9);
        let t = s[1] << 9;
        s[2] ^= s[0];
        s[3] ^= s[1];
        s[1] ^= s[2];
        s[0] ^= s[3];
        s[2] ^= t;
        s[3] = s[3].rotate_left(11);
        result
    }

    /// Uniform in [0, 1), with 24 bits of resolution (every value exactly representable).
    #[inline]
    pub fn next_f32(&mut self) -> f32 {
        (self.next_u32() >> 8) as f32 * (1.0 / 16_777_216.0)
    }

    /// A standard normal deviate (Marsaglia's polar method; every second call is free).
    pub fn normal(&mut self) -> f32 {
        if let Some(z) = self.spare.take() {
            return z;
        }
        loop {
            let u = 2.0 * self.next_f32() - 1.0;
            let v = 2.0 * self.next_f32() - 1.0;
            let s = u * u + v * v;
            if s > 0.0 && s < 1.0 {
                let f = math::sqrt(-2.0 * math::ln(s) / s);
                self.spare = Some(v * f);
                return u * f;
            }
        }
    }

    /// Fills `out` with standard normal deviates.
    pub fn fill_normal(&mut self, out: &mut [f32]) {
        for z in out {
            *z = self.normal();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xoshiro128starstar_reference_vector() {
        // Output of the authors' reference C code from the state {1, 2, 3, 4}.
        let mut rng = Rng::from_state([1, 2, 3, 4]);
        let want = [
            11520u32,
            0,
            5_927_040,
            70_819_200,
            2_031_721_883,
            1_637_235_492,
            1_287_239_034,
            3_734_860_849,
            3_729_100_597,
            4_258_142_804,
        ];
        for w in want {
            assert_eq!(rng.next_u32(), w);
        }
    }

    #[test]
    fn splitmix64_reference_vector() {
        // Vigna's splitmix64.c from the seed 1234567.
        let mut s = 1_234_567u64;
        let want = [
            6_457_827_717_110_365_317u64,
            3_203_168_211_198_807_973,
            9_817_491_932_198_370_423,
            4_593_380_528_125_082_431,
            16_408_922_859_458_223_821,
        ];
        for w in want {
            assert_eq!(splitmix64(&mut s), w);
        }
    }

    #[test]
    fn normal_moments() {
        let mut rng = Rng::new(7);
        let n = 200_000;
        let (mut m1, mut m2, mut m4) = (0.0f64, 0.0f64, 0.0f64);
        for _ in 0..n {
            let z = rng.normal() as f64;
            m1 += z;
            m2 += z * z;
            m4 += z * z * z * z;
        }
        let (m1, m2, m4) = (m1 / n as f64, m2 / n as f64, m4 / n as f64);
        // Standard errors: 1/sqrt(n) = 0.0022 for the mean, sqrt(2/n) = 0.0032 for the variance.
        assert!(m1.abs() < 0.01, "mean {m1}");
        assert!((m2 - 1.0).abs() < 0.015, "variance {m2}");
        assert!((m4 - 3.0).abs() < 0.1, "fourth moment {m4}");
    }

    #[test]
    fn uniform_range_and_streams() {
        let mut rng = Rng::new(1);
        for _ in 0..10_000 {
            let u = rng.next_f32();
            assert!((0.0..1.0).contains(&u));
        }
        let a = Rng::for_stream(5, 0).next_u32();
        let b = Rng::for_stream(5, 1).next_u32();
        assert_ne!(a, b);
        assert_eq!(Rng::for_stream(5, 1).next_u32(), b);
        assert_ne!(Rng::from_state([0; 4]).next_u32(), 0);
    }
}
