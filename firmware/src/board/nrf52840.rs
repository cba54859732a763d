//! nRF52840-DK: samples the SAADC inputs AIN0..AIN{C-1} (P0.02, P0.03, P0.04, P0.05, P0.28,
//! P0.29, P0.30, P0.31) at `SAMPLE_RATE_HZ`, as a fraction of VDD (gain 1/4 of the VDD/4
//! reference: 0 V reads 0.0, VDD reads 1.0; 14 bits, 8x oversampling in burst, 20 µs
//! acquisition). Train the model on data captured the same way (`cargo xtask capture
//! --board nrf52840`, which runs the `capture` binary).
//!
//! Sampling runs in hardware, whatever the core does:
//!
//! * TIMER0 (16 MHz, 32 bits) clears itself at `16e6 / SAMPLE_RATE_HZ` ticks (exact for a
//!   rate that divides 16 MHz; otherwise short by under one tick, a relative error below
//!   `SAMPLE_RATE_HZ / 16e6`); PPI channel 0 turns its COMPARE[0] event into the SAADC's
//!   SAMPLE task, a scan of the `C` channels (176 µs per channel: the rate is checked at
//!   compile time, at most 5,681 Hz for one channel, 1,420 Hz for four);
//! * EasyDMA writes the scans (`C` values each, channel order) into one of two static buffers
//!   of `BUFFER_FRAMES` scans; at the END of one, PPI channel 1 starts the next at once
//!   (END -> START), on the pointer the SAADC interrupt wrote at the previous STARTED
//!   (RESULT.PTR is double-buffered): no sampling instant falls between two buffers;
//! * the interrupt counts completed buffers (END); [`vae_core::sampling::PingPong`] hands
//!   their scans to the detector one by one while the next buffer fills, and the core
//!   sleeps (WFI) while no complete buffer is waiting.
//!
//! A buffer completed before the previous one was consumed (the scoring or the log held
//! the core for longer than a buffer) is an overrun: it is logged (`overrun ...`),
//! counted ([`Source::overruns`], the summary's `overruns=`) with the sampling instants
//! lost ([`Source::dropped`], `dropped=`), and the stream goes on with the newest complete
//! buffer, never with torn data.
//!
//! Logs over RTT (`defmt-rtt`), panics through `panic-probe`; `cargo run` flashes with
//! `probe-rs run --chip nRF52840_xxAA`.

pub use super::dma::Source;
use super::dma::{buffer_address, completed, count_completed};
use super::Stop;
use crate::model::{BUFFER_FRAMES, C, SAMPLE_RATE_HZ};
use defmt_rtt as _;
use nrf52840_pac::{interrupt, Interrupt, Peripherals, NVIC, SAADC};
use panic_probe as _;

const _: () = assert!(C >= 1 && C <= 8, "the nRF52840 SAADC has 8 analog inputs");
const _: () = assert!(BUFFER_FRAMES * C < 1 << 15, "RESULT.MAXCNT has 15 bits");
// A scan takes C x 8 x (20 µs acquisition + 2 µs conversion): a SAMPLE task that came
// while one runs would be lost. 176 µs per channel: at most 5,681 Hz for one channel.
const _: () = assert!(
    C as u64 * 176 * SAMPLE_RATE_HZ as u64 <= 1_000_000,
    "VAE_SAMPLE_RATE_HZ too high: a scan of C channels takes C x 176 µs (8x oversampling, 20 µs acquisition)"
);

/// Why sampling could not start: it always starts (the board has no failure to report;
/// the type keeps the source API of the other boards).
#[derive(defmt::Format)]
pub enum SourceError {}

/// TIMER0 ticks (16 MHz) between sampling instants.
const PERIOD_TICKS: u32 = 16_000_000 / SAMPLE_RATE_HZ;

