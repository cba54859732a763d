//! Invariants over random models and inputs (proptest).

use proptest::prelude::*;
use vae_core::{
    kl_to_std_normal, Activation, DenseRef, DynLayers, DynVae, Outcome, Rng, ScoreConfig, ScoreKind, Scratch,
    Threshold, Windower,
};

mod common;
use common::*;

fn kind_strategy() -> impl Strategy<Value = ScoreConfig> {
    (0usize..4, 1u16..12).prop_map(|(k, n)| ScoreConfig::new(ScoreKind::ALL[k], n).unwrap())
}

fn act_strategy() -> impl Strategy<Value = Activation> {
    (0usize..4).prop_map(|i| Activation::ALL[i])
}

fn window() -> impl Strategy<Value = [f32; X]> {
    prop::array::uniform8(-5.0f32..5.0)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn kl_is_never_negative(mu in prop::array::uniform4(-10.0f32..10.0), lv in prop::array::uniform4(-8.0f32..8.0)) {
        prop_assert!(kl_to_std_normal(&mu, &lv) >= -1e-5);
    }

    #[test]
    fn typed_and_dynamic_models_agree_bit_for_bit(seed in any::<u64>(), act in act_strategy(), x in window(), cfg in kind_strategy(), stream in any::<u64>()) {
        let p = Params::new(seed, act);
        let mut precision = [0.0f32; X];
        let dynamic = p.dynamic(&mut precision);
        let typed = p.typed();
        prop_assert_eq!(dynamic.macs(), typed.macs());
        let mut nll_t = [0.0f32; C];
        let a = typed.score_channels::<C>(&x, cfg, &mut Rng::for_stream(seed, stream), &mut nll_t);
        let mut work = vec![0.0f32; dynamic.work_len(C)];
        let mut nll_d = [0.0f32; C];
        let b = dynamic.score(&x, cfg, &mut Rng::for_stream(seed, stream), &mut work, &mut nll_d).unwrap();
        prop_assert_eq!(a, b);
        prop_assert_eq!(nll_t, nll_d);
    }

    /// Buffers kept between windows (`Scratch`, as the firmware scores) change nothing: one
    /// scratch reused over windows, a NaN window among them, gives every window the bits of a
    /// fresh score, with a hidden buffer wide enough (7) and too narrow (2, stack fallback).
    #[test]
    fn scores_with_kept_buffers_equal_fresh_scores(seed in any::<u64>(), act in act_strategy(), xs in prop::collection::vec(window(), 1..6), bad in 0usize..8) {
        let p = Params::new(seed, act);
        let vae = p.typed();
        let mut wide: Scratch<X, Z, 7, C> = Scratch::new();
        let mut narrow: Scratch<X, Z, 2, C> = Scratch::new();
        for (i, x) in xs.iter().enumerate() {
            let mut x = *x;
            if i == 1 {
                x[bad] = f32::NAN;
            }
            let fresh = vae.score_deterministic::<C>(&x);
            prop_assert_eq!(vae.score_deterministic_in::<C, 7>(&x, &mut wide), fresh);
            prop_assert_eq!(vae.score_deterministic_in::<C, 2>(&x, &mut narrow), fresh);
        }
    }

    #[test]
    fn scores_are_finite_and_consistent(seed in any::<u64>(), act in act_strategy(), x in window(), cfg in kind_strategy()) {
        let p = Params::new(seed, act);
        let vae = p.typed();
        let mut nll = [0.0f32; C];
        let out = vae.score_channels::<C>(&x, cfg, &mut Rng::new(seed), &mut nll);
        let Outcome::Scored(s) = out else { return Err(TestCaseError::fail(format!("{out:?}"))) };
        prop_assert!(s.score.is_finite() && s.kl >= -1e-5);
        prop_assert_eq!(s.score, -s.bound);
        // The channel breakdown sums to the reconstruction term.
        let total: f32 = nll.iter().sum();
        prop_assert!((total + s.recon).abs() <= 1e-4 * s.recon.abs().max(1.0), "{} vs {}", total, s.recon);
        prop_assert!(s.top_channel < C);
        match cfg.kind() {
            ScoreKind::Deterministic | ScoreKind::Elbo => prop_assert!((s.bound - (s.recon - s.kl)).abs() <= 1e-4 * s.bound.abs().max(1.0)),
            ScoreKind::ReconProb => prop_assert_eq!(s.bound, s.recon),
            ScoreKind::Iwae => {}
        }
    }

    #[test]
    fn recon_prob_minus_elbo_is_the_kl_for_the_same_samples(seed in any::<u64>(), x in window(), k in 1u16..9) {
        let p = Params::new(seed, Activation::Tanh);
        let vae = p.typed();
        let run = |kind| vae.score::<C>(&x, ScoreConfig::new(kind, k).unwrap(), &mut Rng::new(seed));
        let (Outcome::Scored(rp), Outcome::Scored(el)) = (run(ScoreKind::ReconProb), run(ScoreKind::Elbo)) else {
            return Err(TestCaseError::fail("not scored"));
        };
        prop_assert_eq!(rp.recon, el.recon);
        prop_assert!((rp.bound - el.bound - el.kl).abs() <= 1e-4 * rp.bound.abs().max(1.0));
    }

    #[test]
    fn any_non_finite_value_is_reported_not_scored(seed in any::<u64>(), x in window(), holes in prop::collection::btree_set(0usize..X, 1..4), cfg in kind_strategy()) {
        let p = Params::new(seed, Activation::Relu);
        let vae = p.typed();
        let mut x = x;
        let bad = [f32::NAN, f32::INFINITY, f32::NEG_INFINITY];
        for (n, &i) in holes.iter().enumerate() {
            x[i] = bad[n % 3];
        }
        let out = vae.score::<C>(&x, cfg, &mut Rng::new(1));
        prop_assert_eq!(out, Outcome::NonFinite { count: holes.len(), first: *holes.iter().next().unwrap() });
    }

    #[test]
    fn windower_matches_slicing_the_recording(n in 0usize..60, hop in 1usize..7, seed in any::<u64>()) {
        let mut r = Rng::new(seed);
        let rec: Vec<[f32; C]> = (0..n).map(|_| [r.normal(), r.normal()]).collect();
        let mut w: Windower<C, W> = Windower::new(hop).unwrap();
        let mut got = Vec::new();
        for s in &rec {
            if let Some(start) = w.push(*s) {
                let mut out = [0.0f32; X];
                w.window(&mut out);
                got.push((start as usize, out));
            }
        }
        let want: Vec<(usize, [f32; X])> = (0..)
            .map(|i| i * hop)
            .take_while(|s| s + W <= n)
            .map(|s| (s, std::array::from_fn(|i| rec[s + i / C][i % C])))
            .collect();
        prop_assert_eq!(got, want);
    }

    #[test]
    fn quantile_threshold_lets_through_at_most_its_share(scores in prop::collection::vec(-100.0f32..100.0, 1..300), q in 0.5f32..1.0) {
        let mut s = scores.clone();
        let t = Threshold::from_quantile(&mut s, q).unwrap();
        let above = scores.iter().filter(|v| t.is_exceeded(**v)).count();
        prop_assert!(above as f32 <= (1.0 - q) * scores.len() as f32 + 1.0);
        prop_assert!(scores.iter().any(|v| *v <= t.value()));
    }
}

