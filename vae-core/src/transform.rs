//! Input front ends and score smoothing: everything a device does between the normalised
//! samples of a window and the decision, besides the network itself.
//!
//! A [`Transform`] is recorded in the model file, so a model file fully describes its input:
//! the host (`vae-train fit`, `score`, `eval`) and the firmware run this same code on the same
//! bits, without allocation and without a panic path.
//!
//! ## Features
//! A window of `W` normalised samples of `C` channels (time-major, `x[t * C + c]`) becomes
//! `R` rows of `C` features (`f[r * C + c]`), so the network input is `X = R * C`:
//!
//! | [`Features`] | rows `R` | row `r` of channel `c` |
//! |---|---|---|
//! | `Raw` | `W` | the sample `x[r, c]` |
//! | `Diff` | `W - 1` | `x[r + 1, c] - x[r, c]` |
//! | `Demean` | `W + 1` | `x[r, c] - mean_c` for `r < W`; the last row is the level |
//! | `Stats` | 2 | row 0 the level, row 1 the standard deviation of the window |
//! | `Spectrum` | `W/2 + 1` | the log magnitude `ln(abs(F_k) / W)` of bins `k = 1..=W/2` of the real FFT (see below); the last row is the level |
//!
//! The *level* of a channel is its window mean, except for the channels marked *wandering*
//! ([`Transform::wandering`]): their level wanders in normal operation (a temperature that
//! drifts), so its absolute value says nothing about an anomaly. Their level feature is the
//! change across the window instead: the mean of the last `W/2` samples minus the mean of the
//! first `W/2`. `vae-train fit --wandering auto` marks a channel wandering when, in the training
//! rows, the standard deviation of its window means exceeds [`WANDERING_RATIO`] times that of
//! its samples (for noise around a steady level the ratio is about `1/sqrt(W)`).
//!
//! The spectrum is that of the window as it is (no taper), computed with `microfft`; its
//! feature is `1/2 ln(|F_k|^2 / W^2 + SPECTRUM_FLOOR)` ([`crate::math::ln_fast`]), finite even
//! for a constant channel.
//! `W` must then be a power of two from 4 to [`MAX_SPECTRUM_WINDOW`].
//!
//! ## Smoothing
//! With [`Transform::smoothing`] `K > 1`, the score a window is decided on is the mean of the
//! last `K` window scores of the stream (fewer at its start): an anomaly that lasts is seen by
//! several consecutive windows, noise is not. Windows that could not be scored (NaN/Inf
//! samples) do not enter the mean; an overflowed score enters as `+inf`, so the next `K - 1`
//! decisions are anomalous too. [`Smoother`] is the one implementation, used by the host and
//! by [`Detector`](crate::Detector).

use crate::error::Error;
use crate::score::non_finite;
use crate::score::Outcome;

/// Most windows a score can be smoothed over.
pub const MAX_SMOOTHING: u16 = 64;
/// Longest window of the spectrum front end.
pub const MAX_SPECTRUM_WINDOW: usize = 1024;
/// Most channels that can be marked wandering (bits of [`Transform::wandering`]).
pub const MAX_WANDERING_CHANNELS: usize = 64;
/// Added to `|F_k|^2 / W^2` before the logarithm of the spectrum front end.
pub const SPECTRUM_FLOOR: f32 = 1e-12;
/// A channel whose window means, over the training rows, have a standard deviation above
/// this share of its samples' is wandering (see the module documentation).
pub const WANDERING_RATIO: f64 = 0.6;

/// What the network sees of a window.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Features {
    /// The normalised samples themselves (`R = W`).
    Raw,
    /// First differences (`R = W - 1`): blind to levels and slow drift.
    Diff,
    /// The de-meaned samples, then one row of levels (`R = W + 1`).
    Demean,
    /// One row of levels, one of standard deviations (`R = 2`).
    Stats,
    /// Log-magnitude spectrum, bins 1 to `W/2`, then one row of levels (`R = W/2 + 1`).
    Spectrum,
}

impl Features {
    /// Every kind, in code order.
    pub const ALL: [Features; 5] =
        [Features::Raw, Features::Diff, Features::Demean, Features::Stats, Features::Spectrum];

