//! The bounds against a model whose answers are known exactly (see `shared/docs/MATH.md`):
//! decoder x = W z + b + noise, noise ~ N(0, diag(d)), prior z ~ N(0, I). Then
//! p(x) = N(b, W W^T + D) and p(z|x) = N(m*, S*), S* = (I + W^T D^-1 W)^-1,
//! m* = S* W^T D^-1 (x - b). The references below are computed in f64 with nalgebra,
//! independently of vae-core.

use nalgebra::{DMatrix, DVector};
use vae_core::{Activation, Decoder, Dense, Encoder, Outcome, Rng, ScoreConfig, ScoreKind, Vae};

const X: usize = 3;
const Z: usize = 2;
const LN_2PI: f64 = 1.837_877_066_409_345_5;
/// How close an f32 bound comes to an exact answer: f32 rounding, or with `fast-math`
/// micromath's exp (which also bounds the feature's error on these identities).
const TOL: f64 = if cfg!(feature = "fast-math") { 2e-3 } else { 2e-4 };

/// W has columns with disjoint support, so W^T D^-1 W and hence S* are diagonal and a
/// diagonal q can equal the exact posterior.
fn w() -> DMatrix<f64> {
    DMatrix::from_row_slice(X, Z, &[1.5, 0.0, 0.0, -0.8, 0.7, 0.0])
}
fn b() -> DVector<f64> {
    DVector::from_vec(vec![0.3, -0.2, 1.0])
}
fn d() -> DVector<f64> {
    DVector::from_vec(vec![0.25, 0.5, 0.4])
}

struct Exact {
    log_px: f64,
    post_mean: DVector<f64>,
    post_cov: DMatrix<f64>,
    /// m* = a x + c.
    a: DMatrix<f64>,
    c: DVector<f64>,
}

fn exact(x: &DVector<f64>) -> Exact {
    let (w, b, d) = (w(), b(), d());
    let cov = &w * w.transpose() + DMatrix::from_diagonal(&d);
    let chol = cov.clone().cholesky().unwrap();
    let r = x - &b;
    let maha = r.dot(&chol.solve(&r));
    let log_det: f64 = 2.0 * chol.l().diagonal().iter().map(|v| v.ln()).sum::<f64>();
    let log_px = -0.5 * (maha + log_det + X as f64 * LN_2PI);
    let d_inv = DMatrix::from_diagonal(&d.map(|v| 1.0 / v));
    let prec = DMatrix::identity(Z, Z) + w.transpose() * &d_inv * &w;
    let post_cov = prec.try_inverse().unwrap();
    let a = &post_cov * w.transpose() * &d_inv;
    let c = -(&a * &b);
    let post_mean = &a * x + &c;
    Exact { log_px, post_mean, post_cov, a, c }
}

/// Closed-form ELBO of q = N(m, diag(v)) under the linear-Gaussian model.
fn elbo_closed_form(x: &DVector<f64>, m: &DVector<f64>, v: &DVector<f64>) -> f64 {
    let (w, b, d) = (w(), b(), d());
    let r = x - &w * m - &b;
    let mut e_log_lik = 0.0;
    for i in 0..X {
        let spread: f64 = (0..Z).map(|j| w[(i, j)].powi(2) * v[j]).sum();
        e_log_lik += -0.5 * ((r[i] * r[i] + spread) / d[i] + d[i].ln() + LN_2PI);
    }
    e_log_lik - kl_diag_to_std(m, v)
}

fn kl_diag_to_std(m: &DVector<f64>, v: &DVector<f64>) -> f64 {
    0.5 * (0..m.len()).map(|j| v[j] + m[j] * m[j] - 1.0 - v[j].ln()).sum::<f64>()
}

/// KL(N(m, diag v) || N(m*, S*)).
fn kl_to_posterior(m: &DVector<f64>, v: &DVector<f64>, e: &Exact) -> f64 {
    let s_inv = e.post_cov.clone().try_inverse().unwrap();
    let dm = &e.post_mean - m;
    let tr = (0..Z).map(|j| s_inv[(j, j)] * v[j]).sum::<f64>();
    let ln_det_s = e.post_cov.determinant().ln();
    let ln_det_q: f64 = v.iter().map(|x| x.ln()).sum();
    0.5 * (tr + dm.dot(&(&s_inv * &dm)) - Z as f64 + ln_det_s - ln_det_q)
}

/// The weights of a vae-core model whose encoder outputs q = N(a_q x + c_q, diag(v_q)) and
/// whose decoder is the linear-Gaussian model.
struct Weights {
    identity_x: [[f32; X]; X],
    zeros_x: [f32; X],
    mu_w: [[f32; X]; Z],
    mu_b: [f32; Z],
    lv_w: [[f32; X]; Z],
    lv_b: [f32; Z],
    identity_z: [[f32; Z]; Z],
    zeros_z: [f32; Z],
    dec_w: [[f32; Z]; X],
    dec_b: [f32; X],
    log_d: [f32; X],
}

