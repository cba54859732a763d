//! Boots, runs `vae_core::selftest` (the assembly matrix-vector kernel against the portable
//! loops, the PRNG's golden stream, tanh, a hand-computed score) and exits through
//! semihosting: status 0 when every check passed.
#![no_std]
#![no_main]

use cortex_m_rt::entry;
use cortex_m_semihosting::{debug, hprintln};

#[entry]
fn main() -> ! {
    let code = match vae_core::selftest::run() {
        Ok(n) => {
            hprintln!("selftest: {} checks passed (ARM kernel: {})", n, vae_core::kernel::USES_ARM_KERNEL);
            debug::EXIT_SUCCESS
        }
        Err(f) => {
            hprintln!("{}", f);
            debug::EXIT_FAILURE
        }
    };
    debug::exit(code);
    loop {
        cortex_m::asm::wfi();
    }
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo) -> ! {
    hprintln!("selftest panicked: {}", info);
    debug::exit(debug::EXIT_FAILURE);
    loop {
        cortex_m::asm::wfi();
    }
}