    /// The byte that stands for the kind in the model file.
    pub const fn code(self) -> u8 {
        match self {
            Features::Raw => 0,
            Features::Diff => 1,
            Features::Demean => 2,
            Features::Stats => 3,
            Features::Spectrum => 4,
        }
    }

    /// The kind a model-file byte stands for.
    pub const fn from_code(code: u8) -> Option<Self> {
        match code {
            0 => Some(Features::Raw),
            1 => Some(Features::Diff),
            2 => Some(Features::Demean),
            3 => Some(Features::Stats),
            4 => Some(Features::Spectrum),
            _ => None,
        }
    }

    /// Name as the CLI spells it.
    pub const fn name(self) -> &'static str {
        match self {
            Features::Raw => "raw",
            Features::Diff => "diff",
            Features::Demean => "demean",
            Features::Stats => "stats",
            Features::Spectrum => "spectrum",
        }
    }

    /// Parses [`Features::name`] back.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|f| f.name() == name)
    }

    /// Feature rows `R` of a window of `window` samples (0 when the window does not suit the
    /// kind; see [`Features::check_window`]).
    pub const fn rows(self, window: usize) -> usize {
        match self {
            Features::Raw => window,
            Features::Diff => window.saturating_sub(1),
            Features::Demean => window + 1,
            Features::Stats => 2,
            Features::Spectrum => window / 2 + 1,
        }
    }

    /// Whether the features hold a level row (and so can mark channels wandering).
    pub const fn has_level(self) -> bool {
        matches!(self, Features::Demean | Features::Stats | Features::Spectrum)
    }

    /// Checks that a window of `window` samples suits the kind: at least 1 sample, 2 for
    /// `Diff` and `Stats`, and a power of two from 4 to [`MAX_SPECTRUM_WINDOW`] for
    /// `Spectrum`.
    pub const fn check_window(self, window: usize) -> Result<(), Error> {
        let ok = match self {
            Features::Raw | Features::Demean => window >= 1,
            Features::Diff | Features::Stats => window >= 2,
            Features::Spectrum => window >= 4 && window <= MAX_SPECTRUM_WINDOW && window.is_power_of_two(),
        };
        if ok {
            Ok(())
        } else {
            Err(Error::InvalidField { field: "window (for the transform)", found: window as u64 })
        }
    }
}

/// Everything a device does to a window besides the network: the feature front end, the
/// channels whose level wanders, and the smoothing of scores. Recorded in the model file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Transform {
    /// The front end.
    pub features: Features,
    /// Bit `c` set: channel `c`'s level feature is its change across the window instead of
    /// its mean. Only for features with a level row, and only channels below 64.
    pub wandering: u64,
    /// Window scores averaged before the decision (1: none), 1 to [`MAX_SMOOTHING`].
    pub smoothing: u16,
}

impl Transform {
    /// Raw windows, no smoothing: the normalised samples themselves (X = W * C). Named as
    /// the enum variant it stood for before front ends had options, so `Transform::Raw`
    /// keeps meaning what it meant.
    #[allow(non_upper_case_globals)]
    pub const Raw: Transform = Transform::new(Features::Raw);

    /// `features` with no wandering channel and no smoothing.
    pub const fn new(features: Features) -> Self {
        Self { features, wandering: 0, smoothing: 1 }
    }

    /// The byte that stands for the front end.
    pub const fn code(self) -> u8 {
        self.features.code()
    }

    /// The front end a byte stands for, with no wandering channel and no smoothing.
    pub const fn from_code(code: u8) -> Option<Self> {
        match Features::from_code(code) {
            Some(f) => Some(Self::new(f)),
            None => None,
        }
    }

