//! The files a `fit` run writes, under the rules of [`crate::output`].

use crate::error::Error;
use crate::{output, train};
use std::path::{Path, PathBuf};

/// The files a `fit` run writes (model, checkpoint and its resume state, log), checked
/// before any data is read and locked for the whole run (see [`crate::output`]).
pub struct FitFiles {
    out: PathBuf,
    /// The checkpoint of the best model so far (`OUT.ckpt`).
    pub checkpoint: PathBuf,
    state: PathBuf,
    /// The per-epoch log (`OUT.log.csv` unless given).
    pub log: PathBuf,
    _lock: output::RunLock,
}

impl FitFiles {
    /// Checks and locks the files of a run writing `out` (and `log`, by default beside it)
    /// from `inputs`: `force` replaces existing files, `resume` continues the run's own.
    pub fn prepare(
        out: &Path,
        log: Option<&Path>,
        inputs: &[&Path],
        force: bool,
        resume: bool,
    ) -> Result<Self, Error> {
        let out = out.to_path_buf();
        if output::Existing::at(&out) == output::Existing::Special {
            return Err(Error::Output(format!(
                "{}: --out must be a regular file path (its checkpoint and log are written beside it)",
                out.display()
            )));
        }
        let checkpoint = output::with_suffix(&out, ".ckpt");
        let state = train::state_path(&checkpoint);
        let log = log.map_or_else(|| output::with_suffix(&out, ".log.csv"), Path::to_path_buf);
        // Names first, so the lock file is not made for a path that cannot be written.
        for p in [&out, &checkpoint, &state] {
            output::check_name(p)?;
        }
        output::check(&out, true, inputs)?;
        let lock = output::RunLock::take(&out)?;
        // Resuming continues the run's own files; a fresh run replaces them only with --force.
        let (fresh, force) = (!resume, force || resume);
        for p in [&checkpoint, &state] {
            output::check(p, true, inputs)?;
        }
        if !force && (checkpoint.exists() || state.exists()) {
            return Err(Error::Output(format!(
                "{} holds an interrupted run of this --out: continue it with --no-auto --resume and the \
                 run's options, or pass --force to start afresh (it is deleted)",
                if state.exists() { &state } else { &checkpoint }.display()
            )));
        }
        output::check(&out, force, inputs)?;
        output::check(&log, force, inputs)?;
        if fresh {
            for p in [&checkpoint, &state] {
                let _ = std::fs::remove_file(p);
            }
        }
        Ok(Self { out, checkpoint, state, log, _lock: lock })
    }

    /// After a failed run: a log holding only its header (the run failed in its first
    /// epoch) says nothing, so it goes.
    pub fn discard_empty_log(&self) {
        let only_header =
            std::fs::read_to_string(&self.log).is_ok_and(|t| t.trim_end() == train::LOG_HEADER.trim_end());
        if only_header && output::Existing::at(&self.log) == output::Existing::File {
            let _ = std::fs::remove_file(&self.log);
        }
    }

    /// The run is complete: its checkpoint and resume state have served their purpose.
    pub fn finish(&self) {
        debug_assert!(self.out.exists());
        let _ = std::fs::remove_file(&self.state);
        let _ = std::fs::remove_file(&self.checkpoint);
    }
}
