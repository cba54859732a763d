//! Streams raw samples for training: the board's sample source (the SAADC on the nRF52840,
//! a replayed CSV in QEMU) logged over defmt (RTT on the board, semihosting in QEMU),
//! exactly the values the scoring firmware would see. `cargo xtask capture` reads the
//! stream and writes a CSV that `vae-train fit` reads as it is.
//!
//! The stream, one defmt line each:
//!
//! ```text
//! capture channels=ain0,ain1 rate_hz=100
//! sample 0 [0.51171875, 0.2486572]
//! sample 1 [0.5119629, 0.24859619]
//! ...
//! capture end samples=1000 dropped=0 overruns=0
//! ```
//!
//! The counter is the sampling instant's index: instants the board missed (the log held the
//! core past the next one) leave a gap in it and are counted in `dropped=` at the end and
//! every 1,000 samples (`capture dropped=N at sample=I`, when some were). A board that samples
//! by DMA loses them a buffer at a time, in overruns (`overruns=` at the end).
#![no_std]
#![no_main]

#[path = "../board/mod.rs"]
mod board;

/// The captured channels and rate (`VAE_CAPTURE_CHANNELS`, `VAE_SAMPLE_RATE_HZ`).
mod model {
    include!(concat!(env!("OUT_DIR"), "/capture.rs"));
}

use board::Stop;
// The critical-section implementation defmt needs comes from cortex-m.
use cortex_m as _;

#[cortex_m_rt::entry]
fn main() -> ! {
    let stop = match run() {
        Ok(()) => Stop::EndOfStream,
        Err(stop) => stop,
    };
    if let Stop::Source(e) = &stop {
        defmt::error!("sample source failed: {}", e);
    }
    board::exit(&stop)
}

/// Streams samples until the source ends.
fn run() -> Result<(), Stop> {
    defmt::println!("capture channels={=str} rate_hz={=u32}", model::HEADER, model::SAMPLE_RATE_HZ);
    let mut source = board::Source::open(model::NAMES.iter().copied()).map_err(Stop::Source)?;
    let (mut taken, mut reported) = (0u64, 0u64);
    while let Some(sample) = source.next().map_err(Stop::Source)? {
        let dropped = u64::from(source.dropped());
        defmt::println!("sample {=u64} {=[?]}", taken + dropped, sample[..]);
        taken += 1;
        if taken % 1000 == 0 && dropped != reported {
            defmt::println!("capture dropped={=u64} at sample={=u64}", dropped, taken + dropped);
            reported = dropped;
        }
    }
    defmt::println!(
        "capture end samples={=u64} dropped={=u32} overruns={=u32}",
        taken,
        source.dropped(),
        source.overruns()
    );
    Ok(())
}
