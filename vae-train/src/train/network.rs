//! The VAE as dfdx tensors with sizes known at run time, its deterministic initialisation,
//! and the conversions to and from the owned [`Network`] of `model.rs`.
//!
//! Layout: activations are *columns*, shape `(features, batch)`. A dense layer is
//! `y = W h + b` with `W` stored `(outputs, inputs)` row-major (PyTorch's layout, the model
//! file's layout), so the parameter is the left operand of every product. dfdx 0.13 merges
//! tapes only left-to-right (`OwnedTape: Merge<NoneTape>`, not the reverse): with the
//! parameters on the left and the batch on the right, a batch without a tape needs no
//! tracing, and dfdx never computes a gradient for the input.
//!
//! Why not `nn::Linear` + `TensorCollection`: `Linear` has compile-time sizes, and a
//! `TensorCollection` with run-time-shaped tensors cannot be written in 0.13 —
//! `TensorOptions` is `#[non_exhaustive]` and its only constructors require `S: ConstShape`.
//! So the parameters are plain tensors, the optimizer is ours (see `adam.rs`), and gradients
//! come from `Gradients::get` per parameter.

use crate::model::{Layer, Network};
use dfdx::shapes::{Axis, Dtype, HasShape, Rank0};
use dfdx::tensor::{Gradients, Merge, NoneTape, Tape, Tensor, WithEmptyTape};
use dfdx::tensor_ops::{BroadcastTo, Device, ReshapeTo, SumTo, TryMatMul};
use rand::Rng;
use vae_core::Activation;

/// ln(2 pi) in f64 (vae-core's `LN_2PI` is its nearest f32).
const LN_2PI_F64: f64 = 1.837_877_066_409_345_5;

/// A batch of columns: shape `(features, batch)`.
pub type Columns<E, D, T = NoneTape> = Tensor<(usize, usize), E, D, T>;
/// One value per window: shape `(batch,)`.
pub type PerWindow<E, D, T = NoneTape> = Tensor<(usize,), E, D, T>;

/// Largest hidden stack the trainer builds (the model file allows more).
pub const MAX_TRAIN_HIDDEN: usize = 3;

/// A dense layer on the device: `weight` is `(outputs, inputs)`, `bias` is `(outputs,)`.
#[derive(Clone, Debug)]
pub struct DenseLayer<E: Dtype, D: Device<E>> {
    weight: Tensor<(usize, usize), E, D>,
    bias: Tensor<(usize,), E, D>,
    activation: Activation,
}

impl<E: Dtype, D: Device<E>> DenseLayer<E, D> {
    fn from_layer(dev: &D, l: &Layer) -> Self {
        Self {
            weight: dev.tensor_from_vec(convert(&l.weight), (l.outputs, l.inputs)),
            bias: dev.tensor_from_vec(convert(&l.bias), (l.outputs,)),
            activation: l.activation,
        }
    }

    fn to_layer(&self) -> Layer {
        let (outputs, inputs) = *self.weight.shape();
        Layer {
            inputs,
            outputs,
            activation: self.activation,
            weight: convert(&self.weight.as_vec()),
            bias: convert(&self.bias.as_vec()),
        }
    }

    /// Output width.
    pub fn outputs(&self) -> usize {
        self.weight.shape().0
    }

    /// Input width.
    pub fn inputs(&self) -> usize {
        self.weight.shape().1
    }

    /// `act(W h + b)` on columns `h` of shape `(inputs, batch)`. The result carries the tape
    /// type `T` of the parameters; the input may carry `T` or no tape.
    pub fn forward<T, R>(&self, h: Columns<E, D, R>) -> Columns<E, D, T>
    where
        T: Tape<E, D> + Merge<R>,
        R: Tape<E, D>,
    {
        let batch = h.shape().1;
        let y = self.weight.retaped::<T>().matmul(h);
        let y = y + self.bias.retaped::<T>().broadcast_like::<_, Axis<1>>(&(self.outputs(), batch));
        activate(y, self.activation)
    }
}

