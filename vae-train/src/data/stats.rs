//! Per-channel normalisation statistics, fitted on training rows only (validation and test
//! rows must not leak into them), applied with the device's own function so host and device
//! feed the network identical bits.

use super::error::{join, DataError};
use super::window::Windows;
use super::Recording;

/// Relative floor of a standard deviation: a channel whose std is below
/// `STD_FLOOR * max(1, |mean|)` is treated as constant. Dividing by a zero or subnormal std
/// would turn sensor noise (or f32 rounding of the mean) into huge normalised values.
pub const STD_FLOOR: f64 = 1e-6;

/// Per-channel mean and population standard deviation.
#[derive(Clone, Debug, PartialEq)]
pub struct Stats {
    /// Mean of each channel.
    pub mean: Vec<f32>,
    /// Standard deviation of each channel, floored (always finite and positive).
    pub std: Vec<f32>,
    /// Channels whose std was raised to the floor (constant or near-constant channels).
    pub floored: Vec<usize>,
    /// Rows the statistics were fitted on.
    pub rows: usize,
}

impl Stats {
    /// Fits mean and population std of every channel over all rows of `recs` (training
    /// recordings only), accumulating in f64 in two passes for accuracy.
    pub fn fit(recs: &[Recording]) -> Result<Stats, DataError> {
        let Some(first) = recs.first() else {
            return Err(DataError::Invalid(
                "no training recording to fit normalisation statistics on".to_string(),
            ));
        };
        let c = first.channels.len();
        for r in recs {
            if r.channels != first.channels {
                return Err(DataError::InconsistentChannels {
                    first_path: first.path.clone(),
                    first_channels: join(&first.channels),
                    path: r.path.clone(),
                    channels: join(&r.channels),
                    note: Box::default(),
                });
            }
            if let Some(i) = r.values.iter().position(|v| !v.is_finite()) {
                return Err(DataError::Invalid(format!(
                    "{}: row {} of channel `{}` is not finite; normalisation statistics need finite data",
                    r.path.display(),
                    r.file_row(i / c.max(1)),
                    r.channels.get(i % c.max(1)).map_or("", String::as_str)
                )));
            }
        }
        let rows: usize = recs.iter().map(Recording::rows).sum();
        if c == 0 || rows == 0 {
            return Err(DataError::Invalid(
                "no training rows to fit normalisation statistics on".to_string(),
            ));
        }
        let mut sum = vec![0.0f64; c];
        for r in recs {
            for row in r.values.chunks_exact(c) {
                for (s, &v) in sum.iter_mut().zip(row) {
                    *s += f64::from(v);
                }
            }
        }
        let mean: Vec<f64> = sum.iter().map(|s| s / rows as f64).collect();
        let mut sq = vec![0.0f64; c];
        for r in recs {
            for row in r.values.chunks_exact(c) {
                for ((s, &v), m) in sq.iter_mut().zip(row).zip(&mean) {
                    let d = f64::from(v) - m;
                    *s += d * d;
                }
            }
        }
        let mut floored = Vec::new();
        let mut std = Vec::with_capacity(c);
        for (ch, (s, m)) in sq.iter().zip(&mean).enumerate() {
            let sd = (s / rows as f64).sqrt();
            let floor = STD_FLOOR * m.abs().max(1.0);
            if sd < floor || !sd.is_finite() {
                floored.push(ch);
                std.push(floor as f32);
            } else {
                std.push(sd as f32);
            }
        }
        let stats = Stats { mean: mean.iter().map(|&m| m as f32).collect(), std, floored, rows };
        vae_core::normalize::check(&stats.mean, &stats.std)
            .map_err(|e| DataError::Invalid(format!("normalisation statistics out of the f32 range: {e}")))?;
        Ok(stats)
    }

    /// Normalises a recording in place with `vae_core::normalize::normalize_in_place`.
    pub fn apply(&self, rec: &mut Recording) -> Result<(), DataError> {
        self.check_channels(rec.channels.len(), &rec.path.display().to_string())?;
        vae_core::normalize::normalize_in_place(&mut rec.values, &self.mean, &self.std);
        Ok(())
    }

    /// Normalises cut windows in place (each window is time-major, so the same function
    /// applies row by row).
    pub fn apply_windows(&self, w: &mut Windows) -> Result<(), DataError> {
        self.check_channels(w.channels, "windows")?;
        vae_core::normalize::normalize_in_place(&mut w.data, &self.mean, &self.std);
        Ok(())
    }

    fn check_channels(&self, found: usize, what: &str) -> Result<(), DataError> {
        if found != self.mean.len() {
            return Err(DataError::Invalid(format!(
                "{what}: {found} channels, but the normalisation statistics have {}",
                self.mean.len()
            )));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::windows;

    fn rec(c: usize, values: Vec<f32>) -> Recording {
        Recording::new("s.csv", (0..c).map(|i| format!("c{i}")).collect(), values)
    }

    #[test]
    fn mean_and_population_std() {
        let a = rec(2, vec![1.0, 10.0, 3.0, 10.0]);
        let b = rec(2, vec![5.0, 10.0, 7.0, 10.0]);
        let s = Stats::fit(&[a.clone(), b]).unwrap();
        assert_eq!(s.mean, [4.0, 10.0]);
        assert_eq!(s.std[0], 5.0f32.sqrt());
        // The constant channel is floored relative to its mean, not zero or subnormal.
        assert_eq!(s.std[1], 1e-5);
        assert_eq!((s.floored.as_slice(), s.rows), (&[1][..], 4));
        let mut n = a.clone();
        s.apply(&mut n).unwrap();
        let dev = vae_core::Normalizer::new([4.0, 10.0], [s.std[0], s.std[1]]).unwrap();
        for (row, orig) in n.values.chunks(2).zip(a.values.chunks(2)) {
            let mut x = [orig[0], orig[1]];
            dev.apply(&mut x);
            assert_eq!(row[0].to_bits(), x[0].to_bits());
            assert_eq!(row[1].to_bits(), x[1].to_bits());
        }
        let mut w = windows(&a, 2, 1).unwrap();
        s.apply_windows(&mut w).unwrap();
        assert_eq!(w.data, n.values);
    }

    #[test]
    fn tiny_relative_std_is_floored_and_zero_mean_too() {
        let s = Stats::fit(&[rec(2, vec![1000.0, 0.0, 1000.0001, 0.0])]).unwrap();
        assert_eq!(s.floored, [0, 1]);
        assert_eq!(s.std[1], 1e-6);
        assert!(s.std.iter().all(|v| v.is_normal()));
        let s = Stats::fit(&[rec(1, vec![f32::MAX, -f32::MAX])]).unwrap();
        assert!(s.std[0].is_finite());
    }

    #[test]
    fn refuses_bad_input() {
        assert!(Stats::fit(&[]).is_err());
        assert!(Stats::fit(&[rec(1, vec![])]).is_err());
        assert!(Stats::fit(&[rec(1, vec![1.0, f32::NAN])]).is_err());
        assert!(matches!(
            Stats::fit(&[rec(1, vec![1.0]), rec(2, vec![1.0, 2.0])]),
            Err(DataError::InconsistentChannels { .. })
        ));
        let s = Stats::fit(&[rec(1, vec![1.0, 2.0])]).unwrap();
        assert!(s.apply(&mut rec(2, vec![1.0, 2.0])).is_err());
    }
}
