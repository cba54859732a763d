//! Windows cut from recordings exactly as `vae_core::Windower` emits them on the device:
//! length `W`, starting at rows 0, hop, 2 hop, ... while `start + W <= rows`, time-major
//! (`window[t * C + c]`), so host and device scores can be compared window by window.

use super::error::{join, DataError};
use super::Recording;
use std::path::Path;

/// Where a window comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct WindowOrigin {
    /// Index of the recording in the slice the windows were cut from.
    pub recording: usize,
    /// Row of the recording where the window starts.
    pub start: usize,
}

/// Windows of several recordings, flattened.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Windows {
    /// Values per window: `X = window * channels`.
    pub width: usize,
    /// Rows per window (`W`).
    pub window: usize,
    /// Channels per row (`C`).
    pub channels: usize,
    /// `n * X` values; window `w` is time-major: `data[w * X + t * C + c]`.
    pub data: Vec<f32>,
    /// One origin per window.
    pub origin: Vec<WindowOrigin>,
}

impl Windows {
    /// Number of windows.
    pub fn len(&self) -> usize {
        self.origin.len()
    }

    /// No windows at all.
    pub fn is_empty(&self) -> bool {
        self.origin.is_empty()
    }

    /// Window `i` (`X` values), `None` past the end.
    pub fn get(&self, i: usize) -> Option<&[f32]> {
        self.data.get(i.checked_mul(self.width)?..i.checked_add(1)?.checked_mul(self.width)?)
    }

    /// Every window in order.
    pub fn iter(&self) -> impl Iterator<Item = &[f32]> {
        self.data.chunks_exact(self.width.max(1))
    }

    /// The file and file row (0-based data row of the source) where window `i` starts:
    /// `first_row + start` plus any dropped rows before it. `recordings` must be the slice
    /// the windows were cut from.
    pub fn source<'r>(&self, i: usize, recordings: &'r [Recording]) -> Option<(&'r Path, usize)> {
        let o = self.origin.get(i)?;
        let rec = recordings.get(o.recording)?;
        Some((rec.path.as_path(), rec.file_row(o.start)))
    }

    /// Per-window labels: anomalous when any row of the window is labelled 1. `None` when a
    /// recording the windows come from has no labels.
    pub fn labels(&self, recordings: &[Recording]) -> Option<Vec<bool>> {
        self.origin
            .iter()
            .map(|o| {
                let labels = recordings.get(o.recording)?.labels.as_ref()?;
                Some(labels.get(o.start..o.start + self.window)?.iter().any(|&l| l))
            })
            .collect()
    }
}

/// Cuts the windows of one recording (`recording` is 0 in every origin).
pub fn windows(rec: &Recording, window: usize, hop: usize) -> Result<Windows, DataError> {
    windows_of(std::slice::from_ref(rec), window, hop)
}

/// Cuts the windows of every recording, each on its own (no window spans two recordings).
/// A recording shorter than `window` gives none. All must have the same channels.
pub fn windows_of(recs: &[Recording], window: usize, hop: usize) -> Result<Windows, DataError> {
    if window == 0 || hop == 0 {
        return Err(DataError::Invalid(format!("window ({window}) and hop ({hop}) must be at least 1")));
    }
    let channels = recs.first().map_or(0, |r| r.channels.len());
    for r in recs.iter().skip(1) {
        if let Some(first) = recs.first().filter(|f| f.channels != r.channels) {
            return Err(DataError::InconsistentChannels {
                first_path: first.path.clone(),
                first_channels: join(&first.channels),
                path: r.path.clone(),
                channels: join(&r.channels),
                note: Box::default(),
            });
        }
    }
    let width = window
        .checked_mul(channels)
        .ok_or_else(|| DataError::Invalid(format!("window {window} x {channels} channels overflows")))?;
    let total: usize = recs.iter().map(|r| count(r.rows(), window, hop)).sum();
    let mut out = Windows {
        width,
        window,
        channels,
        data: Vec::with_capacity(total.saturating_mul(width)),
        origin: Vec::with_capacity(total),
    };
    for (i, r) in recs.iter().enumerate() {
        let n = count(r.rows(), window, hop);
        for k in 0..n {
            let start = k * hop;
            let Some(w) = r.values.get(start * channels..start * channels + width) else { break };
            out.data.extend_from_slice(w);
            out.origin.push(WindowOrigin { recording: i, start });
        }
    }
    Ok(out)
}

/// Windows of length `window` and hop `hop` in `rows` rows.
pub fn count(rows: usize, window: usize, hop: usize) -> usize {
    if window == 0 || hop == 0 || rows < window {
        0
    } else {
        (rows - window) / hop + 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ramp(rows: usize, c: usize) -> Recording {
        let names = (0..c).map(|i| format!("c{i}")).collect();
        Recording::new("r.csv", names, (0..rows * c).map(|v| v as f32).collect())
    }

    #[test]
    fn matches_the_device_windower() {
        let rec = ramp(13, 2);
        let w = windows(&rec, 4, 3).unwrap();
        let mut dev: vae_core::Windower<2, 4> = vae_core::Windower::new(3).unwrap();
        let mut out = [0.0f32; 8];
        let mut n = 0;
        for t in 0..13 {
            let s = [rec.values[t * 2], rec.values[t * 2 + 1]];
            if let Some(start) = dev.push(s) {
                dev.window(&mut out);
                assert_eq!(w.origin[n].start as u64, start);
                assert_eq!(w.get(n), Some(&out[..]));
                n += 1;
            }
        }
        assert_eq!((n, w.len(), w.width), (4, 4, 8));
        // Hop above the window skips rows, as on the device.
        let w = windows(&ramp(14, 1), 2, 5).unwrap();
        assert_eq!(w.origin.iter().map(|o| o.start).collect::<Vec<_>>(), [0, 5, 10]);
    }

    #[test]
    fn several_recordings_and_sources() {
        let mut a = ramp(5, 1);
        a.first_row = 100;
        a.labels = Some(vec![false, false, false, true, false]);
        let mut b = ramp(3, 1);
        b.path = "b.csv".into();
        b.labels = Some(vec![false; 3]);
        let recs = [a, b, ramp(1, 1)];
        let w = windows_of(&recs, 2, 2).unwrap();
        assert_eq!(
            w.origin,
            [
                WindowOrigin { recording: 0, start: 0 },
                WindowOrigin { recording: 0, start: 2 },
                WindowOrigin { recording: 1, start: 0 }
            ]
        );
        assert_eq!(w.source(1, &recs), Some((Path::new("r.csv"), 102)));
        assert_eq!(w.source(2, &recs), Some((Path::new("b.csv"), 0)));
        assert_eq!(w.source(3, &recs), None);
        assert_eq!(w.labels(&recs[..2]), Some(vec![false, true, false]));
        assert_eq!(w.iter().count(), 3);
        assert!(windows(&recs[0], 0, 1).is_err() && windows(&recs[0], 1, 0).is_err());
        let other = Recording::new("o.csv", vec!["x".into(), "y".into()], vec![0.0; 4]);
        assert!(matches!(
            windows_of(&[ramp(3, 1), other], 1, 1),
            Err(DataError::InconsistentChannels { .. })
        ));
        assert!(windows_of(&[], 3, 1).unwrap().is_empty());
    }
}