/// Applies `act` element-wise.
///
/// tanh is computed as 2 sigmoid(2x) - 1: dfdx's own tanh calls libm's `tanhf` (through
/// `expm1f`), which took about 30% of a CPU training epoch of the reference model; the
/// sigmoid goes through `expf`, several times cheaper. The result is within about 1e-7
/// (absolute) of tanh; vae-core's rational tanh is within 4e-7 relative of the true value.
pub fn activate<E: Dtype, D: Device<E>, T: Tape<E, D>>(
    t: Columns<E, D, T>,
    act: Activation,
) -> Columns<E, D, T> {
    match act {
        Activation::Identity => t,
        Activation::Relu => t.relu(),
        Activation::Tanh => (t * scalar::<E>(2.0)).sigmoid() * scalar::<E>(2.0) - scalar::<E>(1.0),
        Activation::Sigmoid => t.sigmoid(),
    }
}

enum ParamRef<'a, E: Dtype, D: Device<E>> {
    Matrix(&'a Tensor<(usize, usize), E, D>),
    Vector(&'a Tensor<(usize,), E, D>),
}

impl<E: Dtype, D: Device<E>> ParamRef<'_, E, D> {
    fn values(&self) -> Vec<E> {
        match self {
            ParamRef::Matrix(t) => t.as_vec(),
            ParamRef::Vector(t) => t.as_vec(),
        }
    }
}

