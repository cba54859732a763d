//! What a run shows and records: an `indicatif` progress bar on stderr and the per-epoch
//! CSV log.

use super::{EpochStats, TrainError};
use crate::atomic;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::fmt::Write as _;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

/// The CSV log's header line.
pub const LOG_HEADER: &str = "epoch,train_loss,train_recon,train_kl,val_loss,val_recon,val_kl,beta,seconds";

/// The bar: epoch, progress over the run, running loss terms, elapsed and ETA.
const TEMPLATE: &str =
    "{prefix} [{bar:30.cyan/blue}] {percent:>3}% {msg} [{elapsed_precise} < ETA {eta_precise}]";

/// The progress bar: one tick per batch over the whole run (so the ETA covers the run), the
/// epoch and the loss in its message; it ends full where early stopping ends the run.
/// Without a terminal the bar stays hidden and every [`PLAIN_EVERY`]-th epoch's line and the
/// last are printed to stderr instead.
pub(crate) struct Progress {
    bar: Option<ProgressBar>,
    epochs: usize,
    /// Without a terminal: the last epoch's line, and whether it was printed.
    last: std::cell::RefCell<(String, bool)>,
}

/// Without a terminal (a CI log, a pipe), one epoch line in this many is printed, and the
/// last: a long run does not fill the log with hundreds of lines (the CSV log has them all).
const PLAIN_EVERY: usize = 50;

impl Progress {
    /// A bar for `batches` remaining batches of a run of `epochs` epochs (hidden unless
    /// `enabled`).
    pub(crate) fn new(enabled: bool, batches: u64, epochs: usize) -> Self {
        let bar = enabled.then(|| {
            let bar = ProgressBar::with_draw_target(Some(batches), ProgressDrawTarget::stderr());
            let style = ProgressStyle::with_template(TEMPLATE)
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> ");
            bar.set_style(style);
            bar
        });
        Self { bar, epochs, last: std::cell::RefCell::new((String::new(), true)) }
    }

    /// A batch of `epoch` finished; `mean` = running (loss, recon, kl) per window.
    pub(crate) fn batch(&self, epoch: usize, batch: usize, mean: (f64, f64, f64)) {
        if let Some(bar) = &self.bar {
            bar.inc(1);
            if batch % 8 == 1 {
                bar.set_prefix(format!("epoch {epoch}/{}", self.epochs));
                bar.set_message(format!("loss {:.3} (recon {:.3}, KL {:.3})", mean.0, mean.1, mean.2));
            }
        }
    }

    /// An epoch finished.
    pub(crate) fn epoch(&self, s: &EpochStats, best: bool) {
        let Some(bar) = &self.bar else { return };
        // In a terminal the bar's message carries the epoch; without one, indicatif draws
        // nothing, so every PLAIN_EVERY-th line and the last are printed.
        if !bar.is_hidden() {
            bar.set_prefix(format!("epoch {}/{}", s.epoch, self.epochs));
            let val = s.val_loss.map_or(String::new(), |l| format!(", val {l:.3}"));
            bar.set_message(format!("train {:.3}{val}{}", s.train_loss, if best { " *" } else { "" }));
            return;
        }
        let mut line = format!(
            "epoch {:>4}/{}: train {:.4} (recon {:.4}, KL {:.4})",
            s.epoch, self.epochs, s.train_loss, s.train_recon, s.train_kl
        );
        if let (Some(l), Some(r), Some(k)) = (s.val_loss, s.val_recon, s.val_kl) {
            let _ = write!(line, "  val {l:.4} (recon {r:.4}, KL {k:.4})");
        }
        let _ = write!(line, "  beta {:.2}  {:.2} s{}", s.beta, s.seconds, if best { "  *" } else { "" });
        let printed = s.epoch == 1 || s.epoch.is_multiple_of(PLAIN_EVERY);
        if printed {
            eprintln!("{line}");
        }
        *self.last.borrow_mut() = (line, printed);
    }

    /// One finished bar stays on screen, full where early stopping ended the run; without a
    /// terminal, the last epoch's line if it was not printed yet.
    pub(crate) fn finish(&self) {
        if let Some(bar) = &self.bar {
            if bar.is_finished() {
                return;
            }
            if bar.is_hidden() {
                let mut last = self.last.borrow_mut();
                if !last.1 {
                    eprintln!("{}", last.0);
                    last.1 = true;
                }
            } else {
                bar.set_length(bar.position());
            }
            bar.finish();
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.finish();
    }
}

/// The per-epoch CSV log.
pub(crate) struct CsvLog {
    out: Option<(PathBuf, File)>,
}

impl CsvLog {
    /// No log.
    pub(crate) fn none() -> Self {
        Self { out: None }
    }

    /// Starts the log at `path` with the header and the rows of `history` (the epochs a
    /// resumed run already did; empty for a fresh run). Writing the earlier rows again from
    /// the resume state, rather than keeping the file's tail, drops rows of an epoch the
    /// state does not hold (a run killed between the two writes), so rows never repeat.
    pub(crate) fn start(path: &Path, history: &[EpochStats]) -> Result<Self, TrainError> {
        let mut text = String::from(LOG_HEADER);
        text.push('\n');
        for s in history {
            text.push_str(&row(s));
        }
        let io = |source| TrainError::Io { path: path.to_path_buf(), source };
        let file = if atomic::Existing::at(path) == atomic::Existing::Special {
            // A FIFO or device (`--log /dev/null`): opened once and written in place, so a
            // reader of a named pipe sees one stream rather than an end after the header.
            let mut f = OpenOptions::new().write(true).open(path).map_err(io)?;
            f.write_all(text.as_bytes()).and_then(|()| f.flush()).map_err(io)?;
            f
        } else {
            atomic::write(path, text.as_bytes()).map_err(io)?;
            OpenOptions::new().append(true).open(path).map_err(io)?
        };
        Ok(Self { out: Some((path.to_path_buf(), file)) })
    }

    /// Appends one epoch.
    pub(crate) fn append(&mut self, s: &EpochStats) -> Result<(), TrainError> {
        if let Some((path, file)) = &mut self.out {
            file.write_all(row(s).as_bytes())
                .and_then(|()| file.flush())
                .map_err(|source| TrainError::Io { path: path.clone(), source })?;
        }
        Ok(())
    }
}

/// One CSV row (with its newline); a missing validation value is an empty field.
pub(crate) fn row(s: &EpochStats) -> String {
    let opt = |v: Option<f64>| v.map_or(String::new(), |v| v.to_string());
    format!(
        "{},{},{},{},{},{},{},{},{}\n",
        s.epoch,
        s.train_loss,
        s.train_recon,
        s.train_kl,
        opt(s.val_loss),
        opt(s.val_recon),
        opt(s.val_kl),
        s.beta,
        s.seconds
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn template_parses_and_rows_match_the_header() {
        assert!(ProgressStyle::with_template(TEMPLATE).is_ok());
        let s = EpochStats {
            epoch: 3,
            train_loss: 1.5,
            train_recon: 1.0,
            train_kl: 0.5,
            val_loss: None,
            val_recon: None,
            val_kl: None,
            beta: 0.25,
            seconds: 0.125,
        };
        assert_eq!(row(&s), "3,1.5,1,0.5,,,,0.25,0.125\n");
        assert_eq!(row(&s).split(',').count(), LOG_HEADER.split(',').count());
    }
}