    /// Name of the front end as the CLI spells it.
    pub const fn name(self) -> &'static str {
        self.features.name()
    }

    /// The network input width X for a window of `window` samples of `channels` channels.
    pub const fn input_len(self, window: usize, channels: usize) -> usize {
        self.features.rows(window) * channels
    }

    /// Whether channel `c` is marked wandering.
    pub const fn is_wandering(&self, c: usize) -> bool {
        c < MAX_WANDERING_CHANNELS && (self.wandering >> c) & 1 == 1
    }

    /// Checks the transform against a window of `window` samples of `channels` channels.
    pub const fn check(&self, window: usize, channels: usize) -> Result<(), Error> {
        if let Err(e) = self.features.check_window(window) {
            return Err(e);
        }
        if self.smoothing == 0 || self.smoothing > MAX_SMOOTHING {
            return Err(Error::InvalidField { field: "smoothing", found: self.smoothing as u64 });
        }
        if self.wandering != 0 {
            if !self.features.has_level() {
                return Err(Error::InvalidField {
                    field: "wandering channels (the features have no level)",
                    found: self.wandering,
                });
            }
            if channels < MAX_WANDERING_CHANNELS && self.wandering >> channels != 0 {
                return Err(Error::InvalidField { field: "wandering channels", found: self.wandering });
            }
        }
        Ok(())
    }

    /// Turns a normalised window (`window.len() = W * C`, time-major) into the network input
    /// `out` (`X` values), using `scratch` (at least `W` floats, for the spectrum).
    ///
    /// Returns `Ok(None)` when `out` is ready to score, `Ok(Some(outcome))` when the window
    /// must not be scored: [`Outcome::NonFinite`] when it holds NaN/Inf samples (counted in
    /// the window, as the scorer counts them), [`Outcome::Overflow`] when its samples are
    /// finite but a feature is not (so extreme a window is certainly anomalous). Lengths that
    /// do not fit are an error; nothing panics.
    pub fn apply(
        &self,
        window: &[f32],
        channels: usize,
        out: &mut [f32],
        scratch: &mut [f32],
    ) -> Result<Option<Outcome>, Error> {
        let c = channels;
        if c == 0 || !window.len().is_multiple_of(c) {
            return Err(Error::Channels { inputs: window.len(), channels: c });
        }
        let w = window.len() / c;
        self.check(w, c)?;
        let x = self.input_len(w, c);
        if out.len() != x {
            return Err(Error::Length { what: "transformed window", expected: x, found: out.len() });
        }
        if self.features == Features::Spectrum && scratch.len() < w {
            return Err(Error::Length { what: "transform scratch", expected: w, found: scratch.len() });
        }
        if let Some(bad) = non_finite(window) {
            return Ok(Some(bad));
        }
        match self.features {
            Features::Raw => crate::windower::copy(out, window),
            Features::Diff => {
                let later = window.get(c..).unwrap_or(&[]);
                for ((o, next), prev) in out.iter_mut().zip(later).zip(window) {
                    *o = next - prev;
                }
            }
            Features::Demean => {
                let (body, level) = split(out, w * c)?;
                for ch in 0..c {
                    let m = mean(window, c, ch, 0, w);
                    for (o, v) in body.iter_mut().skip(ch).step_by(c).zip(window.iter().skip(ch).step_by(c)) {
                        *o = v - m;
                    }
                    if let Some(l) = level.get_mut(ch) {
                        *l = self.level(window, c, ch, w, m);
                    }
                }
            }
            Features::Stats => {
                let (level, spread) = split(out, c)?;
                for ch in 0..c {
                    let m = mean(window, c, ch, 0, w);
                    let mut sq = 0.0f32;
                    for v in window.iter().skip(ch).step_by(c) {
                        let d = v - m;
                        sq += d * d;
                    }
                    if let (Some(l), Some(s)) = (level.get_mut(ch), spread.get_mut(ch)) {
                        *l = self.level(window, c, ch, w, m);
                        *s = libm::sqrtf(sq / w as f32);
                    }
                }
            }
            Features::Spectrum => {
                let half = w / 2;
                let (bins, level) = split(out, half * c)?;
                let inv_w2 = 1.0 / (w as f32 * w as f32);
                for ch in 0..c {
                    let buf = match scratch.get_mut(..w) {
                        Some(b) => b,
                        None => {
                            return Err(Error::Length { what: "transform scratch", expected: w, found: 0 })
                        }
                    };
                    for (b, v) in buf.iter_mut().zip(window.chunks_exact(c).filter_map(|row| row.get(ch))) {
                        *b = *v;
                    }
                    rfft_power(buf)?;
                    // buf now holds |F_k|^2 at index k, k = 1..=W/2.
                    let outs = bins.chunks_exact_mut(c).filter_map(|row| row.get_mut(ch));
                    for (o, &p) in outs.zip(buf.get(1..).unwrap_or(&[])) {
                        *o = 0.5 * crate::math::ln_fast(p * inv_w2 + SPECTRUM_FLOOR);
                    }
                    if let Some(l) = level.get_mut(ch) {
                        let m = mean(window, c, ch, 0, w);
                        *l = self.level(window, c, ch, w, m);
                    }
                }
            }
        }
        if !crate::score::sum_is_finite(out) && out.iter().any(|v| !v.is_finite()) {
            return Ok(Some(Outcome::Overflow));
        }
        Ok(None)
    }

    /// The level feature of channel `ch`: its mean `m`, or for a wandering channel the mean
    /// of the last `w/2` samples minus that of the first `w/2`.
    fn level(&self, window: &[f32], c: usize, ch: usize, w: usize, m: f32) -> f32 {
        if self.is_wandering(ch) {
            let h = w / 2;
            mean(window, c, ch, w - h, w) - mean(window, c, ch, 0, h)
        } else {
            m
        }
    }
}