enum ParamMut<'a, E: Dtype, D: Device<E>> {
    Matrix(&'a mut Tensor<(usize, usize), E, D>),
    Vector(&'a mut Tensor<(usize,), E, D>),
}

/// The VAE on a dfdx device, with sizes known at run time.
#[derive(Clone, Debug)]
pub struct VaeNet<E: Dtype, D: Device<E>> {
    encoder: Vec<DenseLayer<E, D>>,
    mu: DenseLayer<E, D>,
    log_var: DenseLayer<E, D>,
    decoder: Vec<DenseLayer<E, D>>,
    mean: DenseLayer<E, D>,
    decoder_log_var: Tensor<(usize,), E, D>,
    device: D,
}

impl<E: Dtype, D: Device<E>> VaeNet<E, D> {
    /// Copies the weights of `net` onto `dev` (converted to `E`).
    pub fn from_network(dev: &D, net: &Network) -> Self {
        let layers = |ls: &[Layer]| ls.iter().map(|l| DenseLayer::from_layer(dev, l)).collect();
        Self {
            encoder: layers(&net.encoder),
            mu: DenseLayer::from_layer(dev, &net.mu),
            log_var: DenseLayer::from_layer(dev, &net.log_var),
            decoder: layers(&net.decoder),
            mean: DenseLayer::from_layer(dev, &net.mean),
            decoder_log_var: dev.tensor_from_vec(convert(&net.decoder_log_var), (net.decoder_log_var.len(),)),
            device: dev.clone(),
        }
    }

    /// The weights as an owned [`Network`] (converted to f32).
    pub fn to_network(&self) -> Network {
        Network {
            encoder: self.encoder.iter().map(DenseLayer::to_layer).collect(),
            mu: self.mu.to_layer(),
            log_var: self.log_var.to_layer(),
            decoder: self.decoder.iter().map(DenseLayer::to_layer).collect(),
            mean: self.mean.to_layer(),
            decoder_log_var: convert(&self.decoder_log_var.as_vec()),
        }
    }

    /// The device.
    pub fn device(&self) -> &D {
        &self.device
    }

    /// Input width X.
    pub fn input_len(&self) -> usize {
        self.decoder_log_var.shape().0
    }

    /// Latent width Z.
    pub fn latent_len(&self) -> usize {
        self.mu.outputs()
    }

    /// Parameter values in [`param_names`] order.
    pub fn param_values(&self) -> Vec<Vec<E>> {
        self.tensors().iter().map(|t| t.values()).collect()
    }

    /// Overwrites the parameters (in [`param_names`] order). Panics if a length differs.
    pub fn set_param_values(&mut self, values: &[Vec<E>]) {
        for (t, v) in self.tensors_mut().into_iter().zip(values) {
            match t {
                ParamMut::Matrix(t) => t.copy_from(v),
                ParamMut::Vector(t) => t.copy_from(v),
            }
        }
    }

    /// Overwrites the parameters from an owned network of the same shape.
    pub fn set_from_network(&mut self, net: &Network) {
        let values: Vec<Vec<E>> = params(net).into_iter().map(convert).collect();
        self.set_param_values(&values);
    }

    /// The gradient of every parameter in [`param_names`] order. Panics if a parameter has
    /// no gradient (it did not take part in the loss).
    pub fn gradients(&self, grads: &Gradients<E, D>) -> Vec<Vec<E>> {
        self.tensors()
            .iter()
            .map(|t| match t {
                ParamRef::Matrix(t) => grads.get(*t).as_vec(),
                ParamRef::Vector(t) => grads.get(*t).as_vec(),
            })
            .collect()
    }

    fn tensors(&self) -> Vec<ParamRef<'_, E, D>> {
        let mut out = Vec::new();
        for l in self.layers() {
            out.push(ParamRef::Matrix(&l.weight));
            out.push(ParamRef::Vector(&l.bias));
        }
        out.push(ParamRef::Vector(&self.decoder_log_var));
        out
    }

    fn tensors_mut(&mut self) -> Vec<ParamMut<'_, E, D>> {
        let mut out = Vec::new();
        let layers = self
            .encoder
            .iter_mut()
            .chain([&mut self.mu, &mut self.log_var])
            .chain(self.decoder.iter_mut())
            .chain([&mut self.mean]);
        for l in layers {
            out.push(ParamMut::Matrix(&mut l.weight));
            out.push(ParamMut::Vector(&mut l.bias));
        }
        out.push(ParamMut::Vector(&mut self.decoder_log_var));
        out
    }

    fn layers(&self) -> impl Iterator<Item = &DenseLayer<E, D>> {
        self.encoder.iter().chain([&self.mu, &self.log_var]).chain(&self.decoder).chain([&self.mean])
    }

    /// q(z|x): `(mu, log_var)`, each `(Z, batch)`, for input columns `x` of shape
    /// `(X, batch)`.
    pub fn encode<T: Tape<E, D>>(&self, x: Columns<E, D>) -> (Columns<E, D, T>, Columns<E, D, T>) {
        let mut layers = self.encoder.iter();
        let first = layers.next().expect("at least one encoder layer");
        let mut h: Columns<E, D, T> = first.forward::<T, NoneTape>(x);
        for l in layers {
            h = l.forward::<T, T>(h);
        }
        // `h` feeds both heads: one of them gets a copy with an empty tape, the other keeps
        // the history; both tapes meet again in the loss.
        let mu = self.mu.forward::<T, T>(h.with_empty_tape());
        let log_var = self.log_var.forward::<T, T>(h);
        (mu, log_var)
    }

    /// The decoder mean m(z), `(X, batch)`, for latent columns `z` of shape `(Z, batch)`.
    pub fn decode<T, R>(&self, z: Columns<E, D, R>) -> Columns<E, D, T>
    where
        T: Tape<E, D> + Merge<R>,
        R: Tape<E, D>,
    {
        let mut layers = self.decoder.iter();
        let first = layers.next().expect("at least one decoder layer");
        let mut h: Columns<E, D, T> = first.forward::<T, R>(z);
        for l in layers {
            h = l.forward::<T, T>(h);
        }
        self.mean.forward::<T, T>(h)
    }

    /// -log p(x|z) per window, 1/2 sum_i ((x_i - m_i)^2 exp(-s_i) + s_i + ln 2 pi), for
    /// the decoder mean `mean` of the windows `x` (both `(X, batch)`).
    pub fn neg_log_likelihood<T: Tape<E, D>>(
        &self,
        x: &Columns<E, D>,
        mean: Columns<E, D, T>,
    ) -> PerWindow<E, D, T> {
        let (xl, batch) = *mean.shape();
        let squares = (mean - x.clone()).square();
        // sum_i exp(-s_i) (x_i - m_i)^2 for every window at once: a (1, X) x (X, batch)
        // product (one gemm instead of a broadcast multiply and a reduction).
        let precision = self.decoder_log_var.retaped::<T>().negate().exp().reshape_like(&(1, xl));
        let weighted = precision.matmul(squares).reshape_like(&(batch,));
        let norm =
            self.decoder_log_var.retaped::<T>().sum::<Rank0, _>() + scalar::<E>(xl as f64 * LN_2PI_F64);
        (weighted + norm.broadcast_like::<_, Axis<0>>(&(batch,))) * scalar::<E>(0.5)
    }
}

