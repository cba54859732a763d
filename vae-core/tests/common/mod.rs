//! A random model with a two-layer encoder, shared by the property and accuracy tests.
#![allow(dead_code)]

use vae_core::{Activation, Chain, Decoder, Dense, DenseRef, DynLayers, DynVae, Encoder, Rng, Vae};

pub const C: usize = 2;
pub const W: usize = 4;
pub const X: usize = C * W;
pub const H1: usize = 6;
pub const H2: usize = 5;
pub const Z: usize = 3;
pub const HD: usize = 7;

/// Weights drawn from a seed, owned, so typed and dynamic models can borrow them.
pub struct Params {
    pub e1: [[f32; X]; H1],
    pub e1b: [f32; H1],
    pub e2: [[f32; H1]; H2],
    pub e2b: [f32; H2],
    pub mu: [[f32; H2]; Z],
    pub mub: [f32; Z],
    pub lv: [[f32; H2]; Z],
    pub lvb: [f32; Z],
    pub d1: [[f32; Z]; HD],
    pub d1b: [f32; HD],
    pub out: [[f32; HD]; X],
    pub outb: [f32; X],
    pub s: [f32; X],
    pub act: Activation,
    pub seed: u64,
}

fn fill<const N: usize>(rng: &mut Rng, scale: f32) -> [f32; N] {
    std::array::from_fn(|_| scale * rng.normal())
}
fn fill2<const I: usize, const O: usize>(rng: &mut Rng, scale: f32) -> [[f32; I]; O] {
    std::array::from_fn(|_| fill(rng, scale))
}

impl Params {
    pub fn new(seed: u64, act: Activation) -> Self {
        let mut r = Rng::new(seed);
        Self {
            e1: fill2(&mut r, 0.4),
            e1b: fill(&mut r, 0.1),
            e2: fill2(&mut r, 0.4),
            e2b: fill(&mut r, 0.1),
            mu: fill2(&mut r, 0.4),
            mub: fill(&mut r, 0.1),
            lv: fill2(&mut r, 0.2),
            lvb: fill(&mut r, 0.3),
            d1: fill2(&mut r, 0.5),
            d1b: fill(&mut r, 0.1),
            out: fill2(&mut r, 0.4),
            outb: fill(&mut r, 0.1),
            s: fill(&mut r, 0.5),
            act,
            seed,
        }
    }

    #[allow(clippy::type_complexity)]
    pub fn typed(
        &self,
    ) -> Vae<'_, Chain<Dense<'_, X, H1>, Dense<'_, H1, H2>, H1>, Dense<'_, Z, HD>, X, H2, Z, HD> {
        let id = Activation::Identity;
        let enc = Encoder::new(
            Chain::new(Dense::new(&self.e1, &self.e1b, self.act), Dense::new(&self.e2, &self.e2b, self.act)),
            Dense::new(&self.mu, &self.mub, id),
            Dense::new(&self.lv, &self.lvb, id),
        );
        let dec = Decoder::new(
            Dense::new(&self.d1, &self.d1b, self.act),
            Dense::new(&self.out, &self.outb, id),
            &self.s,
        )
        .unwrap();
        Vae::new(enc, dec)
    }

    pub fn dynamic<'a>(&'a self, precision: &'a mut [f32]) -> DynVae<'a> {
        let d = |w: &'a [f32], b: &'a [f32], i: usize, a| DenseRef::new(w, b, i, a).unwrap();
        let id = Activation::Identity;
        let enc = [
            d(self.e1.as_flattened(), &self.e1b, X, self.act),
            d(self.e2.as_flattened(), &self.e2b, H1, self.act),
        ];
        let dec = [d(self.d1.as_flattened(), &self.d1b, Z, self.act)];
        let layers = DynLayers {
            encoder: &enc,
            mu: d(self.mu.as_flattened(), &self.mub, H2, id),
            log_var: d(self.lv.as_flattened(), &self.lvb, H2, id),
            decoder: &dec,
            mean: d(self.out.as_flattened(), &self.outb, HD, id),
        };
        DynVae::new(layers, &self.s, precision).unwrap()
    }
}
