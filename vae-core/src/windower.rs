//! A streaming windower: samples go in one at a time, a window comes out every `hop`
//! samples once `W` have arrived.

use crate::error::Error;
use heapless::Deque;

/// Ring buffer (a `heapless::Deque`, whose operations have no panic path) of the last `W`
/// samples of `C` channels, emitting a window every `hop` samples. Windows start at samples 0, hop, 2 hop, ... exactly as the trainer cuts a
/// recording.
#[derive(Clone)]
pub struct Windower<const C: usize, const W: usize> {
    buf: Deque<[f32; C], W>,
    hop: usize,
    until_next: usize,
    seen: u64,
}

impl<const C: usize, const W: usize> Windower<C, W> {
    /// An empty windower with the given hop (at least 1; a hop above `W` skips samples).
    /// `W = 0` does not compile.
    pub fn new(hop: usize) -> Result<Self, Error> {
        if hop == 0 {
            return Err(Error::ZeroHop);
        }
        Ok(Self { buf: Deque::new(), hop, until_next: W, seen: 0 })
    }

    /// Adds one sample (all channels of one instant). Returns the index of the first sample
    /// of the window that is now complete, if one is.
    pub fn push(&mut self, sample: [f32; C]) -> Option<u64> {
        if self.buf.is_full() {
            let _ = self.buf.pop_front();
        }
        // Cannot fail: a slot was just freed if the buffer was full.
        let _ = self.buf.push_back(sample);
        self.seen += 1;
        self.until_next -= 1;
        if self.until_next == 0 {
            self.until_next = self.hop;
            Some(self.seen - W as u64)
        } else {
            None
        }
    }

    /// Copies the last `W` samples, oldest first, into a time-major window
    /// (`out[t * C + c]`). `X` must equal `W * C` (checked at compile time).
    pub fn window<const X: usize>(&self, out: &mut [f32; X]) {
        const { assert!(X == W * C, "window buffer must hold W * C values") };
        let (old, new) = self.buf.as_slices();
        let (old, new) = (old.as_flattened(), new.as_flattened());
        let (a, b) = out.split_at_mut(old.len().min(X));
        copy(a, old);
        copy(b, new);
    }

    /// Samples pushed so far.
    pub const fn samples_seen(&self) -> u64 {
        self.seen
    }

    /// The hop.
    pub const fn hop(&self) -> usize {
        self.hop
    }

    /// Forgets every sample (e.g. after a gap in the stream).
    pub fn reset(&mut self) {
        self.buf.clear();
        self.until_next = W;
        self.seen = 0;
    }
}

/// `dst[i] = src[i]` up to the shorter of the two. Element-wise (which the compiler turns into
/// `memcpy`): `copy_from_slice` would keep a length assertion (a panic path) wherever it is
/// not inlined. Out of line and not generic, so that it is compiled at vae-core's own
/// optimisation level: inlined into a firmware's generic detector it was a one-word loop at
/// the firmware's `opt-level = "z"`, 9 estimated cycles per value. The raw front end's copy
/// too.
#[inline(never)]
pub(crate) fn copy(dst: &mut [f32], src: &[f32]) {
    for (d, s) in dst.iter_mut().zip(src) {
        *d = *s;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emits_at_window_then_every_hop() {
        let mut w: Windower<2, 4> = Windower::new(3).unwrap();
        let mut starts = [0u64; 4];
        let mut n = 0;
        let mut out = [0.0f32; 8];
        for t in 0..13 {
            if let Some(start) = w.push([t as f32, -(t as f32)]) {
                w.window(&mut out);
                let want: [f32; 8] = core::array::from_fn(|i| {
                    let v = (start + (i / 2) as u64) as f32;
                    if i % 2 == 0 {
                        v
                    } else {
                        -v
                    }
                });
                assert_eq!(out, want);
                starts[n] = start;
                n += 1;
            }
        }
        // 13 samples, window 4, hop 3: windows complete at t = 3, 6, 9, 12.
        assert_eq!(n, 4);
        assert_eq!(starts, [0, 3, 6, 9]);
        assert_eq!(w.samples_seen(), 13);
    }

    #[test]
    fn hop_larger_than_window_and_reset() {
        let mut w: Windower<1, 2> = Windower::new(5).unwrap();
        let got: heapless::Vec<u64, 4> = (0..14).filter_map(|t| w.push([t as f32])).collect();
        assert_eq!(got.as_slice(), &[0, 5, 10]);
        w.reset();
        assert_eq!(w.push([0.0]), None);
        assert_eq!(w.push([0.0]), Some(0));
        assert!(matches!(Windower::<1, 2>::new(0), Err(Error::ZeroHop)));
    }
}