impl Weights {
    fn new(a_q: &DMatrix<f64>, c_q: &DVector<f64>, v_q: &DVector<f64>) -> Self {
        let (w, b, d) = (w(), b(), d());
        Self {
            identity_x: std::array::from_fn(|i| std::array::from_fn(|j| (i == j) as u8 as f32)),
            zeros_x: [0.0; X],
            mu_w: std::array::from_fn(|j| std::array::from_fn(|i| a_q[(j, i)] as f32)),
            mu_b: std::array::from_fn(|j| c_q[j] as f32),
            lv_w: [[0.0; X]; Z],
            lv_b: std::array::from_fn(|j| v_q[j].ln() as f32),
            identity_z: std::array::from_fn(|i| std::array::from_fn(|j| (i == j) as u8 as f32)),
            zeros_z: [0.0; Z],
            dec_w: std::array::from_fn(|i| std::array::from_fn(|j| w[(i, j)] as f32)),
            dec_b: std::array::from_fn(|i| b[i] as f32),
            log_d: std::array::from_fn(|i| d[i].ln() as f32),
        }
    }

    fn vae(&self) -> Vae<'_, Dense<'_, X, X>, Dense<'_, Z, Z>, X, X, Z, Z> {
        let id = Activation::Identity;
        let enc = Encoder::new(
            Dense::new(&self.identity_x, &self.zeros_x, id),
            Dense::new(&self.mu_w, &self.mu_b, id),
            Dense::new(&self.lv_w, &self.lv_b, id),
        );
        let dec = Decoder::new(
            Dense::new(&self.identity_z, &self.zeros_z, id),
            Dense::new(&self.dec_w, &self.dec_b, id),
            &self.log_d,
        )
        .unwrap();
        Vae::new(enc, dec)
    }
}

fn bound(
    vae: &Vae<'_, Dense<'_, X, X>, Dense<'_, Z, Z>, X, X, Z, Z>,
    x: &[f32; X],
    kind: ScoreKind,
    k: u16,
    stream: u64,
) -> f64 {
    let cfg = ScoreConfig::new(kind, k).unwrap();
    match vae.score::<1>(x, cfg, &mut Rng::for_stream(42, stream)) {
        Outcome::Scored(s) => {
            assert_eq!(s.score, -s.bound);
            s.bound as f64
        }
        other => panic!("{other:?}"),
    }
}

fn windows() -> Vec<[f32; X]> {
    vec![[0.0, 0.0, 0.0], [1.2, -0.7, 2.1], [-2.0, 1.5, 0.3], [3.5, 2.0, -1.0]]
}

fn to_vec(x: &[f32; X]) -> DVector<f64> {
    DVector::from_iterator(X, x.iter().map(|v| *v as f64))
}

/// A q that is not the posterior: shifted and scaled.
fn off_posterior(e: &Exact) -> (DMatrix<f64>, DVector<f64>, DVector<f64>) {
    let a = &e.a * 0.8;
    let c = &e.c + DVector::from_vec(vec![0.4, -0.3]);
    let v = e.post_cov.diagonal().map(|s| s * 1.8);
    (a, c, v)
}

