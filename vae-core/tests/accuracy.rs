//! f32 scores against an f64 reference of the same model and the same noise, computed here
//! with `f64::tanh`/`exp`/`ln`. Bounds the error of the crate's tanh approximation and, built
//! with `--features fast-math`, of micromath's `exp`.

mod common;
use common::*;
use vae_core::{Activation, Outcome, Rng, ScoreConfig, ScoreKind};

const LN_2PI: f64 = 1.837_877_066_409_345_5;

fn act(a: Activation, v: f64) -> f64 {
    match a {
        Activation::Identity => v,
        Activation::Relu => v.max(0.0),
        Activation::Tanh => v.tanh(),
        Activation::Sigmoid => 1.0 / (1.0 + (-v).exp()),
    }
}

fn dense<const I: usize, const O: usize>(
    w: &[[f32; I]; O],
    b: &[f32; O],
    x: &[f64],
    a: Activation,
) -> Vec<f64> {
    (0..O).map(|o| act(a, b[o] as f64 + (0..I).map(|i| w[o][i] as f64 * x[i]).sum::<f64>())).collect()
}

/// The bound of `kind` with K samples, in f64, drawing eps from the same stream.
fn reference(p: &Params, x: &[f32; X], kind: ScoreKind, k: u16, rng: &mut Rng) -> f64 {
    let id = Activation::Identity;
    let xv: Vec<f64> = x.iter().map(|v| *v as f64).collect();
    let h = dense(&p.e2, &p.e2b, &dense(&p.e1, &p.e1b, &xv, p.act), p.act);
    let mu = dense(&p.mu, &p.mub, &h, id);
    let lv = dense(&p.lv, &p.lvb, &h, id);
    let kl: f64 = 0.5 * (0..Z).map(|j| lv[j].exp() + mu[j] * mu[j] - 1.0 - lv[j]).sum::<f64>();
    let log_lik = |z: &[f64]| -> f64 {
        let m = dense(&p.out, &p.outb, &dense(&p.d1, &p.d1b, z, p.act), id);
        (0..X)
            .map(|i| {
                let s = p.s[i] as f64;
                -0.5 * ((xv[i] - m[i]).powi(2) * (-s).exp() + s + LN_2PI)
            })
            .sum()
    };
    if kind == ScoreKind::Deterministic {
        return log_lik(&mu) - kl;
    }
    let (mut recon, mut w) = (0.0, Vec::new());
    for _ in 0..k {
        let eps: Vec<f64> = (0..Z).map(|_| rng.normal() as f64).collect();
        let z: Vec<f64> = (0..Z).map(|j| mu[j] + (0.5 * lv[j]).exp() * eps[j]).collect();
        let ll = log_lik(&z);
        recon += ll / k as f64;
        let log_p_z: f64 = -0.5 * z.iter().map(|v| v * v + LN_2PI).sum::<f64>();
        let log_q: f64 = -0.5 * (0..Z).map(|j| eps[j] * eps[j] + lv[j] + LN_2PI).sum::<f64>();
        w.push(ll + log_p_z - log_q);
    }
    match kind {
        ScoreKind::Elbo => recon - kl,
        ScoreKind::ReconProb => recon,
        _ => {
            let m = w.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
            m + (w.iter().map(|v| (v - m).exp()).sum::<f64>() / k as f64).ln()
        }
    }
}

#[test]
fn f32_scores_track_the_f64_reference() {
    // Relative error allowed on the bound: the exact build is limited by f32 rounding and the
    // tanh approximation (4e-7 relative); fast-math by micromath's exp (~2e-3 relative; measured worst 3e-4 on the bound).
    let tol = if cfg!(feature = "fast-math") { 1e-3 } else { 2e-6 };
    let mut worst = 0.0f64;
    for seed in 0..40u64 {
        let p = Params::new(seed, Activation::ALL[seed as usize % 4]);
        let vae = p.typed();
        let mut r = Rng::new(seed + 1000);
        let x: [f32; X] = std::array::from_fn(|_| 2.0 * r.normal());
        for kind in ScoreKind::ALL {
            let cfg = ScoreConfig::new(kind, 5).unwrap();
            let got = match vae.score::<C>(&x, cfg, &mut Rng::for_stream(seed, 9)) {
                Outcome::Scored(s) => s.bound as f64,
                other => panic!("{other:?}"),
            };
            let want = reference(&p, &x, kind, cfg.samples(), &mut Rng::for_stream(seed, 9));
            let rel = (got - want).abs() / want.abs().max(1.0);
            worst = worst.max(rel);
            assert!(rel < tol, "seed {seed} {kind:?}: {got} vs {want} (rel {rel:e})");
        }
    }
    println!("worst relative error of the bound: {worst:e}");
}