#[test]
fn dynamic_model_rejects_bad_shapes() {
    let p = Params::new(1, Activation::Tanh);
    let d = |w: &'static [f32], b: &'static [f32], i: usize| DenseRef::new(w, b, i, Activation::Identity);
    assert!(d(&[0.0; 6], &[0.0; 2], 4).is_err());
    let mut precision = [0.0f32; X];
    let dynamic = p.dynamic(&mut precision);
    let mut work = vec![0.0f32; dynamic.work_len(C)];
    let mut nll = [0.0f32; C];
    let x = [0.0f32; X];
    let cfg = ScoreConfig::DETERMINISTIC;
    assert!(dynamic.score(&x[..X - 1], cfg, &mut Rng::new(0), &mut work, &mut nll).is_err());
    assert!(dynamic.score(&x, cfg, &mut Rng::new(0), &mut work, &mut [0.0; 3]).is_err());
    assert!(dynamic.score(&x, cfg, &mut Rng::new(0), &mut work[..3], &mut nll).is_err());
    // Mismatched chain: the second encoder layer expects H1 inputs, give it X.
    let e1 = DenseRef::new(p.e1.as_flattened(), &p.e1b, X, Activation::Tanh).unwrap();
    let wrong = DenseRef::new(&p.out.as_flattened()[..HD * X], &p.outb, HD, Activation::Tanh).unwrap();
    let head = DenseRef::new(p.mu.as_flattened(), &p.mub, H2, Activation::Identity).unwrap();
    let dec = DenseRef::new(p.d1.as_flattened(), &p.d1b, Z, Activation::Tanh).unwrap();
    let layers = DynLayers { encoder: &[e1, wrong], mu: head, log_var: head, decoder: &[dec], mean: head };
    let mut precision = [0.0f32; X];
    assert_eq!(
        DynVae::new(layers, &p.s, &mut precision).unwrap_err(),
        vae_core::Error::LayerMismatch { layer: 1, expected: H1, found: HD }
    );
    let layers = DynLayers { encoder: &[e1], mu: head, log_var: head, decoder: &[], mean: head };
    assert_eq!(
        DynVae::new(layers, &p.s, &mut precision).unwrap_err(),
        vae_core::Error::LayerCount { max: vae_core::dynamic::MAX_HIDDEN, found: 0 }
    );
}
