//! nRF52840-DK: samples the SAADC inputs AIN0..AIN{C-1} (P0.02, P0.03, P0.04, P0.05, P0.28,
//! P0.29, P0.30, P0.31) at `SAMPLE_RATE_HZ`, as a fraction of VDD (the SAADC's default
//! range: 0 V reads 0.0, VDD reads 1.0). Train the model on data captured the same way
//! (`cargo xtask capture --board nrf52840`, which runs the `capture` binary).
//!
//! Sampling instants are scheduled on a free-running 1 MHz counter (TIMER0), `1e6 / rate`
//! microseconds apart with the remainder carried, so the mean rate is exact. A sample
//! taken later than the next instant (the scoring or the log held the core) means
//! instants were missed: they are counted in [`Source::dropped`], never hidden, and the
//! stream goes on from the current instant.
//! Logs over RTT (`defmt-rtt`), panics through `panic-probe`; `cargo run` flashes with
//! `probe-rs run --chip nRF52840_xxAA`.

use super::Stop;
use crate::model::{C, SAMPLE_RATE_HZ};
use defmt_rtt as _;
use nrf52840_hal::gpio::{p0, Disconnected};
use nrf52840_hal::pac::{Peripherals, TIMER0};
use nrf52840_hal::saadc::{Saadc, SaadcConfig};
use nrf52840_hal::timer::{Periodic, Timer};
use panic_probe as _;

const _: () = assert!(C <= 8, "the nRF52840 SAADC has 8 analog inputs");

/// Why sampling could not start.
#[derive(defmt::Format)]
pub enum SourceError {
    /// The peripherals were already taken.
    Peripherals,
}

/// Microseconds between samples (whole part; the remainder is carried in `Source::carry`).
const PERIOD_US: u32 = 1_000_000 / SAMPLE_RATE_HZ;
/// The remainder of `1e6 / SAMPLE_RATE_HZ`, in millionths of a period.
const PERIOD_REM: u32 = 1_000_000 % SAMPLE_RATE_HZ;

/// The SAADC, its eight input pins and the sampling timer.
pub struct Source {
    saadc: Saadc,
    ain0: p0::P0_02<Disconnected>,
    ain1: p0::P0_03<Disconnected>,
    ain2: p0::P0_04<Disconnected>,
    ain3: p0::P0_05<Disconnected>,
    ain4: p0::P0_28<Disconnected>,
    ain5: p0::P0_29<Disconnected>,
    ain6: p0::P0_30<Disconnected>,
    ain7: p0::P0_31<Disconnected>,
    /// Free-running 1 MHz counter (it clears at `u32::MAX`, one microsecond early every 71
    /// minutes).
    timer: Timer<TIMER0, Periodic>,
    /// Counter value of the next sampling instant.
    due: u32,
    /// Carried remainder of the period, in units of `1 / SAMPLE_RATE_HZ` microseconds.
    carry: u32,
    /// Sampling instants missed.
    dropped: u32,
}

impl Source {
    /// Takes the peripherals and starts the sampling clock (1 MHz ticks). Channel `i` is
    /// input AIN`i`, whatever its name.
    pub fn open<'n>(_names: impl Iterator<Item = &'n str>) -> Result<Self, SourceError> {
        let p = Peripherals::take().ok_or(SourceError::Peripherals)?;
        let pins = p0::Parts::new(p.P0);
        let mut timer = Timer::periodic(p.TIMER0);
        timer.start(u32::MAX);
        defmt::info!("sampling {=usize} SAADC channels at {=u32} Hz", C, SAMPLE_RATE_HZ);
        Ok(Self {
            saadc: Saadc::new(p.SAADC, SaadcConfig::default()),
            ain0: pins.p0_02,
            ain1: pins.p0_03,
            ain2: pins.p0_04,
            ain3: pins.p0_05,
            ain4: pins.p0_28,
            ain5: pins.p0_29,
            ain6: pins.p0_30,
            ain7: pins.p0_31,
            timer,
            due: PERIOD_US,
            carry: 0,
            dropped: 0,
        })
    }

    /// Sampling instants missed so far (the core was busy past the next one).
    pub fn dropped(&self) -> u32 {
        self.dropped
    }

    /// Moves `due` to the next sampling instant.
    fn advance(&mut self) {
        self.due = self.due.wrapping_add(PERIOD_US);
        self.carry += PERIOD_REM;
        if self.carry >= SAMPLE_RATE_HZ {
            self.carry -= SAMPLE_RATE_HZ;
            self.due = self.due.wrapping_add(1);
        }
    }

    /// Waits for the next sampling instant; counts the instants already past.
    fn wait(&mut self) {
        // Signed distance from `due`: the counter wraps, a sample is never 35 minutes late.
        let late = |t: &Timer<TIMER0, Periodic>, due: u32| t.read().wrapping_sub(due) as i32 >= 0;
        while !late(&self.timer, self.due) {
            core::hint::spin_loop();
        }
        self.advance();
        while late(&self.timer, self.due) {
            self.dropped = self.dropped.saturating_add(1);
            self.advance();
        }
    }

    /// Waits for the next sampling instant and reads every channel. A failed conversion
    /// gives NaN, which the detector counts and keeps out of the scores. Never ends.
    pub fn next(&mut self) -> Result<Option<[f32; C]>, SourceError> {
        self.wait();
        // One read per channel the model has: a pin's read is its own code (the HAL's
        // `read_channel` is generic over the pin), so reads of pins past `C` must not be
        // linked; `get_mut` of an index past the constant `C` folds away.
        let mut sample = [f32::NAN; C];
        let s = &mut self.saadc;
        let to_unit = |raw: Result<i16, ()>| raw.map_or(f32::NAN, |r| f32::from(r) / 16384.0);
        if let Some(v) = sample.get_mut(0) {
            *v = to_unit(s.read_channel(&mut self.ain0));
        }
        if let Some(v) = sample.get_mut(1) {
            *v = to_unit(s.read_channel(&mut self.ain1));
        }
        if let Some(v) = sample.get_mut(2) {
            *v = to_unit(s.read_channel(&mut self.ain2));
        }
        if let Some(v) = sample.get_mut(3) {
            *v = to_unit(s.read_channel(&mut self.ain3));
        }
        if let Some(v) = sample.get_mut(4) {
            *v = to_unit(s.read_channel(&mut self.ain4));
        }
        if let Some(v) = sample.get_mut(5) {
            *v = to_unit(s.read_channel(&mut self.ain5));
        }
        if let Some(v) = sample.get_mut(6) {
            *v = to_unit(s.read_channel(&mut self.ain6));
        }
        if let Some(v) = sample.get_mut(7) {
            *v = to_unit(s.read_channel(&mut self.ain7));
        }
        Ok(Some(sample))
    }
}

/// Stops at a breakpoint (which ends `probe-rs run`), then sleeps.
pub fn exit(_stop: &Stop) -> ! {
    cortex_m::asm::bkpt();
    loop {
        cortex_m::asm::wfi();
    }
}