/// KL(q(z|x) || N(0, I)) per window: 1/2 sum_j (exp(lv_j) + mu_j^2 - 1 - lv_j).
pub fn kl_to_prior<E: Dtype, D: Device<E>, T: Tape<E, D>>(
    mu: Columns<E, D, T>,
    log_var: Columns<E, D, T>,
) -> PerWindow<E, D, T> {
    let terms = (log_var.with_empty_tape().exp() - log_var) + mu.square() - scalar::<E>(1.0);
    terms.sum::<(usize,), Axis<0>>() * scalar::<E>(0.5)
}

/// z = mu + exp(log_var / 2) * eps (the reparameterisation; `eps` carries no tape).
pub fn reparameterise<E: Dtype, D: Device<E>, T: Tape<E, D>>(
    mu: Columns<E, D, T>,
    log_var: Columns<E, D, T>,
    eps: &Columns<E, D>,
) -> Columns<E, D, T> {
    let sigma = (log_var * scalar::<E>(0.5)).exp();
    mu + sigma * eps.clone()
}

/// `v` as `E`.
pub(crate) fn scalar<E: Dtype>(v: f64) -> E {
    E::from_f64(v).expect("every float type represents an f64 approximately")
}

fn convert<A: Dtype, B: Dtype>(v: &[A]) -> Vec<B> {
    v.iter().map(|x| B::from_f64(x.to_f64().unwrap_or(f64::NAN)).unwrap_or(B::default())).collect()
}

/// The parameters' names, in the order of every parameter list of the trainer (the model
/// file's order): per dense layer `weight` then `bias`, then the decoder log-variance.
pub fn param_names(net: &Network) -> Vec<String> {
    let mut names = Vec::new();
    let mut push = |prefix: String| {
        names.push(format!("{prefix}.weight"));
        names.push(format!("{prefix}.bias"));
    };
    for i in 0..net.encoder.len() {
        push(format!("encoder.{i}"));
    }
    push("mu".into());
    push("log_var".into());
    for i in 0..net.decoder.len() {
        push(format!("decoder.{i}"));
    }
    push("mean".into());
    names.push("decoder_log_var".into());
    names
}

/// The parameters' shapes in [`param_names`] order (`[outputs, inputs]` for weights).
pub fn param_shapes(net: &Network) -> Vec<Vec<usize>> {
    let mut shapes = Vec::new();
    for l in net.layers() {
        shapes.push(vec![l.outputs, l.inputs]);
        shapes.push(vec![l.outputs]);
    }
    shapes.push(vec![net.decoder_log_var.len()]);
    shapes
}

/// The parameters' values in [`param_names`] order.
pub fn params(net: &Network) -> Vec<&[f32]> {
    let mut out: Vec<&[f32]> = Vec::new();
    for l in net.layers() {
        out.push(&l.weight);
        out.push(&l.bias);
    }
    out.push(&net.decoder_log_var);
    out
}

/// The parameters, mutable, in [`param_names`] order.
pub fn params_mut(net: &mut Network) -> Vec<&mut [f32]> {
    let mut out: Vec<&mut [f32]> = Vec::new();
    let layers = net
        .encoder
        .iter_mut()
        .chain([&mut net.mu, &mut net.log_var])
        .chain(net.decoder.iter_mut())
        .chain([&mut net.mean]);
    for l in layers {
        out.push(&mut l.weight);
        out.push(&mut l.bias);
    }
    out.push(&mut net.decoder_log_var);
    out
}

