//! Double-buffered (ping-pong) sampling: the bookkeeping between a DMA that fills two
//! buffers in turn and the core that hands their samples to the detector one by one.
//!
//! A board's ADC is started by a hardware timer and its DMA writes each scan of the `C`
//! channels (one *frame*, channels interleaved in scan order) into buffer half 0, then half
//! 1, then half 0 again, for ever, whatever the core is doing. Its completion interrupt only
//! counts: the number of buffers completed since the start, a wrapping `u32` (`completed`).
//! Everything else is decided here, from that count alone, in thread mode:
//!
//! * buffer `k` (counted from 0) lies in half `k % 2`;
//! * while the core reads buffer `k`, `completed` is `k + 1` and the DMA fills buffer
//!   `k + 1` in the other half: the core may take its time, up to one buffer's duration;
//! * when `completed` reaches `k + 2` first, the DMA has started to overwrite buffer `k` (it
//!   fills buffer `k + 2`, same half): an **overrun**. What was left of buffer `k`, and every
//!   buffer in between, is lost: [`PingPong`] counts the overruns (one per buffer that
//!   completed before its predecessor was consumed) and the frames lost, and goes on with
//!   the newest complete buffer, `completed - 1`, never with torn data;
//! * a frame is read before it is confirmed ([`PingPong::peek`], then
//!   [`PingPong::consume`]): if the DMA overtook it during the read, the frame is discarded
//!   and counted as lost.
//!
//! Nothing here touches hardware, allocates or panics; the firmware's boards
//! (`firmware/src/board/`) keep the two buffers in a `static`, read a [`Slot`] of them with a
//! volatile read, and sleep in `wait` until the interrupt moves `completed`. The count wraps
//! after 2^32 buffers, which the arithmetic here (wrapping differences) rides through.
//!
//! The check of [`PingPong::consume`] relies on the interrupt counting a completion before the
//! DMA writes the first frame of the buffer after it, one sampling period later: true while
//! the interrupt is not masked for a whole sampling period.
//!
//! ```
//! use vae_core::sampling::{PingPong, Slot};
//!
//! // Two buffers of 4 frames of 2 channels, as the DMA leaves them after two completions.
//! let buffers = [[[0i16, 1], [2, 3], [4, 5], [6, 7]], [[8, 9], [10, 11], [12, 13], [14, 15]]];
//! let completed = 2;
//! let mut pp = PingPong::<4>::new();
//! let read = |s: Slot| buffers[s.half][s.frame];
//! // Both buffers completed before the core looked: half 0 is being overwritten by now.
//! assert_eq!(pp.next(|| completed, read, |_| {}), [8, 9]);
//! assert_eq!((pp.overruns(), pp.lost()), (1, 4));
//! assert_eq!(pp.next(|| completed, read, |_| {}), [10, 11]);
//! ```

/// Where the next frame is: which of the two buffers, and which frame of it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Slot {
    /// The buffer half, 0 or 1.
    pub half: usize,
    /// The frame within the buffer, `0..N`.
    pub frame: usize,
}

/// The core's side of two DMA buffers of `N` frames each: which buffer and frame it reads
/// next, and the overruns and frames lost so far. `N = 0` does not compile.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PingPong<const N: usize> {
    /// Index of the buffer being read (counted from 0, wrapping).
    buffer: u32,
    /// Next frame of it, `0..=N` (`N`: all read).
    frame: usize,
    /// Buffers that completed before their predecessor was consumed (wrapping).
    overruns: u32,
    /// Frames consumed (wrapping): the frames lost are the rest of `buffer * N + frame`.
    taken: u32,
}

impl<const N: usize> Default for PingPong<N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize> PingPong<N> {
    /// Before the first buffer: the DMA fills half 0 first, the core waits for it.
    pub const fn new() -> Self {
        const { assert!(N > 0, "a buffer holds at least one frame") };
        Self { buffer: 0, frame: 0, overruns: 0, taken: 0 }
    }

