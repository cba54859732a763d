//! Nucleo-F411RE (STM32F411RE): samples ADC1 inputs at `SAMPLE_RATE_HZ`, channel `i` on
//! the pin of [`PINS`]`[i]`: the Arduino header's A0..A5 (PA0, PA1, PA4, PB0, PC1, PC0),
//! then D12 (PA6) and D11 (PA7). Values are fractions of VDDA (12 bits: 0 V reads 0.0,
//! VDDA = 3.3 V reads 4095/4096), 144-cycle sampling time at a 25 MHz ADC clock (6.24 µs
//! per channel). Train the model on data captured the same way (`cargo xtask capture`,
//! which runs the `capture` binary).
//!
//! The same design as the nRF52840 board, in the STM32's terms; sampling runs in hardware,
//! whatever the core does:
//!
//! * the core runs at 100 MHz from the internal oscillator (HSI through the PLL, set up by
//!   `stm32f4xx-hal`), TIM2 (32 bits, 100 MHz) overflows every `100e6 / SAMPLE_RATE_HZ`
//!   ticks and its update event (TRGO) starts a scan of ADC1's regular sequence, the `C`
//!   channels;
//! * DMA2 stream 0 (channel 0, ADC1) moves each conversion into one of two static buffers
//!   of `BUFFER_FRAMES` scans, in double-buffer mode: at the end of one buffer the stream
//!   switches to the other by itself (DBM/CT), so no sampling instant falls between two
//!   buffers;
//! * the stream's transfer-complete interrupt counts completed buffers;
//!   [`vae_core::sampling::PingPong`] hands their scans to the detector one by one while the
//!   next buffer fills, and the core sleeps (WFI) while no complete buffer is waiting.
//!
//! A buffer completed before the previous one was consumed is an overrun: logged
//! (`overrun ...`), counted ([`Source::overruns`], the summary's `overruns=`) with the
//! sampling instants lost ([`Source::dropped`], `dropped=`), and the stream goes on with the
//! newest complete buffer.
//!
//! The ADC's own overrun (a conversion not moved by the DMA before the next one ends, 6.24
//! µs) stops its DMA requests, and sampling with them; with the stream at high priority and
//! no other DMA user it should not happen, and if it does, the ADC interrupt logs it
//! (`ADC overrun: sampling stopped`) rather than leaving a silent board.
//!
//! HSI is trimmed to ±1 % at 25 °C: the sampling rate is that accurate. On a Nucleo whose
//! ST-LINK feeds its 8 MHz clock to OSC_IN, `Config::hse(8.MHz()).bypass_hse_oscillator()`
//! in [`Source::open`] makes it crystal-accurate.
//!
//! Logs over RTT (`defmt-rtt`), panics through `panic-probe`; `cargo run` flashes with
//! `probe-rs run --chip STM32F411RETx`.

pub use super::dma::Source;
use super::dma::{buffer_address, count_completed};
use super::Stop;
use crate::model::{BUFFER_FRAMES, C, SAMPLE_RATE_HZ};
use defmt_rtt as _;
use panic_probe as _;
use stm32f4xx_hal::gpio::GpioExt;
use stm32f4xx_hal::pac::{self, interrupt, Interrupt, NVIC};
use stm32f4xx_hal::prelude::*;
use stm32f4xx_hal::rcc::{Config, RccExt};

const _: () = assert!(C >= 1 && C <= 8, "the board wires 8 analog inputs");
const _: () = assert!(BUFFER_FRAMES * C <= 0xffff, "the DMA counts 16 bits");
// A scan takes C x (144 + 12) ADC clocks at 25 MHz, 6.24 µs per channel: a trigger that
// came while one runs would be lost.
const _: () = assert!(
    C as u64 * 156 * SAMPLE_RATE_HZ as u64 <= 25_000_000,
    "VAE_SAMPLE_RATE_HZ too high: a scan of C channels takes C x 6.24 µs"
);

