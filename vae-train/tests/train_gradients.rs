//! The dfdx loss against finite differences and an independent f64 implementation.
//!
//! The network is run by dfdx in f64 (the same generic code the trainer runs in f32), with
//! the noise passed in, so the loss is a deterministic function of the parameters: dfdx's
//! gradient of every parameter tensor (the decoder log-variance included) must match
//! central differences of dfdx's own loss. A lost tape shows up as a zero (or missing)
//! gradient where the finite difference is not.

use dfdx::tensor::{Cpu, TensorFromVec};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rand_distr::StandardNormal;
use vae_core::Activation;
use vae_train::model::Network;
use vae_train::train::{
    columns, init_network, loss_and_gradients, loss_value, param_names, params_mut, LossSums, VaeNet,
};

const N: usize = 5;

fn setup(x: usize, hidden: &[usize], z: usize, act: Activation, seed: u64) -> (Network, Vec<f64>, Vec<f64>) {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut net = init_network(x, hidden, z, act, &mut rng);
    // Move every parameter off its initial value (log-variances included) so no
    // derivative is trivially zero, and scale the weights up so the activations bend.
    for p in params_mut(&mut net) {
        for v in p.iter_mut() {
            *v = 1.5 * *v + 0.3 * rng.sample::<f32, _>(StandardNormal);
        }
    }
    let windows: Vec<f64> = (0..N * x).map(|_| rng.sample(StandardNormal)).collect();
    let eps: Vec<f64> = (0..z * N).map(|_| rng.sample(StandardNormal)).collect();
    (net, windows, eps)
}

/// The loss in plain f64 loops, written from MATH.md, for row-major windows and noise
/// `eps[j * N + n]` (column layout, as the trainer samples it).
fn reference(net: &Network, windows: &[f64], eps: &[f64], x: usize) -> (f64, f64) {
    let act = |a: Activation, v: f64| match a {
        Activation::Identity => v,
        Activation::Relu => v.max(0.0),
        Activation::Tanh => v.tanh(),
        Activation::Sigmoid => 1.0 / (1.0 + (-v).exp()),
    };
    let dense = |l: &vae_train::Layer, h: &[f64]| -> Vec<f64> {
        (0..l.outputs)
            .map(|o| {
                let s: f64 = (0..l.inputs).map(|i| f64::from(l.weight[o * l.inputs + i]) * h[i]).sum();
                act(l.activation, s + f64::from(l.bias[o]))
            })
            .collect()
    };
    let (mut recon, mut kl) = (0.0, 0.0);
    let z = net.latent_len();
    for n in 0..N {
        let xs = &windows[n * x..(n + 1) * x];
        let mut h = xs.to_vec();
        for l in &net.encoder {
            h = dense(l, &h);
        }
        let mu = dense(&net.mu, &h);
        let lv = dense(&net.log_var, &h);
        let zs: Vec<f64> = (0..z).map(|j| mu[j] + (0.5 * lv[j]).exp() * eps[j * N + n]).collect();
        let mut d = zs;
        for l in &net.decoder {
            d = dense(l, &d);
        }
        let m = dense(&net.mean, &d);
        for i in 0..x {
            let s = f64::from(net.decoder_log_var[i]);
            recon += 0.5 * ((xs[i] - m[i]).powi(2) * (-s).exp() + s + (2.0 * std::f64::consts::PI).ln());
        }
        for j in 0..z {
            kl += 0.5 * (lv[j].exp() + mu[j] * mu[j] - 1.0 - lv[j]);
        }
    }
    (recon, kl)
}

