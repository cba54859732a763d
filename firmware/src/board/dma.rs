//! What the boards that sample by DMA share: the two static buffers the DMA fills in turn,
//! the count of completed buffers their interrupt keeps, and [`Source`], which reads scans
//! out of them through [`PingPong`] (the board-independent bookkeeping, host-tested in
//! vae-core). Each board adds `Source::open` (its peripherals) and `Source::next` (its
//! full scale).

use crate::model::{BUFFER_FRAMES, C};
use core::ptr::addr_of;
use core::sync::atomic::{compiler_fence, AtomicU32, Ordering};
use vae_core::sampling::{PingPong, Slot};

/// The two DMA buffers: `BUFFER_FRAMES` scans of `C` channels each. Written by the DMA
/// only, read by [`Source::scan`] only through volatile reads of the half the DMA is not
/// filling (see [`PingPong`]).
static mut BUFFERS: [[[i16; C]; BUFFER_FRAMES]; 2] = [[[0; C]; BUFFER_FRAMES]; 2];

/// Buffers completed since the start (wrapping): written by the board's DMA interrupt
/// only, through [`count_completed`].
static COMPLETED: AtomicU32 = AtomicU32::new(0);

/// Buffers completed so far. One core, no data cache on the path: the count and the DMA's
/// writes need no barrier instruction, only the compiler's ordering.
pub(super) fn completed() -> u32 {
    let c = COMPLETED.load(Ordering::Relaxed);
    compiler_fence(Ordering::Acquire);
    c
}

/// Counts one more completed buffer; called by the board's DMA interrupt only (the only
/// writer of the count).
pub(super) fn count_completed() {
    compiler_fence(Ordering::Release);
    COMPLETED.store(COMPLETED.load(Ordering::Relaxed).wrapping_add(1), Ordering::Relaxed);
}

/// The address the DMA writes buffer half `half` at.
pub(super) fn buffer_address(half: usize) -> u32 {
    // SAFETY: only the address is taken, no reference is made.
    unsafe { addr_of!(BUFFERS[half & 1]) as u32 }
}

/// A board's DMA sampling chain, running from its `Source::open` on.
pub struct Source {
    buffers: PingPong<BUFFER_FRAMES>,
}

impl Source {
    /// The chain's bookkeeping before the first buffer completes (for the board's `open`).
    pub(super) const fn started() -> Self {
        Self { buffers: PingPong::new() }
    }

    /// Sampling instants lost to overruns so far.
    pub fn dropped(&self) -> u32 {
        self.buffers.lost()
    }

    /// Buffers completed before the previous one was consumed, so far.
    pub fn overruns(&self) -> u32 {
        self.buffers.overruns()
    }

    /// The next scan of every channel, in sampling order, each raw value divided by
    /// `full_scale`, sleeping (WFI) until its buffer is complete; an overrun is logged.
    pub(super) fn scan(&mut self, full_scale: f32) -> [f32; C] {
        let buffers = &mut self.buffers;
        let overruns = buffers.overruns();
        let sample = buffers.next(
            completed,
            |s: Slot| {
                let frame = s.frame.min(BUFFER_FRAMES - 1);
                // SAFETY: in bounds (half masked, frame clamped): only the address is taken.
                let values = unsafe { addr_of!(BUFFERS[s.half & 1][frame]) }.cast::<i16>();
                core::array::from_fn(|c| {
                    // SAFETY: `c < C`, inside the frame; a volatile read of memory the DMA may
                    // write (PingPong refuses the frame if the DMA overtook it).
                    f32::from(unsafe { values.add(c).read_volatile() }) * (1.0 / full_scale)
                })
            },
            |c| {
                // Sleep unless the interrupt already moved the count: with interrupts masked,
                // WFI still wakes on the pending interrupt, which runs on unmasking.
                cortex_m::interrupt::disable();
                if completed() == c {
                    cortex_m::asm::wfi();
                }
                // SAFETY: thread mode holds no critical section here (interrupts were enabled
                // on entry).
                unsafe { cortex_m::interrupt::enable() };
            },
        );
        if buffers.overruns() != overruns {
            defmt::warn!(
                "overrun: a buffer completed before the previous one was read; overruns={=u32} dropped={=u32}",
                buffers.overruns(),
                buffers.lost()
            );
        }
        sample
    }
}
