//! Train/validation split without leakage.
//!
//! Each recording is cut in time: its leading rows are training data, its trailing
//! `val_fraction` of rows validation data. The two parts become separate recordings, and
//! windows are cut from each part on its own, so no window straddles the cut and no row is in
//! both sets. (Splitting shuffled windows instead would put overlapping windows, which share
//! rows, on both sides and make validation scores look better than they are.)

use super::error::DataError;
use super::window::count;
use super::Recording;

/// The two parts of every recording.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Split {
    /// Leading part of each recording (the whole of those too short to split).
    pub train: Vec<Recording>,
    /// Trailing part of each recording that has room for a validation window.
    pub val: Vec<Recording>,
    /// What the caller should tell the user (recordings kept whole, an empty validation set).
    pub notes: Vec<String>,
}

/// Splits every recording into a leading training part and a trailing validation part of
/// `round(rows * val_fraction)` rows. A recording whose parts could not each hold one
/// `window` goes wholly to training, with a note. `val_fraction` must be in `[0, 1)`.
pub fn split(recs: &[Recording], val_fraction: f64, window: usize) -> Result<Split, DataError> {
    if !(0.0..1.0).contains(&val_fraction) {
        return Err(DataError::Invalid(format!(
            "validation fraction {val_fraction} must be at least 0 and below 1"
        )));
    }
    if window == 0 {
        return Err(DataError::Invalid("window must be at least 1".to_string()));
    }
    let mut out = Split::default();
    for rec in recs {
        let n = rec.rows();
        let n_val = ((n as f64) * val_fraction).round() as usize;
        let n_val = n_val.min(n);
        let n_train = n - n_val;
        if val_fraction == 0.0 {
            out.train.push(rec.clone());
            continue;
        }
        let why = if count(n, window, 1) == 0 {
            Some(format!("{n} rows, fewer than one window of {window}: it gives no window at all"))
        } else if n_val < window {
            Some(format!(
                "{n} rows, too few for a validation window of {window} rows ({n_val} would be validation)"
            ))
        } else if n_train < window {
            Some(format!(
                "{n} rows, too few for a training window of {window} rows besides {n_val} validation rows"
            ))
        } else {
            None
        };
        match why {
            Some(why) => {
                out.notes
                    .push(format!("{}: {why}; the whole recording is used for training", rec.path.display()));
                out.train.push(rec.clone());
            }
            None => {
                out.train.push(rec.slice(0..n_train));
                out.val.push(rec.slice(n_train..n));
            }
        }
    }
    if val_fraction > 0.0 && out.val.is_empty() && !recs.is_empty() {
        out.notes.push(
            "no recording is long enough for a validation window: the validation set is empty".to_string(),
        );
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::windows_of;

    fn rec(rows: usize) -> Recording {
        let mut r =
            Recording::new(format!("r{rows}.csv"), vec!["a".into()], (0..rows).map(|v| v as f32).collect());
        r.first_row = 10;
        r
    }

    #[test]
    fn cuts_each_recording_in_time() {
        let s = split(&[rec(100), rec(50)], 0.2, 10).unwrap();
        assert_eq!(s.train.iter().map(Recording::rows).collect::<Vec<_>>(), [80, 40]);
        assert_eq!(s.val.iter().map(Recording::rows).collect::<Vec<_>>(), [20, 10]);
        assert_eq!((s.val[0].first_row, s.val[0].values[0]), (90, 80.0));
        assert!(s.notes.is_empty());
        let w = windows_of(&s.val, 10, 5).unwrap();
        assert_eq!(w.source(0, &s.val).map(|x| x.1), Some(90));
    }

    #[test]
    fn short_recordings_stay_whole_in_training() {
        let s = split(&[rec(100), rec(30), rec(5)], 0.2, 10).unwrap();
        assert_eq!(s.train.iter().map(Recording::rows).collect::<Vec<_>>(), [80, 30, 5]);
        assert_eq!(s.val.len(), 1);
        assert_eq!(s.notes.len(), 2);
        assert!(
            s.notes[0].starts_with(
                "r30.csv: 30 rows, too few for a validation window of 10 rows (6 would be validation)"
            ),
            "{}",
            s.notes[0]
        );
        assert!(s.notes[1].contains("fewer than one window"), "{}", s.notes[1]);
        let s = split(&[rec(12)], 0.9, 10).unwrap();
        assert!(s.val.is_empty() && s.notes.len() == 2, "{:?}", s.notes);
        let s = split(&[rec(12)], 0.0, 10).unwrap();
        assert_eq!((s.train.len(), s.val.len(), s.notes.len()), (1, 0, 0));
    }

    #[test]
    fn bad_arguments() {
        for f in [-0.1, 1.0, f64::NAN] {
            assert!(split(&[rec(10)], f, 2).is_err(), "{f}");
        }
        assert!(split(&[rec(10)], 0.2, 0).is_err());
    }
}
