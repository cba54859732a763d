//! Scores sensor windows with the model of `model.vaem`; samples replayed from the host.
#![no_std]
#![no_main]

use semihosting::{fs::File, io::Read, process::exit};
use {cortex_m as _, defmt_semihosting as _}; // defmt's lock and log (`defmt_rtt` on a board)

vae_core::include_model!(mod model); // sizes, types and detector() of model.vaem

#[cortex_m_rt::entry]
fn main() -> ! {
    let mut detector = model::detector().unwrap_or_else(|e| {
        defmt::error!("model refused: {}", e);
        exit(1)
    });
    // Your sensor goes here: one f32 per channel, in the order of model::CHANNELS.
    let Ok(mut sensor) = File::open(c"samples.f32") else { exit(2) };
    let mut bytes = [0u8; 4 * model::C];
    while sensor.read_exact(&mut bytes).is_ok() {
        let sample = core::array::from_fn(|c| f32::from_le_bytes([0, 1, 2, 3].map(|i| bytes[4 * c + i])));
        if let Some(window) = detector.push(sample) {
            let r = detector.score(window); // the model's front end, smoothing and threshold
            let (i, start, score) = (r.window.index, r.window.start, r.score.unwrap_or(f32::NAN));
            defmt::println!("window {=u64} start={=u64} score={=f32} decision={}", i, start, score, r.decision);
        }
    }
    exit(0)
}

#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    exit(101)
}
