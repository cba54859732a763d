//! The window rule of the NAB protocol (`vae_train::eval::period`): timestamps to seconds,
//! the median sampling step, and the power of two nearest to one day of samples, halved
//! while the training rows hold too few windows. Only timestamps and row counts go in.

use vae_train::eval::period::{
    median_step_seconds, period_window, windows_in, DAY_SECONDS, MAX_PERIOD_WINDOW, MIN_PERIOD_WINDOW,
};
use vae_train::eval::Stamp;

fn secs(s: &str) -> f64 {
    Stamp::parse(s).unwrap_or_else(|| panic!("{s}")).seconds()
}

#[test]
fn stamps_count_seconds_across_days_months_and_leap_years() {
    assert_eq!(secs("1970-01-01 00:00:00"), 0.0);
    assert_eq!(secs("1970-01-02"), 86_400.0);
    // 2014-03-14 03:31:00 UTC is 1394767860 (date -u -d ... +%s).
    assert_eq!(secs("2014-03-14 03:31:00"), 1_394_767_860.0);
    // 2000 is a leap year, 1900 is not, 2100 is not.
    assert_eq!(secs("2000-03-01") - secs("2000-02-28"), 2.0 * 86_400.0);
    assert_eq!(secs("2100-03-01") - secs("2100-02-28"), 86_400.0);
    assert_eq!(secs("1900-03-01") - secs("1900-02-28"), 86_400.0);
    assert_eq!(secs("2015-01-01 00:00:00") - secs("2014-12-31 23:30:00"), 1_800.0);
    assert!((secs("2014-03-14 03:31:00.25") - secs("2014-03-14 03:31:00") - 0.25).abs() < 1e-6);
    // Before 1970 the count is negative, and still a duration apart.
    assert_eq!(secs("1969-12-31 23:00:00"), -3_600.0);
}

#[test]
fn the_median_step_ignores_gaps() {
    let mut stamps: Vec<String> =
        (0..20).map(|i| format!("2014-07-06 {:02}:{:02}:00", 10 + i * 5 / 60, i * 5 % 60)).collect();
    // A gap of a day and a repeated stamp do not move the median.
    stamps.push("2014-07-07 12:00:00".into());
    stamps.push("2014-07-07 12:00:00".into());
    stamps.push("2014-07-07 12:05:00".into());
    assert_eq!(median_step_seconds(&stamps), Some(300.0));
    assert_eq!(median_step_seconds(&["2014-07-06 10:00", "2014-07-06 11:00"]), Some(3_600.0));
    // Even count: the mean of the middle two steps.
    assert_eq!(
        median_step_seconds(&["2014-07-06 10:00", "2014-07-06 10:01", "2014-07-06 10:04"]),
        Some(120.0)
    );
    assert_eq!(median_step_seconds(&["2014-07-06 10:00"]), None);
    assert_eq!(median_step_seconds::<&str>(&[]), None);
    assert_eq!(median_step_seconds(&["2014-07-06 10:00", "yesterday"]), None);
}

#[test]
fn one_day_windows_for_nab_sampling_steps() {
    let day = |step: f64| DAY_SECONDS / step;
    // Plenty of training rows: 5-minute samples, 288 a day -> 256; 30-minute, 48 -> 64;
    // hourly, 24 -> 32 (log2 24 = 4.58 rounds to 5).
    assert_eq!(period_window(day(300.0), 100_000, 0.2, 32), 256);
    assert_eq!(period_window(day(1_800.0), 100_000, 0.2, 32), 64);
    assert_eq!(period_window(day(3_600.0), 100_000, 0.2, 32), 32);
    // A minute: 1440 a day, beyond the spectrum's 1024.
    assert_eq!(period_window(day(60.0), 1_000_000, 0.2, 32), MAX_PERIOD_WINDOW);
    // The series of the protocol (rows before the first label): 669 rows of 5-minute
    // samples leave 535 training rows, 59 windows of 64 but 26 of 128 -> 64.
    assert_eq!(period_window(day(300.0), 669, 0.2, 32), 64);
    assert_eq!(period_window(day(300.0), 2014, 0.2, 32), 256);
    assert_eq!(period_window(day(300.0), 1805, 0.2, 32), 256);
    // Too few rows for any window: the shortest.
    assert_eq!(period_window(day(300.0), 10, 0.2, 32), MIN_PERIOD_WINDOW);
    // Meaningless periods give the shortest window.
    for p in [0.0, -5.0, f64::NAN, f64::INFINITY] {
        assert_eq!(period_window(p, 100_000, 0.2, 32), MIN_PERIOD_WINDOW, "{p}");
    }
    assert_eq!(period_window(1.0, 100_000, 0.2, 32), MIN_PERIOD_WINDOW);
}

#[test]
fn the_window_is_the_longest_that_leaves_enough_training_windows() {
    for rows in [50usize, 200, 669, 1000, 2126, 5839, 16_551] {
        for min in [1usize, 8, 32, 64] {
            let w = period_window(288.0, rows, 0.2, min);
            assert!(w.is_power_of_two() && (MIN_PERIOD_WINDOW..=256).contains(&w), "{rows} {min}: {w}");
            let fit_rows = (rows as f64 * 0.8).floor() as usize;
            if w > MIN_PERIOD_WINDOW {
                assert!(windows_in(fit_rows, w) >= min, "{rows} {min}: {w}");
            }
            if w < 256 {
                assert!(windows_in(fit_rows, 2 * w) < min, "{rows} {min}: {w} could double");
            }
        }
    }
    assert_eq!(windows_in(100, 32), (100 - 32) / 4 + 1);
    assert_eq!(windows_in(31, 32), 0);
    assert_eq!(windows_in(4, 4), 1);
}