/// ADC1 input of channel `i` of the model, and the pin it is on (Nucleo-64 Arduino names).
pub const PINS: [(u8, &str); 8] = [
    (0, "PA0 (A0)"),
    (1, "PA1 (A1)"),
    (4, "PA4 (A2)"),
    (8, "PB0 (A3)"),
    (11, "PC1 (A4)"),
    (10, "PC0 (A5)"),
    (6, "PA6 (D12)"),
    (7, "PA7 (D11)"),
];

/// Why sampling could not start.
#[derive(defmt::Format)]
pub enum SourceError {
    /// The peripherals were already taken.
    Peripherals,
}

// The ADC's sampling chain (`dma::Source`, shared with the other DMA board): opened here.
impl Source {
    /// Takes the peripherals, sets the clocks (100 MHz), the pins of the `C` channels
    /// (analog), ADC1, DMA2 stream 0 and TIM2, and starts sampling. Channel `i` is ADC1
    /// input `PINS[i]`, whatever its name.
    pub fn open<'n>(_names: impl Iterator<Item = &'n str>) -> Result<Self, SourceError> {
        let dp = pac::Peripherals::take().ok_or(SourceError::Peripherals)?;
        let mut rcc = dp.RCC.freeze(Config::hsi().sysclk(100.MHz()).pclk2(100.MHz()));
        let timer_hz = rcc.clocks.timclk1().raw();
        rcc.apb2enr().modify(|_, w| w.adc1en().set_bit());
        rcc.ahb1enr().modify(|_, w| w.dma2en().set_bit());
        rcc.apb1enr().modify(|_, w| w.tim2en().set_bit());
        // Keep the debug port clocked while the core sleeps in WFI, or RTT stops.
        dp.DBGMCU.cr().modify(|_, w| w.dbg_sleep().set_bit());

        // The pins of the channels the model has, in analog mode (their input buffers off).
        let (gpioa, gpiob, gpioc) =
            (dp.GPIOA.split(&mut rcc), dp.GPIOB.split(&mut rcc), dp.GPIOC.split(&mut rcc));
        let _ = gpioa.pa0.into_analog();
        if C > 1 {
            let _ = gpioa.pa1.into_analog();
        }
        if C > 2 {
            let _ = gpioa.pa4.into_analog();
        }
        if C > 3 {
            let _ = gpiob.pb0.into_analog();
        }
        if C > 4 {
            let _ = gpioc.pc1.into_analog();
        }
        if C > 5 {
            let _ = gpioc.pc0.into_analog();
        }
        if C > 6 {
            let _ = gpioa.pa6.into_analog();
        }
        if C > 7 {
            let _ = gpioa.pa7.into_analog();
        }

        // ADC1: 25 MHz clock (PCLK2 / 4), 12 bits, scan of the regular sequence PINS[..C],
        // 144 cycles of sampling on every input, a DMA request per conversion (DDS: for
        // ever), a scan started by the rising edge of TIM2's TRGO.
        let adc = &dp.ADC1;
        dp.ADC_COMMON.ccr().modify(|_, w| w.adcpre().div4());
        // SAFETY: 0b110 (144 cycles) in every 3-bit SMPx field, 10 fields in SMPR2 and 9 in
        // SMPR1; the high bits are reserved, left 0.
        adc.smpr2().write(|w| unsafe { w.bits(0x36DB_6DB6) });
        adc.smpr1().write(|w| unsafe { w.bits(0x06DB_6DB6) });
        let (mut sqr3, mut sqr2) = (0u32, 0u32);
        for (i, &(input, _)) in PINS.iter().take(C).enumerate() {
            if i < 6 {
                sqr3 |= u32::from(input) << (5 * i);
            } else {
                sqr2 |= u32::from(input) << (5 * (i - 6));
            }
        }
        // SAFETY: SQx fields of 5 bits holding ADC inputs 0..=11; L = C - 1 <= 7.
        adc.sqr3().write(|w| unsafe { w.bits(sqr3) });
        adc.sqr2().write(|w| unsafe { w.bits(sqr2) });
        adc.sqr1().write(|w| w.l().set(C as u8 - 1));
        adc.cr1().write(|w| w.scan().enabled().res().twelve_bit().ovrie().enabled());
        adc.cr2().write(|w| {
            w.adon().enabled().dma().enabled().dds().continuous().align().right();
            w.extsel().tim2trgo().exten().rising_edge()
        });

        // DMA2 stream 0, channel 0 (ADC1): peripheral to memory, 16 bits, memory
        // incremented, circular with double buffer (M0AR, then M1AR, then M0AR...),
        // an interrupt at each buffer's end.
        let dma = &dp.DMA2;
        let stream = dma.st(0);
        // SAFETY: addresses of ADC1's data register and of the two static buffers of
        // BUFFER_FRAMES * C values (<= 0xffff, checked above).
        stream.par().write(|w| unsafe { w.pa().bits(adc.dr().as_ptr() as u32) });
        stream.m0ar().write(|w| unsafe { w.m0a().bits(buffer_address(0)) });
        stream.m1ar().write(|w| unsafe { w.m1a().bits(buffer_address(1)) });
        stream.ndtr().write(|w| w.ndt().set((BUFFER_FRAMES * C) as u16));
        dma.lifcr().write(|w| {
            w.cfeif0().set_bit().cdmeif0().set_bit().cteif0().set_bit();
            w.chtif0().set_bit().ctcif0().set_bit()
        });
        stream.cr().write(|w| {
            w.chsel().set(0).dbm().enabled().ct().memory0().pl().high();
            w.msize().bits16().psize().bits16().minc().incremented().pinc().fixed();
            w.circ().enabled().dir().peripheral_to_memory().tcie().enabled();
            w.en().enabled()
        });

        // SAFETY: the DMA interrupt shares only `COMPLETED` (atomic) and the stream's flag
        // register with thread mode, which no longer touches it; no critical section relies
        // on it being masked.
        unsafe { NVIC::unmask(Interrupt::DMA2_STREAM0) };
        // SAFETY: the ADC interrupt only reads and clears ADC1's overrun flag and logs.
        unsafe { NVIC::unmask(Interrupt::ADC) };

        // TIM2: an update (TRGO) every timer_hz / SAMPLE_RATE_HZ ticks (ARR is not
        // preloaded: it applies at once; PSC is 0 from reset).
        let tim = &dp.TIM2;
        tim.arr().write(|w| w.arr().set(timer_hz / SAMPLE_RATE_HZ - 1));
        tim.cr2().write(|w| w.mms().update());
        tim.cr1().write(|w| w.cen().enabled());
        defmt::info!(
            "sampling {=usize} ADC1 channels at {=u32} Hz by DMA, buffers of {=usize} samples",
            C,
            SAMPLE_RATE_HZ,
            BUFFER_FRAMES
        );
        Ok(Self::started())
    }

    /// The next scan of every channel, in sampling order, sleeping until its buffer is
    /// complete. Never ends.
    pub fn next(&mut self) -> Result<Option<[f32; C]>, SourceError> {
        // 12-bit right-aligned results: VDDA reads 4096 (4095 at most).
        Ok(Some(self.scan(4096.0)))
    }
}

