//! Element-wise activations of the dense layers.

use crate::{kernel, math};

/// The non-linearity after a dense layer. Stored in the model file as one byte
/// ([`Activation::code`]), so the trainer and the device agree on it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Activation {
    /// y = x (the output heads).
    Identity,
    /// y = max(x, 0).
    Relu,
    /// y = tanh(x), via the rational approximation in [`math::tanh`].
    Tanh,
    /// y = 1 / (1 + e^-x).
    Sigmoid,
}

impl Activation {
    /// All activations, in code order.
    pub const ALL: [Activation; 4] =
        [Activation::Identity, Activation::Relu, Activation::Tanh, Activation::Sigmoid];

    /// The byte that stands for this activation in the model file.
    pub const fn code(self) -> u8 {
        match self {
            Activation::Identity => 0,
            Activation::Relu => 1,
            Activation::Tanh => 2,
            Activation::Sigmoid => 3,
        }
    }

    /// The activation a model-file byte stands for, if any.
    pub const fn from_code(code: u8) -> Option<Self> {
        match code {
            0 => Some(Activation::Identity),
            1 => Some(Activation::Relu),
            2 => Some(Activation::Tanh),
            3 => Some(Activation::Sigmoid),
            _ => None,
        }
    }

    /// Lower-case name, as the CLI spells it.
    pub const fn name(self) -> &'static str {
        match self {
            Activation::Identity => "identity",
            Activation::Relu => "relu",
            Activation::Tanh => "tanh",
            Activation::Sigmoid => "sigmoid",
        }
    }

    /// Parses [`Activation::name`] back.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.name() == name)
    }

    /// Applies the activation to one value.
    #[inline]
    pub fn apply(self, x: f32) -> f32 {
        match self {
            Activation::Identity => x,
            // `x > 0` keeps NaN out of the positive branch and returns 0 for it; the scorer
            // rejects non-finite input before it gets here.
            Activation::Relu => {
                if x > 0.0 {
                    x
                } else {
                    0.0
                }
            }
            Activation::Tanh => math::tanh(x),
            Activation::Sigmoid => math::sigmoid(x),
        }
    }

    /// Applies the activation in place; one branch per slice, not per element. Sigmoid goes
    /// through the tanh loop (the same arithmetic as [`math::sigmoid`]), so an image holds one
    /// copy of the polynomial loop.
    #[inline(never)]
    pub fn apply_all(self, xs: &mut [f32]) {
        let (a, b) = match self {
            Activation::Identity => return,
            Activation::Relu => return xs.iter_mut().for_each(|x| *x = Activation::Relu.apply(*x)),
            Activation::Tanh => (1.0, 0.0),
            Activation::Sigmoid => (0.5, 0.5),
        };
        tanh_all(xs, a, b);
    }
}

/// `b + a tanh(a x)` of every value, in place: tanh with a = 1, b = 0 (exact, except that
/// tanh(-0) comes out +0), the logistic sigmoid with a = b = 1/2. One loop for both keeps
/// one copy of the polynomial in an image; [`kernel::tanh_all`] runs it (hand-scheduled
/// assembly on the device, the same bits as the portable loop on the host).
#[inline]
fn tanh_all(xs: &mut [f32], a: f32, b: f32) {
    kernel::tanh_all(xs, a, b);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_and_names_round_trip() {
        for a in Activation::ALL {
            assert_eq!(Activation::from_code(a.code()), Some(a));
            assert_eq!(Activation::from_name(a.name()), Some(a));
        }
        assert_eq!(Activation::from_code(4), None);
        assert_eq!(Activation::from_name("gelu"), None);
    }

    #[test]
    fn values() {
        let mut xs = [-2.0, 0.0, 3.0];
        Activation::Relu.apply_all(&mut xs);
        assert_eq!(xs, [0.0, 0.0, 3.0]);
        assert_eq!(Activation::Identity.apply(-2.5), -2.5);
        assert_eq!(Activation::Sigmoid.apply(0.0), 0.5);
        let mut s = [-3.0, -0.2, 0.0, 1.7, 40.0];
        Activation::Sigmoid.apply_all(&mut s);
        for (got, x) in s.iter().zip([-3.0f32, -0.2, 0.0, 1.7, 40.0]) {
            assert_eq!(*got, math::sigmoid(x), "sigmoid({x})");
        }
        assert!((Activation::Tanh.apply(0.5) - 0.462_117_16).abs() < 1e-7);
    }
}
