//! A 2-2-1 model whose deterministic score was computed by hand (with Python's `math`, in
//! f64): the numbers below do not come from this crate.

use vae_core::{
    Activation, Chain, Decision, Decoder, Dense, Encoder, Outcome, Rng, ScoreConfig, Threshold, Vae,
};

const W1: [[f32; 2]; 2] = [[0.5, -1.0], [0.25, 0.75]];
const B1: [f32; 2] = [0.1, -0.2];
const W_MU: [[f32; 2]; 1] = [[1.0, -0.5]];
const B_MU: [f32; 1] = [0.05];
const W_LV: [[f32; 2]; 1] = [[0.2, 0.4]];
const B_LV: [f32; 1] = [-1.0];
const WD: [[f32; 1]; 2] = [[2.0], [-1.0]];
const BD: [f32; 2] = [0.5, 0.25];
const WO: [[f32; 2]; 2] = [[1.0, 0.5], [-0.3, 0.8]];
const BO: [f32; 2] = [0.0, 0.1];
const S: [f32; 2] = [-0.5, 0.3];

fn model() -> Vae<'static, Dense<'static, 2, 2>, Dense<'static, 1, 2>, 2, 2, 1, 2> {
    let enc = Encoder::new(
        Dense::new(&W1, &B1, Activation::Tanh),
        Dense::new(&W_MU, &B_MU, Activation::Identity),
        Dense::new(&W_LV, &B_LV, Activation::Identity),
    );
    let dec =
        Decoder::new(Dense::new(&WD, &BD, Activation::Relu), Dense::new(&WO, &BO, Activation::Identity), &S)
            .unwrap();
    Vae::new(enc, dec)
}

fn close(got: f32, want: f64, what: &str) {
    // f32 rounding; with `fast-math`, micromath's exp in the KL term.
    let tol = if cfg!(feature = "fast-math") { 1e-3 } else { 2e-6 };
    assert!(((got as f64) - want).abs() < tol * want.abs().max(1.0), "{what}: {got} vs {want}");
}

#[test]
fn deterministic_score_by_hand() {
    let vae = model();
    let x = [0.8, -0.4];
    let post = vae.encoder().encode(&x);
    close(post.mu[0], 0.911_954_176_424_82, "mu");
    close(post.log_var[0], -0.973_265_470_940_831_5, "log_var");
    close(post.kl_to_prior(), 0.591_386_531_618_893_5, "KL");
    let m = vae.decoder().mean(&post.mu);
    close(m[0], 2.323_908_352_849_64, "m0");
    close(m[1], -0.597_172_505_854_892, "m1");

    let mut nll = [0.0f32; 2];
    let out = vae.score_channels::<2>(&x, ScoreConfig::DETERMINISTIC, &mut Rng::new(0), &mut nll);
    let Outcome::Scored(s) = out else { panic!("{out:?}") };
    close(nll[0], 2.583_348_489_813_608_3, "nll channel 0");
    close(nll[1], 1.083_338_927_100_279_6, "nll channel 1");
    close(s.recon, -3.666_687_416_913_888, "log p(x|mu)");
    close(s.kl, 0.591_386_531_618_893_5, "KL");
    close(s.bound, -4.258_073_948_532_782, "bound");
    close(s.score, 4.258_073_948_532_782, "score");
    assert_eq!(s.top_channel, 0);
    assert_eq!(vae.macs(), 4 + 2 + 2 + 2 + 4);

    let t = Threshold::new(4.0).unwrap();
    assert_eq!(out.decide(&t), Decision::Anomalous);
    assert_eq!(out.decide(&Threshold::new(4.5).unwrap()), Decision::Normal);
}

#[test]
fn non_finite_and_extreme_inputs_have_their_own_outcomes() {
    let vae = model();
    let t = Threshold::new(4.0).unwrap();
    for (x, count, first) in
        [([f32::NAN, 0.0], 1, 0), ([0.0, f32::INFINITY], 1, 1), ([f32::NEG_INFINITY, f32::NAN], 2, 0)]
    {
        let out = vae.score::<2>(&x, ScoreConfig::DETERMINISTIC, &mut Rng::new(0));
        assert_eq!(out, Outcome::NonFinite { count, first });
        assert_eq!(out.decide(&t), Decision::Invalid);
        assert_eq!(out.score(), None);
    }
    // Finite but beyond f32: the squared residual overflows.
    let out = vae.score::<2>(&[3e38, 0.0], ScoreConfig::DETERMINISTIC, &mut Rng::new(0));
    assert_eq!(out, Outcome::Overflow);
    assert_eq!(out.decide(&t), Decision::Anomalous);
}

#[test]
fn depth_is_a_type_not_new_code() {
    // The same encoder input layer followed by two more hidden layers: 2 -> 2 -> 2 -> 2.
    let deep: Chain<Chain<Dense<'_, 2, 2>, Dense<'_, 2, 2>, 2>, Dense<'_, 2, 2>, 2> = Chain::new(
        Chain::new(Dense::new(&W1, &B1, Activation::Tanh), Dense::new(&WO, &BO, Activation::Relu)),
        Dense::new(&W1, &B1, Activation::Sigmoid),
    );
    let enc = Encoder::new(
        deep,
        Dense::new(&W_MU, &B_MU, Activation::Identity),
        Dense::new(&W_LV, &B_LV, Activation::Identity),
    );
    let dec =
        Decoder::new(Dense::new(&WD, &BD, Activation::Relu), Dense::new(&WO, &BO, Activation::Identity), &S)
            .unwrap();
    let vae = Vae::new(enc, dec);
    let mut shapes = Vec::new();
    vae.for_each_layer(&mut |l| shapes.push((l.inputs, l.outputs, l.activation)));
    assert_eq!(shapes.len(), 7);
    assert_eq!(shapes[2], (2, 2, Activation::Sigmoid));
    assert!(vae.score::<1>(&[0.1, 0.2], ScoreConfig::DETERMINISTIC, &mut Rng::new(0)).score().is_some());
}