    /// Buffers that completed before the previous one was consumed (wrapping at 2^32).
    pub fn overruns(&self) -> u32 {
        self.overruns
    }

    /// Frames (sampling instants) overwritten by the DMA before the core read them
    /// (wrapping at 2^32): the frames up to the next one to read, less those consumed.
    pub fn lost(&self) -> u32 {
        let n = u32::try_from(N).unwrap_or(u32::MAX);
        self.buffer.wrapping_mul(n).wrapping_add(self.frame as u32).wrapping_sub(self.taken)
    }

    /// Catches up with `completed` (the DMA's count of buffers completed) and says where the
    /// next frame is, without consuming it; `None` while the buffer is still being filled.
    /// An overrun found here is counted and skipped: the slot is then frame 0 of the newest
    /// complete buffer.
    pub fn peek(&mut self, completed: u32) -> Option<Slot> {
        if self.frame >= N {
            self.buffer = self.buffer.wrapping_add(1);
            self.frame = 0;
        }
        // Buffers completed that the core has not finished, the one it reads included
        // (`completed` never falls behind the core: the DMA's count only grows).
        let ahead = completed.wrapping_sub(self.buffer);
        if ahead == 0 {
            return None;
        }
        if ahead >= 2 {
            // Buffers `buffer ..= completed - 2` are (being) overwritten: their frames not
            // taken count as lost (see `lost`).
            self.overruns = self.overruns.wrapping_add(ahead - 1);
            self.buffer = completed.wrapping_sub(1);
            self.frame = 0;
        }
        Some(Slot { half: (self.buffer & 1) as usize, frame: self.frame })
    }

    /// Consumes the frame [`peek`](Self::peek) gave, if its buffer was still intact at
    /// `completed` (read *after* the frame): `true`. `false` when the DMA overtook it, so
    /// the frame read may be torn: it is not consumed, and the next `peek` counts it as lost.
    pub fn consume(&mut self, completed: u32) -> bool {
        if completed.wrapping_sub(self.buffer) >= 2 || self.frame >= N {
            return false;
        }
        self.frame += 1;
        self.taken = self.taken.wrapping_add(1);
        true
    }

    /// The next frame, waiting for it if need be: `completed()` reads the DMA's count of
    /// completed buffers, `read` copies the frame at a slot (a volatile read of the DMA
    /// buffer), and `wait(c)` sleeps until the count may have moved from `c` (it may return
    /// early; the board's interrupt wakes it). Overruns met on the way are counted.
    pub fn next<R>(
        &mut self,
        mut completed: impl FnMut() -> u32,
        mut read: impl FnMut(Slot) -> R,
        mut wait: impl FnMut(u32),
    ) -> R {
        loop {
            let c = completed();
            match self.peek(c) {
                Some(slot) => {
                    let frame = read(slot);
                    if self.consume(completed()) {
                        return frame;
                    }
                }
                None => wait(c),
            }
        }
    }
}

