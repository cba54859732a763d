//! Host cost of scoring one window of the 64-32-8 model (64 inputs, 32 hidden, 8 latent, one
//! hidden layer per side: 4,864 multiply-accumulates per deterministic score), and of the
//! 64 -> 32 matrix-vector product with plain arrays against nalgebra.
//!
//! Throughput is reported in multiply-accumulates, so criterion's `thrpt` is MACs per
//! second (ns per MAC = 1 / thrpt).
//!
//!     cargo bench -p vae-core --bench score

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use nalgebra::{SMatrix, SVector};
use std::hint::black_box;
use vae_core::{Activation, Decoder, Dense, Encoder, Rng, ScoreConfig, ScoreKind, Vae};

const X: usize = 64;
const H: usize = 32;
const Z: usize = 8;
const C: usize = 8;

struct Weights {
    e1: [[f32; X]; H],
    e1b: [f32; H],
    mu: [[f32; H]; Z],
    lv: [[f32; H]; Z],
    zb: [f32; Z],
    d1: [[f32; Z]; H],
    d1b: [f32; H],
    out: [[f32; H]; X],
    outb: [f32; X],
    s: [f32; X],
}

fn arr<const N: usize>(r: &mut Rng, k: f32) -> [f32; N] {
    std::array::from_fn(|_| k * r.normal())
}

impl Weights {
    fn new() -> Box<Self> {
        let mut r = Rng::new(3);
        Box::new(Self {
            e1: std::array::from_fn(|_| arr(&mut r, 0.2)),
            e1b: arr(&mut r, 0.1),
            mu: std::array::from_fn(|_| arr(&mut r, 0.2)),
            lv: std::array::from_fn(|_| arr(&mut r, 0.05)),
            zb: arr(&mut r, 0.1),
            d1: std::array::from_fn(|_| arr(&mut r, 0.3)),
            d1b: arr(&mut r, 0.1),
            out: std::array::from_fn(|_| arr(&mut r, 0.2)),
            outb: arr(&mut r, 0.1),
            s: arr(&mut r, 0.2),
        })
    }

    fn vae(&self) -> Vae<'_, Dense<'_, X, H>, Dense<'_, Z, H>, X, H, Z, H> {
        let id = Activation::Identity;
        let enc = Encoder::new(
            Dense::new(&self.e1, &self.e1b, Activation::Tanh),
            Dense::new(&self.mu, &self.zb, id),
            Dense::new(&self.lv, &self.zb, id),
        );
        let dec = Decoder::new(
            Dense::new(&self.d1, &self.d1b, Activation::Tanh),
            Dense::new(&self.out, &self.outb, id),
            &self.s,
        )
        .expect("finite log-variances");
        Vae::new(enc, dec)
    }
}

fn score(c: &mut Criterion) {
    let w = Weights::new();
    let vae = w.vae();
    let mut r = Rng::new(9);
    let x: [f32; X] = arr(&mut r, 1.0);
    let enc_macs = vae.encoder().macs() as u64;
    let dec_macs = vae.decoder().macs() as u64;
    let mut g = c.benchmark_group("score_64_32_8");
    let cases = [
        ("deterministic", ScoreKind::Deterministic, 1u16),
        ("elbo", ScoreKind::Elbo, 1),
        ("elbo", ScoreKind::Elbo, 8),
        ("iwae", ScoreKind::Iwae, 8),
    ];
    for (name, kind, k) in cases {
        let cfg = ScoreConfig::new(kind, k).expect("K >= 1");
        g.throughput(Throughput::Elements(enc_macs + u64::from(k) * dec_macs));
        g.bench_function(BenchmarkId::new(name, format!("K={k}")), |b| {
            let mut rng = Rng::new(1);
            b.iter(|| vae.score::<C>(black_box(&x), cfg, &mut rng))
        });
    }
    g.finish();
}

fn matvec(c: &mut Criterion) {
    let w = Weights::new();
    let mut r = Rng::new(5);
    let x: [f32; X] = arr(&mut r, 1.0);
    let mut g = c.benchmark_group("matvec_64x32");
    g.throughput(Throughput::Elements((X * H) as u64));
    g.bench_function("arrays", |b| {
        let mut y = [0.0f32; H];
        b.iter(|| {
            vae_core::kernel::matvec(black_box(w.e1.as_flattened()), black_box(&x), &w.e1b, &mut y);
            y
        })
    });
    let m: SMatrix<f32, H, X> = SMatrix::from_fn(|i, j| w.e1[i][j]);
    let xv: SVector<f32, X> = SVector::from_column_slice(&x);
    let bv: SVector<f32, H> = SVector::from_column_slice(&w.e1b);
    g.bench_function("nalgebra", |b| b.iter(|| black_box(&m) * black_box(&xv) + bv));
    g.finish();
}

criterion_group!(benches, score, matvec);
criterion_main!(benches);
