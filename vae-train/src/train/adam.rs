//! Adam on the host copy of the parameters.
//!
//! dfdx 0.13's `optim::Adam` needs a `TensorCollection` (impossible with run-time shapes,
//! see `network.rs`) and keeps its step count and moments private, so they could not be
//! checkpointed. This is the same update as dfdx's `AdamKernel` for f32 (Kingma & Ba, no
//! weight decay), on plain vectors: the state is ours to save, identical on every device,
//! and for a model of a few thousand parameters the copies cost microseconds per step.

/// Adam's hyperparameters and state.
#[derive(Clone, Debug, PartialEq)]
pub struct Adam {
    /// Learning rate.
    pub lr: f32,
    /// Decay of the first moment.
    pub beta1: f32,
    /// Decay of the second moment.
    pub beta2: f32,
    /// Added to the root of the second moment.
    pub eps: f32,
    /// Updates done so far (t of the paper).
    pub step: u64,
    /// First moments, one vector per parameter tensor.
    pub m: Vec<Vec<f32>>,
    /// Second moments.
    pub v: Vec<Vec<f32>>,
}

/// Where an update produced a non-finite parameter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NonFiniteParam {
    /// Index of the parameter tensor.
    pub tensor: usize,
    /// Index within it.
    pub index: usize,
}

impl Adam {
    /// Zero state for tensors of the given lengths, with PyTorch's defaults
    /// (betas 0.9, 0.999, eps 1e-8).
    pub fn new(lr: f32, lens: impl IntoIterator<Item = usize>) -> Self {
        let m: Vec<Vec<f32>> = lens.into_iter().map(|n| vec![0.0; n]).collect();
        Self { lr, beta1: 0.9, beta2: 0.999, eps: 1e-8, step: 0, v: m.clone(), m }
    }

    /// One update of `params` with `grads` (same order and lengths as at construction).
    /// Reports the first parameter that became non-finite, if any (the update is applied
    /// regardless; the caller stops).
    pub fn update(&mut self, params: &mut [&mut [f32]], grads: &[Vec<f32>]) -> Result<(), NonFiniteParam> {
        self.step += 1;
        let t = i32::try_from(self.step).unwrap_or(i32::MAX);
        let (b1, b2) = (self.beta1, self.beta2);
        let c1 = (1.0 - b1.powi(t)).recip();
        let c2 = (1.0 - b2.powi(t)).recip();
        let mut bad = None;
        for (tensor, (((p, g), m), v)) in
            params.iter_mut().zip(grads).zip(self.m.iter_mut()).zip(self.v.iter_mut()).enumerate()
        {
            for (index, (((p, &g), m), v)) in
                p.iter_mut().zip(g.iter()).zip(m.iter_mut()).zip(v.iter_mut()).enumerate()
            {
                *m = *m * b1 + g * (1.0 - b1);
                *v = *v * b2 + g * g * (1.0 - b2);
                let m_hat = *m * c1;
                let v_hat = *v * c2;
                *p -= self.lr * m_hat / (v_hat.sqrt() + self.eps);
                if bad.is_none() && !p.is_finite() {
                    bad = Some(NonFiniteParam { tensor, index });
                }
            }
        }
        bad.map_or(Ok(()), Err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The first steps of dfdx's own Adam test (`test_default_adam_params`, lr 1e-3, a
    /// gradient of 2 * rate^2 * p / 5), reproduced.
    #[test]
    fn matches_dfdx_reference_values() {
        let rate = [1e-6f32, 1e-5, 1e-4, 1e-3, 1e-2];
        let mut p = vec![1.0f32; 5];
        let mut adam = Adam::new(1e-3, [5]);
        let expected = [
            [0.99999994, 0.999996, 0.9997143, 0.9990244, 0.99900025],
            [0.9999999, 0.999992, 0.99942863, 0.99804884, 0.9980005],
        ];
        for e in expected {
            // d/dp mean((p * rate)^2) = 2 p rate^2 / 5
            let g: Vec<f32> = p.iter().zip(rate).map(|(p, r)| 2.0 * p * r * r / 5.0).collect();
            adam.update(&mut [&mut p], &[g]).unwrap();
            for (a, b) in p.iter().zip(e) {
                assert!((a - b).abs() <= 2e-7, "{p:?} vs {e:?}");
            }
        }
        assert_eq!(adam.step, 2);
    }

    #[test]
    fn reports_non_finite_parameters() {
        let mut p = vec![1.0f32, 2.0];
        let mut adam = Adam::new(1e-3, [2]);
        let e = adam.update(&mut [&mut p], &[vec![0.5, f32::NAN]]).unwrap_err();
        assert_eq!(e, NonFiniteParam { tensor: 0, index: 1 });
    }
}