/// DMA2 stream 0: counts each completed buffer (transfer complete; the stream has already
/// switched to the other buffer).
#[interrupt]
fn DMA2_STREAM0() {
    // SAFETY: the register block of DMA2, always mapped; only this interrupt reads and
    // clears stream 0's flags once sampling runs.
    let dma = unsafe { &*pac::DMA2::ptr() };
    if dma.lisr().read().tcif0().bit_is_set() {
        dma.lifcr().write(|w| w.ctcif0().set_bit());
        count_completed();
    }
}

/// ADC: its overrun stops the DMA requests, so sampling stops: said in the log, once.
#[interrupt]
fn ADC() {
    // SAFETY: the register block of ADC1, always mapped; only this interrupt touches its
    // status register once sampling runs.
    let adc = unsafe { &*pac::ADC1::ptr() };
    if adc.sr().read().ovr().bit_is_set() {
        adc.sr().modify(|_, w| w.ovr().clear_bit());
        defmt::error!("ADC overrun: a conversion was not moved in time; sampling stopped");
    }
}

/// Stops at a breakpoint (which ends `probe-rs run`), then sleeps.
pub fn exit(_stop: &Stop) -> ! {
    cortex_m::asm::bkpt();
    loop {
        cortex_m::asm::wfi();
    }
}