/// Frames per DMA buffer for a detector of hop `hop` on `channels` channels: the largest
/// divisor of `hop` whose buffer holds at most `max_values` values (at least 1).
///
/// A divisor of the hop makes every window complete on a buffer's last frame (when the
/// window length is a multiple of the hop): the core scores while the next buffer fills,
/// with the whole buffer's duration to do it, and the first window is complete with the
/// buffer that holds its last sample. `max_values` bounds the static RAM of the two
/// buffers (`2 * frames * channels` values).
///
/// ```
/// use vae_core::sampling::buffer_frames;
///
/// assert_eq!(buffer_frames(16, 1, 64), 16);
/// assert_eq!(buffer_frames(32, 4, 64), 16);
/// assert_eq!(buffer_frames(12, 8, 64), 6);
/// ```
pub const fn buffer_frames(hop: usize, channels: usize, max_values: usize) -> usize {
    let mut n = hop;
    while n > 1 {
        if hop.is_multiple_of(n) && n.saturating_mul(channels) <= max_values {
            return n;
        }
        n -= 1;
    }
    1
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use std::vec::Vec;

    /// A DMA simulated on the host: it fills the halves in turn, one frame per sampling
    /// instant, each frame `C` channels whose value is `instant * 10 + channel`.
    struct Dma<const C: usize, const N: usize> {
        halves: [[[i32; C]; N]; 2],
        instant: i32,
        completed: u32,
    }

    impl<const C: usize, const N: usize> Dma<C, N> {
        fn new() -> Self {
            Self { halves: [[[-1; C]; N]; 2], instant: 0, completed: 0 }
        }

        /// One sampling instant: a scan of every channel, interleaved in channel order.
        fn sample(&mut self) {
            let half = (self.completed & 1) as usize;
            let frame = (self.instant as usize) % N;
            for c in 0..C {
                self.halves[half][frame][c] = self.instant * 10 + c as i32;
            }
            self.instant += 1;
            if frame == N - 1 {
                self.completed = self.completed.wrapping_add(1);
            }
        }

        fn read(&self, s: Slot) -> [i32; C] {
            self.halves[s.half][s.frame]
        }
    }

    /// Takes every frame available without waiting.
    fn drain<const C: usize, const N: usize>(pp: &mut PingPong<N>, dma: &Dma<C, N>) -> Vec<[i32; C]> {
        let mut out = Vec::new();
        while let Some(s) = pp.peek(dma.completed) {
            out.push(dma.read(s));
            assert!(pp.consume(dma.completed));
        }
        out
    }

    #[test]
    fn nothing_before_the_first_buffer_completes_then_its_frames_in_order() {
        let (mut pp, mut dma) = (PingPong::<4>::new(), Dma::<2, 4>::new());
        for _ in 0..3 {
            dma.sample();
            assert_eq!(pp.peek(dma.completed), None, "the first buffer is still being filled");
        }
        dma.sample();
        assert_eq!(pp.peek(dma.completed), Some(Slot { half: 0, frame: 0 }));
        // Channels come out in scan order, frames in time order.
        assert_eq!(drain(&mut pp, &dma), [[0, 1], [10, 11], [20, 21], [30, 31]]);
        assert_eq!((pp.overruns(), pp.lost()), (0, 0));
        // The next buffer goes to half 1.
        for _ in 0..4 {
            assert_eq!(pp.peek(dma.completed), None);
            dma.sample();
        }
        assert_eq!(pp.peek(dma.completed), Some(Slot { half: 1, frame: 0 }));
        assert_eq!(drain(&mut pp, &dma), [[40, 41], [50, 51], [60, 61], [70, 71]]);
    }

    #[test]
    fn a_core_that_keeps_up_sees_every_sample_once() {
        let (mut pp, mut dma) = (PingPong::<3>::new(), Dma::<3, 3>::new());
        let mut seen = Vec::new();
        for _ in 0..300 {
            dma.sample();
            seen.extend(drain(&mut pp, &dma));
        }
        let expected: Vec<[i32; 3]> = (0..300).map(|t| [t * 10, t * 10 + 1, t * 10 + 2]).collect();
        assert_eq!(seen, expected);
        assert_eq!((pp.overruns(), pp.lost()), (0, 0));
    }

    #[test]
    fn a_core_one_buffer_behind_is_not_an_overrun() {
        // The core reads buffer k while buffer k + 1 fills: up to a whole buffer of delay.
        let (mut pp, mut dma) = (PingPong::<4>::new(), Dma::<1, 4>::new());
        for _ in 0..7 {
            dma.sample();
        }
        assert_eq!(drain(&mut pp, &dma), [[0], [10], [20], [30]]);
        assert_eq!((pp.overruns(), pp.lost()), (0, 0));
    }

    #[test]
    fn an_overrun_is_counted_and_the_newest_buffer_read() {
        let (mut pp, mut dma) = (PingPong::<4>::new(), Dma::<1, 4>::new());
        for _ in 0..4 {
            dma.sample();
        }
        // The core takes one frame of buffer 0, then scores past the end of buffer 1.
        let s = pp.peek(dma.completed).unwrap();
        assert_eq!(dma.read(s), [0]);
        assert!(pp.consume(dma.completed));
        for _ in 0..4 {
            dma.sample();
        }
        // Buffer 1 completed before buffer 0 was consumed: its last 3 frames are lost (the
        // DMA fills half 0 again from the next instant).
        assert_eq!(pp.peek(dma.completed), Some(Slot { half: 1, frame: 0 }));
        assert_eq!((pp.overruns(), pp.lost()), (1, 3));
        assert_eq!(drain(&mut pp, &dma), [[40], [50], [60], [70]]);
        // Further peeks count nothing more.
        assert_eq!(pp.peek(dma.completed), None);
        assert_eq!((pp.overruns(), pp.lost()), (1, 3));
    }

    #[test]
    fn a_long_stall_counts_every_buffer_completed_behind_the_core() {
        let (mut pp, mut dma) = (PingPong::<4>::new(), Dma::<1, 4>::new());
        // Buffers 0..=4 complete while the core has read nothing.
        for _ in 0..20 {
            dma.sample();
        }
        let s = pp.peek(dma.completed).unwrap();
        // Buffers 1, 2, 3 and 4 each completed before their predecessor was consumed;
        // buffers 0..=3 (16 frames) are lost, buffer 4 (half 0) is read.
        assert_eq!((pp.overruns(), pp.lost()), (4, 16));
        assert_eq!(s, Slot { half: 0, frame: 0 });
        assert_eq!(drain(&mut pp, &dma), [[160], [170], [180], [190]]);
        // Frames read plus frames lost account for every instant.
        assert_eq!(pp.lost() + 4, dma.instant as u32);
    }

    #[test]
    fn a_frame_overtaken_during_its_read_is_discarded_and_counted() {
        let (mut pp, mut dma) = (PingPong::<2>::new(), Dma::<1, 2>::new());
        dma.sample();
        dma.sample();
        let s = pp.peek(dma.completed).unwrap();
        let _torn = dma.read(s);
        // Buffer 1 completes while the frame is being read: the DMA writes half 0 next.
        dma.sample();
        dma.sample();
        assert!(!pp.consume(dma.completed), "a frame whose buffer was overtaken is refused");
        assert_eq!(pp.peek(dma.completed), Some(Slot { half: 1, frame: 0 }));
        assert_eq!((pp.overruns(), pp.lost()), (1, 2));
        assert_eq!(drain(&mut pp, &dma), [[20], [30]]);
    }

    #[test]
    fn next_waits_then_returns_frames_in_order() {
        let mut pp = PingPong::<2>::new();
        let dma = core::cell::RefCell::new(Dma::<2, 2>::new());
        let mut waits = 0;
        let mut out = Vec::new();
        for _ in 0..6 {
            out.push(pp.next(
                || dma.borrow().completed,
                |s| dma.borrow().read(s),
                |c| {
                    // The board sleeps until the interrupt; here the DMA samples meanwhile.
                    waits += 1;
                    assert_eq!(c, dma.borrow().completed);
                    dma.borrow_mut().sample();
                },
            ));
        }
        assert_eq!(out, [[0, 1], [10, 11], [20, 21], [30, 31], [40, 41], [50, 51]]);
        assert_eq!(waits, 6, "one wait per sampling instant before each buffer completed");
        assert_eq!(pp.overruns(), 0);
    }

    #[test]
    fn next_retries_a_torn_read_on_the_newest_buffer() {
        let mut pp = PingPong::<2>::new();
        let dma = core::cell::RefCell::new(Dma::<1, 2>::new());
        dma.borrow_mut().sample();
        dma.borrow_mut().sample();
        let mut first = true;
        let frame = pp.next(
            || dma.borrow().completed,
            |s| {
                let f = dma.borrow().read(s);
                if first {
                    // The next buffer completes during the first read.
                    first = false;
                    dma.borrow_mut().sample();
                    dma.borrow_mut().sample();
                }
                f
            },
            |_| panic!("frames are available"),
        );
        assert_eq!(frame, [20]);
        assert_eq!((pp.overruns(), pp.lost()), (1, 2));
    }

    #[test]
    fn the_completion_count_wraps() {
        let mut pp = PingPong::<4> {
            buffer: u32::MAX - 1,
            frame: 0,
            overruns: 0,
            taken: (u32::MAX - 1).wrapping_mul(4),
        };
        assert_eq!(pp.lost(), 0);
        // Buffer u32::MAX - 1 (half 0) is complete.
        assert_eq!(pp.peek(u32::MAX), Some(Slot { half: 0, frame: 0 }));
        for _ in 0..4 {
            assert!(pp.peek(u32::MAX).is_some());
            assert!(pp.consume(u32::MAX));
        }
        assert_eq!(pp.peek(u32::MAX), None, "buffer u32::MAX is still filling");
        // It completes: the count wraps to 0, the buffer is in half 1.
        assert_eq!(pp.peek(0), Some(Slot { half: 1, frame: 0 }));
        for _ in 0..4 {
            assert!(pp.peek(0).is_some());
            assert!(pp.consume(0));
        }
        // Buffer 0 (after the wrap, half 0) follows, and an overrun across the wrap counts
        // as any other: buffers 0 and 1 completed, 0 unread.
        assert_eq!(pp.peek(0), None);
        assert_eq!(pp.peek(2), Some(Slot { half: 1, frame: 0 }));
        assert_eq!((pp.overruns(), pp.lost()), (1, 4));
    }

    #[test]
    fn counters_wrap() {
        // 2^32 - 1 overruns and 2^32 - 2 frames lost so far; one more overrun loses 4 frames.
        let mut pp = PingPong::<4> { buffer: 1, frame: 0, overruns: u32::MAX, taken: 6 };
        assert_eq!((pp.overruns(), pp.lost()), (u32::MAX, u32::MAX - 1));
        assert_eq!(pp.peek(3), Some(Slot { half: 0, frame: 0 }));
        assert_eq!((pp.overruns(), pp.lost()), (0, 2));
    }

    #[test]
    fn buffer_frames_divides_the_hop_within_the_budget() {
        for (hop, channels, max, frames) in [
            (16, 1, 64, 16),
            (16, 8, 64, 8),
            (32, 4, 64, 16),
            (12, 8, 64, 6),
            (7, 8, 16, 1),
            (1, 1, 64, 1),
            (0, 1, 64, 1),
            (256, 1, 64, 64),
        ] {
            let n = buffer_frames(hop, channels, max);
            assert_eq!(n, frames, "hop {hop}, {channels} channels, {max} values");
            assert!(n >= 1 && (hop == 0 || hop % n == 0) && (n == 1 || n * channels <= max));
        }
    }

    #[test]
    fn with_a_divisor_of_the_hop_every_window_completes_on_a_buffer_end() {
        // Window 64 samples, hop 16, buffers of 8 frames: the first window is complete with
        // the 8th buffer's last frame, and every later one with a buffer's last frame.
        let (w, hop) = (64usize, 16usize);
        let n = buffer_frames(hop, 2, 16);
        assert_eq!(n, 8);
        let mut windower = crate::windower::Windower::<1, 64>::new(hop).unwrap();
        let mut first = None;
        for t in 0..400usize {
            if windower.push([t as f32]).is_some() {
                first.get_or_insert(t);
                assert_eq!((t + 1) % n, 0, "window complete at sample {t}, inside a buffer");
            }
        }
        assert_eq!(first, Some(w - 1));
    }
}
