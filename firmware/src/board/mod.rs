//! The hardware edge: a sample source, the logger, and what happens at the end.

#[cfg(feature = "qemu")]
mod qemu;
#[cfg(feature = "qemu")]
pub use qemu::{exit, Source, SourceError};

#[cfg(feature = "nrf52840")]
mod nrf52840;
#[cfg(feature = "nrf52840")]
pub use nrf52840::{exit, Source, SourceError};