impl Default for Transform {
    fn default() -> Self {
        Self::Raw
    }
}

/// `out` split at `at`, or the length error.
fn split(out: &mut [f32], at: usize) -> Result<(&mut [f32], &mut [f32]), Error> {
    let found = out.len();
    out.split_at_mut_checked(at).ok_or(Error::Length { what: "transformed window", expected: at, found })
}

/// Mean of channel `ch` over rows `from..to` of a time-major window of `c` channels.
fn mean(window: &[f32], c: usize, ch: usize, from: usize, to: usize) -> f32 {
    let n = to.saturating_sub(from);
    if n == 0 {
        return 0.0;
    }
    let mut s = 0.0f32;
    for v in window.chunks_exact(c).skip(from).take(n).filter_map(|row| row.get(ch)) {
        s += v;
    }
    s / n as f32
}

/// In place: the real FFT of `buf` (a power-of-two length from 4 to
/// [`MAX_SPECTRUM_WINDOW`]), leaving `|F_k|^2` at index `k` for `k = 1..=W/2` (index 0 gets
/// the DC power).
fn rfft_power(buf: &mut [f32]) -> Result<(), Error> {
    macro_rules! fft {
        ($buf:expr, $($n:literal => $f:ident),*) => {
            match $buf.len() {
                $($n => {
                    let arr: &mut [f32; $n] = $buf.try_into().map_err(|_| Error::Length {
                        what: "spectrum window",
                        expected: $n,
                        found: 0,
                    })?;
                    // The spectrum overwrites `arr` as W/2 complex numbers (re, im pairs):
                    // pair 0 packs DC (re) and Nyquist (im), pair k the bin k.
                    let _ = microfft::real::$f(arr);
                    let half = $n / 2;
                    let (dc, nyquist) = (arr[0] * arr[0], arr[1] * arr[1]);
                    // Bin k's power goes to float k, which belongs to pair k/2 < k: already read.
                    for k in 1..half {
                        let (re, im) = (arr[2 * k], arr[2 * k + 1]);
                        arr[k] = re * re + im * im;
                    }
                    arr[0] = dc;
                    arr[half] = nyquist;
                    Ok(())
                })*
                n => Err(Error::InvalidField { field: "spectrum window", found: n as u64 }),
            }
        };
    }
    fft!(buf, 4 => rfft_4, 8 => rfft_8, 16 => rfft_16, 32 => rfft_32, 64 => rfft_64, 128 => rfft_128,
        256 => rfft_256, 512 => rfft_512, 1024 => rfft_1024)
}

/// The moving mean of the last `K` window scores of a stream (see the module documentation).
#[derive(Clone, Debug, PartialEq)]
pub struct Smoother {
    values: [f32; MAX_SMOOTHING as usize],
    length: usize,
    next: usize,
    filled: usize,
}

impl Smoother {
    /// A smoother over `length` windows (1 to [`MAX_SMOOTHING`]; 1 passes scores through).
    pub fn new(length: u16) -> Result<Self, Error> {
        if length == 0 || length > MAX_SMOOTHING {
            return Err(Error::InvalidField { field: "smoothing", found: u64::from(length) });
        }
        Ok(Self { values: [0.0; MAX_SMOOTHING as usize], length: usize::from(length), next: 0, filled: 0 })
    }

