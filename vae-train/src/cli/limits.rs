//! Limits of the command-line values, checked when the arguments are parsed (a usage error,
//! exit status 2, before any file is read), so a bad value cannot fail after a long run or
//! ask for an impossible allocation.

use crate::data::RowRange;
use std::str::FromStr;

/// Widest hidden or latent layer `fit` trains: a 4096 x 4096 layer is 64 MiB of f32, far
/// beyond any microcontroller.
pub const MAX_WIDTH: usize = 4096;
/// Longest window or hop: the model file stores them in 16 bits.
pub const MAX_WINDOW: usize = u16::MAX as usize;
/// Longest model name, in bytes of UTF-8 (the model file's limit).
pub const MAX_NAME: usize = 255;
/// Most rows `synth` writes to one file.
pub const MAX_SYNTH_ROWS: usize = 10_000_000;
/// Fewest test rows `synth` places its five faults in.
pub const MIN_SYNTH_TEST_ROWS: usize = 60;

fn number<T: FromStr>(s: &str, what: &str) -> Result<T, String> {
    s.trim().parse().map_err(|_| format!("expected {what}, found `{s}`"))
}

fn whole_in(s: &str, lo: usize, hi: usize) -> Result<usize, String> {
    let v: usize = number(s, &format!("a whole number from {lo} to {hi}"))?;
    if (lo..=hi).contains(&v) {
        Ok(v)
    } else {
        Err(format!("expected a whole number from {lo} to {hi}, found {v}"))
    }
}

/// A window length or hop: 1 to [`MAX_WINDOW`].
pub fn window(s: &str) -> Result<usize, String> {
    whole_in(s, 1, MAX_WINDOW)
}

/// A hidden or latent width: 1 to [`MAX_WIDTH`].
pub fn width(s: &str) -> Result<usize, String> {
    whole_in(s, 1, MAX_WIDTH)
}

/// A count that must be at least 1 (epochs, batch size).
pub fn positive(s: &str) -> Result<usize, String> {
    whole_in(s, 1, usize::MAX)
}

/// Latent samples K: 1 to 65535.
pub fn samples(s: &str) -> Result<u16, String> {
    whole_in(s, 1, usize::from(u16::MAX)).map(|v| v as u16)
}

/// Smoothing: 1 to `vae_core::transform::MAX_SMOOTHING`.
pub fn smoothing(s: &str) -> Result<u16, String> {
    whole_in(s, 1, usize::from(vae_core::transform::MAX_SMOOTHING)).map(|v| v as u16)
}

/// `synth` rows: 1 to [`MAX_SYNTH_ROWS`].
pub fn synth_rows(s: &str) -> Result<usize, String> {
    whole_in(s, 1, MAX_SYNTH_ROWS)
}

/// A learning rate: positive and finite as an f32 (training runs in f32).
pub fn learning_rate(s: &str) -> Result<f64, String> {
    let v: f64 = number(s, "a positive number")?;
    if v > 0.0 && (v as f32).is_finite() && v as f32 > 0.0 {
        Ok(v)
    } else {
        Err(format!("expected a positive finite number, found {v}"))
    }
}

/// A sample rate in Hz: positive and finite.
pub fn rate(s: &str) -> Result<f32, String> {
    let v: f32 = number(s, "a positive number")?;
    if v.is_finite() && v > 0.0 {
        Ok(v)
    } else {
        Err(format!("expected a positive finite number, found {v}"))
    }
}

/// A number from `lo` to `hi`; `meaning`, when not empty, says in the message what it is.
fn real_in<T>(s: &str, lo: T, hi: T, meaning: &str) -> Result<T, String>
where
    T: FromStr + PartialOrd + std::fmt::Display,
{
    let v: T = number(s, &format!("a number from {lo} to {hi}"))?;
    if lo <= v && v <= hi {
        return Ok(v);
    }
    let meaning = if meaning.is_empty() { String::new() } else { format!(" ({meaning})") };
    Err(format!("expected a number from {lo} to {hi}{meaning}, found {v}"))
}

/// The threshold quantile: 0.5 to 1. Below the median of normal scores a threshold would
/// flag most normal windows, which no detector means.
pub fn quantile(s: &str) -> Result<f32, String> {
    real_in(s, 0.5f32, 1.0, "the share of normal windows under the threshold")
}

/// A false-alarm rate: 0 to 0.5 (0 puts the threshold at the largest normal score).
pub fn false_alarm_rate(s: &str) -> Result<f64, String> {
    real_in(s, 0.0, 0.5, "the share of normal windows flagged")
}

/// The validation share: 0 to 0.9 (at least a tenth of every recording trains).
pub fn val_fraction(s: &str) -> Result<f64, String> {
    real_in(s, 0.0, 0.9, "")
}

/// A row range (`100:500`, `0:0.7`), see [`RowRange::parse`].
pub fn rows(s: &str) -> Result<RowRange, String> {
    RowRange::parse(s).map_err(|e| e.to_string())
}

/// A front-end name (see `vae_core::transform::Features`).
pub fn transform(s: &str) -> Result<vae_core::transform::Features, String> {
    vae_core::transform::Features::from_name(s)
        .ok_or_else(|| format!("unknown transform `{s}`: use raw, diff, demean, stats or spectrum"))
}

/// A model name: at most [`MAX_NAME`] bytes.
pub fn name(s: &str) -> Result<String, String> {
    if s.len() > MAX_NAME {
        return Err(format!("at most {MAX_NAME} bytes, found {}", s.len()));
    }
    Ok(s.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_name_the_range() {
        assert_eq!(window("70000").unwrap_err(), "expected a whole number from 1 to 65535, found 70000");
        assert!(window("0").is_err() && window("-1").is_err() && window("16").is_ok());
        assert!(width("65535").is_err() && width("4096").is_ok());
        assert!(quantile("0").is_err() && quantile("0.995").is_ok() && quantile("1").is_ok());
        assert!(val_fraction("0.99").is_err() && val_fraction("0").is_ok());
        assert!(rate("inf").is_err() && rate("NaN").is_err() && rate("-1").is_err());
        assert!(learning_rate("1e60").is_err() && learning_rate("1e-3").is_ok());
        assert!(name(&"x".repeat(256)).is_err() && name(&"x".repeat(255)).is_ok());
        assert!(smoothing("65").is_err() && samples("0").is_err());
        assert!(transform("fft").is_err() && transform("spectrum").is_ok());
    }
}
