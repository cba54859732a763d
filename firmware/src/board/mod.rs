//! The hardware edge: a sample source, the logger, and what happens at the end. Shared by
//! the scoring firmware (`main.rs`) and the capture firmware (`bin/capture.rs`), which each
//! provide `crate::model::{C, SAMPLE_RATE_HZ}` (and `BUFFER_FRAMES`, the scans per DMA buffer,
//! for the boards with an ADC: build.rs writes it).

#[cfg(feature = "qemu")]
mod qemu;
#[cfg(feature = "qemu")]
pub use qemu::{exit, Source, SourceError};

#[cfg(any(feature = "nrf52840", feature = "stm32f411"))]
mod dma;
#[cfg(feature = "nrf52840")]
mod nrf52840;
#[cfg(feature = "nrf52840")]
pub use nrf52840::{exit, Source, SourceError};

#[cfg(feature = "stm32f411")]
mod stm32f4;
#[cfg(feature = "stm32f411")]
pub use stm32f4::{exit, Source, SourceError};

/// Why a firmware stopped.
// The capture firmware has no model to refuse.
#[allow(dead_code)]
pub enum Stop {
    /// The sample source ran out (normal end of a replay).
    EndOfStream,
    /// The embedded model was refused.
    Model(vae_core::Error),
    /// The sample source failed.
    Source(SourceError),
}