    /// Windows averaged.
    pub const fn length(&self) -> usize {
        self.length
    }

    /// Adds a window's score (`+inf` for an overflowed window) and returns the mean of the
    /// last `length` scores, oldest first (fewer at the start of the stream).
    pub fn push(&mut self, score: f32) -> f32 {
        if let Some(slot) = self.values.get_mut(self.next) {
            *slot = score;
        }
        self.next += 1;
        if self.next >= self.length {
            self.next = 0;
        }
        if self.filled < self.length {
            self.filled += 1;
        }
        // Oldest first: the ring from `next - filled` (mod length) on.
        let mut sum = 0.0f32;
        let start = self.next + self.length - self.filled;
        for i in 0..self.filled {
            let mut idx = start + i;
            while idx >= self.length {
                idx -= self.length;
            }
            sum += self.values.get(idx).copied().unwrap_or(0.0);
        }
        if self.length == 1 {
            return score;
        }
        sum / self.filled as f32
    }

    /// Forgets every score (a new stream).
    pub fn reset(&mut self) {
        self.next = 0;
        self.filled = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn apply(t: Transform, window: &[f32], c: usize) -> (Vec<f32>, Option<Outcome>) {
        use std::vec;
        let w = window.len() / c;
        let mut out: Vec<f32> = vec![0.0; t.input_len(w, c)];
        let mut scratch: Vec<f32> = vec![0.0; w];
        let r = t.apply(window, c, &mut out, &mut scratch).unwrap();
        (out, r)
    }

    extern crate std;
    use std::vec::Vec;

    #[test]
    fn huge_finite_values_are_not_taken_for_overflow() {
        // The finite checks sum the values first: these sums overflow, and the exact check
        // behind them must still find every value finite (no `NonFinite`, no `Overflow`).
        let x = [3.0e38f32, 3.0e38, -3.0e38, 3.0e38];
        assert_eq!(apply(Transform::Raw, &x, 1), (x.to_vec(), None));
        // A difference that overflows is an overflow.
        let (_, r) = apply(Transform::new(Features::Diff), &x, 1);
        assert_eq!(r, Some(Outcome::Overflow));
        // A NaN or an infinity is reported as such, with its position.
        let (_, r) = apply(Transform::Raw, &[1.0, f32::NAN, 2.0, f32::INFINITY], 1);
        assert_eq!(r, Some(Outcome::NonFinite { count: 2, first: 1 }));
    }

    #[test]
    fn raw_diff_demean_stats_by_hand() {
        // W = 4, C = 2: channel 0 = 1, 2, 3, 6; channel 1 = 0, 0, 4, 4.
        let x = [1.0, 0.0, 2.0, 0.0, 3.0, 4.0, 6.0, 4.0];
        assert_eq!(apply(Transform::Raw, &x, 2).0, x);
        assert_eq!(apply(Transform::new(Features::Diff), &x, 2).0, [1.0, 0.0, 1.0, 4.0, 3.0, 0.0]);
        let (d, r) = apply(Transform::new(Features::Demean), &x, 2);
        assert_eq!(r, None);
        assert_eq!(d, [-2.0, -2.0, -1.0, -2.0, 0.0, 2.0, 3.0, 2.0, 3.0, 2.0]);
        // Channel 1 wandering: its level is mean(4, 4) - mean(0, 0) = 4.
        let t = Transform { wandering: 0b10, ..Transform::new(Features::Demean) };
        assert_eq!(apply(t, &x, 2).0[8..], [3.0, 4.0]);
        let (s, _) = apply(Transform::new(Features::Stats), &x, 2);
        // Channel 0: mean 3, variance (4 + 1 + 0 + 9) / 4 = 3.5; channel 1: mean 2, var 4.
        assert_eq!(s[..2], [3.0, 2.0]);
        assert!((s[2] - 3.5f32.sqrt()).abs() < 1e-6 && (s[3] - 2.0).abs() < 1e-6, "{s:?}");
        let t = Transform { wandering: 0b01, ..Transform::new(Features::Stats) };
        assert_eq!(apply(t, &x, 2).0[..2], [3.0, 2.0]);
    }

    #[test]
    fn spectrum_of_a_cosine_peaks_at_its_bin() {
        let w = 32;
        let x: Vec<f32> =
            (0..w).map(|t| (core::f32::consts::TAU * 4.0 * t as f32 / w as f32).cos() + 0.5).collect();
        let t = Transform::new(Features::Spectrum);
        let (f, r) = apply(t, &x, 1);
        assert_eq!((r, f.len()), (None, 17));
        // |F_4| = W / 2, so the feature is ln(1/2); the other bins are at the floor.
        let peak = (0..16).max_by(|&a, &b| f[a].total_cmp(&f[b])).unwrap();
        assert_eq!(peak, 3, "bin 4 is row 3: {f:?}");
        assert!((f[3] - 0.5f32.ln()).abs() < 1e-4, "{}", f[3]);
        assert!(f[0] < -10.0 && f[15] < -10.0);
        // The level row is the mean.
        assert!((f[16] - 0.5).abs() < 1e-6);
        // Parseval: the powers sum to W * sum x^2 over the two halves (checked loosely).
        let mut buf = x.clone();
        rfft_power(&mut buf).unwrap();
        let energy: f32 = x.iter().map(|v| v * v).sum();
        let spec: f32 = buf[0] + buf[16] + 2.0 * buf[1..16].iter().sum::<f32>();
        assert!((spec / w as f32 - energy).abs() < 1e-3 * energy, "{spec} {energy}");
    }

    /// Every window the reader accepts for the spectrum front end (a power of two from 4 to
    /// [`MAX_SPECTRUM_WINDOW`]) runs, and gives the features of a naive DFT (f64). Found by a
    /// hostile test pass: microfft's `rfft_1024` needs the sine table of its `size-1024`
    /// feature, and with only `size-512` enabled a 1024-sample window panicked (index out of
    /// bounds) in `vae-train fit`/`score` and on the device.
    #[test]
    fn spectrum_of_every_accepted_window_matches_a_naive_dft() {
        let mut rng = crate::Rng::new(5);
        let mut sizes = Vec::new();
        for w in 1..=2 * MAX_SPECTRUM_WINDOW {
            let t = Transform::new(Features::Spectrum);
            if t.check(w, 1).is_err() {
                continue;
            }
            sizes.push(w);
            // Noise, a tone on a bin, a tone between bins and a level: every bin has power.
            let mut x: Vec<f32> = std::vec![0.0; w];
            rng.fill_normal(&mut x);
            for (i, v) in x.iter_mut().enumerate() {
                let p = core::f64::consts::TAU * i as f64 / w as f64;
                *v += (3.0 * (p * (w / 4) as f64).cos() + 1.5 * (p * 1.5).sin() + 0.7) as f32;
            }
            let (f, r) = apply(t, &x, 1);
            assert_eq!((r, f.len()), (None, w / 2 + 1), "W = {w}");
            let energy: f64 = x.iter().map(|&v| f64::from(v) * f64::from(v)).sum();
            for k in 1..=w / 2 {
                let (mut re, mut im) = (0.0f64, 0.0f64);
                for (i, &v) in x.iter().enumerate() {
                    // The phase reduced exactly (k i mod W) before the f64 trigonometry.
                    let p = core::f64::consts::TAU * ((k * i) % w) as f64 / w as f64;
                    re += f64::from(v) * p.cos();
                    im -= f64::from(v) * p.sin();
                }
                // |F_k| / W from the feature against the DFT's, to f32 FFT accuracy
                // (relative to the window's RMS amplitude, log2 W roundings deep).
                let got = (2.0 * f64::from(f[k - 1])).exp() - f64::from(SPECTRUM_FLOOR);
                let got = got.max(0.0).sqrt();
                let want = (re * re + im * im).sqrt() / w as f64;
                let tol = 1e-6 * (w as f64).log2() * (energy / w as f64).sqrt();
                assert!((got - want).abs() <= tol, "W = {w}, bin {k}: {got} vs {want} (tol {tol})");
            }
            let mean = x.iter().map(|&v| f64::from(v)).sum::<f64>() / w as f64;
            assert!((f64::from(f[w / 2]) - mean).abs() < 1e-5, "W = {w}: level {}", f[w / 2]);
        }
        assert_eq!(sizes, [4, 8, 16, 32, 64, 128, 256, 512, 1024]);
        assert_eq!(sizes.last(), Some(&MAX_SPECTRUM_WINDOW));
    }

    #[test]
    fn non_finite_windows_and_overflow() {
        let x = [1.0, f32::NAN, 2.0, f32::INFINITY];
        for f in Features::ALL {
            let t = Transform::new(f);
            let w = if f == Features::Spectrum { 4 } else { 2 };
            let mut x4 = [0.5f32; 8];
            x4[..4].copy_from_slice(&x);
            let window = &x4[..w * 2];
            let (_, r) = apply(t, window, 2);
            assert_eq!(r, Some(Outcome::NonFinite { count: 2, first: 1 }), "{f:?}");
        }
        // Finite but huge: the variance overflows.
        let (_, r) = apply(Transform::new(Features::Stats), &[3e38, -3e38], 1);
        assert_eq!(r, Some(Outcome::Overflow));
    }

    #[test]
    fn checks_and_codes() {
        for f in Features::ALL {
            assert_eq!(Features::from_code(f.code()), Some(f));
            assert_eq!(Features::from_name(f.name()), Some(f));
            assert_eq!(Transform::from_code(f.code()), Some(Transform::new(f)));
        }
        assert_eq!(Features::from_code(5), None);
        assert!(Transform::new(Features::Spectrum).check(48, 1).is_err());
        assert!(Transform::new(Features::Spectrum).check(2048, 1).is_err());
        assert!(Transform::new(Features::Spectrum).check(64, 1).is_ok());
        assert!(Transform::new(Features::Diff).check(1, 1).is_err());
        assert!(Transform { smoothing: 0, ..Transform::Raw }.check(4, 1).is_err());
        assert!(Transform { smoothing: 65, ..Transform::Raw }.check(4, 1).is_err());
        assert!(Transform { wandering: 1, ..Transform::Raw }.check(4, 1).is_err());
        let stats = Transform::new(Features::Stats);
        assert!(Transform { wandering: 0b100, ..stats }.check(4, 2).is_err());
        assert!(Transform { wandering: 0b10, ..stats }.check(4, 2).is_ok());
        let mut out = [0.0f32; 3];
        assert!(matches!(stats.apply(&[0.0; 4], 2, &mut out, &mut []), Err(Error::Length { .. })));
        assert!(matches!(stats.apply(&[0.0; 3], 2, &mut out, &mut []), Err(Error::Channels { .. })));
        let mut out = [0.0f32; 3];
        assert!(matches!(
            Transform::new(Features::Spectrum).apply(&[0.0; 4], 1, &mut out, &mut [0.0; 2]),
            Err(Error::Length { what: "transform scratch", .. })
        ));
        assert_eq!(Transform::Raw.input_len(32, 8), 256);
        assert_eq!(Transform::new(Features::Demean).input_len(32, 8), 264);
        assert_eq!(Transform::new(Features::Spectrum).input_len(64, 2), 66);
    }

    #[test]
    fn smoother_is_a_moving_mean() {
        let mut s = Smoother::new(3).unwrap();
        let got: Vec<f32> = [3.0, 6.0, 9.0, 0.0, 0.0, 0.0].iter().map(|&v| s.push(v)).collect();
        assert_eq!(got, [3.0, 4.5, 6.0, 5.0, 3.0, 0.0]);
        assert_eq!(s.push(f32::INFINITY), f32::INFINITY);
        s.reset();
        assert_eq!(s.push(2.0), 2.0);
        let mut one = Smoother::new(1).unwrap();
        assert_eq!((one.push(1.5), one.push(-2.0)), (1.5, -2.0));
        assert!(Smoother::new(0).is_err() && Smoother::new(MAX_SMOOTHING + 1).is_err());
        // Long streams wrap around the ring many times.
        let mut s = Smoother::new(MAX_SMOOTHING).unwrap();
        let mut last = 0.0;
        for i in 0..1000 {
            last = s.push(i as f32);
        }
        let want = (1000 - 64..1000).map(|v| v as f32).sum::<f32>() / 64.0;
        assert_eq!(last, want);
    }
}