fn check(x: usize, hidden: &[usize], z: usize, act: Activation, seed: u64) {
    let dev = Cpu::seed_from_u64(0);
    let (net, windows, eps) = setup(x, hidden, z, act, seed);
    let mut vnet = VaeNet::<f64, Cpu>::from_network(&dev, &net);
    let xs = columns(&dev, &windows, x);
    let noise = dev.tensor_from_vec(eps.clone(), (z, N));

    // The forward value against the independent implementation.
    let (recon, kl) = reference(&net, &windows, &eps, x);
    let (_, sums) = loss_value(&vnet, &xs, &noise, 1.0);
    assert_eq!(sums.windows, N);
    assert!((sums.recon - recon).abs() <= 1e-9 * recon.abs().max(1.0), "recon {} vs {recon}", sums.recon);
    assert!((sums.kl - kl).abs() <= 1e-9 * kl.abs().max(1.0), "kl {} vs {kl}", sums.kl);

    let names = param_names(&net);
    for beta in [1.0, 0.3] {
        let (objective, taped, grads) = loss_and_gradients(&vnet, &xs, &noise, beta);
        assert_eq!(taped, sums, "the taped forward computes the same terms");
        let want = (recon + beta * kl) / N as f64;
        assert!((objective - want).abs() <= 1e-9 * want.abs().max(1.0), "objective {objective} vs {want}");
        assert_eq!(grads.len(), names.len());

        let base = vnet.param_values();
        let h = 1e-5;
        for (t, name) in names.iter().enumerate() {
            assert_eq!(grads[t].len(), base[t].len(), "{name}");
            let mut largest = 0.0f64;
            for i in 0..base[t].len() {
                let mut at = |delta: f64| {
                    let mut p = base.clone();
                    p[t][i] += delta;
                    vnet.set_param_values(&p);
                    loss_value(&vnet, &xs, &noise, beta).0
                };
                let fd = (at(h) - at(-h)) / (2.0 * h);
                let g = grads[t][i];
                largest = largest.max(fd.abs());
                assert!(
                    (fd - g).abs() <= 1e-6 * fd.abs().max(1.0),
                    "{act:?} beta {beta}: d loss / d {name}[{i}]: dfdx {g}, finite difference {fd}"
                );
            }
            vnet.set_param_values(&base);
            // Every tensor really takes part (so the comparison above is not 0 == 0).
            assert!(largest > 1e-4, "{act:?}: {name} has no effect on the loss (largest |d| {largest})");
        }
    }
}

#[test]
fn gradients_match_finite_differences_tanh() {
    check(4, &[3], 2, Activation::Tanh, 1);
}

#[test]
fn gradients_match_finite_differences_deeper_stacks_and_other_activations() {
    check(5, &[4, 3], 2, Activation::Sigmoid, 2);
    check(4, &[3, 3, 2], 2, Activation::Relu, 3);
    check(3, &[2], 1, Activation::Identity, 4);
}

#[test]
fn f32_gradients_agree_with_f64() {
    let dev = Cpu::seed_from_u64(0);
    let (net, windows, eps) = setup(6, &[5], 3, Activation::Tanh, 9);
    let v64 = VaeNet::<f64, Cpu>::from_network(&dev, &net);
    let v32 = VaeNet::<f32, Cpu>::from_network(&dev, &net);
    let w32: Vec<f32> = windows.iter().map(|&v| v as f32).collect();
    let e32: Vec<f32> = eps.iter().map(|&v| v as f32).collect();
    let (o64, s64, g64) =
        loss_and_gradients(&v64, &columns(&dev, &windows, 6), &dev.tensor_from_vec(eps, (3, N)), 1.0);
    let (o32, s32, g32) =
        loss_and_gradients(&v32, &columns(&dev, &w32, 6), &dev.tensor_from_vec(e32, (3, N)), 1.0);
    assert!((o64 - o32).abs() <= 1e-5 * o64.abs().max(1.0));
    let close = |a: &LossSums, b: &LossSums| (a.recon - b.recon).abs() < 1e-4 && (a.kl - b.kl).abs() < 1e-4;
    assert!(close(&s64, &s32), "{s64:?} vs {s32:?}");
    for (a, b) in g64.iter().flatten().zip(g32.iter().flatten()) {
        assert!((a - f64::from(*b)).abs() <= 1e-4 * a.abs().max(1.0), "{a} vs {b}");
    }
}
