//! A window length from the signal's own time scale, by a rule fixed in advance: for a
//! series with a daily rhythm (NAB's 5-minute, 30-minute and hourly series), a window of
//! about one day holds one whole cycle, so its spectrum does not depend on the time of day
//! it starts at, and an anomaly of the daily pattern (a missing peak, a level that belongs to
//! another hour) changes it. The rule looks only at the timestamps and the number of
//! training rows, never at labels:
//!
//! 1. the sampling step is the median difference of consecutive timestamps of the training
//!    rows ([`median_step_seconds`]; robust to gaps);
//! 2. the window is the power of two nearest, on a log scale, to one period in samples
//!    ([`period_window`]);
//! 3. it is halved while the training part of the training rows would hold fewer than
//!    `min_windows` windows at hop `W / 8`, down to [`MIN_PERIOD_WINDOW`].

use super::Stamp;

/// Seconds in a day.
pub const DAY_SECONDS: f64 = 86_400.0;
/// Shortest window [`period_window`] returns (the spectrum front end's smallest).
pub const MIN_PERIOD_WINDOW: usize = 4;
/// Longest window [`period_window`] returns (the spectrum front end's largest).
pub const MAX_PERIOD_WINDOW: usize = vae_core::transform::MAX_SPECTRUM_WINDOW;

/// The median step between consecutive timestamps, in seconds; `None` with fewer than two
/// stamps or when a stamp does not parse. Steps that go backwards or repeat count as they
/// are (a median ignores the few there are).
pub fn median_step_seconds<S: AsRef<str>>(stamps: &[S]) -> Option<f64> {
    let t: Vec<f64> =
        stamps.iter().map(|s| Stamp::parse(s.as_ref()).map(|s| s.seconds())).collect::<Option<_>>()?;
    let mut steps: Vec<f64> = t.windows(2).map(|p| p[1] - p[0]).collect();
    if steps.is_empty() {
        return None;
    }
    steps.sort_by(f64::total_cmp);
    let n = steps.len();
    Some(if n % 2 == 1 { steps[n / 2] } else { 0.5 * (steps[n / 2 - 1] + steps[n / 2]) })
}

/// Windows of `window` samples at hop `window / 8` in `rows` rows.
pub fn windows_in(rows: usize, window: usize) -> usize {
    let hop = (window / 8).max(1);
    if rows < window {
        0
    } else {
        (rows - window) / hop + 1
    }
}

/// The window for a signal of period `period_samples` (samples per cycle) trained on
/// `train_rows` rows of which `val_fraction` are held out: the power of two nearest to the
/// period on a log scale, within [`MIN_PERIOD_WINDOW`]..=[`MAX_PERIOD_WINDOW`], halved
/// while the training part would hold fewer than `min_windows` windows at hop `W / 8`
/// (never below [`MIN_PERIOD_WINDOW`]). A period that is not a positive finite number gives
/// the shortest window.
pub fn period_window(period_samples: f64, train_rows: usize, val_fraction: f64, min_windows: usize) -> usize {
    let (lo, hi) = (MIN_PERIOD_WINDOW.ilog2(), MAX_PERIOD_WINDOW.ilog2());
    let exp = if period_samples.is_finite() && period_samples > 0.0 {
        (period_samples.log2().round().max(f64::from(lo)) as u32).min(hi)
    } else {
        lo
    };
    let mut w = 1usize << exp;
    let fit_rows = (train_rows as f64 * (1.0 - val_fraction.clamp(0.0, 1.0))).floor() as usize;
    while w > MIN_PERIOD_WINDOW && windows_in(fit_rows, w) < min_windows {
        w /= 2;
    }
    w
}
