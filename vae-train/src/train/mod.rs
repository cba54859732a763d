//! Training with dfdx: the VAE of `vae-core`'s shape, negative-ELBO loss with the
//! reparameterisation trick, Adam, KL warm-up, early stopping, checkpoints.
//!
//! (Being filled in: see the module's issue.)

/// A training error.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TrainError {
    /// Placeholder until training lands.
    #[error("{0}")]
    Other(String),
}
