//! The closed-form KL(q || N(0, I)) against a large-sample Monte-Carlo estimate
//! E_q[log q(z) - log p(z)] drawn with the crate's own sampler.

use vae_core::gaussian::{log_q_at_noise, log_std_normal};
use vae_core::{Posterior, Rng};

#[test]
fn closed_form_kl_matches_monte_carlo() {
    let cases = [
        Posterior { mu: [0.0, 0.0, 0.0], log_var: [0.0, 0.0, 0.0] },
        Posterior { mu: [1.0, -2.0, 0.5], log_var: [0.0, -1.0, 1.0] },
        Posterior { mu: [0.1, 0.0, -0.3], log_var: [-3.0, -2.0, 0.7] },
    ];
    let n = 200_000;
    let mut rng = Rng::new(2024);
    for q in cases {
        let sigma = q.std_dev();
        let (mut sum, mut sum_sq) = (0.0f64, 0.0f64);
        let mut eps = [0.0f32; 3];
        for _ in 0..n {
            rng.fill_normal(&mut eps);
            let z = q.reparameterise(&sigma, &eps);
            let v = (log_q_at_noise(&eps, &q.log_var) - log_std_normal(&z)) as f64;
            sum += v;
            sum_sq += v * v;
        }
        let mean = sum / n as f64;
        let se = ((sum_sq / n as f64 - mean * mean) / n as f64).sqrt();
        let kl = q.kl_to_prior() as f64;
        assert!((mean - kl).abs() < 5.0 * se + 1e-6, "KL {kl}, Monte Carlo {mean} ± {se}");
    }
}
