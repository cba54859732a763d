//! Boots, runs `vae_core::selftest` (the assembly matrix-vector kernel against the portable
//! loops, the PRNG's golden stream, tanh, a hand-computed score, the spectrum front end at
//! every window size the model-file reader accepts, a finite spike that must overflow) and
//! exits through semihosting: status 0 when every check passed, 1 when one failed, 101 on a
//! panic (e.g. an FFT size whose microfft table was not enabled). QEMU only.
#![no_std]
#![no_main]

use semihosting::{println, process};

#[cortex_m_rt::entry]
fn main() -> ! {
    match vae_core::selftest::run() {
        Ok(n) => {
            println!("selftest: {} checks passed (ARM kernel: {})", n, vae_core::kernel::USES_ARM_KERNEL);
            process::exit(0)
        }
        Err(f) => {
            println!("{}", f);
            process::exit(1)
        }
    }
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo) -> ! {
    println!("selftest panicked: {}", info);
    process::exit(101)
}