/// A network of the given shape with PyTorch's default initialisation of `nn.Linear`
/// (weights and biases uniform in ±1/sqrt(inputs)) drawn from `rng`, and decoder
/// log-variances 0. The decoder mirrors the encoder's hidden sizes.
pub fn init_network(
    x: usize,
    hidden: &[usize],
    latent: usize,
    activation: Activation,
    rng: &mut impl Rng,
) -> Network {
    let mut layer = |inputs: usize, outputs: usize, activation: Activation| {
        let bound = 1.0 / (inputs.max(1) as f32).sqrt();
        let mut l = Layer::zeros(inputs, outputs, activation);
        for w in l.weight.iter_mut().chain(l.bias.iter_mut()) {
            *w = rng.gen_range(-bound..=bound);
        }
        l
    };
    let mut encoder = Vec::new();
    let mut width = x;
    for &h in hidden {
        encoder.push(layer(width, h, activation));
        width = h;
    }
    let mu = layer(width, latent, Activation::Identity);
    let log_var = layer(width, latent, Activation::Identity);
    let mut decoder = Vec::new();
    width = latent;
    for &h in hidden.iter().rev() {
        decoder.push(layer(width, h, activation));
        width = h;
    }
    let mean = layer(width, x, Activation::Identity);
    Network { encoder, mu, log_var, decoder, mean, decoder_log_var: vec![0.0; x] }
}

/// Row-major windows (`n * X` values) as columns `(X, n)` on the device.
pub fn columns<E: Dtype, D: Device<E>>(dev: &D, rows: &[E], width: usize) -> Columns<E, D> {
    let n = rows.len().checked_div(width).unwrap_or(0);
    let mut cols = vec![E::default(); n * width];
    for (j, row) in rows.chunks_exact(width.max(1)).enumerate() {
        for (i, &v) in row.iter().enumerate() {
            cols[i * n + j] = v;
        }
    }
    dev.tensor_from_vec(cols, (width, n))
}

#[cfg(test)]
mod tests {
    use super::*;
    use dfdx::tensor::{Cpu, TensorFromVec};

    #[test]
    fn activations_match_their_definitions_and_vae_core() {
        let dev = Cpu::default();
        let xs: Vec<f32> = (-2000..=2000).map(|i| i as f32 / 200.0).collect();
        let n = xs.len();
        for act in Activation::ALL {
            let t = dev.tensor_from_vec(xs.clone(), (1, n));
            let got = activate::<f32, Cpu, NoneTape>(t, act).as_vec();
            let (mut worst_exact, mut worst_core) = (0.0f64, 0.0f32);
            for (&x, &y) in xs.iter().zip(&got) {
                let exact = match act {
                    Activation::Identity => f64::from(x),
                    Activation::Relu => f64::from(x).max(0.0),
                    Activation::Tanh => f64::from(x).tanh(),
                    Activation::Sigmoid => 1.0 / (1.0 + (-f64::from(x)).exp()),
                };
                worst_exact = worst_exact.max((f64::from(y) - exact).abs());
                worst_core = worst_core.max((y - act.apply(x)).abs());
            }
            assert!(worst_exact <= 2.5e-7, "{act:?}: {worst_exact:e} from the exact value");
            assert!(worst_core <= 4e-7, "{act:?}: {worst_core:e} from vae-core");
        }
    }

    #[test]
    fn network_round_trips_through_the_device() {
        let net =
            init_network(5, &[4, 3], 2, Activation::Relu, &mut rand::rngs::mock::StepRng::new(1, 1 << 40));
        let dev = Cpu::default();
        let v = VaeNet::<f32, Cpu>::from_network(&dev, &net);
        assert_eq!(v.to_network(), net);
        assert_eq!((v.input_len(), v.latent_len()), (5, 2));
        assert_eq!(param_names(&net).len(), params(&net).len());
        assert_eq!(param_shapes(&net)[0], [4, 5]);
        assert_eq!(param_names(&net)[0], "encoder.0.weight");
        assert_eq!(param_names(&net).last().map(String::as_str), Some("decoder_log_var"));
        // The decoder mirrors the encoder.
        let widths: Vec<(usize, usize)> = net.layers().map(|l| (l.inputs, l.outputs)).collect();
        assert_eq!(widths, [(5, 4), (4, 3), (3, 2), (3, 2), (2, 3), (3, 4), (4, 5)]);
    }
}