/// Mean and standard error of the single-sample (K = 1) estimates over `n` streams.
fn mc(
    vae: &Vae<'_, Dense<'_, X, X>, Dense<'_, Z, Z>, X, X, Z, Z>,
    x: &[f32; X],
    kind: ScoreKind,
    n: u64,
) -> (f64, f64) {
    let v: Vec<f64> = (0..n).map(|s| bound(vae, x, kind, 1, s)).collect();
    let mean = v.iter().sum::<f64>() / n as f64;
    let var = v.iter().map(|b| (b - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
    (mean, (var / n as f64).sqrt())
}

#[test]
fn reference_identities_hold_in_f64() {
    // The references themselves: ELBO(q) + KL(q || p(z|x)) = log p(x) for any q, and the
    // posterior is diagonal by construction.
    for x in windows() {
        let xv = to_vec(&x);
        let e = exact(&xv);
        assert!(e.post_cov[(0, 1)].abs() < 1e-15);
        let (a, c, v) = off_posterior(&e);
        let m = &a * &xv + &c;
        let lhs = elbo_closed_form(&xv, &m, &v) + kl_to_posterior(&m, &v, &e);
        assert!((lhs - e.log_px).abs() < 1e-12, "{lhs} vs {}", e.log_px);
        let exact_elbo = elbo_closed_form(&xv, &e.post_mean, &e.post_cov.diagonal());
        assert!((exact_elbo - e.log_px).abs() < 1e-12);
    }
}

#[test]
fn deterministic_score_is_log_lik_at_the_mean_minus_kl() {
    for x in windows() {
        let xv = to_vec(&x);
        let e = exact(&xv);
        let (a, c, v) = off_posterior(&e);
        let weights = Weights::new(&a, &c, &v);
        let vae = weights.vae();
        let m = &a * &xv + &c;
        let r = &xv - w() * &m - b();
        let d = d();
        let log_lik: f64 = (0..X).map(|i| -0.5 * (r[i] * r[i] / d[i] + d[i].ln() + LN_2PI)).sum();
        let want = log_lik - kl_diag_to_std(&m, &v);
        let got = bound(&vae, &x, ScoreKind::Deterministic, 1, 0);
        assert!((got - want).abs() < TOL * want.abs().max(1.0), "{got} vs {want}");
    }
}

#[test]
fn monte_carlo_elbo_matches_the_closed_form_and_stays_below_log_px() {
    for x in windows() {
        let xv = to_vec(&x);
        let e = exact(&xv);
        let (a, c, v) = off_posterior(&e);
        let weights = Weights::new(&a, &c, &v);
        let vae = weights.vae();
        let m = &a * &xv + &c;
        let want = elbo_closed_form(&xv, &m, &v);
        let (mean, se) = mc(&vae, &x, ScoreKind::Elbo, 4000);
        assert!((mean - want).abs() < 5.0 * se + TOL, "ELBO {mean} ± {se} vs {want}");
        // The gap is the KL to the exact posterior, and it is positive here.
        let gap = kl_to_posterior(&m, &v, &e);
        assert!(gap > 0.05, "q should be away from the posterior: gap {gap}");
        assert!((e.log_px - mean - gap).abs() < 5.0 * se + TOL);
        assert!(mean < e.log_px);
        // Reconstruction probability: the same samples without the KL term.
        let (rp, rp_se) = mc(&vae, &x, ScoreKind::ReconProb, 4000);
        let kl = kl_diag_to_std(&m, &v);
        assert!((rp - (want + kl)).abs() < 5.0 * rp_se + TOL);
    }
}

#[test]
fn elbo_equals_log_px_at_the_exact_posterior() {
    for x in windows() {
        let xv = to_vec(&x);
        let e = exact(&xv);
        let weights = Weights::new(&e.a, &e.c, &e.post_cov.diagonal());
        let vae = weights.vae();
        // With q = p(z|x), every importance weight p(x, z) / q(z|x) equals p(x): the
        // importance-weighted bound is exact for every sample and every K.
        for (stream, k) in [(0, 1), (1, 1), (2, 7), (3, 64)] {
            let got = bound(&vae, &x, ScoreKind::Iwae, k, stream);
            assert!((got - e.log_px).abs() < TOL, "K={k}: {got} vs {}", e.log_px);
        }
        // The Monte-Carlo ELBO converges to log p(x) as well (its samples vary, their mean
        // does not).
        let (mean, se) = mc(&vae, &x, ScoreKind::Elbo, 4000);
        assert!((mean - e.log_px).abs() < 5.0 * se + TOL, "{mean} ± {se} vs {}", e.log_px);
    }
}

#[test]
fn importance_weighted_bound_rises_with_k_toward_log_px() {
    let x = [1.2f32, -0.7, 2.1];
    let xv = to_vec(&x);
    let e = exact(&xv);
    let (a, c, v) = off_posterior(&e);
    let weights = Weights::new(&a, &c, &v);
    let vae = weights.vae();
    let m = &a * &xv + &c;
    let elbo = elbo_closed_form(&xv, &m, &v);
    let runs = 400;
    let mut means = Vec::new();
    for k in [1u16, 4, 16, 64, 256] {
        let vals: Vec<f64> = (0..runs).map(|s| bound(&vae, &x, ScoreKind::Iwae, k, s)).collect();
        let mean = vals.iter().sum::<f64>() / runs as f64;
        let se = (vals.iter().map(|b| (b - mean).powi(2)).sum::<f64>() / (runs * (runs - 1)) as f64).sqrt();
        // Never above log p(x) in expectation.
        assert!(mean < e.log_px + 4.0 * se + TOL, "K={k}: {mean} above {}", e.log_px);
        means.push((k, mean, se));
    }
    // L_1 is the ELBO in expectation.
    let (_, l1, se1) = means[0];
    assert!((l1 - elbo).abs() < 5.0 * se1 + TOL, "L1 {l1} vs ELBO {elbo}");
    // Non-decreasing in K (within the Monte-Carlo error), and clearly rising while the gap
    // is still wide (measured: L_1 = -4.39, L_4 = -3.85, L_16 = -3.73, log p(x) = -3.73).
    for (i, pair) in means.windows(2).enumerate() {
        let ((k0, m0, s0), (k1, m1, s1)) = (pair[0], pair[1]);
        let se = (s0 * s0 + s1 * s1).sqrt();
        assert!(m1 > m0 - 4.0 * se, "L_{k1} = {m1} fell below L_{k0} = {m0}");
        if i < 2 {
            assert!(m1 > m0 + 3.0 * se, "L_{k1} = {m1} should clearly exceed L_{k0} = {m0}");
        }
    }
    let gap1 = e.log_px - l1;
    let (_, l256, se256) = means[4];
    assert!(gap1 > 0.5, "q should be well away from the posterior: gap {gap1}");
    assert!((e.log_px - l256).abs() < 4.0 * se256 + 1e-3, "L_256 {l256} vs log p(x) {}", e.log_px);
}
