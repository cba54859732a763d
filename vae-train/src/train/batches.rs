//! Seeded randomness and batches: one `StdRng` per purpose and epoch, derived from the
//! run's seed, so an epoch's shuffle and noise depend only on (seed, epoch) — which is what
//! lets a resumed run repeat an uninterrupted one exactly.

use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_distr::StandardNormal;

/// What a random stream is for.
#[derive(Clone, Copy, Debug)]
#[repr(u64)]
pub(crate) enum Stream {
    /// Parameter initialisation.
    Init = 1,
    /// An epoch's shuffle and training noise.
    Epoch = 2,
    /// The validation noise (one draw, reused every epoch).
    Validation = 3,
}

/// SplitMix64's finaliser: a bijective mix of 64 bits.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The generator for `stream` number `index` of the run seeded with `seed`.
pub(crate) fn rng(seed: u64, stream: Stream, index: u64) -> StdRng {
    StdRng::seed_from_u64(mix(mix(seed ^ mix(stream as u64)) ^ index))
}

/// `count` standard normal draws.
pub(crate) fn normals(rng: &mut impl Rng, count: usize) -> Vec<f32> {
    (0..count).map(|_| rng.sample(StandardNormal)).collect()
}

/// A shuffled order of `n` windows.
pub(crate) fn shuffled(rng: &mut impl Rng, n: usize) -> Vec<usize> {
    let mut order: Vec<usize> = (0..n).collect();
    order.shuffle(rng);
    order
}

/// Gathers the windows `rows` of `data` (row-major, width `x`) into columns `(x, rows.len())`,
/// reusing `out`.
pub(crate) fn gather_columns(data: &[f32], x: usize, rows: &[usize], out: &mut Vec<f32>) {
    let b = rows.len();
    out.clear();
    out.resize(x * b, 0.0);
    // Sequential writes; the reads revisit the same `b` rows (which stay in cache).
    for (i, column) in out.chunks_exact_mut(b.max(1)).enumerate() {
        for (o, &r) in column.iter_mut().zip(rows) {
            *o = data[r * x + i];
        }
    }
}

/// A 64-bit FNV-1a hash of f32 data (its bit patterns), to recognise the data set a resume
/// state was made with.
pub(crate) fn data_hash(parts: &[&[f32]]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        for v in part.iter() {
            h ^= u64::from(v.to_bits());
            h = h.wrapping_mul(0x0000_0100_0000_01B3);
        }
        h ^= part.len() as u64;
        h = h.wrapping_mul(0x0000_0100_0000_01B3);
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_are_reproducible_and_distinct() {
        let a: Vec<u64> = (0..4).map(|_| rng(7, Stream::Epoch, 3).gen()).collect();
        assert!(a.windows(2).all(|w| w[0] == w[1]));
        let x: u64 = rng(7, Stream::Epoch, 3).gen();
        let y: u64 = rng(7, Stream::Epoch, 4).gen();
        let z: u64 = rng(7, Stream::Validation, 3).gen();
        let w: u64 = rng(8, Stream::Epoch, 3).gen();
        assert!(x != y && x != z && x != w && y != z);
    }

    #[test]
    fn gathers_columns() {
        let data = [0.0, 1.0, 10.0, 11.0, 20.0, 21.0];
        let mut out = Vec::new();
        gather_columns(&data, 2, &[2, 0], &mut out);
        assert_eq!(out, [20.0, 0.0, 21.0, 1.0]);
    }

    #[test]
    fn shuffles_are_permutations() {
        let mut o = shuffled(&mut rng(1, Stream::Epoch, 0), 100);
        assert_ne!(o, (0..100).collect::<Vec<_>>());
        o.sort_unstable();
        assert_eq!(o, (0..100).collect::<Vec<_>>());
    }
}
