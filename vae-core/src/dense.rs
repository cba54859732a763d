//! Dense layers and stacks of them, with every size a const generic.
//!
//! A layer borrows its weights (`&'a` arrays): on the device they stay where the model file
//! lies, in flash, and only the activations of one window live in RAM. Any depth is one type
//! expression, no new code: `Chain<Dense<64, 32>, Dense<32, 16>, 32>` is a 64-32-16 stack,
//! and `Chain<Chain<A, B, M1>, C, M2>` adds a third layer.

use crate::activation::Activation;
use crate::kernel;
use crate::weights::{self, Store, F32};

/// Shape and activation of one dense layer, for the model file and for reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct LayerShape {
    /// Input width.
    pub inputs: usize,
    /// Output width.
    pub outputs: usize,
    /// Activation after the affine map.
    pub activation: Activation,
}

/// A feed-forward map from `[f32; I]` to `[f32; O]` built from dense layers.
pub trait Layers<const I: usize, const O: usize> {
    /// Computes the output for one input.
    fn forward(&self, x: &[f32; I], y: &mut [f32; O]);

    /// Calls `f` with the shape of each dense layer, input side first.
    fn for_each_layer(&self, f: &mut dyn FnMut(LayerShape));

    /// Multiply-accumulates per forward pass.
    fn macs(&self) -> usize {
        let mut n = 0;
        self.for_each_layer(&mut |s| n += s.inputs * s.outputs);
        n
    }

    /// Number of dense layers.
    fn depth(&self) -> usize {
        let mut n = 0;
        self.for_each_layer(&mut |_| n += 1);
        n
    }
}

/// One dense layer: `y = act(W x + b)`, `W` row-major with one row per output, its
/// weights stored as `S` ([`F32`] by default; see [`crate::weights`]).
#[derive(Clone, Copy, Debug)]
pub struct Dense<'a, const I: usize, const O: usize, S: Store = F32> {
    weight: &'a [[S::Elem; I]; O],
    /// One scale per row for scaled encodings (`int8`), else empty.
    scale: &'a [f32],
    bias: &'a [f32; O],
    activation: Activation,
}

impl<'a, const I: usize, const O: usize> Dense<'a, I, O> {
    /// A layer over borrowed weights (`weight[o][i]` multiplies input `i` into output `o`).
    pub const fn new(weight: &'a [[f32; I]; O], bias: &'a [f32; O], activation: Activation) -> Self {
        Self { weight, scale: &[], bias, activation }
    }
}

impl<'a, const I: usize, const O: usize, S: Store> Dense<'a, I, O, S> {
    /// A layer over borrowed weights stored as `S`; `scale` holds one factor per row for
    /// `int8` (its length is checked when the model file is read) and is empty otherwise.
    pub const fn encoded(
        weight: &'a [[S::Elem; I]; O],
        scale: &'a [f32],
        bias: &'a [f32; O],
        activation: Activation,
    ) -> Self {
        Self { weight, scale, bias, activation }
    }

    /// The weight matrix as stored, one row per output.
    pub const fn weight(&self) -> &'a [[S::Elem; I]; O] {
        self.weight
    }

    /// The per-row scales (`int8`), else empty.
    pub const fn scale(&self) -> &'a [f32] {
        self.scale
    }

    /// The bias vector.
    pub const fn bias(&self) -> &'a [f32; O] {
        self.bias
    }

    /// The activation after the affine map.
    pub const fn activation(&self) -> Activation {
        self.activation
    }
}

impl<const I: usize, const O: usize, S: Store> Layers<I, O> for Dense<'_, I, O, S> {
    #[inline]
    fn forward(&self, x: &[f32; I], y: &mut [f32; O]) {
        let w = self.weight.as_flattened();
        // The encoding is a constant of the type: only one branch is compiled in.
        match bytemuck::try_cast_slice::<S::Elem, f32>(w) {
            Ok(w) if S::ENCODING == weights::Encoding::F32 => kernel::matvec(w, x, self.bias, y),
            _ => weights::matvec::<S>(w, self.scale, x, self.bias, y),
        }
        self.activation.apply_all(y);
    }

    fn for_each_layer(&self, f: &mut dyn FnMut(LayerShape)) {
        f(LayerShape { inputs: I, outputs: O, activation: self.activation });
    }
}

/// Two stacks in sequence, `second(first(x))`, with the intermediate width `M`.
#[derive(Clone, Copy, Debug)]
pub struct Chain<A, B, const M: usize> {
    /// The input-side stack.
    pub first: A,
    /// The output-side stack.
    pub second: B,
}

impl<A, B, const M: usize> Chain<A, B, M> {
    /// `second ∘ first`.
    pub const fn new(first: A, second: B) -> Self {
        Self { first, second }
    }
}

impl<A, B, const I: usize, const M: usize, const O: usize> Layers<I, O> for Chain<A, B, M>
where
    A: Layers<I, M>,
    B: Layers<M, O>,
{
    #[inline]
    fn forward(&self, x: &[f32; I], y: &mut [f32; O]) {
        let mut mid = [0.0f32; M];
        self.first.forward(x, &mut mid);
        self.second.forward(&mid, y);
    }

    fn for_each_layer(&self, f: &mut dyn FnMut(LayerShape)) {
        self.first.for_each_layer(f);
        self.second.for_each_layer(f);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_layer_stack_by_hand() {
        // Values chosen so that the ReLU passes one unit and zeroes the other.
        let w1 = [[1.0, 1.0], [2.0, -3.0]];
        let b1 = [0.5, 0.0];
        let w2 = [[2.0, 10.0]];
        let b2 = [-1.0];
        let net: Chain<_, _, 2> =
            Chain::new(Dense::new(&w1, &b1, Activation::Relu), Dense::new(&w2, &b2, Activation::Identity));
        let mut y = [0.0];
        net.forward(&[1.0, 2.0], &mut y);
        // h = relu([3.5, -4]) = [3.5, 0]; y = 2 * 3.5 - 1 = 6.
        assert_eq!(y, [6.0]);
        assert_eq!(Layers::<2, 1>::macs(&net), 6);
        assert_eq!(Layers::<2, 1>::depth(&net), 2);
        let mut shapes = [(0, 0); 2];
        let mut i = 0;
        net.for_each_layer(&mut |s| {
            shapes[i] = (s.inputs, s.outputs);
            i += 1;
        });
        assert_eq!(shapes, [(2, 2), (2, 1)]);
    }
}