// The SAADC's sampling chain (`dma::Source`, shared with the other DMA board): opened here.
impl Source {
    /// Takes the peripherals, configures the SAADC (channel `i` is input AIN`i`, whatever
    /// its name), calibrates its offset and starts the sampling chain.
    pub fn open<'n>(_names: impl Iterator<Item = &'n str>) -> Result<Self, SourceError> {
        // SAFETY: `open` is called once, at boot, by the only code of the image that uses
        // peripherals (`Peripherals::take` would only add its check, bytes a tight flash
        // budget does without).
        let p = unsafe { Peripherals::steal() };
        let (saadc, timer, ppi) = (&p.SAADC, &p.TIMER0, &p.PPI);
        saadc.enable.write(|w| w.enable().enabled());
        saadc.resolution.write(|w| w.val()._14bit());
        saadc.oversample.write(|w| w.oversample().over8x());
        // SAMPLERATE stays at its reset value: sampling on the SAMPLE task.
        for (i, ch) in saadc.ch.iter().take(C).enumerate() {
            ch.config.write(|w| {
                w.refsel().vdd1_4().gain().gain1_4().tacq()._20us().mode().se();
                // Oversampling with more than one channel needs burst mode.
                w.resp().bypass().resn().bypass().burst().enabled()
            });
            // SAFETY: 1 + i is AnalogInput{i}, i < 8 (checked above), a valid PSELP value.
            ch.pselp.write(|w| unsafe { w.bits(1 + i as u32) });
        }
        // SAFETY (every `bits` write below): writing 1 triggers a task; the other values
        // are in range for their registers (commented where they are not plain).
        saadc.tasks_calibrateoffset.write(|w| unsafe { w.bits(1) });
        while saadc.events_calibratedone.read().bits() == 0 {}
        // Stop before the first START, so that nothing of the calibration can reach the
        // buffer (Nordic lists a stray result written after a calibration as an nRF52832
        // anomaly; one stray value would shift the channel order of every later scan).
        saadc.tasks_stop.write(|w| unsafe { w.bits(1) });
        while saadc.events_stopped.read().bits() == 0 {}

        // EasyDMA: half 0 first; the interrupt points RESULT.PTR at the other half at each
        // STARTED and counts each END.
        saadc.result.ptr.write(|w| unsafe { w.bits(buffer_address(0)) });
        // At most 2^15 - 1 values (checked above).
        saadc.result.maxcnt.write(|w| unsafe { w.bits((BUFFER_FRAMES * C) as u32) });
        saadc.intenset.write(|w| w.started().set().end().set());

        // PPI 0: TIMER0 COMPARE[0] -> SAADC SAMPLE; PPI 1: SAADC END -> SAADC START.
        ppi.ch[0].eep.write(|w| unsafe { w.bits(timer.events_compare[0].as_ptr() as u32) });
        ppi.ch[0].tep.write(|w| unsafe { w.bits(saadc.tasks_sample.as_ptr() as u32) });
        ppi.ch[1].eep.write(|w| unsafe { w.bits(saadc.events_end.as_ptr() as u32) });
        ppi.ch[1].tep.write(|w| unsafe { w.bits(saadc.tasks_start.as_ptr() as u32) });
        ppi.chenset.write(|w| unsafe { w.bits(0b11) });

        timer.bitmode.write(|w| w.bitmode()._32bit());
        timer.prescaler.write(|w| unsafe { w.prescaler().bits(0) });
        // 2,816 ..= 16e6 ticks (SAMPLE_RATE_HZ is 1 ..= 5,681, checked above).
        timer.cc[0].write(|w| unsafe { w.bits(PERIOD_TICKS) });
        timer.shorts.write(|w| w.compare0_clear().enabled());

        // SAFETY: the SAADC interrupt shares only `COMPLETED` (atomic) and the SAADC's
        // registers with thread mode, which no longer writes them once sampling runs; no
        // critical section relies on it being masked.
        unsafe { NVIC::unmask(Interrupt::SAADC) };
        saadc.tasks_start.write(|w| unsafe { w.bits(1) });
        // The first STARTED is handled long before the first sampling instant, one period
        // from now.
        timer.tasks_start.write(|w| unsafe { w.bits(1) });
        defmt::info!(
            "sampling {=usize} SAADC channels at {=u32} Hz by DMA, buffers of {=usize} samples",
            C,
            SAMPLE_RATE_HZ,
            BUFFER_FRAMES
        );
        Ok(Self::started())
    }

    /// The next scan of every channel, in sampling order, sleeping until its buffer is
    /// complete. Never ends.
    pub fn next(&mut self) -> Result<Option<[f32; C]>, SourceError> {
        // 14-bit single-ended results: VDD reads 16384. A slightly negative result (offset
        // near 0 V) stays negative, as in the data the model was trained on.
        Ok(Some(self.scan(16384.0)))
    }
}

/// SAADC: counts each completed buffer (END) and points EasyDMA at the other buffer as soon
/// as one is started (STARTED), for the next END -> START.
#[interrupt]
fn SAADC() {
    // SAFETY: the register block of SAADC, always mapped; thread mode no longer writes it.
    let saadc = unsafe { &*SAADC::ptr() };
    if saadc.events_end.read().bits() != 0 {
        saadc.events_end.reset();
        count_completed();
    }
    if saadc.events_started.read().bits() != 0 {
        saadc.events_started.reset();
        // Buffer `COMPLETED` has started (END of the one before is handled first, above):
        // the next one goes to the other half.
        let next = completed().wrapping_add(1) as usize;
        // SAFETY: the address of a static buffer of BUFFER_FRAMES * C values in RAM.
        saadc.result.ptr.write(|w| unsafe { w.bits(buffer_address(next)) });
    }
}

/// Stops at a breakpoint (which ends `probe-rs run`), then sleeps.
pub fn exit(_stop: &Stop) -> ! {
    cortex_m::asm::bkpt();
    loop {
        cortex_m::asm::wfi();
    }
}
